package cdc

import (
	"context"
	"errors"
	"testing"
)

func TestQueue(t *testing.T) {
	var q Queue
	fills := 0
	fill := func(context.Context) error {
		fills++
		if fills > 2 {
			return ErrEndOfStream
		}
		q.Push(Message{Event: &Event{Op: OpCreate}})
		q.Push(Message{Event: &Event{Op: OpDelete}})
		return nil
	}
	var ops []Op
	for {
		m, err := q.Next(context.Background(), fill)
		if errors.Is(err, ErrEndOfStream) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, m.Event.Op)
	}
	if string(ops) != "cdcd" || q.Len() != 0 {
		t.Fatalf("ops %q, %d left", ops, q.Len())
	}
}
