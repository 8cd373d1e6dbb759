package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mask"
)

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	topicRE  = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	pgSlotRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
)

// checker collects validation errors, each with the line of its key when the
// key is in the file (or of the nearest enclosing section that is).
type checker struct {
	c    *Config
	errs []error
}

func (k *checker) errorf(key, format string, args ...any) {
	k.errs = append(k.errs, &Error{File: k.c.file, Line: k.c.lineOf(key), Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) lineOf(key string) int {
	for key != "" {
		if line, ok := c.set[key]; ok {
			return line
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// oneOf reports value unless it is one of allowed.
func (k *checker) oneOf(key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		k.errorf(key, "%s: %q is not supported; use %s", key, value, orList(allowed))
	}
}

// validate runs the checks that do not depend on the command.
func (c *Config) validate() error {
	k := &checker{c: c}
	k.name()
	k.source()
	k.kafka()
	k.registry()
	k.checkpoint()
	k.transactions()
	k.oneOf("snapshot.mode", c.Snapshot.Mode, "initial", "never", "initial_only", "initial_consistent")
	if c.Snapshot.ChunkRows < 1 || c.Snapshot.ChunkRows > 1_000_000 {
		k.errorf("snapshot.chunk_rows", "snapshot.chunk_rows: %d: use 1 to 1000000 rows (default %d)", c.Snapshot.ChunkRows, DefaultChunkRows)
	}
	k.bronze()
	k.http()
	return errors.Join(k.errs...)
}

// ValidateStream checks what `fluxo stream` needs beyond Parse's checks:
// kafka.brokers and schema_registry.url.
func (c *Config) ValidateStream() error {
	k := &checker{c: c}
	k.kafkaAndRegistry("fluxo stream")
	if c.Kafka.MaxRecordBytes < 1024 || c.Kafka.MaxRecordBytes > 1<<30 {
		k.errorf("kafka.max_record_bytes", "kafka.max_record_bytes must be between 1024 and 1073741824 (1 GiB)")
	}
	return errors.Join(k.errs...)
}

// ValidateFullload checks what `fluxo fullload` needs beyond Parse's checks:
// a bronze.url of scheme file:// or s3://bucket.
func (c *Config) ValidateFullload() error {
	k := &checker{c: c}
	raw := c.Bronze.URL
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		k.errorf("bronze.url", "bronze.url is required by fluxo fullload; e.g. url: file:///var/lib/fluxo/bronze or s3://bucket/prefix")
	case err != nil || (u.Scheme != "file" && u.Scheme != "s3"):
		k.errorf("bronze.url", "bronze.url %s: use file:///path or s3://bucket/prefix?region=...", Redact(raw))
	case u.Scheme == "s3" && u.Host == "":
		k.errorf("bronze.url", "bronze.url %s: the bucket is missing; write s3://bucket/prefix", Redact(raw))
	}
	return errors.Join(k.errs...)
}

// ValidateSink checks what `fluxo sink` needs beyond Parse's checks: the
// brokers, the registry, a bronze.url fullload accepts, and sink limits.
func (c *Config) ValidateSink() error {
	k := &checker{c: c}
	k.kafkaAndRegistry("fluxo sink")
	if s := c.Sink; s.FlushInterval < 100*time.Millisecond {
		k.errorf("sink.flush_interval", "sink.flush_interval must be at least 100ms (default 60s), got %v", s.FlushInterval)
	}
	if s := c.Sink; s.MaxFileBytes < 64<<10 || s.MaxFileBytes > 5<<30 {
		k.errorf("sink.max_file_bytes", "sink.max_file_bytes must be between 65536 (64 KiB) and 5368709120 (5 GiB), got %d", s.MaxFileBytes)
	}
	if s := c.Sink; s.SessionTimeout < 6*time.Second || s.SessionTimeout > 5*time.Minute {
		k.errorf("sink.session_timeout", "sink.session_timeout must be between 6s and 5m (brokers refuse others by default; default 10s), got %v", s.SessionTimeout)
	}
	return errors.Join(append(k.errs, c.ValidateFullload())...)
}

// kafkaAndRegistry requires the brokers and the registry, which command needs.
func (k *checker) kafkaAndRegistry(command string) {
	if len(k.c.Kafka.Brokers) == 0 {
		k.errorf("kafka.brokers", "kafka.brokers is required by %s; add e.g. brokers: [127.0.0.1:9092] under kafka", command)
	}
	if k.c.SchemaRegistry.URL == "" {
		k.errorf("schema_registry.url", "schema_registry.url is required by %s; add e.g. url: http://127.0.0.1:8081 under schema_registry", command)
	}
}

func (k *checker) name() {
	switch n := k.c.Name; {
	case n == "":
		k.errorf("name", `name is required; add a top-level line like "name: shop"`)
	case !nameRE.MatchString(n):
		k.errorf("name", "name %q is invalid: use lowercase letters, digits, '_', '.' and '-', starting with a letter or digit (e.g. shop)", n)
	}
}

func (k *checker) source() {
	s := k.c.Source
	if s.DSN == "" {
		k.errorf("source.dsn", "source.dsn is required; e.g. dsn: mysql://fluxo:${FLUXO_DB_PASSWORD}@127.0.0.1:3306/shop or postgres://fluxo:${FLUXO_DB_PASSWORD}@127.0.0.1:5432/shop")
		return
	}
	k.dsn(s)
	if s.ReadTimeout < time.Second {
		k.errorf("source.read_timeout", "source.read_timeout must be at least 1s (default 30s): how long a silent connection is tolerated")
	}
	for _, e := range s.patternErrors() {
		k.errorf(e.key, "%s", e.msg)
	}
	k.masks()
	if _, err := s.SignalTableID(); err != nil {
		k.errorf("source.signal_table", "%v", err)
	}
	switch s.Connector() {
	case cdc.ConnectorMySQL:
		k.mysqlOnly(s)
	case cdc.ConnectorPostgres:
		k.postgresOnly(s)
	}
}

func (k *checker) dsn(s Source) {
	u, _, err := parseDSN(s.DSN)
	switch {
	case err != nil:
		k.errorf("source.dsn", "source.dsn %s: %v", Redact(s.DSN), err)
	case s.Connector() == "":
		k.errorf("source.dsn", "source.dsn: scheme %q is not supported; use mysql:// (MySQL and MariaDB) or postgres://", u.Scheme)
	case s.Connector() == cdc.ConnectorMySQL:
		if _, err := parseMySQL(s.DSN); err != nil {
			k.errorf("source.dsn", "source.dsn %s: %v", Redact(s.DSN), err)
		}
	}
}

func (k *checker) mysqlOnly(s Source) {
	for _, key := range []string{"source.slot", "source.publication"} {
		if _, set := k.c.set[key]; set {
			k.errorf(key, "%s is for PostgreSQL only; remove it (source.dsn is mysql://)", key)
		}
	}
	if _, set := k.c.set["source.server_id"]; set && s.ServerID == 0 {
		k.errorf("source.server_id", "source.server_id must be at least 1; remove it to use a value derived from name")
	}
}

func (k *checker) postgresOnly(s Source) {
	if _, set := k.c.set["source.server_id"]; set {
		k.errorf("source.server_id", "source.server_id is for MySQL only; remove it (source.dsn is postgres://)")
	}
	if s.Slot != "" && !pgSlotRE.MatchString(s.Slot) {
		k.errorf("source.slot", "source.slot %q is not a valid replication slot name: use at most 63 lowercase letters, digits and '_' (set source.slot explicitly if the default from name is too long)", s.Slot)
	}
	if len(s.Publication) > 63 {
		k.errorf("source.publication", "source.publication %q is longer than PostgreSQL's 63 characters; set a shorter one", s.Publication)
	}
}

func (k *checker) kafka() {
	kc := k.c.Kafka
	for i, b := range kc.Brokers {
		if strings.TrimSpace(b) == "" {
			k.errorf("kafka.brokers", "kafka.brokers[%d] is empty; write host:port", i)
		}
	}
	if p := kc.TopicPrefix; p != "" && !topicRE.MatchString(p) {
		k.errorf("kafka.topic_prefix", "kafka.topic_prefix %q: Kafka topic names allow only letters, digits, '.', '_' and '-'", p)
	}
	k.tls("kafka.tls", kc.TLS)
	if s := kc.SASL; s != nil {
		if s.Mechanism == "" {
			k.errorf("kafka.sasl.mechanism", "kafka.sasl.mechanism is required; use plain, scram-sha-256 or scram-sha-512")
		} else {
			k.oneOf("kafka.sasl.mechanism", s.Mechanism, "plain", "scram-sha-256", "scram-sha-512")
		}
		if s.Username == "" {
			k.errorf("kafka.sasl.username", "kafka.sasl.username is required with kafka.sasl")
		}
	}
}

func (k *checker) tls(key string, t *TLS) {
	if t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		k.errorf(key, "%s: cert_file and key_file go together; set both or neither", key)
	}
}

func (k *checker) registry() {
	r := k.c.SchemaRegistry
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			k.errorf("schema_registry.url", "schema_registry.url %s: use http://host:port or https://host:port", Redact(r.URL))
		}
	}
	if r.Password != "" && r.Username == "" {
		k.errorf("schema_registry.password", "schema_registry.password needs schema_registry.username")
	}
	k.tls("schema_registry.tls", r.TLS)
}

