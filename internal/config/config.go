package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is one fluxo configuration file: one source database and where its
// changes go. Parse fills in every default documented on the fields.
type Config struct {
	// Name identifies this replication: it must match [a-z0-9][a-z0-9_.-]*.
	// It is the default Kafka topic prefix, checkpoint file name, and
	// PostgreSQL slot and publication suffix. Required.
	Name string `yaml:"name"`
	// Source is the database to read.
	Source Source `yaml:"source"`
	// Kafka is where `fluxo stream` writes change records.
	Kafka Kafka `yaml:"kafka"`
	// SchemaRegistry is the Confluent-compatible registry for the Avro
	// schemas of the records.
	SchemaRegistry SchemaRegistry `yaml:"schema_registry"`
	// Checkpoint is where the source position is saved.
	Checkpoint Checkpoint `yaml:"checkpoint"`
	// Snapshot says whether tables are snapshotted before streaming.
	Snapshot Snapshot `yaml:"snapshot"`
	// Bronze is the data-lake target of `fluxo fullload`.
	Bronze Bronze `yaml:"bronze"`
	// HTTP is the metrics and health endpoint.
	HTTP HTTP `yaml:"http"`
	// Sink is `fluxo sink`: the stream's changes into the bronze layer.
	Sink Sink `yaml:"sink"`

	file string         // file name for messages
	set  map[string]int // dotted key path -> line, for keys present in the file
	// maskKey is FLUXO_MASK_KEY, the HMAC key of source.mask_columns
	// (never printed).
	maskKey []byte
}

// Source is the database to read and which of its tables and columns.
type Source struct {
	// DSN is a URL: mysql://user:password@host:3306/db (MySQL and MariaDB)
	// or postgres://user:password@host:5432/db (postgresql:// is accepted
	// too). Required. A password is normally percent-encoded; a raw password
	// containing '#', '/', '?', '@' or spaces (for example substituted from
	// ${VAR}) is accepted too, and Parse then stores the DSN percent-encoded.
	DSN string `yaml:"dsn"`
	// Tables are "db.table" patterns to capture (for PostgreSQL
	// "schema.table"); '*' and '?' globs are allowed in either part. Empty
	// means every table outside the system schemas (see TableFilter).
	Tables []string `yaml:"tables,omitempty"`
	// ExcludeTables are "db.table" patterns removed from Tables.
	ExcludeTables []string `yaml:"exclude_tables,omitempty"`
	// ExcludeColumns are "db.table.column" patterns (globs allowed) of
	// columns that are never read into events or files.
	ExcludeColumns []string `yaml:"exclude_columns,omitempty"`
	// MaskColumns maps "db.table.column" patterns (globs allowed) to hash
	// (HMAC-SHA-256 hex of the value's text under FLUXO_MASK_KEY) or redact
	// (null): personal data that must not leave the database as it is.
	MaskColumns map[string]string `yaml:"mask_columns,omitempty"`
	// KeyColumns maps "db.table" (globs allowed) to the columns used as the
	// key of a table without a primary key.
	KeyColumns map[string][]string `yaml:"key_columns,omitempty"`
	// ServerID is the MySQL replica server id, unique per fluxo process
	// (MySQL only). Default: a stable value in [5400, 6399] derived from
	// Name; set it explicitly when several fluxo processes share a server.
	ServerID uint32 `yaml:"server_id,omitempty"`
	// Slot is the PostgreSQL replication slot (PostgreSQL only). Default:
	// fluxo_<name> with '-' and '.' replaced by '_'.
	Slot string `yaml:"slot,omitempty"`
	// Publication is the PostgreSQL publication, created if missing
	// (PostgreSQL only). Default: fluxo_<name> with '-' and '.' replaced
	// by '_'.
	Publication string `yaml:"publication,omitempty"`
	// SignalTable is "db.table" (PostgreSQL "schema.table"): a table in
	// Debezium's signal shape (id varchar(42) primary key, type
	// varchar(32), data text) whose inserted execute-snapshot rows ask the
	// stream for incremental snapshots. Optional; it need not be captured
	// (PostgreSQL: fluxo adds it to the publication it creates).
	SignalTable string `yaml:"signal_table,omitempty"`
	// HeartbeatInterval is how often an idle PostgreSQL stream emits a
	// heartbeat and lets the slot advance, and how often a stream with
	// kafka.heartbeat_topic writes a heartbeat record (default 10s).
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval,omitempty"`
	// ReadTimeout is how long any connection to the source may go without
	// progress (no row, heartbeat or keepalive) before fluxo takes it as
	// lost and reconnects: a server or network path that went silent
	// without closing the connection (default 30s, at least 1s).
	ReadTimeout time.Duration `yaml:"read_timeout,omitempty"`
}

