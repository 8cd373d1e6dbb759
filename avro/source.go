package avro

import (
	"fmt"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Header carries the envelope values that do not come from the event.
type Header struct {
	// Version is source.version (the fluxo version).
	Version string
	// Name is source.name (the logical server name, i.e. the topic prefix).
	Name string
	// TsMs is the envelope's ts_ms: when fluxo processed the event, in Unix
	// milliseconds.
	TsMs int64
}

// The source records, field for field as SPEC §3 lists them, named as
// Debezium names them.
const (
	sourceCommonFields = `{"name":"version","type":"string"},` +
		`{"name":"connector","type":"string"},` +
		`{"name":"name","type":"string"},` +
		`{"name":"ts_ms","type":"long"},` +
		`{"name":"snapshot","type":"string","default":"false"},` +
		`{"name":"db","type":"string"},`

	mysqlSourceSchema = `{"type":"record","name":"Source","namespace":"io.debezium.connector.mysql","fields":[` +
		sourceCommonFields +
		`{"name":"table","type":["null","string"],"default":null},` +
		`{"name":"server_id","type":"long"},` +
		`{"name":"gtid","type":["null","string"],"default":null},` +
		`{"name":"file","type":"string"},` +
		`{"name":"pos","type":"long"},` +
		`{"name":"row","type":"int"}` +
		`],"connect.name":"io.debezium.connector.mysql.Source"}`

	postgresSourceSchema = `{"type":"record","name":"Source","namespace":"io.debezium.connector.postgresql","fields":[` +
		sourceCommonFields +
		`{"name":"schema","type":"string"},` +
		`{"name":"table","type":"string"},` +
		`{"name":"txId","type":["null","long"],"default":null},` +
		`{"name":"lsn","type":["null","long"],"default":null}` +
		`],"connect.name":"io.debezium.connector.postgresql.Source"}`

	blockSchema = `{"type":"record","name":"block","namespace":"event","fields":[` +
		`{"name":"id","type":"string"},` +
		`{"name":"total_order","type":"long"},` +
		`{"name":"data_collection_order","type":"long"}` +
		`],"connect.version":1,"connect.name":"event.block"}`
)

// sourceSchema returns the source record schema of c.
func sourceSchema(c cdc.Connector) (string, error) {
	switch c {
	case cdc.ConnectorMySQL:
		return mysqlSourceSchema, nil
	case cdc.ConnectorPostgres:
		return postgresSourceSchema, nil
	}
	return "", fmt.Errorf("avro: unknown connector %q", string(c))
}

// appendSource appends the source record of c (which sourceSchema
// accepted). The calls are direct so that h does not escape.
func appendSource(buf []byte, c cdc.Connector, s *cdc.SourceInfo, h *Header) []byte {
	if c == cdc.ConnectorPostgres {
		return appendPostgresSource(buf, s, h)
	}
	return appendMySQLSource(buf, s, h)
}

// appendSourceCommon appends the fields every source record starts with.
func appendSourceCommon(buf []byte, c cdc.Connector, s *cdc.SourceInfo, h *Header) []byte {
	buf = appendString(buf, h.Version)
	buf = appendString(buf, string(c))
	buf = appendString(buf, h.Name)
	buf = appendLong(buf, s.TsMs)
	snap := s.Snapshot
	if snap == "" {
		snap = cdc.SnapshotFalse
	}
	buf = appendString(buf, snap)
	return appendString(buf, s.DB)
}

// appendMySQLSource appends an io.debezium.connector.mysql.Source record.
// An empty table or GTID is written as null.
func appendMySQLSource(buf []byte, s *cdc.SourceInfo, h *Header) []byte {
	buf = appendSourceCommon(buf, cdc.ConnectorMySQL, s, h)
	buf = appendOptString(buf, s.Table)
	buf = appendLong(buf, s.ServerID)
	buf = appendOptString(buf, s.GTID)
	buf = appendString(buf, s.File)
	buf = appendLong(buf, s.Pos)
	return appendLong(buf, int64(s.Row))
}

// appendPostgresSource appends an io.debezium.connector.postgresql.Source
// record. A zero txId or LSN (both invalid in PostgreSQL) is written as
// null.
func appendPostgresSource(buf []byte, s *cdc.SourceInfo, h *Header) []byte {
	buf = appendSourceCommon(buf, cdc.ConnectorPostgres, s, h)
	buf = appendString(buf, s.Schema)
	buf = appendString(buf, s.Table)
	buf = appendOptLong(buf, s.TxID)
	return appendOptLong(buf, s.LSN)
}

// appendTx appends the ["null", event.block] transaction union.
func appendTx(buf []byte, tx *cdc.TxInfo) []byte {
	if tx == nil {
		return append(buf, unionNull)
	}
	buf = append(buf, unionValue)
	buf = appendString(buf, tx.ID)
	buf = appendLong(buf, tx.TotalOrder)
	return appendLong(buf, tx.DataCollectionOrder)
}

// The encoded union branch indexes of a ["null", T] union.
const (
	unionNull  = 0 // zigzag(0)
	unionValue = 2 // zigzag(1)
)

// appendOptString appends a ["null","string"] union, null when s is empty.
func appendOptString(buf []byte, s string) []byte {
	if s == "" {
		return append(buf, unionNull)
	}
	return appendString(append(buf, unionValue), s)
}

// appendOptLong appends a ["null","long"] union, null when v is zero.
func appendOptLong(buf []byte, v int64) []byte {
	if v == 0 {
		return append(buf, unionNull)
	}
	return appendLong(append(buf, unionValue), v)
}
