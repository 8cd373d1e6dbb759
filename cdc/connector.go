package cdc

// Connector names a kind of source, spelled as Debezium spells its
// connectors: envelopes carry it in source.connector, checkpoints record it,
// and the config's source.dsn scheme selects it.
type Connector string

// The connectors.
const (
	ConnectorMySQL    Connector = "mysql"      // MySQL and MariaDB binlogs
	ConnectorPostgres Connector = "postgresql" // PostgreSQL logical replication (pgoutput)
)
