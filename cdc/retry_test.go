package cdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// healthLog records Health calls.
type healthLog struct{ calls []string }

func (h *healthLog) Up(c string)            { h.calls = append(h.calls, "up "+c) }
func (h *healthLog) Down(c string, _ error) { h.calls = append(h.calls, "down "+c) }
func (h *healthLog) Heard(string)           {}

func TestRecover(t *testing.T) {
	lost, refused := errors.New("connection reset"), errors.New("access denied")
	transient := func(err error) bool { return err != refused }
	tests := []struct {
		name    string
		results []error // what the attempts return, in order
		want    error
		tries   int
		health  string
	}{
		{"first retry works", []error{nil}, nil, 1, "[down source up source]"},
		{"third retry works", []error{lost, lost, nil}, nil, 3, "[down source up source]"},
		{"refusal stops", []error{lost, refused}, refused, 2, "[down source]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &healthLog{}
			tries := 0
			start := time.Now()
			err := Recover(context.Background(), h, slog.New(slog.DiscardHandler), "lost", lost, transient, func() error {
				tries++
				return tc.results[tries-1]
			})
			if err != tc.want || tries != tc.tries || fmt.Sprint(h.calls) != tc.health {
				t.Errorf("err %v after %d tries, health %v; want %v after %d, %s", err, tries, h.calls, tc.want, tc.tries, tc.health)
			}
			// Backoff doubles from RetryFirst: 200, 400, 800 ms.
			if least := RetryFirst * time.Duration(1<<tc.tries-1); time.Since(start) < least {
				t.Errorf("returned after %s, before the backoff of %s", time.Since(start), least)
			}
		})
	}
	t.Run("context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := Recover(ctx, &healthLog{}, slog.New(slog.DiscardHandler), "lost", lost, transient, func() error {
			t.Fatal("tried after the context ended")
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
}
