package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// checkpointLoop saves the acknowledged position every interval until ctx
// is done.
func (p *Pipeline) checkpointLoop(ctx context.Context) error {
	t := time.NewTicker(p.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
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
	data, err := pos.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode position: %w", err)
	}
	cp := &checkpoint.Checkpoint{Name: p.opts.Name, Connector: p.opts.Connector, Position: data,
		Describe: pos.String(), SavedAt: time.Now().UTC()}
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
