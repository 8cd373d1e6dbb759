package cdctest

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// norm makes a value comparable across sources: integers of any Go type
// become int64 and bytes become a string.
func norm(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return normUint(uint64(x))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return normUint(x)
	case []byte:
		return string(x)
	}
	return v
}

func normUint(x uint64) any {
	if x <= math.MaxInt64 {
		return int64(x)
	}
	return x
}

// normRow returns row with every value normalised; nil stays nil.
func normRow(row []any) []any {
	if row == nil {
		return nil
	}
	out := make([]any, len(row))
	for i, v := range row {
		out[i] = norm(v)
	}
	return out
}

// want is an expected event.
type want struct {
	op            cdc.Op
	table         string
	before, after []any // nil: absent
}

// checkEvents fails t unless got are the events of want, in order.
func checkEvents(t *testing.T, e env, got []*cdc.Event, want []want) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\n%s", len(got), len(want), describeEvents(got))
	}
	for i, w := range want {
		if err := matchEvent(e, got[i], w); err != nil {
			t.Errorf("event %d: %v\n%s", i+1, err, describeEvents(got))
		}
	}
}

// matchEvent says how ev differs from w, or returns nil.
func matchEvent(e env, ev *cdc.Event, w want) error {
	if ev.Op != w.op || ev.Table.ID != e.Table(w.table) {
		return fmt.Errorf("got %c on %s, want %c on %s", ev.Op, ev.Table.ID, w.op, e.Table(w.table))
	}
	if got, want := normRow(ev.After), normRow(w.after); !reflect.DeepEqual(got, want) {
		return fmt.Errorf("After = %v, want %v", got, want)
	}
	return matchBefore(e, ev, w)
}

// matchBefore compares ev.Before with w.before, as leniently as e's Limits
// allow.
func matchBefore(e env, ev *cdc.Event, w want) error {
	got, want := normRow(ev.Before), normRow(w.before)
	if reflect.DeepEqual(got, want) {
		return nil
	}
	if e.limits.KeyOnlyBefore && want != nil && keyOnly(ev, got, want) {
		return nil
	}
	return fmt.Errorf("Before = %v, want %v", got, want)
}

// keyOnly reports whether got, ev's Before, is want reduced as a key-only
// image allows: absent on an update, or want's key values with the other
// columns nil.
func keyOnly(ev *cdc.Event, got, want []any) bool {
	if got == nil {
		return ev.Op == cdc.OpUpdate
	}
	if len(got) != len(want) || len(ev.Table.Key) == 0 {
		return false
	}
	key := map[int]bool{}
	for _, k := range ev.Table.Key {
		key[k] = true
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) && (key[i] || got[i] != nil) {
			return false
		}
	}
	return true
}

// checkTxInfo fails t unless the events carry one transaction block: the
// same non-empty ID, TotalOrder 1, 2, 3... and DataCollectionOrder
// counting per table.
func checkTxInfo(t *testing.T, events []*cdc.Event) {
	t.Helper()
	perTable := map[cdc.TableID]int64{}
	for i, ev := range events {
		perTable[ev.Table.ID]++
		switch {
		case ev.Tx == nil:
			t.Errorf("event %d: Tx is nil", i+1)
		case ev.Tx.ID == "" || ev.Tx.ID != events[0].Tx.ID:
			t.Errorf("event %d: Tx.ID %q, want the first event's %q, non-empty", i+1, ev.Tx.ID, events[0].Tx.ID)
		case ev.Tx.TotalOrder != int64(i+1):
			t.Errorf("event %d: Tx.TotalOrder %d, want %d", i+1, ev.Tx.TotalOrder, i+1)
		case ev.Tx.DataCollectionOrder != perTable[ev.Table.ID]:
			t.Errorf("event %d: Tx.DataCollectionOrder %d, want %d", i+1, ev.Tx.DataCollectionOrder, perTable[ev.Table.ID])
		}
	}
}

// describe renders a message for failure output.
func describe(m cdc.Message) string {
	if m.Commit != nil {
		return fmt.Sprintf("commit %s (SaveNow %v)", m.Commit, m.SaveNow)
	}
	if m.Event == nil {
		return "an empty message"
	}
	ev := m.Event
	id := "<no table>"
	if ev.Table != nil {
		id = ev.Table.ID.String()
	}
	return fmt.Sprintf("%c %s before=%v after=%v tx=%+v", ev.Op, id, normRow(ev.Before), normRow(ev.After), ev.Tx)
}

// describeEvents renders events one per line.
func describeEvents(events []*cdc.Event) string {
	lines := make([]string, len(events))
	for i, ev := range events {
		lines[i] = "\t" + describe(cdc.Message{Event: ev})
	}
	return strings.Join(lines, "\n")
}

// describeTx renders a transaction for failure output.
func describeTx(tx txn) string {
	return fmt.Sprintf("a transaction committed at %s:\n%s", tx.commit, describeEvents(tx.events))
}

// ids returns the normalised first column (the id) of each event's After,
// or of its Before when it has no After.
func ids(events []*cdc.Event) []any {
	out := make([]any, len(events))
	for i, ev := range events {
		row := ev.After
		if row == nil {
			row = ev.Before
		}
		if len(row) > 0 {
			out[i] = norm(row[0])
		}
	}
	return out
}
