package bronze

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gocloud.dev/blob"
)

// Writer streams one new object. Nothing is visible at its key until Commit
// returns nil; Abort (or a failed Commit) leaves no object. A Writer is not
// safe for concurrent use.
type Writer struct {
	s      *Store
	key    string
	w      *blob.Writer
	cancel context.CancelFunc
	done   bool
}

// NewWriter starts a new object at key. Like Create it never overwrites: it
// fails with ErrExists when key exists, and Commit fails with ErrExists when
// another writer created key in the meantime (see Create for the guards). The
// context bounds the whole write, up to Commit.
func (s *Store) NewWriter(ctx context.Context, key string) (*Writer, error) {
	exists, err := s.Exists(ctx, key)
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, s.existsErr(key, nil)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType(key), IfNotExist: true})
	if err != nil {
		cancel()
		return nil, s.writeErr(key, err)
	}
	return &Writer{s: s, key: key, w: w, cancel: cancel}, nil
}

// Key returns the object's key.
func (w *Writer) Key() string { return w.key }

// Write appends p to the object's content.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, w.s.writeErr(w.key, err)
	}
	return n, nil
}

// Commit makes the object visible at its key.
func (w *Writer) Commit() error {
	if w.done {
		return fmt.Errorf("bronze: %q: commit after commit or abort", w.key)
	}
	w.done = true
	defer w.cancel()
	return w.s.writeErr(w.key, w.w.Close())
}

// Abort discards what was written; no object is created. It is a no-op after
// Commit or Abort.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	_ = w.w.Close()
}

// Copy copies the object at src to a new object at dst. It never overwrites:
// an existing dst is an error wrapping ErrExists. It asks the store to copy
// (S3 CopyObject); stores differ there (how they decode the copy source,
// whether they copy at all), so when that fails for any reason but an
// unreachable store, Copy streams the object through this process instead,
// and does so for every later copy of the Store. An error names the copy
// that failed and both attempts.
func (s *Store) Copy(ctx context.Context, dst, src string) error {
	if err := checkKey(src); err != nil {
		return err
	}
	exists, err := s.Exists(ctx, dst)
	if err != nil {
		return err
	}
	if exists {
		return s.existsErr(dst, nil)
	}
	if s.copyThrough.Load() {
		return s.copyHere(ctx, dst, src)
	}
	err = s.bucket.Copy(ctx, dst, src, nil)
	if err == nil {
		return nil
	}
	if isUnreachable(err) || ctx.Err() != nil {
		return s.classify("copy", src+" to "+dst, err)
	}
	if herr := s.copyHere(ctx, dst, src); herr != nil {
		return fmt.Errorf("bronze.url %s: copy %q to %q: the store's server-side copy failed (%v), and so did reading and writing it through fluxo: %w",
			s.loc.display, src, dst, err, herr)
	}
	s.copyThrough.Store(true)
	return nil
}

// copyHere copies src to a new dst by reading it and writing it back.
func (s *Store) copyHere(ctx context.Context, dst, src string) error {
	r, err := s.bucket.NewReader(ctx, src, nil)
	if err != nil {
		return s.classify("read", src, err)
	}
	defer r.Close()
	return s.write(ctx, dst, r)
}

// RemoveTemp removes the temporary files a killed writer left under the
// directory of prefix, for file:// stores (the driver writes next to the
// target and renames at commit); they are not objects and never listed. For
// S3 it does nothing: an interrupted upload never becomes visible (expire
// them with an AbortIncompleteMultipartUpload lifecycle rule). It returns how
// many files it removed.
func (s *Store) RemoveTemp(prefix string) (int, error) {
	if s.loc.scheme != "file" {
		return 0, nil
	}
	dir := filepath.Join(s.loc.bucket, filepath.FromSlash(s.loc.prefix), filepath.FromSlash(prefix))
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() && tempFile.MatchString(d.Name()) {
			if err := os.Remove(path); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("bronze.url %s: remove temporary files under %q: %w", s.loc.display, prefix, err)
	}
	return n, nil
}
