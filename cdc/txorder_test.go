package cdc

import (
	"fmt"
	"testing"
)

func TestTxOrder(t *testing.T) {
	a, b := &Table{}, &Table{}
	var o TxOrder
	var got []string
	for _, tbl := range []*Table{a, a, b, a, b} {
		info := o.Next("tx", tbl)
		got = append(got, fmt.Sprintf("%d/%d", info.TotalOrder, info.DataCollectionOrder))
	}
	if fmt.Sprint(got) != "[1/1 2/2 3/1 4/3 5/2]" {
		t.Errorf("orders %v", got)
	}
	ev := NewTxEvent(TxInfo{ID: "x", TotalOrder: 1})
	if ev.Tx == nil || ev.Tx.ID != "x" {
		t.Errorf("NewTxEvent: %+v", ev.Tx)
	}
}

// TestTxSeen: a transaction read again from its start after a reconnect
// yields only the events that did not come before; a cut inside the replay
// and a different transaction first are handled too.
func TestTxSeen(t *testing.T) {
	type ev struct {
		id    string
		total int64
	}
	cases := []struct {
		name string
		in   []ev
		want string // the events kept
	}{
		{"no reconnect", []ev{{"a", 1}, {"a", 2}, {"b", 1}, {"b", 2}}, "[a1 a2 b1 b2]"},
		{"cut after 2 of a", []ev{{"a", 1}, {"a", 2}, {"a", 1}, {"a", 2}, {"a", 3}, {"b", 1}}, "[a1 a2 a3 b1]"},
		{"cut again inside the replay", []ev{{"a", 1}, {"a", 2}, {"a", 3}, {"a", 1}, {"a", 1}, {"a", 2}, {"a", 3}, {"a", 4}}, "[a1 a2 a3 a4]"},
		{"another transaction comes first", []ev{{"a", 1}, {"b", 1}, {"b", 2}}, "[a1 b1 b2]"},
		{"the next transaction of the same id after a commit", []ev{{"a", 1}, {"b", 1}, {"a", 1}}, "[a1 b1 a1]"},
	}
	for _, c := range cases {
		var s TxSeen
		var kept []string
		for _, e := range c.in {
			if !s.Again(TxInfo{ID: e.id, TotalOrder: e.total}) {
				kept = append(kept, fmt.Sprintf("%s%d", e.id, e.total))
			}
		}
		if got := fmt.Sprint(kept); got != c.want {
			t.Errorf("%s: kept %s, want %s", c.name, got, c.want)
		}
	}
}
