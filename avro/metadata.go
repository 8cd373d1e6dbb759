package avro

// Debezium's metadata topics, with the schema names its Avro converter
// registers, so that consumers written for Debezium read them unchanged:
// the transaction topic (<prefix>.transaction, SPEC §3) and the heartbeat
// topic (__debezium-heartbeat.<prefix>).

// TransactionKeySchema is the key schema of the transaction topic: the
// transaction's id.
const TransactionKeySchema = `{"type":"record","name":"TransactionMetadataKey","namespace":"io.debezium.connector.common",` +
	`"fields":[{"name":"id","type":"string"}]}`

// TransactionValueSchema is the value schema of the transaction topic:
// BEGIN records carry no counts, END records the transaction's event count
// and, per table ("db.table", PostgreSQL "schema.table"), its own.
const TransactionValueSchema = `{"type":"record","name":"TransactionMetadataValue","namespace":"io.debezium.connector.common","fields":[` +
	`{"name":"status","type":"string"},` +
	`{"name":"id","type":"string"},` +
	`{"name":"event_count","type":["null","long"],"default":null},` +
	`{"name":"data_collections","type":["null",{"type":"array","items":{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro",` +
	`"fields":[{"name":"data_collection","type":"string"},{"name":"event_count","type":"long"}]}}],"default":null},` +
	`{"name":"ts_ms","type":"long"}]}`

// Transaction statuses.
const (
	TransactionBegin = "BEGIN"
	TransactionEnd   = "END"
)

// DataCollection is one table's event count in a transaction.
type DataCollection struct {
	Name   string
	Events int64
}

// AppendTransactionKey appends the Avro binary key of transaction id.
func AppendTransactionKey(buf []byte, id string) []byte { return appendString(buf, id) }

// AppendTransactionBegin appends the value of a BEGIN record.
func AppendTransactionBegin(buf []byte, id string, tsMs int64) []byte {
	buf = appendString(buf, TransactionBegin)
	buf = appendString(buf, id)
	buf = appendLong(buf, 0) // event_count: null
	buf = appendLong(buf, 0) // data_collections: null
	return appendLong(buf, tsMs)
}

// AppendTransactionEnd appends the value of an END record: events in all,
// and per table in colls.
func AppendTransactionEnd(buf []byte, id string, events int64, colls []DataCollection, tsMs int64) []byte {
	buf = appendString(buf, TransactionEnd)
	buf = appendString(buf, id)
	buf = appendLong(buf, 1) // event_count: long
	buf = appendLong(buf, events)
	buf = appendLong(buf, 1) // data_collections: array
	if len(colls) > 0 {
		buf = appendLong(buf, int64(len(colls)))
		for _, c := range colls {
			buf = appendString(buf, c.Name)
			buf = appendLong(buf, c.Events)
		}
	}
	buf = appendLong(buf, 0) // end of the array
	return appendLong(buf, tsMs)
}

// HeartbeatKeySchema is the key schema of the heartbeat topic: the
// stream's logical name (Debezium's topic prefix).
const HeartbeatKeySchema = `{"type":"record","name":"ServerNameKey","namespace":"io.debezium.connector.common",` +
	`"fields":[{"name":"serverName","type":"string"}]}`

// HeartbeatValueSchema is the value schema of the heartbeat topic.
const HeartbeatValueSchema = `{"type":"record","name":"Heartbeat","namespace":"io.debezium.connector.common",` +
	`"fields":[{"name":"ts_ms","type":"long"}]}`

// AppendHeartbeatKey appends the Avro binary key of a heartbeat.
func AppendHeartbeatKey(buf []byte, serverName string) []byte { return appendString(buf, serverName) }

// AppendHeartbeat appends the Avro binary value of a heartbeat sent at
// tsMs.
func AppendHeartbeat(buf []byte, tsMs int64) []byte { return appendLong(buf, tsMs) }
