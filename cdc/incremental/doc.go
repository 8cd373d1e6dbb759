// Package incremental holds the source-independent part of incremental
// snapshots (SPEC §6, after Netflix's DBLog and Debezium's incremental
// snapshots): a table is read in key-ordered chunks while the change stream
// runs, and each chunk waits in a Window between its low and high
// watermarks. A change the stream carries inside the window to a key of the
// chunk drops that key's row from the window, because the log's version is
// newer; at the high watermark the rows left are emitted as reads, so a read
// never overwrites a newer change.
//
// The sources supply the watermarks (MySQL executed GTID sets, PostgreSQL
// WAL positions and pg_current_snapshot()) and the chunk reads; this
// package decides what each chunk emits.
package incremental
