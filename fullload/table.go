package fullload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	"github.com/fluxo-cdc/fluxo/internal/lake/partfile"
)

// table is the state of one table during a run.
type table struct {
	dt        cdc.DumpTable
	id        cdc.TableID
	dir       string // the run directory
	format    *partfile.Format
	schema    string // the Avro Value schema
	schemaSHA string
	staged    bool // read whole (SplitNone/SplitPages): parts go through staging
	prog      *tableProgress

	mu       sync.Mutex
	nextPart int
	chunkSeq int
	pending  int           // chunks queued or running
	chunks   []chunkRecord // valid records, earlier attempts and this one
	parts    []partInfo    // staged parts of this attempt
	toCopy   *stagedRecord // a staged record of an earlier attempt to finish
	done     []partInfo    // the files of a table complete before this invocation
	err      error
	complete bool    // _SUCCESS written (now or earlier)
	earlier  bool    // complete before this invocation
	rowBytes float64 // observed bytes per row, 0 until known
}

// partName matches the data files of a run directory.
var partName = regexp.MustCompile(`^part-(\d{5,})\.(avro|parquet)$`)

// partNumber returns the number in a part file name, or 0.
func partNumber(name string) int {
	m := partName.FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// newTable describes a table of run r.
func (r *runner) newTable(dt cdc.DumpTable) (*table, error) {
	id := dt.Table.ID
	ns := r.o.TopicPrefix + "." + id.Schema + "." + id.Name
	schema, err := avro.RowSchema(dt.Table, ns)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	sum := sha256.Sum256([]byte(schema))
	date, err := time.Parse(time.DateOnly, r.date)
	if err != nil {
		return nil, fmt.Errorf("run %s: date %q: %w", r.runID, r.date, err)
	}
	t := &table{
		dt: dt, id: id, dir: bronze.RunDir(r.o.Name, id.Schema, id.Name, date, r.runID),
		schema: schema, schemaSHA: hex.EncodeToString(sum[:]),
		staged: dt.Split != cdc.SplitKey, nextPart: 1,
		prog: newTableProgress(id, dt.EstimatedRows),
	}
	t.format = &partfile.Format{Format: r.o.Format, Codec: r.o.Compression, Table: dt.Table, Namespace: ns,
		Meta: map[string]string{"fluxo.run_id": r.runID, "fluxo.table": id.String(), "fluxo.version": r.o.Version}}
	return t, nil
}

// fail records the table's first error.
func (t *table) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
		t.prog.setState(stateFailed)
	}
}

func (t *table) failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// allocPart reserves the next part file name.
func (t *table) allocPart() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.nextPart
	t.nextPart++
	return fmt.Sprintf("part-%05d.%s", n, t.format.Ext())
}

// nextChunk reserves a chunk record sequence number.
func (t *table) nextChunk() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.chunkSeq++
	return t.chunkSeq
}

// learn updates the observed bytes per row from a finished part.
func (t *table) learn(p partInfo) {
	if p.Rows == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rowBytes = float64(p.Bytes) / float64(p.Rows)
}

// resume loads what earlier attempts of the run did for t: existing files
// of its run directory and the journal's records. It returns whether the
// table is complete already.
func (r *runner) resume(ctx context.Context, t *table) error {
	if _, err := r.o.Store.RemoveTemp(t.dir); err != nil {
		return err
	}
	keys, err := r.o.Store.List(ctx, t.dir+"/")
	if err != nil {
		return err
	}
	files := map[string]bool{}
	for _, k := range keys {
		files[path.Base(k)] = true
	}
	if files[bronze.SuccessName] {
		t.complete, t.earlier = true, true
		var m manifest
		if err := r.journal.get(ctx, path.Join(t.dir, bronze.ManifestName), &m); err != nil {
			return err
		}
		t.done = m.Files
		return nil
	}
	chunks, staged, err := r.journal.tableRecords(ctx, t.id)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	note := func(p partInfo) {
		listed[p.Path] = true
		if n := partNumber(p.Path); n >= t.nextPart {
			t.nextPart = n + 1
		}
	}
	for _, c := range chunks {
		if c.Part != nil {
			note(*c.Part)
			if !files[c.Part.Path] {
				continue // the crash came between record and commit: read again
			}
		}
		if c.SchemaSHA != t.schemaSHA {
			return schemaChanged(t, c.Attempt)
		}
		t.chunks = append(t.chunks, c)
	}
	for i := range staged {
		for _, p := range staged[i].Parts {
			note(p)
		}
		if staged[i].SchemaSHA != t.schemaSHA {
			return schemaChanged(t, staged[i].Attempt)
		}
		t.toCopy = &staged[i]
	}
	return checkStray(t, keys, listed)
}

func schemaChanged(t *table, attempt int) error {
	return fmt.Errorf("table %s changed its columns since attempt %d of this run wrote part files with the old schema: start a new run (another --run-id, or none) to load it whole with the new schema", t.id, attempt)
}

// checkStray fails when the run directory holds files no record explains.
func checkStray(t *table, keys []string, listed map[string]bool) error {
	for _, k := range keys {
		name := path.Base(k)
		if name == bronze.ManifestName || listed[name] {
			continue
		}
		return fmt.Errorf("table %s: %s holds %s, which this run's journal does not list (a different table set or another tool wrote there?): start a new run (another --run-id, or none)", t.id, t.dir, name)
	}
	if len(t.chunks) > 0 && t.staged {
		return fmt.Errorf("table %s was being read in key ranges by an earlier attempt, but its key is now %s: start a new run", t.id, splitName(t.dt.Split))
	}
	return nil
}

func splitName(k cdc.SplitKind) string {
	switch k {
	case cdc.SplitKey:
		return "a single integer column"
	case cdc.SplitPages:
		return "not a single integer column"
	}
	return "absent or not a single integer column, or the view is per-table"
}

// doneRanges returns the key ranges of valid chunk records.
func (t *table) doneRanges() []keyRange {
	out := make([]keyRange, 0, len(t.chunks))
	for _, c := range t.chunks {
		out = append(out, c.Range)
	}
	return out
}

// files returns the table's part files for the manifest, by name.
func (t *table) files() []partInfo {
	out := append([]partInfo(nil), t.done...)
	if t.toCopy != nil {
		out = append(out, t.toCopy.Parts...)
	}
	for _, c := range t.chunks {
		if c.Part != nil {
			out = append(out, *c.Part)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// manifest is _manifest.json.
type manifest struct {
	Version     string          `json:"fluxo_version"`
	Name        string          `json:"name"`
	Schema      string          `json:"schema"`
	Table       string          `json:"table"`
	RunID       string          `json:"run_id"`
	Date        string          `json:"date"`
	Format      string          `json:"format"`
	Compression string          `json:"compression"`
	StartedAt   time.Time       `json:"started_at"`
	FinishedAt  time.Time       `json:"finished_at"`
	Consistency string          `json:"consistency"`
	Attempts    []attemptRecord `json:"attempts"`
	Rows        int64           `json:"rows"`
	Files       []partInfo      `json:"files"`
	AvroSchema  json.RawMessage `json:"value_schema"`
}
