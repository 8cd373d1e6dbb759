package pipeline

import (
	"time"

	"context"
	"fmt"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
)

// tableCodec is everything needed to turn a table's events into records.
type tableCodec struct {
	topic   string
	enc     *avro.Encoder
	keyID   int32
	valueID int32
	keyed   bool
	parts   int32 // partitions, for truncates; 0 until needed
	obs     TableObserver
}

// codec returns the codec of t, registering its schemas on first use. A
// schema change arrives as a new *cdc.Table and so registers a new version.
func (p *Pipeline) codec(ctx context.Context, t *cdc.Table) (*tableCodec, error) {
	if c := p.codecs[t]; c != nil {
		return c, nil
	}
	topic := p.opts.TopicPrefix + "." + t.ID.Schema + "." + t.ID.Name
	enc, err := avro.NewEncoder(t, p.opts.Connector)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.ID, err)
	}
	c := &tableCodec{topic: topic, enc: enc, obs: p.opts.Observer.Table(t.ID)}
	vs, err := avro.ValueSchema(t, topic, p.opts.Connector)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.ID, err)
	}
	if c.valueID, err = p.opts.Registry.Register(ctx, topic+"-value", vs); err != nil {
		return nil, fmt.Errorf("register value schema of %s: %w", t.ID, err)
	}
	ks, ok, err := avro.KeySchema(t, topic)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.ID, err)
	}
	if ok {
		if c.keyID, err = p.opts.Registry.Register(ctx, topic+"-key", ks); err != nil {
			return nil, fmt.Errorf("register key schema of %s: %w", t.ID, err)
		}
		c.keyed = true
	} else {
		p.log.Warn("table has no primary key: its records get a null key and all go to partition 0; set source.key_columns to key it", "table", t.ID.String())
	}
	p.codecs[t] = c
	return c, nil
}

// key encodes the Confluent-framed key of row, or nil for a keyless table.
func (p *Pipeline) key(c *tableCodec, row []any) ([]byte, error) {
	if !c.keyed || row == nil {
		return nil, nil
	}
	buf := avro.AppendConfluentHeader(p.scratch[:0], c.keyID)
	buf, err := c.enc.AppendKey(buf, row)
	if err != nil {
		return nil, err
	}
	p.scratch = buf
	return p.keep(buf), nil
}

// slabSize is the size of the blocks that hold encoded keys and values.
const slabSize = 256 << 10

// keep copies b into the current slab (a new one when it is full): records
// share slabs instead of allocating one buffer each; a slab is freed once
// Kafka released every record in it.
func (p *Pipeline) keep(b []byte) []byte {
	if cap(p.slab)-len(p.slab) < len(b) {
		p.slab = make([]byte, 0, max(slabSize, len(b)))
	}
	start := len(p.slab)
	p.slab = append(p.slab, b...)
	return p.slab[start:len(p.slab):len(p.slab)]
}

// value encodes the Confluent-framed envelope of ev.
func (p *Pipeline) value(c *tableCodec, ev *cdc.Event, now time.Time) ([]byte, error) {
	buf := avro.AppendConfluentHeader(p.scratch[:0], c.valueID)
	buf, err := c.enc.AppendValue(buf, ev, avro.Header{Version: p.opts.Version, Name: p.opts.Name, TsMs: now.UnixMilli()})
	if err != nil {
		return nil, err
	}
	p.scratch = buf
	return p.keep(buf), nil
}
