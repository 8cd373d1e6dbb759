package cdc

import "context"

// Queue holds the messages a source decoded but has not yielded yet (a
// binlog rows event or a snapshot batch yields several at once).
type Queue struct {
	msgs []Message
	next int
}

// Push appends m.
func (q *Queue) Push(m Message) { q.msgs = append(q.msgs, m) }

// Len returns the number of messages waiting.
func (q *Queue) Len() int { return len(q.msgs) - q.next }

// Pop removes and returns the oldest message; ok is false when none waits.
func (q *Queue) Pop() (m Message, ok bool) {
	if q.next == len(q.msgs) {
		q.msgs, q.next = q.msgs[:0], 0 // reuse the backing array
		return Message{}, false
	}
	m = q.msgs[q.next]
	q.msgs[q.next] = Message{} // let the event be collected once yielded
	q.next++
	return m, true
}

// Next implements Source.Next for a source that decodes into q: it pops a
// waiting message, calling fill whenever the queue is empty. fill pushes
// what it decoded (possibly nothing, then it is called again) or fails
// (ErrEndOfStream when the source is done).
func (q *Queue) Next(ctx context.Context, fill func(context.Context) error) (Message, error) {
	for {
		if m, ok := q.Pop(); ok {
			return m, nil
		}
		if err := fill(ctx); err != nil {
			return Message{}, err
		}
	}
}
