package changes

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

// The journal is the sink's record of the files it committed, under
// <bronze.url>/_fluxo/sink/<name>/<topic>/<partition>/<first offset>.json:
// one record per data file, written (create only if absent) before the
// file is committed. A record claims its first offset: of two processes
// that both believe they own a partition, only one can write the record of
// a range, and the other stops. The last record of a partition says where
// its next file starts; a record whose file is missing (a crash between the
// two) makes the sink write that file again, from the same offsets, under
// the same name.
const journalRoot = "_fluxo/sink"

// fileRecord describes one committed change file.
type fileRecord struct {
	Key       string    `json:"key"` // the data file's key
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	First     int64     `json:"first_offset"`
	Last      int64     `json:"last_offset"` // the last offset the file covers
	Rows      int64     `json:"rows"`
	Bytes     int64     `json:"bytes"`
	SHA256    string    `json:"sha256"`
	SchemaID  int       `json:"schema_id"`
	Written   time.Time `json:"written_at"`
	Version   string    `json:"fluxo_version"`
}

// journal reads and writes the records of one sink name.
type journal struct {
	store *bronze.Store
	name  string
}

// dir returns the directory of one partition's records.
func (j *journal) dir(topic string, partition int32) string {
	return path.Join(journalRoot, j.name, topic, strconv.Itoa(int(partition)))
}

// recordKey returns the key of the record of the file starting at first.
func (j *journal) recordKey(topic string, partition int32, first int64) string {
	return path.Join(j.dir(topic, partition), fmt.Sprintf("%020d.json", first))
}

// claim writes rec; it fails with an error wrapping bronze.ErrExists when a
// record of the same first offset exists.
func (j *journal) claim(ctx context.Context, rec fileRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return j.store.Create(ctx, j.recordKey(rec.Topic, rec.Partition, rec.First), strings.NewReader(string(b)))
}

// last returns the partition's last record, or nil when it has none.
func (j *journal) last(ctx context.Context, topic string, partition int32) (*fileRecord, error) {
	keys, err := j.store.List(ctx, j.dir(topic, partition)+"/")
	if err != nil {
		return nil, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if !strings.HasSuffix(keys[i], ".json") {
			continue
		}
		b, err := j.store.Read(ctx, keys[i])
		if err != nil {
			return nil, err
		}
		var rec fileRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("journal record %s: %w", keys[i], err)
		}
		return &rec, nil
	}
	return nil, nil
}

// resume says where a partition's next file starts, from the lake: after
// the last record's range, or at that range again when its file is
// missing (repair holds the record then).
func (j *journal) resume(ctx context.Context, topic string, partition int32) (next int64, repair *fileRecord, err error) {
	rec, err := j.last(ctx, topic, partition)
	if err != nil || rec == nil {
		return -1, nil, err
	}
	ok, err := j.store.Exists(ctx, rec.Key)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return rec.First, rec, nil
	}
	return rec.Last + 1, nil, nil
}