// Kafka is the Kafka cluster that receives change records.
type Kafka struct {
	// Brokers are the bootstrap brokers, host:port. Required by
	// `fluxo stream`.
	Brokers []string `yaml:"brokers,omitempty"`
	// TopicPrefix starts every topic name (<prefix>.<db>.<table>).
	// Default: Name.
	TopicPrefix string `yaml:"topic_prefix"`
	// Tombstones adds a null-valued record after each delete, for compacted
	// topics. Default: true.
	Tombstones bool `yaml:"tombstones"`
	// Transactions writes the records and the checkpoint in Kafka
	// transactions (exactly once for read_committed consumers); it needs
	// checkpoint.store: kafka. The transactional id is fluxo-<name>.
	Transactions bool `yaml:"transactions,omitempty"`
	// TransactionTopic writes Debezium's transaction metadata: a BEGIN and
	// an END record (with per-table event counts) per source transaction to
	// <topic_prefix>.transaction.
	TransactionTopic bool `yaml:"transaction_topic,omitempty"`
	// HeartbeatTopic writes Debezium's heartbeat record to
	// __debezium-heartbeat.<topic_prefix> every source.heartbeat_interval.
	HeartbeatTopic bool `yaml:"heartbeat_topic,omitempty"`
	// CommitInterval is how often a transactional stream commits (at a
	// source transaction boundary, or once 10,000 records wait): the wait
	// a read_committed consumer adds to a change's delivery. Default 100ms;
	// only with transactions.
	CommitInterval time.Duration `yaml:"commit_interval,omitempty"`
	// TransactionTimeout is the transaction.timeout.ms of the transactional
	// producer: the longest a Kafka transaction stays open, which bounds
	// how long one source transaction may take to send, and how long
	// read_committed consumers wait on a transaction of a process that died
	// and was not restarted. Default 1m; at most the brokers'
	// transaction.max.timeout.ms (15m by default); only with transactions.
	TransactionTimeout time.Duration `yaml:"transaction_timeout,omitempty"`
	// MaxRecordBytes is the largest record fluxo produces (default 1 MiB,
	// the brokers' default message.max.bytes); a larger row stops fluxo with
	// an error instead of being dropped. Raise it together with the topics'
	// max.message.bytes.
	MaxRecordBytes int `yaml:"max_record_bytes,omitempty"`
	// TLS enables TLS to the brokers when the key is present; "tls:" with
	// nothing after it, or "tls: {}", trusts the system roots.
	TLS *TLS `yaml:"tls,omitempty"`
	// SASL enables SASL authentication when the key is present.
	SASL *SASL `yaml:"sasl,omitempty"`
}

