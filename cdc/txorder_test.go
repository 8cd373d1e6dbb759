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
