package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// soonInterval is how often the checkpoint is saved while commits ask for
// it soon (cdc.Message.SaveSoon).
const soonInterval = 100 * time.Millisecond

// checkpointLoop saves the acknowledged position every interval, or every
// soonInterval while commits ask to be saved soon, until ctx is done.
func (p *Pipeline) checkpointLoop(ctx context.Context) error {
	every := min(p.opts.CheckpointInterval, soonInterval)
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if now.Sub(last) < p.opts.CheckpointInterval-every/2 && !p.tracker.saveSoon() {
				continue
			}
			last = now
			p.cpMu.Lock()
			err := p.saveCheckpoint(ctx)
			saved := p.saved
			p.cpMu.Unlock()
			if err != nil {
				return err
			}
			p.opts.Observer.Round(saved, p.tracker.oldest())
		}
	}
}

// saveCheckpoint stores the newest fully acknowledged transaction boundary,
// if it moved, then lets the source confirm it.
func (p *Pipeline) saveCheckpoint(ctx context.Context) error {
	pos := p.tracker.done()
	if pos == nil {
		return nil
	}
	cp, err := p.checkpointOf(pos)
	if err != nil {
		return err
	}
	if err := p.opts.Store.Save(ctx, cp); err != nil {
		return err
	}
	p.saved = cp.SavedAt
	p.opts.Observer.Saved()
	p.log.Debug("checkpoint saved", "position", cp.Describe)
	if err := p.opts.Source.Ack(ctx, pos); err != nil {
		return fmt.Errorf("confirm position %s: %w", pos, err)
	}
	return nil
}

// saveNow waits until Kafka acknowledged everything produced so far, then
// saves the checkpoint.
func (p *Pipeline) saveNow(ctx context.Context) error {
	if err := p.opts.Sink.Flush(ctx); err != nil {
		return err
	}
	if err := p.tracker.failure(); err != nil {
		return fmt.Errorf("kafka delivery failed: %w", err)
	}
	p.cpMu.Lock()
	defer p.cpMu.Unlock()
	return p.saveCheckpoint(ctx)
}

// checkpointOf is the checkpoint of pos, saved now.
func (p *Pipeline) checkpointOf(pos cdc.Position) (*checkpoint.Checkpoint, error) {
	data, err := pos.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode position: %w", err)
	}
	return &checkpoint.Checkpoint{Name: p.opts.Name, Connector: p.opts.Connector, Position: data,
		Describe: pos.String(), SavedAt: time.Now().UTC()}, nil
}
