// Package postgres is Fluxo's PostgreSQL source: it reads the captured
// tables in a snapshot exported by the replication slot and then streams
// their changes through logical replication with the built-in pgoutput
// plugin, confirming to the server only positions that fluxo checkpointed.
package postgres
