package testserver

import (
	"testing"
	"time"
)

func TestInterpolate(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 600000000, time.UTC)
	got, err := interpolate("SELECT ?, '?', `?`, \"a\\\"?\", ?, ?, ?, ?, ?",
		[]any{"o'k\\\n", nil, []byte{0xde, 0xad}, uint8(7), -1.5, ts})
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT 'o\\'k\\\\\\n', '?', `?`, \"a\\\"?\", NULL, X'dead', 7, -1.5, '2024-01-02 03:04:05.6'"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, args := range [][]any{{1, 2}, {struct{}{}}} {
		if _, err := interpolate("SELECT ?", args); err == nil {
			t.Errorf("interpolate(%v) = nil error", args)
		}
	}
}
