package incremental

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Signal types fluxo acts on, with Debezium's names (SPEC §6).
const (
	// SignalExecuteSnapshot asks for an incremental snapshot of the tables
	// its data names: {"data-collections": ["db.table"], "type": "incremental"}.
	SignalExecuteSnapshot = "execute-snapshot"
	// SignalLog writes its data's "message" to fluxo's log.
	SignalLog = "log"
)

// Signal results, as counted by SignalCounts.
const (
	SignalAccepted = "accepted" // acted on
	SignalIgnored  = "ignored"  // malformed, of a type fluxo does not act on, or naming no captured table
)

// SignalRow is one row inserted into the signal table, Debezium's three
// columns in their order: id varchar(42) primary key, type varchar(32),
// data text.
type SignalRow struct {
	ID, Type, Data string
}

// signalData is the JSON in an execute-snapshot row's data column.
type signalData struct {
	Collections []string `json:"data-collections"`
	Type        string   `json:"type"`
	Message     string   `json:"message"`
}

// signalCounts counts signal rows by result; a Control holds one.
type signalCounts struct {
	accepted, ignored atomic.Uint64
}

// Signal acts on one row inserted into the signal table: an
// execute-snapshot row requests an incremental snapshot of the tables it
// names that captured reports as captured (others are named in a warning),
// a log row is logged, any other row is ignored with a warning saying why.
// Signals are not errors: a bad row never stops the stream. It reports
// whether it requested a snapshot. The source calls it while reading the
// row's transaction and takes the request (Apply) before that
// transaction's commit, so that a checkpoint never holds the signal's
// position without its request.
func (c *Control) Signal(log *slog.Logger, captured func(cdc.TableID) bool, row SignalRow) bool {
	if c == nil {
		log.Warn("signal ignored: this stream takes no snapshot requests", "id", row.ID, "type", row.Type)
		return false
	}
	ids, err := c.signal(log, captured, row)
	if err != nil {
		log.Warn("signal ignored", "id", row.ID, "type", row.Type, cdc.LogError, err.Error())
		c.signals.ignored.Add(1)
		return false
	}
	c.signals.accepted.Add(1)
	if len(ids) == 0 {
		return false
	}
	log.Info("incremental snapshot requested by a signal", "id", row.ID, "tables", fmt.Sprint(ids))
	c.Request(ids...)
	return true
}

// SignalCounts returns how many signal rows were accepted and ignored.
func (c *Control) SignalCounts() (accepted, ignored uint64) {
	if c == nil {
		return 0, 0
	}
	return c.signals.accepted.Load(), c.signals.ignored.Load()
}

// signal parses row and returns the tables to snapshot.
func (c *Control) signal(log *slog.Logger, captured func(cdc.TableID) bool, row SignalRow) ([]cdc.TableID, error) {
	var d signalData
	if err := json.Unmarshal([]byte(row.Data), &d); err != nil {
		return nil, fmt.Errorf("data is not {\"data-collections\": [\"schema.table\", ...]} (%v)", err)
	}
	switch row.Type {
	case SignalLog:
		log.Info("signal", "id", row.ID, "message", d.Message)
		return nil, nil
	case SignalExecuteSnapshot:
	default:
		return nil, fmt.Errorf("type %q is not one fluxo acts on (%s, %s)", row.Type, SignalExecuteSnapshot, SignalLog)
	}
	if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
		return nil, fmt.Errorf("snapshot type %q: fluxo takes incremental snapshots only; drop \"type\" or write \"incremental\"", d.Type)
	}
	return signalTables(log, captured, row, d.Collections)
}

// signalTables resolves an execute-snapshot row's data-collections to
// captured tables.
func signalTables(log *slog.Logger, captured func(cdc.TableID) bool, row SignalRow, names []string) ([]cdc.TableID, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("no \"data-collections\": name the tables as [\"schema.table\"]")
	}
	var ids []cdc.TableID
	for _, n := range names {
		schema, table, ok := strings.Cut(n, ".")
		id := cdc.TableID{Schema: schema, Name: table}
		if !ok || schema == "" || table == "" || strings.Contains(table, ".") {
			log.Warn("signal names a table fluxo cannot read: name it as schema.table (database.table for MySQL)", "id", row.ID, "table", n)
			continue
		}
		if !captured(id) {
			log.Warn("signal names a table this stream does not capture: add it to source.tables first", "id", row.ID, "table", n)
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("none of the tables %v is captured by this stream", names)
	}
	return ids, nil
}
