package cdc

import (
	"context"
	"errors"
	"time"
)

// Source is a database's change stream, read one message at a time.
type Source interface {
	// Next blocks until the next message is available, ctx is done, or the
	// source fails. Events of one transaction are followed by exactly one
	// Commit message. No event is yielded twice in one run: a source that
	// reconnects inside a transaction drops the events of it that it
	// yielded before the connection was lost. After an error, the source
	// must be closed.
	Next(ctx context.Context) (Message, error)
	// Ack tells the source that everything up to and including pos is
	// durably stored downstream and checkpointed. A source that must confirm
	// progress to the server (a PostgreSQL slot) does it here, never earlier.
	// pos is a Position the source itself yielded. Ack may be called from
	// another goroutine while Next blocks.
	Ack(ctx context.Context, pos Position) error
	// Close releases the source's connections. It is safe to call twice.
	Close() error
}

// Record is one Kafka record ready to produce.
type Record struct {
	Topic string
	// Key is nil for a null key; Value is nil for a tombstone.
	Key, Value []byte
	// Partition is the explicit partition, or -1 to partition by the key's
	// murmur2 hash as Kafka's default partitioner does.
	Partition int32
	// Time is the record's timestamp; zero: when the sink takes it.
	Time time.Time
}

// Sink delivers records to Kafka.
type Sink interface {
	// Produce enqueues rec and returns; it blocks only while the sink's
	// buffers are full (back-pressure) or until ctx is done. done is called
	// exactly once, from another goroutine, with nil once the broker
	// acknowledged rec (acks=all) or with the error that made delivery fail.
	// Records to the same partition are delivered in Produce order.
	// rec itself is the caller's again once Produce returns (a pipeline
	// reuses one Record for every row); its Key and Value bytes stay
	// untouched until done is called.
	Produce(ctx context.Context, rec *Record, done func(error))
	// Partitions returns the number of partitions of topic, creating the
	// topic if it does not exist.
	Partitions(ctx context.Context, topic string) (int32, error)
	// Flush blocks until every record enqueued so far is acknowledged or
	// failed, or ctx is done.
	Flush(ctx context.Context) error
	// Close flushes nothing and releases the client.
	Close()
}

// ErrEndOfStream is returned by Source.Next when the source has nothing more
// to yield by design (snapshot.mode initial_only after the snapshot).
var ErrEndOfStream = errors.New("end of stream")

// Registry registers Avro schemas in a Confluent-compatible schema registry.
type Registry interface {
	// Register registers schema under subject (or finds it registered) and
	// returns its id. It retries transient failures until ctx is done.
	Register(ctx context.Context, subject, schema string) (int32, error)
}
