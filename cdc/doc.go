// Package cdc holds Fluxo's domain: tables and their columns, row-change
// events, opaque source positions, and the interfaces between a source (a
// database's change stream), a sink (Kafka) and the pipeline that joins them.
//
// Values in a row are plain Go values whose type is fixed by the column's
// Kind (see Kind), so that encoders can be compiled per table without
// reflection.
package cdc
