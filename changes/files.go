package changes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	"github.com/fluxo-cdc/fluxo/internal/lake/partfile"
)

// The columns every change row ends with, after the table's own.
var metaColumns = []cdc.Column{
	{Name: "_op", Kind: cdc.KindString, Type: "fluxo change"},
	{Name: "_source_ts_ms", Kind: cdc.KindInt64, Type: "fluxo change"},
	{Name: "_position", Kind: cdc.KindString, Type: "fluxo change"},
	{Name: "_partition", Kind: cdc.KindInt32, Type: "fluxo change"},
	{Name: "_offset", Kind: cdc.KindInt64, Type: "fluxo change"},
}

// rowGroupBytes bounds the memory of an open Parquet change file (one per
// partition the process owns): a row group is written out at this size.
const rowGroupBytes = 8 << 20

// partState is what the sink knows of one topic partition it owns.
type partState struct {
	topic     string
	partition int32
	next      int64 // the first offset not in the lake; -1: the lake has none
	read      int64 // the offset after the last record handled since the lake was read
	seek      bool  // fetching must restart at next (set once the lake was read)
	repair    *fileRecord
	open      *openFile
	hwm       int64                         // the partition's high watermark as of the last fetch
	rows      map[string]prometheus.Counter // by op, from Metrics.rowCounter
}

// countRow counts a row of op in m, through a counter looked up once per
// op rather than by its labels for every row.
func (ps *partState) countRow(m *Metrics, op string) {
	c, ok := ps.rows[op]
	if !ok {
		if ps.rows == nil {
			ps.rows = map[string]prometheus.Counter{}
		}
		c = m.rowCounter(ps.topic, op)
		ps.rows[op] = c
	}
	if c != nil {
		c.Inc()
	}
}

// repaired reports whether the file being written again holds its whole
// range: its last record, or everything the partition holds (the range may
// end with transaction markers, which are never fetched).
func (ps *partState) repaired() bool {
	return ps.repair != nil && ps.open != nil && (ps.open.last >= ps.repair.Last || ps.hwm > 0 && ps.open.last >= ps.hwm-1)
}

// openFile is a change file being written.
type openFile struct {
	part     *partfile.Part
	key      string
	first    int64
	last     int64
	schemaID int
	opened   time.Time
}

// frame splits a Confluent-framed value into its schema id and payload.
func frame(v []byte) (int, []byte, error) {
	if len(v) < 5 || v[0] != 0 {
		return 0, nil, errors.New("the value is not Confluent-framed Avro (magic byte 0 and a 4-byte schema id): fluxo sink reads the topics fluxo stream writes, or Debezium's with the AvroConverter")
	}
	return int(binary.BigEndian.Uint32(v[1:5])), v[5:], nil
}

// row builds the file row of a change: the after columns (before for a
// delete, none for a truncate), then the change columns, boxed in a;
// scratch is a buffer row may reuse.
func row(c *change, ncols int, rec *kgo.Record, a *boxarena.Arena, scratch *[]byte) ([]any, error) {
	vals := c.after
	switch c.op {
	case "d":
		vals = c.before
	case "t":
		vals = nil
	}
	switch {
	case vals == nil && c.op != "t":
		return nil, fmt.Errorf("a %q change without its row", c.op)
	case vals == nil:
		vals = make([]any, ncols, ncols+len(metaColumns))
	case len(vals) != ncols:
		return nil, fmt.Errorf("the row has %d columns, its schema %d", len(vals), ncols)
	}
	var pos any
	if b, ok := appendPosition((*scratch)[:0], &c.source); ok {
		pos, *scratch = a.String(b), b
	}
	// The decoded row has room for these (compileRow): no copy.
	return append(vals, opValue(c.op), a.Int64(c.source.tsMs), pos, a.Int64(int64(rec.Partition)), a.Int64(rec.Offset)), nil
}

// opValue returns op as an interface value without allocating for the
// ops of the envelope.
func opValue(op string) any {
	switch op {
	case "c":
		return "c"
	case "u":
		return "u"
	case "d":
		return "d"
	case "r":
		return "r"
	case "t":
		return "t"
	}
	return op
}

// appendPosition appends the change's source position to b, rendered so
// that positions sort in the source's commit order as strings: MySQL
// "file:pos:row" with fixed-width numbers (the binlog is in commit order);
// PostgreSQL "commit LSN:change LSN" as 16 hex digits each, the commit LSN
// taken from the transaction block's id ("xid:commit LSN"), or the change's
// LSN when there is none. ok is false when s has no position.
func appendPosition(b []byte, s *sourceBlock) ([]byte, bool) {
	switch {
	case s.file != "":
		return cdc.AppendBinlogOrder(b, s.file, s.pos, s.row), true
	case s.hasLSN:
		commit := uint64(s.lsn)
		if _, lsn, ok := strings.Cut(s.txID, ":"); ok {
			if n, err := strconv.ParseUint(lsn, 10, 64); err == nil {
				commit = n
			}
		}
		return cdc.AppendWALOrder(b, commit, uint64(s.lsn)), true
	}
	return b, false
}

