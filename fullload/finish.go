package fullload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

// readStaged reads a chunk of a table that is read whole (no integer key)
// into staged part files: they become visible in the run directory only
// when the whole table is read, so an interrupted attempt leaves nothing
// there and the next one reads the table again from its own view.
func (r *runner) readStaged(ctx context.Context, j *job) error {
	t := j.t
	var p *part
	var parts []partInfo
	defer func() {
		if p != nil {
			p.abort()
		}
	}()
	closePart := func() error {
		info, err := p.finish(r.attempt)
		if err != nil {
			return err
		}
		if err := p.commit(); err != nil {
			return err
		}
		info.Staged = p.Key()
		parts = append(parts, info)
		p = nil
		return nil
	}
	c := cdc.Chunk{Table: t.id, FirstPage: j.pages[0], EndPage: j.pages[1]}
	err := r.o.Dumper.Read(ctx, c, func(row []any) error {
		if p == nil {
			key := r.journal.stagingKey(t.id, r.attempt, t.nextChunk(), t.format.Ext())
			var err error
			if p, err = newPart(ctx, r.o.Store, key, t.format); err != nil {
				return err
			}
		}
		if err := p.rows.Write(row); err != nil {
			return err
		}
		t.prog.add(1)
		if p.rows.Size() > r.o.MaxPartBytes {
			return closePart()
		}
		return nil
	})
	if err == nil && p != nil {
		err = closePart()
	}
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.parts = append(t.parts, parts...)
	t.mu.Unlock()
	return nil
}

// finish completes a table whose chunks are all read: staged parts are
// recorded and copied into the run directory, then the manifest and
// _SUCCESS are written.
func (r *runner) finish(ctx context.Context, t *table) error {
	if t.staged && t.toCopy == nil {
		rec := &stagedRecord{Parts: t.parts, SchemaSHA: t.schemaSHA, Attempt: r.attempt}
		for i := range rec.Parts {
			rec.Parts[i].Path = t.allocPart()
		}
		if err := r.journal.put(ctx, r.journal.stagedKey(t.id, r.attempt), rec); err != nil {
			return err
		}
		t.toCopy = rec
	}
	if t.toCopy != nil {
		for _, p := range t.toCopy.Parts {
			err := r.o.Store.Copy(ctx, t.dir+"/"+p.Path, p.Staged)
			if err != nil && !errors.Is(err, bronze.ErrExists) { // exists: copied before a crash
				return err
			}
		}
	}
	return r.writeManifest(ctx, t)
}

// writeManifest writes _manifest.json (unless a crash came right after
// writing it) and then _SUCCESS.
func (r *runner) writeManifest(ctx context.Context, t *table) error {
	files := t.files()
	m := manifest{Version: r.o.Version, Name: r.o.Name, Schema: t.id.Schema, Table: t.id.Name,
		RunID: r.runID, Date: r.date, Format: r.o.Format, Compression: r.o.Compression,
		FinishedAt: r.o.Now().UTC(), Files: files, AvroSchema: json.RawMessage(t.schema)}
	used := map[int]bool{r.attempt: true}
	for _, f := range files {
		used[f.Attempt] = true
		m.Rows += f.Rows
	}
	for _, c := range t.chunks {
		used[c.Attempt] = true
	}
	for _, a := range r.attempts {
		if used[a.Attempt] {
			m.Attempts = append(m.Attempts, a)
		}
	}
	if len(m.Attempts) > 0 {
		m.StartedAt = m.Attempts[0].StartedAt
		m.Consistency = m.Attempts[0].View.Consistency
	}
	if len(m.Attempts) > 1 {
		m.Consistency = "per-chunk" // resumed: chunks come from different views
	}
	err := r.journal.put(ctx, path.Join(t.dir, bronze.ManifestName), m)
	if err != nil && !errors.Is(err, bronze.ErrExists) {
		return fmt.Errorf("table %s: write manifest: %w", t.id, err)
	}
	if err := r.o.Store.Create(ctx, path.Join(t.dir, bronze.SuccessName), bytes.NewReader(nil)); err != nil {
		return fmt.Errorf("table %s: write %s: %w", t.id, bronze.SuccessName, err)
	}
	t.mu.Lock()
	t.complete = true
	t.mu.Unlock()
	t.prog.setState(stateDone)
	return nil
}
