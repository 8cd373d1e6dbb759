package incremental

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestSignal: execute-snapshot rows request the captured tables they name;
// malformed rows, other snapshot types, unknown signal types and rows
// naming no captured table are ignored and counted, never requested.
func TestSignal(t *testing.T) {
	captured := func(id cdc.TableID) bool { return id.Schema == "shop" }
	cases := []struct {
		name      string
		row       SignalRow
		requested []string
		accepted  bool
	}{
		{"execute-snapshot", SignalRow{"1", "execute-snapshot", `{"data-collections": ["shop.a", "shop.b"], "type": "incremental"}`}, []string{"shop.a", "shop.b"}, true},
		{"without a type", SignalRow{"2", "execute-snapshot", `{"data-collections": ["shop.a"]}`}, []string{"shop.a"}, true},
		{"one table not captured", SignalRow{"3", "execute-snapshot", `{"data-collections": ["other.x", "shop.c"]}`}, []string{"shop.c"}, true},
		{"no captured table", SignalRow{"4", "execute-snapshot", `{"data-collections": ["other.x", "nodot"]}`}, nil, false},
		{"blocking", SignalRow{"5", "execute-snapshot", `{"data-collections": ["shop.a"], "type": "blocking"}`}, nil, false},
		{"not JSON", SignalRow{"6", "execute-snapshot", `shop.a`}, nil, false},
		{"no collections", SignalRow{"7", "execute-snapshot", `{}`}, nil, false},
		{"unknown type", SignalRow{"8", "pause-snapshot", `{}`}, nil, false},
		{"log", SignalRow{"9", "log", `{"message": "hello"}`}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctl := &Control{}
			got := ctl.Signal(slog.New(slog.DiscardHandler), captured, c.row)
			_, ids := ctl.Apply(nil)
			var names []string
			for _, id := range ids {
				names = append(names, id.String())
			}
			if got != (len(c.requested) > 0) || !slices.Equal(names, c.requested) {
				t.Fatalf("Signal = %v and requested %v, want %v", got, names, c.requested)
			}
			acc, ign := ctl.SignalCounts()
			if want := map[bool][2]uint64{true: {1, 0}, false: {0, 1}}[c.accepted]; [2]uint64{acc, ign} != want {
				t.Fatalf("counts accepted %d ignored %d, want %v", acc, ign, want)
			}
		})
	}
}
