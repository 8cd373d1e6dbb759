package gctune

import "testing"

// TestLimitFor: the limit is the fixed budget while the live heap is
// small, and a multiple of the live heap once that is larger, so that the
// collector never runs without pause.
func TestLimitFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, memoryLimit},
		{20 << 20, memoryLimit},
		{memoryLimit / liveFactor, memoryLimit},
		{100 << 20, 300 << 20},
		{1 << 50, (1 << 40) * liveFactor}, // bounded, no overflow
	} {
		if got := limitFor(tc.live); got != tc.want {
			t.Errorf("limitFor(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}
