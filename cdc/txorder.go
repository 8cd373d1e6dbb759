package cdc

// TxOrder numbers the events of one source transaction, in total and per
// table, for the envelope's transaction block. The zero value starts a
// transaction.
type TxOrder struct {
	total  int64
	last   *Table // the only table so far
	lastN  int64
	tables map[*Table]int64 // only once a second table appears
}

// Next returns the transaction block of the next event of table t in the
// transaction id.
func (o *TxOrder) Next(id string, t *Table) TxInfo {
	o.total++
	var n int64
	if o.tables == nil && (o.last == t || o.last == nil) {
		o.last = t
		o.lastN++
		n = o.lastN
	} else {
		if o.tables == nil {
			o.tables = map[*Table]int64{o.last: o.lastN}
		}
		o.tables[t]++
		n = o.tables[t]
	}
	return TxInfo{ID: id, TotalOrder: o.total, DataCollectionOrder: n}
}

// eventTx holds an event and its transaction block in one allocation.
type eventTx struct {
	ev Event
	tx TxInfo
}

// NewTxEvent returns an empty event whose Tx points at a copy of tx,
// allocated together (one allocation per row instead of two).
func NewTxEvent(tx TxInfo) *Event {
	e := &eventTx{tx: tx}
	e.ev.Tx = &e.tx
	return &e.ev
}
