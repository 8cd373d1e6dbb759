package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileFormat is the version of the file layout; bump it on an incompatible
// change so that old binaries refuse new files instead of misreading them.
const fileFormat = 1

type fileDoc struct {
	Format int `json:"format"`
	Checkpoint
}

// File is a Store that keeps the checkpoint as JSON in one file, replaced
// atomically (temp file, fsync, rename, fsync of the directory).
type File struct {
	path string
	name string
}

// NewFile returns a Store writing to path for the stream called name.
func NewFile(path, name string) *File { return &File{path: path, name: name} }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Load implements Store.
func (f *File) Load(ctx context.Context) (*Checkpoint, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var doc fileDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("checkpoint %s is corrupt (%v): restore it from a backup, or delete it to re-snapshot", f.path, err)
	}
	if doc.Format != fileFormat {
		return nil, fmt.Errorf("checkpoint %s has format %d, this fluxo reads format %d: use a matching fluxo version", f.path, doc.Format, fileFormat)
	}
	if doc.Name != f.name {
		return nil, fmt.Errorf("checkpoint %s belongs to stream %q, not %q: point checkpoint.path at this stream's own file", f.path, doc.Name, f.name)
	}
	cp := doc.Checkpoint
	return &cp, nil
}

// Save implements Store.
func (f *File) Save(ctx context.Context, cp *Checkpoint) error {
	data, err := json.Marshal(fileDoc{Format: fileFormat, Checkpoint: *cp})
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := writeAtomic(f.path, data); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", f.path, err)
	}
	return nil
}

// writeAtomic replaces path with data so that a crash leaves either the old
// or the new content, never a mix.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