// fileTable is the table of a change file: the row's columns and the
// change columns, named after the change's source table.
func fileTable(env *envelope, s *sourceBlock) *cdc.Table {
	schema := s.db
	if s.schema != "" {
		schema = s.schema // PostgreSQL: the schema, as the full load names it
	}
	cols := append(append([]cdc.Column(nil), env.cols...), metaColumns...)
	return &cdc.Table{ID: cdc.TableID{Schema: schema, Name: s.table}, Columns: cols}
}

// fileKey returns the key of the change file whose first record is rec:
// <name>/<schema>/<table>/changes/date=YYYY-MM-DD/hour=HH/<topic>-<partition>-<first offset>.<ext>,
// the date and hour those of the record's timestamp in UTC. The key is
// fixed when the file opens; the journal records the range it covers.
func fileKey(name string, t *cdc.Table, rec *kgo.Record, ext string) string {
	at := rec.Timestamp.UTC()
	return path.Join(name, t.ID.Schema, t.ID.Name, "changes", "date="+at.Format(time.DateOnly),
		fmt.Sprintf("hour=%02d", at.Hour()), fmt.Sprintf("%s-%d-%020d.%s", rec.Topic, rec.Partition, rec.Offset, ext))
}

// openFor starts the file of ps whose first record is rec.
func (s *sink) openFor(ctx context.Context, ps *partState, rec *kgo.Record, env *envelope, id int, c *change) error {
	t := fileTable(env, &c.source)
	f := &partfile.Format{Format: s.o.Format, Codec: s.o.Compression, Table: t, Namespace: rec.Topic, RowGroupBytes: rowGroupBytes,
		Meta: map[string]string{"fluxo.topic": rec.Topic, "fluxo.partition": fmt.Sprint(rec.Partition),
			"fluxo.first_offset": fmt.Sprint(rec.Offset), "fluxo.schema_id": fmt.Sprint(id), "fluxo.version": s.o.Version}}
	key := fileKey(s.o.Name, t, rec, f.Ext())
	if ps.repair != nil {
		key = ps.repair.Key
	}
	// The file outlives the run's context: a stop commits it (see rollAll).
	p, err := partfile.New(context.WithoutCancel(ctx), s.o.Store, key, f)
	if err != nil {
		return err
	}
	ps.open = &openFile{part: p, key: key, first: rec.Offset, last: rec.Offset, schemaID: id, opened: s.o.Now()}
	return nil
}

// roll finishes and commits the open file of ps: its journal record first
// (which claims the range), then the file, then the group's offset.
func (s *sink) roll(ctx context.Context, cl *kgo.Client, ps *partState) error {
	f := ps.open
	ps.open = nil
	info, err := f.part.Finish()
	if err != nil {
		f.part.Abort()
		return err
	}
	rec := fileRecord{Key: f.key, Topic: ps.topic, Partition: ps.partition, First: f.first, Last: f.last,
		Rows: info.Rows, Bytes: info.Bytes, SHA256: info.SHA256, SchemaID: f.schemaID, Written: s.o.Now().UTC(), Version: s.o.Version}
	repair := ps.repair != nil
	if repair {
		rec.Last = ps.repair.Last
	} else if err := s.journal.claim(ctx, rec); err != nil {
		f.part.Abort()
		if errors.Is(err, bronze.ErrExists) {
			s.log.Warn("another sink process committed this range first; reading the lake again",
				"topic", ps.topic, "partition", ps.partition, "first_offset", f.first)
			s.resync(ps)
			return nil
		}
		return err
	}
	if err := f.part.Commit(); err != nil {
		return err
	}
	ps.repair, ps.next = nil, rec.Last+1
	s.metrics.file(ps.topic, info)
	s.log.Debug("change file committed", "key", f.key, "rows", info.Rows, "bytes", info.Bytes,
		"first_offset", f.first, "last_offset", rec.Last, "repaired", repair)
	offsets := map[string]map[int32]kgo.EpochOffset{ps.topic: {ps.partition: {Epoch: -1, Offset: ps.next}}}
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err == nil {
			err = commitError(resp)
		}
		if err != nil {
			s.log.Warn("cannot commit the group's offset (the lake holds the changes; a restart resumes from it)",
				"topic", ps.topic, "partition", ps.partition, cdc.LogError, err)
		}
	})
	return nil
}

// resync forgets what the sink knew of ps: its next record reads the lake
// again and fetching restarts there.
func (s *sink) resync(ps *partState) {
	s.mu.Lock()
	delete(s.parts, topicPartition{ps.topic, ps.partition})
	s.mu.Unlock()
}

// commitError returns the first partition error of an offset commit.
func commitError(resp *kmsg.OffsetCommitResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}
