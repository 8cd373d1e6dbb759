package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
)

// txMonitor follows the source transaction the events belong to: it
// numbers the events as they are sent (an update that moved the key is
// two events, a delete and a create) and counts them per table, for the
// transaction block of each record and Debezium's BEGIN and END records
// (Options.TransactionTopic).
type txMonitor struct {
	id     string // the open source transaction; "" when none
	tsMs   int64
	total  int64
	colls  []avro.DataCollection // per table, in the order first seen
	index  map[cdc.TableID]int   // table → index in colls
	info   cdc.TxInfo            // the numbered block of the event being sent
	topic  string                // <prefix>.transaction
	ids    [2]int32              // its key and value schema ids, once registered
	ready  bool
	buffer []byte
}

// txEvent numbers ev within its source transaction, writing the BEGIN
// record when ev opens one, and returns the event to send (ev, or a copy
// whose transaction block holds the pipeline's numbering).
func (p *Pipeline) txEvent(ctx context.Context, ev *cdc.Event) (*cdc.Event, error) {
	m := &p.txmon
	if ev.Tx.ID != m.id {
		m.id, m.tsMs, m.total, m.colls = ev.Tx.ID, ev.Source.TsMs, 0, m.colls[:0]
		clear(m.index)
		if p.opts.TransactionTopic {
			if err := p.txRecord(ctx, avro.AppendTransactionBegin(m.buf(), m.id, m.tsMs)); err != nil {
				return nil, err
			}
		}
	}
	i, ok := m.index[ev.Table.ID] // no name built per event
	if !ok {
		i = len(m.colls)
		m.index[ev.Table.ID] = i
		m.colls = append(m.colls, avro.DataCollection{Name: ev.Table.ID.String()})
	}
	m.total++
	m.colls[i].Events++
	if ev.Tx.TotalOrder == m.total && ev.Tx.DataCollectionOrder == m.colls[i].Events {
		return ev, nil
	}
	m.info = cdc.TxInfo{ID: m.id, TotalOrder: m.total, DataCollectionOrder: m.colls[i].Events}
	e := *ev
	e.Tx = &m.info
	return &e, nil
}

// txEnd ends the open source transaction at its commit, writing its END
// record.
func (p *Pipeline) txEnd(ctx context.Context) error {
	m := &p.txmon
	if m.id == "" {
		return nil
	}
	defer func() { m.id = "" }()
	if !p.opts.TransactionTopic {
		return nil
	}
	return p.txRecord(ctx, avro.AppendTransactionEnd(m.buf(), m.id, m.total, m.colls, m.tsMs))
}

func (m *txMonitor) buf() []byte { return m.buffer[:0] }

// txRecord sends a record of the transaction topic with value, keyed by
// the open transaction's id.
func (p *Pipeline) txRecord(ctx context.Context, value []byte) error {
	m := &p.txmon
	if !m.ready {
		var err error
		if m.ids, err = p.registerPair(ctx, m.topic, avro.TransactionKeySchema, avro.TransactionValueSchema); err != nil {
			return err
		}
		m.ready = true
	}
	m.buffer = value
	key := p.keep(avro.AppendTransactionKey(avro.AppendConfluentHeader(p.scratch[:0], m.ids[0]), m.id))
	val := p.keep(append(avro.AppendConfluentHeader(p.scratch[:0], m.ids[1]), value...))
	p.sendMeta(ctx, &cdc.Record{Topic: m.topic, Key: key, Value: val, Partition: -1})
	return nil
}

// registerPair registers the key and value schemas of a metadata topic.
func (p *Pipeline) registerPair(ctx context.Context, topic, key, value string) (ids [2]int32, err error) {
	if ids[0], err = p.opts.Registry.Register(ctx, topic+"-key", key); err != nil {
		return ids, fmt.Errorf("register the key schema of %s: %w", topic, err)
	}
	if ids[1], err = p.opts.Registry.Register(ctx, topic+"-value", value); err != nil {
		return ids, fmt.Errorf("register the value schema of %s: %w", topic, err)
	}
	return ids, nil
}

// sendMeta produces a record that is not a row change: it is tracked for
// delivery like every record, but not counted among the stream's records,
// so that it does not open or extend a source transaction's share of a
// Kafka transaction.
func (p *Pipeline) sendMeta(ctx context.Context, rec *cdc.Record) {
	p.opts.Sink.Produce(ctx, rec, p.tracker.add())
}

// heartbeats writes Debezium's heartbeat record to
// __debezium-heartbeat.<prefix> every HeartbeatInterval until ctx is done.
func (p *Pipeline) heartbeats(ctx context.Context) error {
	topic := "__debezium-heartbeat." + p.opts.TopicPrefix
	ids, err := p.registerPair(ctx, topic, avro.HeartbeatKeySchema, avro.HeartbeatValueSchema)
	if err != nil {
		return err
	}
	key := avro.AppendHeartbeatKey(avro.AppendConfluentHeader(nil, ids[0]), p.opts.TopicPrefix)
	t := time.NewTicker(p.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			val := avro.AppendHeartbeat(avro.AppendConfluentHeader(nil, ids[1]), now.UnixMilli())
			if err := p.heartbeat(ctx, &cdc.Record{Topic: topic, Key: key, Value: val, Partition: -1}); err != nil {
				return err
			}
		}
	}
}

// heartbeat sends one heartbeat record between two messages of the
// source. A transactional pipeline sends it only between source
// transactions, and commits it at once.
func (p *Pipeline) heartbeat(ctx context.Context, rec *cdc.Record) error {
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	if !p.transactional() {
		p.sendMeta(ctx, rec)
		return nil
	}
	if p.stats.Records != p.txn.sealedUpTo || p.txn.failed != nil {
		return nil // inside a source transaction: the next tick
	}
	p.sendMeta(ctx, rec)
	if p.txn.pos != nil {
		return p.commitTxn(ctx)
	}
	if err := p.opts.Sink.(TxSink).Commit(ctx, nil); err != nil {
		p.txn.failed = fmt.Errorf("commit a heartbeat: %w", err)
		return p.txn.failed
	}
	return nil
}
