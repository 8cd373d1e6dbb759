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

// TxSeen recognises the events of a transaction that a source reads again
// after it reconnected in the middle of it: the server sends the
// transaction again from its start (a binlog dump or a replication slot
// resumes at the last commit), and its events come again with the same
// transaction id and total order. A source drops them, so that no event is
// yielded twice (an open Kafka transaction holds the first ones already).
// The zero value has seen nothing.
type TxSeen struct {
	id   string // the transaction of the last event yielded
	last int64  // that event's total order
}

// Again reports whether the event with transaction block tx came before
// (its transaction's events up to this one were yielded); otherwise it
// records tx as the last one yielded.
func (s *TxSeen) Again(tx TxInfo) bool {
	if tx.ID == s.id && tx.TotalOrder <= s.last {
		return true
	}
	s.id, s.last = tx.ID, tx.TotalOrder
	return false
}
