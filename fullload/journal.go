package fullload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

// The journal is fluxo's own record of a run, kept apart from the data under
// <bronze.url>/_fluxo/runs/<name>/<run id>/ so that the table directories
// hold exactly the layout of SPEC §7. It is append-only like the data:
//
//	run.json                     the run: date, tables, format (written once)
//	attempt-NNNN.json            one per invocation: its view of the source
//	tables/<schema>.<table>/chunk-NNNN-NNNNNN.json   a key range read and the part holding it
//	tables/<schema>.<table>/staged-NNNN.json         a table read whole: its staged parts
//	staging/<schema>.<table>/NNNN-NNNNNN.<ext>       parts of tables read whole, before copying
//
// A part file under the table directory is committed only after the record
// naming it, so every visible part belongs to a record; a record whose part
// is missing (a crash between the two) is ignored and its range read again.
const journalRoot = "_fluxo/runs"

// runRecord is run.json.
type runRecord struct {
	RunID       string    `json:"run_id"`
	Name        string    `json:"name"`
	Date        string    `json:"date"`
	StartedAt   time.Time `json:"started_at"`
	Tables      []string  `json:"tables"`
	Format      string    `json:"format"`
	Compression string    `json:"compression"`
}

// attemptRecord is attempt-NNNN.json.
type attemptRecord struct {
	Attempt   int          `json:"attempt"`
	StartedAt time.Time    `json:"started_at"`
	View      cdc.DumpInfo `json:"view"`
	Version   string       `json:"fluxo_version"`
}

// partInfo describes one committed data file.
type partInfo struct {
	Path    string `json:"path"` // file name inside the run directory
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
	Attempt int    `json:"attempt"`
	Staged  string `json:"staged,omitempty"` // staging key it is copied from
}

// chunkRecord is tables/<table>/chunk-*.json: a key range and its part
// (none when the range held no rows).
type chunkRecord struct {
	Range     keyRange  `json:"range"`
	Part      *partInfo `json:"part,omitempty"`
	SchemaSHA string    `json:"schema_sha256"`
	Attempt   int       `json:"attempt"`
}

// stagedRecord is tables/<table>/staged-*.json: a table read whole in one
// attempt, its parts staged and to be copied into the run directory.
type stagedRecord struct {
	Parts     []partInfo `json:"parts"`
	SchemaSHA string     `json:"schema_sha256"`
	Attempt   int        `json:"attempt"`
}

// journal reads and writes one run's records.
type journal struct {
	store *bronze.Store
	dir   string // _fluxo/runs/<name>/<run id>
}

func newJournal(store *bronze.Store, name, runID string) *journal {
	return &journal{store: store, dir: path.Join(journalRoot, name, runID)}
}

func (j *journal) runKey() string { return path.Join(j.dir, "run.json") }

func (j *journal) tableDir(id cdc.TableID) string {
	return path.Join(j.dir, "tables", id.Schema+"."+id.Name)
}

func (j *journal) stagingKey(id cdc.TableID, attempt, seq int, ext string) string {
	return path.Join(j.dir, "staging", id.Schema+"."+id.Name, fmt.Sprintf("%04d-%06d.%s", attempt, seq, ext))
}

// put writes v as a new JSON object at key.
func (j *journal) put(ctx context.Context, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("journal %s: %w", key, err)
	}
	return j.store.Create(ctx, key, bytes.NewReader(append(data, '\n')))
}

// get reads the JSON object at key into v.
func (j *journal) get(ctx context.Context, key string, v any) error {
	data, err := j.store.Read(ctx, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("journal %s is damaged: %w", key, err)
	}
	return nil
}

// loadRun returns the run record, or nil when the run has none.
func (j *journal) loadRun(ctx context.Context) (*runRecord, error) {
	ok, err := j.store.Exists(ctx, j.runKey())
	if err != nil || !ok {
		return nil, err
	}
	var r runRecord
	if err := j.get(ctx, j.runKey(), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// checkSame reports how want (this invocation) differs from the stored run.
func (r *runRecord) checkSame(want *runRecord) error {
	if !slices.Equal(r.Tables, want.Tables) {
		return fmt.Errorf("run %s was started with tables [%s] but this invocation selects [%s]: resume with the same tables (--tables), or start a new run (another --run-id, or none)",
			r.RunID, strings.Join(r.Tables, ", "), strings.Join(want.Tables, ", "))
	}
	if r.Format != want.Format || r.Compression != want.Compression {
		return fmt.Errorf("run %s was started with bronze.format %s and bronze.compression %s, the config now says %s and %s: resume with the run's settings, or start a new run",
			r.RunID, r.Format, r.Compression, want.Format, want.Compression)
	}
	return nil
}

// nextAttempt records a new attempt and returns its number.
func (j *journal) nextAttempt(ctx context.Context, a attemptRecord) (int, error) {
	keys, err := j.store.List(ctx, j.dir+"/attempt-")
	if err != nil {
		return 0, err
	}
	a.Attempt = len(keys) + 1
	for {
		err := j.put(ctx, path.Join(j.dir, fmt.Sprintf("attempt-%04d.json", a.Attempt)), a)
		if !errors.Is(err, bronze.ErrExists) {
			return a.Attempt, err
		}
		a.Attempt++
	}
}

// attempts returns every attempt record of the run, in order.
func (j *journal) attempts(ctx context.Context) ([]attemptRecord, error) {
	keys, err := j.store.List(ctx, j.dir+"/attempt-")
	if err != nil {
		return nil, err
	}
	out := make([]attemptRecord, 0, len(keys))
	for _, k := range keys {
		var a attemptRecord
		if err := j.get(ctx, k, &a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// tableRecords loads a table's chunk and staged records.
func (j *journal) tableRecords(ctx context.Context, id cdc.TableID) ([]chunkRecord, []stagedRecord, error) {
	keys, err := j.store.List(ctx, j.tableDir(id)+"/")
	if err != nil {
		return nil, nil, err
	}
	var chunks []chunkRecord
	var staged []stagedRecord
	for _, k := range keys {
		switch base := path.Base(k); {
		case strings.HasPrefix(base, "chunk-"):
			var c chunkRecord
			if err := j.get(ctx, k, &c); err != nil {
				return nil, nil, err
			}
			chunks = append(chunks, c)
		case strings.HasPrefix(base, "staged-"):
			var s stagedRecord
			if err := j.get(ctx, k, &s); err != nil {
				return nil, nil, err
			}
			staged = append(staged, s)
		}
	}
	return chunks, staged, nil
}

func (j *journal) chunkKey(id cdc.TableID, attempt, seq int) string {
	return path.Join(j.tableDir(id), fmt.Sprintf("chunk-%04d-%06d.json", attempt, seq))
}

func (j *journal) stagedKey(id cdc.TableID, attempt int) string {
	return path.Join(j.tableDir(id), fmt.Sprintf("staged-%04d.json", attempt))
}
