package config

import (
	"strings"
	"testing"
)

func TestValidationErrors(t *testing.T) {
	const my = "name: shop\nsource:\n  dsn: mysql://u:pw@db/shop\n"
	const pg = "name: shop\nsource:\n  dsn: postgres://u:pw@db/shop\n"
	tests := []struct {
		name, file, want string
	}{
		{"name missing", "source: {dsn: 'mysql://u@db/shop'}\n", `f.yaml: name is required; add a top-level line like "name: shop"`},
		{"name invalid", "name: Shop\nsource: {dsn: 'mysql://u@db/shop'}\n",
			`f.yaml:1: name "Shop" is invalid: use lowercase letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"name leading dash", "name: -shop\nsource: {dsn: 'mysql://u@db/shop'}\n", `f.yaml:1: name "-shop" is invalid`},
		{"dsn missing", "name: shop\n", "f.yaml: source.dsn is required; e.g. dsn: mysql://"},
		{"dsn scheme", "name: shop\nsource:\n  dsn: mongodb://u:pw@db/shop\n",
			`f.yaml:3: source.dsn: scheme "mongodb" is not supported; use mysql:// (MySQL and MariaDB) or postgres://`},
		{"dsn not a url", "name: shop\nsource:\n  dsn: db.example.com\n", "f.yaml:3: source.dsn db.example.com: not a URL"},
		{"mysql host missing", "name: shop\nsource:\n  dsn: mysql://u:pw@:3306/shop\n",
			"f.yaml:3: source.dsn mysql://u:***@:3306/shop: host is missing; write mysql://user:password@host:3306/database"},
		{"mysql bad port", "name: shop\nsource:\n  dsn: mysql://u:pw@db:99999/shop\n", `source.dsn mysql://u:***@db:99999/shop: port "99999" is not a number`},
		{"dsn bad port", "name: shop\nsource:\n  dsn: postgres://u:pw@db:abc/x\n", `f.yaml:3: source.dsn postgres://u:***@db:abc/x: invalid port ":abc" after host`},
		{"dsn fragment", "name: shop\nsource:\n  dsn: 'mysql://u:p#w@db/x#frag'\n", "source.dsn mysql://u:***@db/x#frag: '#' after the host is not allowed"},
		{"table shape", my + "  tables: [orders]\n",
			`f.yaml:4: source.tables: "orders" does not have 2 dot-separated parts; write database.table (globs * and ? allowed)`},
		{"table shape postgres", pg + "  tables: [a.b.c]\n", `write schema.table`},
		{"table empty part", my + "  exclude_tables: [shop.]\n", `f.yaml:4: source.exclude_tables: "shop."`},
		{"bad glob", my + "  tables: ['shop.[a']\n", `source.tables: "shop.[a" is a malformed glob`},
		{"column shape", my + "  exclude_columns: [shop.customers]\n", `source.exclude_columns: "shop.customers" does not have 3 dot-separated parts; write database.table.column`},
		{"key_columns key", my + "  key_columns: {events: [id]}\n", `f.yaml:4: source.key_columns: "events" does not have 2 dot-separated parts`},
		{"key_columns empty", my + "  key_columns: {shop.events: []}\n", "source.key_columns: shop.events needs at least one column"},
		{"key_columns twice", my + "  key_columns: {shop.events: [id, id]}\n", `source.key_columns: shop.events lists column "id" twice`},
		{"key column excluded", my + "  exclude_columns: ['*.*.id']\n  key_columns: {shop.events: [id]}\n",
			"source.key_columns: shop.events.id is also excluded by source.exclude_columns"},
		{"signal_table shape", my + "  signal_table: fluxo_signal\n", `f.yaml:4: source.signal_table "fluxo_signal": name one table as db.table`},
		{"signal_table glob", pg + "  signal_table: public.sig*\n", `source.signal_table "public.sig*": name one table as db.table (schema.table for PostgreSQL), without globs`},
		{"server_id zero", my + "  server_id: 0\n", "f.yaml:4: source.server_id must be at least 1"},
		{"read_timeout too short", my + "  read_timeout: 500ms\n", "f.yaml:4: source.read_timeout must be at least 1s"},
		{"slot on mysql", my + "  slot: s\n", "f.yaml:4: source.slot is for PostgreSQL only; remove it"},
		{"server_id on postgres", pg + "  server_id: 7\n", "f.yaml:4: source.server_id is for MySQL only; remove it"},
		{"bad slot", pg + "  slot: My-Slot\n", `f.yaml:4: source.slot "My-Slot" is not a valid replication slot name`},
		{"default slot too long", "name: " + strings.Repeat("x", 60) + "\nsource: {dsn: 'postgres://db/x'}\n", "set source.slot explicitly"},
		{"empty broker", my + "kafka: {brokers: ['']}\n", "f.yaml:4: kafka.brokers[0] is empty"},
		{"topic prefix", my + "kafka: {topic_prefix: 'a b'}\n", `f.yaml:4: kafka.topic_prefix "a b": Kafka topic names allow only`},
		{"tls pair", my + "kafka:\n  tls: {cert_file: c.pem}\n", "f.yaml:5: kafka.tls: cert_file and key_file go together"},
		{"sasl mechanism missing", my + "kafka:\n  sasl: {username: u}\n", "f.yaml:5: kafka.sasl.mechanism is required; use plain, scram-sha-256 or scram-sha-512"},
		{"sasl mechanism", my + "kafka:\n  sasl: {mechanism: gssapi, username: u}\n", `kafka.sasl.mechanism: "gssapi" is not supported; use plain, scram-sha-256 or scram-sha-512`},
		{"sasl username", my + "kafka:\n  sasl: {mechanism: plain}\n", "kafka.sasl.username is required"},
		{"registry url", my + "schema_registry: {url: 'ftp://r'}\n", "f.yaml:4: schema_registry.url ftp://r: use http://host:port or https://host:port"},
		{"registry password alone", my + "schema_registry: {url: 'http://r', password: x}\n", "schema_registry.password needs schema_registry.username"},
		{"registry tls pair", my + "schema_registry:\n  tls: {key_file: k}\n", "schema_registry.tls: cert_file and key_file go together"},
		{"checkpoint topic", my + "checkpoint: {store: kafka, topic: 'a b'}\n", `f.yaml:4: checkpoint.topic "a b": Kafka topic names allow only`},
		{"transactions with the file store", my + "kafka: {transactions: true}\n", `kafka.transactions needs checkpoint.store: kafka`},
		{"transaction timeout shorter than the commit cadence", my + "kafka: {transactions: true, commit_interval: 30s, transaction_timeout: 1m}\ncheckpoint: {store: kafka}\n",
			`kafka.transaction_timeout 1m0s is too short for kafka.commit_interval 30s`},
		{"transaction timeout under a second", my + "kafka: {transactions: true, transaction_timeout: 500ms}\ncheckpoint: {store: kafka}\n",
			`kafka.transaction_timeout 500ms is too short`},
		{"lease timeout under a second", my + "checkpoint: {store: kafka, lease_timeout: 100ms}\n", `checkpoint.lease_timeout must be at least 1s`},
		{"checkpoint other", my + "checkpoint: {store: s3}\n", `checkpoint.store: "s3" is not supported; use file or kafka`},
		{"snapshot mode", my + "snapshot: {mode: always}\n", `f.yaml:4: snapshot.mode: "always" is not supported; use initial, never, initial_only or initial_consistent`},
		{"chunk rows", my + "snapshot: {chunk_rows: -1}\n", `f.yaml:4: snapshot.chunk_rows: -1: use 1 to 1000000 rows (default 8192)`},
		{"bronze format", my + "bronze: {format: csv}\n", `bronze.format: "csv" is not supported; use avro or parquet`},
		{"bronze compression", my + "bronze: {compression: gzip}\n", `bronze.compression: "gzip" is not supported; use snappy, zstd, deflate or none`},
		{"parquet deflate", my + "bronze: {format: parquet, compression: deflate}\n", "bronze.compression: deflate is for avro only"},
		{"parallelism zero", my + "bronze: {parallelism: 0}\n", "f.yaml:4: bronze.parallelism must be at least 1 (default 4), got 0"},
		{"parallelism negative", my + "bronze: {parallelism: -2}\n", "bronze.parallelism must be at least 1"},
		{"http listen", my + "http: {listen: 9187}\n", `f.yaml:4: http.listen "9187" is not host:port`},
		{"mask action", my + "  mask_columns: {shop.customers.cpf: scramble}\n", `source.mask_columns: shop.customers.cpf: "scramble" is not supported; use hash or redact`},
		{"mask shape", my + "  mask_columns: {customers.cpf: redact}\n", `source.mask_columns: "customers.cpf" does not have 3 dot-separated parts`},
		{"mask without key", my + "  mask_columns: {shop.customers.cpf: hash}\n", `source.mask_columns hashes shop.customers.cpf, which needs the environment variable FLUXO_MASK_KEY`},
		{"mask a key column", my + "  mask_columns: {shop.events.email: redact}\n  key_columns: {shop.events: [email]}\n", `source.mask_columns: shop.events.email is in source.key_columns`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.file), envOf(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestValidationReportsEveryError(t *testing.T) {
	file := "name: shop\nsource: {dsn: 'mysql://u@db/shop'}\nsnapshot: {mode: x}\nbronze: {format: y}\n"
	_, err := Parse("f.yaml", []byte(file), envOf(nil))
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want two errors, got %v", err)
	}
}

func TestValidSettings(t *testing.T) {
	const my = "name: shop\nsource:\n  dsn: mysql://u@db/shop\n"
	tests := []struct{ name, file string }{
		{"uppercase sasl", my + "kafka:\n  sasl: {mechanism: SCRAM-SHA-256, username: u}\n"},
		{"postgresql scheme", "name: a.b-c_1\nsource: {dsn: 'postgresql:///shop?host=/run/postgresql'}\n"},
		{"mariadb with globs", my + "  tables: ['shop.*', '*.orders', 'sh?p.[ab]*']\n  key_columns: {'shop.ev_*': [id]}\n"},
		{"every snapshot mode", my + "snapshot: {mode: initial_only}\n"},
		{"parquet zstd", my + "bronze: {format: parquet, compression: zstd, parallelism: 16}\n"},
		{"redact needs no key", my + "  mask_columns: {'shop.*.cpf': redact}\n"},
		{"listen all interfaces", my + "http: {listen: ':9187'}\n"},
		{"empty tls", my + "kafka: {tls: {}}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("f.yaml", []byte(tt.file), envOf(nil)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestValidateStream(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"ok", "kafka: {brokers: [b:9092]}\nschema_registry: {url: 'http://r:8081'}\n", ""},
		{"no brokers", "schema_registry: {url: 'http://r:8081'}\n", "f.yaml: kafka.brokers is required by fluxo stream"},
		{"no registry", "kafka: {brokers: [b:9092]}\n", "f.yaml: schema_registry.url is required by fluxo stream"},
		{"registry section without url", "kafka: {brokers: [b:9092]}\nschema_registry: {username: u}\n",
			"f.yaml:4: schema_registry.url is required by fluxo stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte("name: shop\nsource: {dsn: 'mysql://u@db/shop'}\n"+tt.extra), envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			checkErr(t, c.ValidateStream(), tt.want)
		})
	}
}

func TestValidateFullload(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"default", "", ""},
		{"file", "file:///var/lib/fluxo/bronze", ""},
		{"s3", "s3://bucket/prefix?region=eu-west-1&endpoint=http://minio:9000", ""},
		{"s3 without bucket", "s3:///prefix", "f.yaml:3: bronze.url s3:///prefix: the bucket is missing"},
		{"other scheme", "gs://bucket/x", "bronze.url gs://bucket/x: use file:///path or s3://bucket/prefix"},
		{"secret hidden", "gs://bucket/x?token=hunter2", "bronze.url gs://bucket/x?token=***: use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "name: shop\nsource: {dsn: 'mysql://u@db/shop'}\n"
			if tt.url != "" {
				file += "bronze: {url: '" + tt.url + "'}\n"
			}
			c, err := Parse("f.yaml", []byte(file), envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			checkErr(t, c.ValidateFullload(), tt.want)
		})
	}
	t.Run("empty url", func(t *testing.T) {
		checkErr(t, (&Config{}).ValidateFullload(), "bronze.url is required by fluxo fullload")
	})
}

// checkErr fails unless err contains want, or err is nil when want is "".
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("got  %v\nwant %s", err, want)
	}
}
