package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// fileFormat is the version of the file layout; bump it on an incompatible
// change so that old binaries refuse new files instead of misreading them.
// Format 2 keeps a JSON position as a head in the file and its parts in a
// directory beside it (see split); format 1 kept the whole position in the
// file, and is still read.
const fileFormat = 2

type fileDoc struct {
	Format int `json:"format"`
	Checkpoint
	// Head is the position's head when it is JSON (Position is then
	// empty); its parts are files <digest>.json in the parts directory.
	Head json.RawMessage `json:"head,omitempty"`
}

// File is a Store that keeps the checkpoint as JSON in one file, replaced
// atomically (temp file, fsync, rename, fsync of the directory), and the
// large, rarely changing parts of the position (table schemas, the
// captured list, the snapshot queue) in files named by their digest in the
// directory <path>.parts, each written once, before the file that
// references it, and removed once no checkpoint references it.
type File struct {
	path string
	name string
	// known holds the parts on disk, once listed (nil before the first
	// Save); current those the saved checkpoint references.
	known, current map[string]bool
}

// NewFile returns a Store writing to path for the stream called name.
func NewFile(path, name string) *File { return &File{path: path, name: name} }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// partsDir is where the position's parts live.
func (f *File) partsDir() string { return f.path + ".parts" }

// Load implements Store. A part removed by a concurrent Save (fluxo status
// reading a running stream's checkpoint) makes it read the file again.
func (f *File) Load(ctx context.Context) (*Checkpoint, error) {
	var err error
	for range 5 {
		var cp *Checkpoint
		if cp, err = f.load(); !errors.Is(err, fs.ErrNotExist) {
			return cp, err
		}
	}
	return nil, err
}

func (f *File) load() (*Checkpoint, error) {
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
	if doc.Format != fileFormat && doc.Format != 1 {
		return nil, fmt.Errorf("checkpoint %s has format %d, this fluxo reads formats 1 and %d: use a matching fluxo version", f.path, doc.Format, fileFormat)
	}
	if doc.Name != f.name {
		return nil, fmt.Errorf("checkpoint %s belongs to stream %q, not %q: point checkpoint.path at this stream's own file", f.path, doc.Name, f.name)
	}
	cp := doc.Checkpoint
	if len(doc.Head) > 0 {
		if cp.Position, err = join(doc.Head, f.readPart); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, err // removed by a concurrent Save: read again
			}
			return nil, fmt.Errorf("checkpoint %s: %w: restore %s from a backup, or delete both to re-snapshot", f.path, err, f.partsDir())
		}
	}
	return &cp, nil
}

func (f *File) readPart(digest string) ([]byte, error) {
	return os.ReadFile(filepath.Join(f.partsDir(), digest+".json"))
}

// Save implements Store: the position's new parts first, each durable,
// then the file that references them; then the parts no longer
// referenced are removed.
func (f *File) Save(ctx context.Context, cp *Checkpoint) error {
	doc := fileDoc{Format: fileFormat, Checkpoint: *cp}
	var parts map[string][]byte
	if head, p, ok := splitJSON(cp.Position); ok {
		doc.Head, doc.Position, parts = head, nil, p
		if err := f.writeParts(parts); err != nil {
			return fmt.Errorf("save checkpoint %s: %w", f.path, err)
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := writeAtomic(f.path, data); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", f.path, err)
	}
	return f.removeUnused(parts)
}

// writeParts writes the parts not on disk yet, each durable before Save
// writes the file that references them.
func (f *File) writeParts(parts map[string][]byte) error {
	if len(parts) == 0 {
		return nil
	}
	if f.known == nil {
		if err := f.listParts(); err != nil {
			return err
		}
	}
	wrote := false
	for d, b := range parts {
		if f.known[d] {
			continue
		}
		if err := writeFile(filepath.Join(f.partsDir(), d+".json"), b); err != nil {
			return err
		}
		f.known[d], wrote = true, true
	}
	if wrote {
		return syncDir(f.partsDir())
	}
	return nil
}

// listParts learns which parts are on disk.
func (f *File) listParts() error {
	f.known = map[string]bool{}
	entries, err := os.ReadDir(f.partsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if d, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			f.known[d] = true
		}
	}
	return nil
}

// removeUnused removes the parts on disk that the checkpoint just saved
// does not reference (left by the previous one, or by a crash).
func (f *File) removeUnused(parts map[string][]byte) error {
	if f.known == nil {
		if err := f.listParts(); err != nil {
			return err
		}
	}
	for d := range f.known {
		if _, ok := parts[d]; ok {
			continue
		}
		if err := os.Remove(filepath.Join(f.partsDir(), d+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove unused checkpoint part: %w", err)
		}
		delete(f.known, d)
	}
	return nil
}

// writeAtomic replaces path with data so that a crash leaves either the old
// or the new content, never a mix.
func writeAtomic(path string, data []byte) error {
	if err := writeFile(path, data); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeFile replaces path with data, durable once the directory is synced.
func writeFile(path string, data []byte) error {
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
	return os.Rename(tmp.Name(), path)
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
