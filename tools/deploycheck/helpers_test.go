package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the fluxo repository this module lives in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copyFromRepo copies files or directories (paths relative to the
// repository root) into a new temporary root and returns it.
func copyFromRepo(t *testing.T, rels ...string) string {
	t.Helper()
	src, dst := repoRoot(t), t.TempDir()
	for _, rel := range rels {
		err := filepath.WalkDir(filepath.Join(src, rel), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(src, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, r), 0o755)
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, r)), 0o755); err != nil {
				return err
			}
			return copyFile(p, filepath.Join(dst, r), 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// mutation replaces Old with New in File (relative to the copied root);
// Old must occur exactly once, so that a mutation never silently stops
// applying when the real file changes.
type mutation struct {
	File, Old, New string
}

// apply performs m under root.
func (m mutation) apply(t *testing.T, root string) {
	t.Helper()
	p := filepath.Join(root, m.File)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), m.Old); n != 1 {
		t.Fatalf("mutation of %s: %q occurs %d times, want exactly 1", m.File, m.Old, n)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), m.Old, m.New, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantProblem fails t unless one of problems contains want.
func wantProblem(t *testing.T, problems []Problem, want string) {
	t.Helper()
	var all []string
	for _, p := range problems {
		if strings.Contains(p.String(), want) {
			return
		}
		all = append(all, "  "+p.String())
	}
	t.Errorf("no problem contains %q; got %d:\n%s", want, len(problems), strings.Join(all, "\n"))
}

// wantNone fails t if there is any problem.
func wantNone(t *testing.T, problems []Problem) {
	t.Helper()
	for _, p := range problems {
		t.Errorf("unexpected problem: %s", p)
	}
}
