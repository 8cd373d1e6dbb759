package mask

import (
	"context"
	"hash"
	"sync"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Source wraps src so that its events carry masked tables and rows.
func (m *Masker) Source(src cdc.Source) cdc.Source {
	return &source{Source: src, m: m, plans: map[*cdc.Table]*plan{}, h: m.hasher()}
}

// source is a masking cdc.Source; Next runs on one goroutine.
type source struct {
	cdc.Source
	m     *Masker
	plans map[*cdc.Table]*plan // per table version of the source (nil: unmasked)
	h     hash.Hash
}

// Next implements cdc.Source: it yields src's messages with the masked
// columns of each event replaced.
func (s *source) Next(ctx context.Context) (cdc.Message, error) {
	msg, err := s.Source.Next(ctx)
	if err != nil || msg.Event == nil {
		return msg, err
	}
	p, ok := s.plans[msg.Event.Table]
	if !ok {
		if p, err = s.m.plan(msg.Event.Table); err != nil {
			return cdc.Message{}, err
		}
		s.plans[msg.Event.Table] = p
	}
	if p == nil {
		return msg, nil
	}
	ev := *msg.Event
	ev.Table, ev.Before, ev.After = p.table, s.m.row(p, s.h, ev.Before), s.m.row(p, s.h, ev.After)
	msg.Event = &ev
	return msg, nil
}

// Dumper wraps d so that its tables and rows are masked.
func (m *Masker) Dumper(d cdc.Dumper) cdc.Dumper {
	return &dumper{Dumper: d, m: m, pool: sync.Pool{New: func() any { return m.hasher() }}}
}

// dumper is a masking cdc.Dumper; Read may run concurrently.
type dumper struct {
	cdc.Dumper
	m     *Masker
	mu    sync.Mutex
	plans map[cdc.TableID]*plan
	pool  sync.Pool // of hash.Hash
}

// Tables implements cdc.Dumper: the tables, masked.
func (d *dumper) Tables(ctx context.Context) ([]cdc.DumpTable, error) {
	tables, err := d.Dumper.Tables(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.plans = map[cdc.TableID]*plan{}
	for i, t := range tables {
		p, err := d.m.plan(t.Table)
		if err != nil {
			return nil, err
		}
		if p != nil {
			d.plans[t.Table.ID] = p
			tables[i].Table = p.table
		}
	}
	return tables, nil
}

// Read implements cdc.Dumper: the chunk's rows, masked.
func (d *dumper) Read(ctx context.Context, c cdc.Chunk, fn func(row []any) error) error {
	d.mu.Lock()
	p := d.plans[c.Table]
	d.mu.Unlock()
	if p == nil {
		return d.Dumper.Read(ctx, c, fn)
	}
	h := d.pool.Get().(hash.Hash)
	defer d.pool.Put(h)
	return d.Dumper.Read(ctx, c, func(row []any) error { return fn(d.m.row(p, h, row)) })
}