// TLS configures a TLS client. Empty files mean the system defaults.
type TLS struct {
	// CAFile is a PEM file of CA certificates to trust instead of the
	// system roots.
	CAFile string `yaml:"ca_file,omitempty"`
	// CertFile is the PEM client certificate; it needs KeyFile.
	CertFile string `yaml:"cert_file,omitempty"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `yaml:"key_file,omitempty"`
}

// SASL configures Kafka SASL authentication.
type SASL struct {
	// Mechanism is plain, scram-sha-256 or scram-sha-512 (upper case, as
	// Kafka writes them, is accepted and stored lower case). Required.
	Mechanism string `yaml:"mechanism"`
	// Username is required.
	Username string `yaml:"username,omitempty"`
	// Password is a secret: it is never printed.
	Password string `yaml:"password,omitempty"`
}

// SchemaRegistry is the Confluent-compatible Schema Registry.
type SchemaRegistry struct {
	// URL is http:// or https://. No default; required by `fluxo stream`.
	URL string `yaml:"url,omitempty"`
	// Username enables HTTP basic authentication.
	Username string `yaml:"username,omitempty"`
	// Password is a secret: it is never printed.
	Password string `yaml:"password,omitempty"`
	// TLS configures https when present.
	TLS *TLS `yaml:"tls,omitempty"`
}

// Checkpoint says where the source position is saved.
type Checkpoint struct {
	// Store is "file" (default: a file and its parts directory) or "kafka"
	// (a compacted topic of kafka.brokers: no volume needed).
	Store string `yaml:"store"`
	// Path is the checkpoint file of the file store. Default:
	// "<name>.checkpoint", relative to the current directory.
	Path string `yaml:"path"`
	// Topic is the compacted topic of the kafka store, created when
	// missing (default _fluxo_checkpoints); the checkpoint's key is name.
	Topic string `yaml:"topic,omitempty"`
	// LeaseTimeout is how long the kafka store without kafka.transactions
	// waits for a silent process of the stream before it takes over: the
	// running process renews its hold every fifth of it and stops when it
	// could not for four fifths of it. Default 15s.
	LeaseTimeout time.Duration `yaml:"lease_timeout,omitempty"`
}

// MaskKeyVar is the environment variable holding the key that
// source.mask_columns hashes with.
const MaskKeyVar = "FLUXO_MASK_KEY"

// MaskKey returns the key source.mask_columns hashes with.
func (c *Config) MaskKey() []byte { return c.maskKey }

// Where says where the checkpoint is kept, for people.
func (c Checkpoint) Where(name string) string {
	if c.Store == "kafka" {
		return fmt.Sprintf("topic %s, key %s", c.Topic, name)
	}
	return c.Path
}

// Snapshot says whether tables are read in full before streaming.
type Snapshot struct {
	// Mode is "initial" (default: on first start, snapshot every table
	// incrementally, in chunks, while streaming), "never" (stream from the
	// current position), "initial_only" (snapshot incrementally, then exit)
	// or "initial_consistent" (read every table at one cut point, then
	// stream).
	Mode string `yaml:"mode"`
	// ChunkRows is the size of an incremental snapshot's chunks (default
	// 8192): each is one short read in key order.
	ChunkRows int `yaml:"chunk_rows"`
}

// Sink configures `fluxo sink`, which writes the stream's changes into
// the bronze layer (bronze.url, bronze.format, bronze.compression).
type Sink struct {
	// Group is the Kafka consumer group; processes with one group share the
	// topics' partitions. Default: fluxo-sink-<name>.
	Group string `yaml:"group"`
	// FlushInterval is the longest a change file stays open: it is
	// committed this long after it opened. Default: 60s.
	FlushInterval time.Duration `yaml:"flush_interval,omitempty"`
	// MaxFileBytes rolls a change file once it holds this many bytes.
	// Default: 134217728 (128 MiB).
	MaxFileBytes int64 `yaml:"max_file_bytes,omitempty"`
	// SessionTimeout is how long the group waits for a process that stopped
	// answering (killed) before its partitions go to the others; a
	// rebalance waits up to three times this for the processes to rejoin.
	// Default: 10s.
	SessionTimeout time.Duration `yaml:"session_timeout,omitempty"`
	// InstanceID, when set, makes the process a static member of the group
	// (unique per process, stable across its restarts, e.g. ${HOSTNAME} of a
	// pod): a restarted process takes its partitions back at once, without
	// a rebalance. Default: none (dynamic membership).
	InstanceID string `yaml:"instance_id,omitempty"`
}

// Bronze is the data-lake target of `fluxo fullload`.
type Bronze struct {
	// URL is file:///path or s3://bucket/prefix?region=...&endpoint=...
	// Default: "file://./bronze".
	URL string `yaml:"url,omitempty"`
	// Format is "avro" (default) or "parquet".
	Format string `yaml:"format"`
	// Compression is "snappy" (default), "zstd", "deflate" (avro only) or
	// "none".
	Compression string `yaml:"compression"`
	// Parallelism is the number of tables or chunks read at once, at least
	// 1. Default: 4.
	Parallelism int `yaml:"parallelism"`
	// MaxPartBytes bounds the size of one part file (a single row larger
	// than that still makes one file). Default: 268435456 (256 MiB).
	MaxPartBytes int64 `yaml:"max_part_bytes,omitempty"`
}

// HTTP is the endpoint serving /metrics, /healthz, /readyz and snapshot
// requests (/snapshot).
type HTTP struct {
	// Listen is host:port. Default: "127.0.0.1:9187".
	Listen string `yaml:"listen"`
	// AdminTokenFile holds the token that snapshot requests must present
	// (fluxo snapshot reads it too). Without it, snapshot requests are
	// accepted only when Listen is a loopback address.
	AdminTokenFile string `yaml:"admin_token_file,omitempty"`
}

// Load reads the YAML file at path and returns Parse's result. env looks up
// environment variables (os.LookupEnv when nil).
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, env)
}

// Parse reads a configuration from data, expands ${VAR} references with env
// (os.LookupEnv when nil), applies the defaults and runs the checks that do
// not depend on the command. name (usually the file path) starts every
// error message, followed by the line when there is one. The returned error
// lists every problem found, one per line; each is an *Error.
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	if err := expandTree(name, root, env); err != nil {
		return nil, err
	}
	c := &Config{file: name, set: map[string]int{}}
	if v, ok := env(MaskKeyVar); ok {
		c.maskKey = []byte(v)
	}
	c.Kafka.Tombstones = true
	d := decoder{file: name, set: c.set}
	if err := d.decode(root, c); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseYAML returns the top-level mapping of the single document in data,
// or nil for an empty file.
func parseYAML(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(name, err)
		}
		return nil, &Error{File: name, Line: extra.Line,
			Msg: "a second YAML document (---) is not allowed; use one file per database"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}
