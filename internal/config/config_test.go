package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// envOf returns a lookup function over m.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

const fullFile = `name: shop
source:
  dsn: mysql://fluxo:${FLUXO_DB_PASSWORD}@127.0.0.1:3306/shop   # comment
  tables: [shop.orders, shop.customers]
  exclude_tables: []
  exclude_columns: [shop.customers.tax_id]
  key_columns: {shop.events: [event_id]}
  server_id: 5401
kafka:
  brokers: [127.0.0.1:9092]
  topic_prefix: shop
  tombstones: true
  tls: {ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/k.pem}
  sasl:
    mechanism: scram-sha-512
    username: fluxo
    password: ${KAFKA_PASSWORD}
schema_registry:
  url: http://127.0.0.1:8081
  username: sr
  password: ${SR_PASSWORD}
  tls: {ca_file: /etc/sr-ca.pem}
checkpoint:
  store: file
  path: /var/lib/fluxo/shop.checkpoint
snapshot:
  mode: initial
bronze:
  url: file:///var/lib/fluxo/bronze
  format: avro
  compression: snappy
  parallelism: 4
http:
  listen: 127.0.0.1:9187
`

var fullEnv = map[string]string{
	"FLUXO_DB_PASSWORD": "dbsecret",
	"KAFKA_PASSWORD":    "kafkasecret",
	"SR_PASSWORD":       "srsecret",
}

// public returns c without its unexported bookkeeping, for comparisons.
func public(c *Config) Config {
	p := *c
	p.file, p.set = "", nil
	return p
}

