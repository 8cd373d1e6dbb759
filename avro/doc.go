// Package avro turns cdc tables and events into Kafka records: Avro schemas
// (a Key record and a Debezium-compatible Envelope, SPEC §3 and §4) and
// their binary encoding, in the Confluent wire format.
//
// Schemas are generated as compact, deterministic JSON. The Encoder is
// compiled once per table into one append function per column, chosen from
// the column's Kind, so that encoding a row does not allocate.
package avro
