// Package e2e holds fluxo's end-to-end tests: each starts real servers
// (MariaDB, PostgreSQL, Kafka, a schema registry; see internal/testserver),
// runs a command of internal/command as the binary would, and compares what
// independent readers decode (franz-go, Python's confluent-kafka and avro,
// DuckDB) with what the database holds.
package e2e