func TestParseFullFile(t *testing.T) {
	c, err := Parse("shop.yaml", []byte(fullFile), envOf(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Name: "shop",
		Source: Source{
			DSN:            "mysql://fluxo:dbsecret@127.0.0.1:3306/shop",
			Tables:         []string{"shop.orders", "shop.customers"},
			ExcludeTables:  []string{},
			ExcludeColumns: []string{"shop.customers.tax_id"},
			KeyColumns:     map[string][]string{"shop.events": {"event_id"}},
			ServerID:       5401,
			ReadTimeout:    DefaultReadTimeout,
		},
		Kafka: Kafka{
			Brokers: []string{"127.0.0.1:9092"}, TopicPrefix: "shop", Tombstones: true, MaxRecordBytes: 1 << 20,
			CommitInterval: DefaultCommitInterval, TransactionTimeout: DefaultTransactionTimeout,
			TLS:  &TLS{CAFile: "/etc/ca.pem", CertFile: "/etc/c.pem", KeyFile: "/etc/k.pem"},
			SASL: &SASL{Mechanism: "scram-sha-512", Username: "fluxo", Password: "kafkasecret"},
		},
		SchemaRegistry: SchemaRegistry{URL: "http://127.0.0.1:8081", Username: "sr", Password: "srsecret",
			TLS: &TLS{CAFile: "/etc/sr-ca.pem"}},
		Checkpoint: Checkpoint{Store: "file", Path: "/var/lib/fluxo/shop.checkpoint", Topic: "_fluxo_checkpoints", LeaseTimeout: DefaultLeaseTimeout},
		Snapshot:   Snapshot{Mode: "initial", ChunkRows: 8192},
		Bronze:     Bronze{URL: "file:///var/lib/fluxo/bronze", Format: "avro", Compression: "snappy", Parallelism: 4, MaxPartBytes: 256 << 20},
		HTTP:       HTTP{Listen: "127.0.0.1:9187"},
		Sink:       Sink{Group: "fluxo-sink-shop", FlushInterval: DefaultSinkFlushInterval, MaxFileBytes: DefaultSinkMaxFileBytes, SessionTimeout: DefaultSinkSession},
	}
	if got := public(c); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if err := c.ValidateStream(); err != nil {
		t.Errorf("ValidateStream: %v", err)
	}
	if err := c.ValidateFullload(); err != nil {
		t.Errorf("ValidateFullload: %v", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(path, []byte(fullFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, envOf(fullEnv)); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, envOf(nil))
	want := path + ":3: environment variable FLUXO_DB_PASSWORD is not set"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("missing file: no error")
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name, file string
		check      func(*Config) error
	}{
		{"mysql", "name: shop\nsource: {dsn: 'mysql://u@db/shop'}\n", func(c *Config) error {
			want := Config{
				Name:   "shop",
				Source: Source{DSN: "mysql://u@db/shop", ServerID: defaultServerID("shop"), ReadTimeout: DefaultReadTimeout},
				Kafka: Kafka{TopicPrefix: "shop", Tombstones: true, MaxRecordBytes: 1 << 20,
					CommitInterval: DefaultCommitInterval, TransactionTimeout: DefaultTransactionTimeout},
				Checkpoint:     Checkpoint{Store: "file", Path: "shop.checkpoint", Topic: "_fluxo_checkpoints", LeaseTimeout: DefaultLeaseTimeout},
				Snapshot:       Snapshot{Mode: "initial", ChunkRows: DefaultChunkRows},
				Bronze:         Bronze{URL: "file://./bronze", Format: "avro", Compression: "snappy", Parallelism: 4, MaxPartBytes: 256 << 20},
				HTTP:           HTTP{Listen: "127.0.0.1:9187"},
				Sink:           Sink{Group: "fluxo-sink-shop", FlushInterval: DefaultSinkFlushInterval, MaxFileBytes: DefaultSinkMaxFileBytes, SessionTimeout: DefaultSinkSession},
				SchemaRegistry: SchemaRegistry{},
			}
			if got := public(c); !reflect.DeepEqual(got, want) {
				return fmt.Errorf("got  %#v\nwant %#v", got, want)
			}
			return nil
		}},
		{"postgres slot and publication", "name: my-shop.eu\nsource: {dsn: 'postgres://u@db/shop'}\n", func(c *Config) error {
			s := c.Source
			if s.Slot != "fluxo_my_shop_eu" || s.Publication != "fluxo_my_shop_eu" || s.ServerID != 0 {
				return fmt.Errorf("slot %q publication %q server_id %d", s.Slot, s.Publication, s.ServerID)
			}
			return nil
		}},
		{"explicit values kept", "name: shop\nsource:\n  dsn: postgresql://u@db/shop\n  slot: s1\n  publication: p1\nkafka: {topic_prefix: cdc, tombstones: false}\n",
			func(c *Config) error {
				if c.Source.Slot != "s1" || c.Source.Publication != "p1" || c.Kafka.TopicPrefix != "cdc" || c.Kafka.Tombstones {
					return fmt.Errorf("got %+v %+v", c.Source, c.Kafka)
				}
				return nil
			}},
		{"null value keeps default", "name: shop\nsource: {dsn: 'mysql://u@db/shop'}\nkafka:\n  tombstones:\n  topic_prefix: ~\n",
			func(c *Config) error {
				if !c.Kafka.Tombstones || c.Kafka.TopicPrefix != "shop" {
					return fmt.Errorf("got %+v", c.Kafka)
				}
				return nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte(tt.file), envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestDefaultServerID(t *testing.T) {
	seen := map[uint32]bool{}
	for _, name := range []string{"shop", "billing", "a", "x.y-z", "orders-eu"} {
		id := defaultServerID(name)
		if id < 5400 || id > 6399 || id != defaultServerID(name) {
			t.Errorf("%s: %d", name, id)
		}
		seen[id] = true
	}
	if len(seen) < 2 {
		t.Error("server ids do not depend on the name")
	}
}

func TestEnvExpansion(t *testing.T) {
	env := envOf(map[string]string{
		"PW": `p#ss: w'o"rd {x}, [y]`, "EMPTY": "", "ID": "5402", "NULL": "null", "NUM": "123",
	})
	tests := []struct {
		name, value, want string
	}{
		{"password with # and :", "${PW}", `p#ss: w'o"rd {x}, [y]`},
		{"quoted", `"${PW}"`, `p#ss: w'o"rd {x}, [y]`},
		{"embedded", "a-${NUM}-b", "a-123-b"},
		{"default when unset", "${NOPE:-fallback}", "fallback"},
		{"default when empty", "${EMPTY:-fallback}", "fallback"},
		{"empty without default", "x${EMPTY}y", "xy"},
		{"set wins over default", "${NUM:-9}", "123"},
		{"dollar dollar", "a$$b$${PW}", "a$b${PW}"},
		{"lone dollar", "a$b $", "a$b $"},
		{"null from env stays text", "${NULL}", "null"},
		{"number from env stays text", "${NUM}", "123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "name: shop\nsource: {dsn: 'mysql://u@db/shop'}\nschema_registry:\n  username: u\n  password: " + tt.value + "\n"
			c, err := Parse("f.yaml", []byte(file), env)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.SchemaRegistry.Password; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("typed value from env", func(t *testing.T) {
		file := "name: shop\nsource:\n  dsn: mysql://u@db/shop\n  server_id: ${ID}\n"
		c, err := Parse("f.yaml", []byte(file), env)
		if err != nil || c.Source.ServerID != 5402 {
			t.Fatalf("got %v, %v", c, err)
		}
	})
	t.Run("raw password in dsn", func(t *testing.T) {
		file := "name: shop\nsource:\n  dsn: mysql://fluxo:${PW}@db:3306/shop\n"
		c, err := Parse("f.yaml", []byte(file), env)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseMySQLDSN(c.Source.DSN)
		if err != nil || d.Password != `p#ss: w'o"rd {x}, [y]` || d.Host != "db" || d.Database != "shop" {
			t.Fatalf("got %+v, %v", d, err)
		}
	})
	t.Run("keys are not expanded", func(t *testing.T) {
		_, err := Parse("f.yaml", []byte("name: shop\n${KEY}: x\n"), envOf(map[string]string{"KEY": "name"}))
		if err == nil || !strings.Contains(err.Error(), `unknown key "${KEY}"`) {
			t.Errorf("got %v", err)
		}
	})
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"unset", "name: shop\nsource:\n  dsn: mysql://fluxo:${FLUXO_DB_PASSWORD}@127.0.0.1:3306/shop\n",
			"shop.yaml:3: environment variable FLUXO_DB_PASSWORD is not set (export it, or write ${FLUXO_DB_PASSWORD:-default})"},
		{"every unset variable", "name: ${A}\nhttp:\n  listen: ${B}\n",
			"shop.yaml:1: environment variable A is not set (export it, or write ${A:-default})\n" +
				"shop.yaml:3: environment variable B is not set (export it, or write ${B:-default})"},
		{"unterminated", "name: shop\nhttp: {listen: '${B'}\n", "shop.yaml:2: unterminated ${ (close it with }, or write $$ for a literal $)"},
		{"bad name", "name: shop\nhttp: {listen: '${1B}'}\n", "shop.yaml:2: ${...} must hold a variable name"},
		{"nested default", "name: shop\nhttp: {listen: '${A:-${B}}'}\n", "shop.yaml:2: ${A:-...}: a default cannot contain another ${...}"},
		{"unquoted in flow list", "name: shop\nkafka:\n  brokers: [${B}]\n", `quote a value holding ${VAR}, e.g. ["${KAFKA_BROKER}"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("shop.yaml", []byte(tt.file), envOf(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const dsn = "source:\n  dsn: mysql://u@db/shop\n"
	tests := []struct {
		name, file, want string
	}{
		{"unknown top-level key", "name: shop\n" + dsn + "kafak:\n  brokers: [b:9092]\n",
			`shop.yaml:4: unknown key "kafak" at top level (allowed: name, source, kafka, schema_registry, checkpoint, snapshot, bronze, http, sink)`},
		{"unknown nested key", "name: shop\n" + dsn + "kafka:\n  brokers: [b:9092]\n\n  topic_prefx: x\n",
			`shop.yaml:7: unknown key "topic_prefx" in kafka (allowed: brokers, topic_prefix, tombstones, transactions, transaction_topic, heartbeat_topic, commit_interval, transaction_timeout, max_record_bytes, tls, sasl)`},
		{"unknown deeply nested key", "name: shop\n" + dsn + "kafka:\n  sasl:\n    mechanism: plain\n    user: u\n",
			`shop.yaml:7: unknown key "user" in kafka.sasl (allowed: mechanism, username, password)`},
		{"unknown key in flow mapping", "name: shop\n" + dsn + "schema_registry: {tls: {ca: x}}\n",
			`shop.yaml:4: unknown key "ca" in schema_registry.tls (allowed: ca_file, cert_file, key_file)`},
		{"duplicate key", "name: shop\n" + dsn + "name: other\n", `shop.yaml:4: duplicate key "name" at top level (first at line 1)`},
		{"string for list", "name: shop\n" + dsn + "  tables: shop.orders\n",
			"shop.yaml:4: source.tables: expected a list, got a single value; write [shop.orders]"},
		{"mapping for list", "name: shop\n" + dsn + "kafka:\n  brokers: {a: b}\n",
			"shop.yaml:5: kafka.brokers: expected a list, got a section (key: value)"},
		{"list for string", "name: [shop]\n" + dsn, "shop.yaml:1: name: expected a single value, got a list"},
		{"list item", "name: shop\n" + dsn + "  tables: [a.b, [c]]\n", "shop.yaml:4: source.tables[1]: expected a single value, got a list"},
		{"bad number", "name: shop\n" + dsn + "  server_id: 12x\n",
			`shop.yaml:4: source.server_id: expected a whole number from 1 to 4294967295, got "12x"`},
		{"bad bool", "name: shop\n" + dsn + "kafka: {tombstones: maybe}\n", `shop.yaml:4: kafka.tombstones: expected true or false, got "maybe"`},
		{"scalar for section", "name: shop\n" + dsn + "kafka: yes\n", "shop.yaml:4: kafka: expected a section of keys (key: value), got a single value"},
		{"key_columns list", "name: shop\n" + dsn + "  key_columns: [a]\n", "shop.yaml:4: source.key_columns: expected a mapping like {shop.events: [event_id]}"},
		{"key_columns value", "name: shop\n" + dsn + "  key_columns: {a.b: id}\n", "shop.yaml:4: source.key_columns[a.b]: expected a list, got a single value; write [id]"},
		{"top level list", "- a\n", "shop.yaml:1: the file: expected a section of keys"},
		{"two documents", "name: shop\n---\nname: x\n", "shop.yaml:2: a second YAML document (---) is not allowed"},
		{"syntax error", "name: shop\nsource:\n  dsn: [\n", "shop.yaml:"},
		{"glob must be quoted", "name: shop\nsource:\n  tables: [*.orders]\n", `a value starting with * or & must be quoted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("shop.yaml", []byte(tt.file), envOf(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	file := "name: shop\nsource:\n  dsn: mysql://u@db/shop\n  tables: &t [shop.a]\n  exclude_tables: *t\n"
	c, err := Parse("f.yaml", []byte(file), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Source.ExcludeTables, []string{"shop.a"}) {
		t.Errorf("got %v", c.Source.ExcludeTables)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c, err := Parse("shop.yaml", []byte(fullFile), envOf(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "config", c, "source", c.Source,
		"sasl", c.Kafka.SASL, "registry", c.SchemaRegistry)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "config", c, "source", c.Source)
	outputs := map[string]string{
		"String":   c.String(),
		"%v ptr":   fmt.Sprintf("%v", c),
		"%+v ptr":  fmt.Sprintf("%+v", c),
		"%v value": fmt.Sprintf("%v %+v %v", *c, c.Source, *c.Kafka.SASL),
		"registry": fmt.Sprintf("%v", c.SchemaRegistry),
		"%#v":      fmt.Sprintf("%#v %#v %#v %#v", c, c.Source, c.Kafka.SASL, c.SchemaRegistry),
		"redacted": fmt.Sprintf("%+v", *c.Redacted().Kafka.SASL) + c.Redacted().Source.DSN,
		"slog":     logs.String(),
	}
	for name, out := range outputs {
		for _, secret := range []string{"dbsecret", "kafkasecret", "srsecret"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %s:\n%s", name, secret, out)
			}
		}
	}
	if !strings.Contains(c.String(), "mysql://fluxo:***@127.0.0.1:3306/shop") {
		t.Errorf("String lost the DSN:\n%s", c)
	}
	if c.Source.DSN != "mysql://fluxo:dbsecret@127.0.0.1:3306/shop" || c.Kafka.SASL.Password != "kafkasecret" {
		t.Error("Redacted changed the original")
	}
}

// FuzzParse checks that Parse never panics.
func FuzzParse(f *testing.F) {
	f.Add(fullFile)
	f.Add("name: shop\nsource: {dsn: 'postgres://u:${PW:-x}@h/db', key_columns: {a.b: [c]}}\nkafka: {tls: , sasl: *x}\n")
	f.Add("a: &x [1]\nb: *x\n? [k]\n: v\n")
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse("f.yaml", []byte(data), envOf(fullEnv))
		if err == nil {
			_ = c.String()
			_, _ = c.Source.TableFilter()
		}
	})
}