func (k *checker) checkpoint() {
	switch k.c.Checkpoint.Store {
	case "file":
		if k.c.Kafka.Transactions {
			k.errorf("kafka.transactions", "kafka.transactions needs checkpoint.store: kafka: the checkpoint is committed in the same Kafka transaction as the records it covers")
		}
	case "kafka":
		if t := k.c.Checkpoint.Topic; !topicRE.MatchString(t) {
			k.errorf("checkpoint.topic", "checkpoint.topic %q: Kafka topic names allow only letters, digits, '.', '_' and '-'", t)
		}
		if l := k.c.Checkpoint.LeaseTimeout; l < time.Second {
			k.errorf("checkpoint.lease_timeout", "checkpoint.lease_timeout must be at least 1s (default 15s), got %v", l)
		}
	default:
		k.errorf("checkpoint.store", "checkpoint.store: %q is not supported; use file or kafka", k.c.Checkpoint.Store)
	}
}

// minMaskKey is the shortest FLUXO_MASK_KEY accepted.
const minMaskKey = 16

// masks checks source.mask_columns: known actions, the key that hash
// needs, and no column that key_columns names.
func (k *checker) masks() {
	s := k.c.Source
	hashes := ""
	for _, col := range sortedKeys(s.MaskColumns) {
		switch a := mask.Action(s.MaskColumns[col]); a {
		case mask.Hash:
			hashes = col
		case mask.Redact:
		default:
			k.errorf("source.mask_columns", "source.mask_columns: %s: %q is not supported; use hash or redact", col, a)
		}
		parts := strings.Split(col, ".")
		if len(parts) == 3 && slices.Contains(s.KeyColumns[parts[0]+"."+parts[1]], parts[2]) {
			k.errorf("source.mask_columns", "source.mask_columns: %s is in source.key_columns: Kafka keys need its value; mask another column or key the table on other columns", col)
		}
	}
	if hashes != "" && len(k.c.maskKey) < minMaskKey {
		k.errorf("source.mask_columns", "source.mask_columns hashes %s, which needs the environment variable %s set to a secret of at least %d bytes (the HMAC key: keep it, since another key gives other hashes)",
			hashes, MaskKeyVar, minMaskKey)
	}
}

