package fullload

import (
	"context"
	"path"

	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	"github.com/fluxo-cdc/fluxo/internal/lake/partfile"
)

// part is one data file of a run being written.
type part struct {
	*partfile.Part
	rows partfile.RowWriter
}

// newPart starts the object at key.
func newPart(ctx context.Context, store *bronze.Store, key string, f *partfile.Format) (*part, error) {
	p, err := partfile.New(ctx, store, key, f)
	if err != nil {
		return nil, err
	}
	return &part{Part: p, rows: p.Rows}, nil
}

// finish completes the file's content (not yet committed) and describes it.
func (p *part) finish(attempt int) (partInfo, error) {
	info, err := p.Finish()
	if err != nil {
		return partInfo{}, err
	}
	return partInfo{Path: path.Base(info.Key), Rows: info.Rows, Bytes: info.Bytes, SHA256: info.SHA256, Attempt: attempt}, nil
}

// commit makes the finished file visible.
func (p *part) commit() error { return p.Commit() }

// abort discards the file.
func (p *part) abort() { p.Abort() }
