package config

import (
	"hash/fnv"
	"strings"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// Default values that do not depend on the name.
const (
	DefaultCheckpointStore    = "file"
	DefaultCheckpointTopic    = "_fluxo_checkpoints"
	DefaultSnapshotMode       = "initial"
	DefaultBronzeURL          = "file://./bronze"
	DefaultChunkRows          = incremental.DefaultChunkRows
	DefaultBronzeFormat       = "avro"
	DefaultBronzeCompression  = "snappy"
	DefaultBronzeParallelism  = 4
	DefaultBronzeMaxPartBytes = 256 << 20
	DefaultHTTPListen         = "127.0.0.1:9187"
	DefaultMaxRecordBytes     = 1 << 20
	DefaultHeartbeatInterval  = 10 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultCommitInterval     = 100 * time.Millisecond
	DefaultTransactionTimeout = time.Minute
	DefaultLeaseTimeout       = 15 * time.Second
	DefaultSinkFlushInterval  = time.Minute
	DefaultSinkMaxFileBytes   = 128 << 20
	DefaultSinkSession        = 10 * time.Second
)

// applyDefaults fills every value the file left out. Defaults derived from
// the name are skipped when the name is invalid (validate reports it).
func (c *Config) applyDefaults() {
	if nameRE.MatchString(c.Name) {
		c.nameDefaults()
	}
	setDefault(&c.Checkpoint.Store, DefaultCheckpointStore)
	setDefault(&c.Checkpoint.Topic, DefaultCheckpointTopic)
	setDefault(&c.Snapshot.Mode, DefaultSnapshotMode)
	if c.Snapshot.ChunkRows == 0 {
		c.Snapshot.ChunkRows = DefaultChunkRows
	}
	setDefault(&c.Bronze.URL, DefaultBronzeURL)
	setDefault(&c.Bronze.Format, DefaultBronzeFormat)
	setDefault(&c.Bronze.Compression, DefaultBronzeCompression)
	if _, set := c.set["bronze.parallelism"]; !set && c.Bronze.Parallelism == 0 {
		c.Bronze.Parallelism = DefaultBronzeParallelism
	}
	setDefault(&c.HTTP.Listen, DefaultHTTPListen)
	if c.Bronze.MaxPartBytes == 0 {
		c.Bronze.MaxPartBytes = DefaultBronzeMaxPartBytes
	}
	if c.Source.ReadTimeout == 0 {
		c.Source.ReadTimeout = DefaultReadTimeout
	}
	if c.Source.Connector() == cdc.ConnectorPostgres || c.Kafka.HeartbeatTopic {
		setDuration(&c.Source.HeartbeatInterval, DefaultHeartbeatInterval)
	}
	setDuration(&c.Kafka.CommitInterval, DefaultCommitInterval)
	setDuration(&c.Kafka.TransactionTimeout, DefaultTransactionTimeout)
	setDuration(&c.Checkpoint.LeaseTimeout, DefaultLeaseTimeout)
	setDuration(&c.Sink.FlushInterval, DefaultSinkFlushInterval)
	setDuration(&c.Sink.SessionTimeout, DefaultSinkSession)
	if c.Sink.MaxFileBytes == 0 {
		c.Sink.MaxFileBytes = DefaultSinkMaxFileBytes
	}
	if c.Kafka.MaxRecordBytes == 0 {
		c.Kafka.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if s := c.Kafka.SASL; s != nil {
		s.Mechanism = strings.ToLower(s.Mechanism)
	}
	if u, lenient, err := parseDSN(c.Source.DSN); err == nil && lenient {
		c.Source.DSN = u.String() // percent-encode a raw password
	}
}

func (c *Config) nameDefaults() {
	setDefault(&c.Kafka.TopicPrefix, c.Name)
	setDefault(&c.Checkpoint.Path, c.Name+".checkpoint")
	setDefault(&c.Sink.Group, "fluxo-sink-"+c.Name)
	switch c.Source.Connector() {
	case cdc.ConnectorPostgres:
		setDefault(&c.Source.Slot, postgresName(c.Name))
		setDefault(&c.Source.Publication, postgresName(c.Name))
	case cdc.ConnectorMySQL:
		if _, set := c.set["source.server_id"]; !set && c.Source.ServerID == 0 {
			c.Source.ServerID = defaultServerID(c.Name)
		}
	}
}

func setDuration(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// postgresName is the default slot and publication name: fluxo_<name> with
// '-' and '.' replaced by '_'.
func postgresName(name string) string {
	return "fluxo_" + strings.NewReplacer("-", "_", ".", "_").Replace(name)
}

// defaultServerID is a stable MySQL server id in [5400, 6399] derived from
// the name with FNV-1a.
func defaultServerID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return 5400 + h.Sum32()%1000
}