// transactions checks the commit cadence against the transaction
// timeout: a transaction must be committed well before the brokers abort
// it.
func (k *checker) transactions() {
	kf := k.c.Kafka
	if !kf.Transactions {
		return
	}
	if kf.CommitInterval < time.Millisecond {
		k.errorf("kafka.commit_interval", "kafka.commit_interval must be at least 1ms (default 100ms), got %v", kf.CommitInterval)
	}
	if kf.TransactionTimeout < time.Second || kf.TransactionTimeout < 3*kf.CommitInterval {
		k.errorf("kafka.transaction_timeout", "kafka.transaction_timeout %v is too short for kafka.commit_interval %v: the brokers would abort transactions before fluxo commits them; make it at least 1s and 3 times kafka.commit_interval (default 1m)",
			kf.TransactionTimeout, kf.CommitInterval)
	}
}

func (k *checker) bronze() {
	b := k.c.Bronze
	k.oneOf("bronze.format", b.Format, "avro", "parquet")
	k.oneOf("bronze.compression", b.Compression, "snappy", "zstd", "deflate", "none")
	if b.Format == "parquet" && b.Compression == "deflate" {
		k.errorf("bronze.compression", "bronze.compression: deflate is for avro only; with parquet use snappy, zstd or none")
	}
	if b.Parallelism < 1 {
		k.errorf("bronze.parallelism", "bronze.parallelism must be at least 1 (default 4), got %d", b.Parallelism)
	}
	if b.MaxPartBytes < 1<<20 || b.MaxPartBytes > 5<<30 {
		k.errorf("bronze.max_part_bytes", "bronze.max_part_bytes must be between 1048576 (1 MiB) and 5368709120 (5 GiB), got %d", b.MaxPartBytes)
	}
}

func (k *checker) http() {
	l := k.c.HTTP.Listen
	_, port, err := net.SplitHostPort(l)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		k.errorf("http.listen", "http.listen %q is not host:port; e.g. 127.0.0.1:9187, or :9187 for every interface", l)
	}
}

// orList formats ["a", "b", "c"] as "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
