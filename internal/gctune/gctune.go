// Package gctune holds fluxo's garbage-collector defaults, applied by the
// fluxo binary and by fluxo-bench so that both measure the same process.
package gctune

import (
	"os"
	"runtime/debug"
)

// GC defaults, used unless GOGC / GOMEMLIMIT are set.
const (
	// gcPercent trades memory for CPU: a streaming process allocates a lot of
	// short-lived garbage per row, and collecting at 4x the live heap instead
	// of 2x cut CPU per row change by about a quarter in cmd/fluxo-bench.
	gcPercent = 400
	// memoryLimit keeps that trade inside the 100 MB budget of resident
	// memory (issue 15): as the heap nears it the collector runs earlier.
	// In cmd/fluxo-bench's MariaDB catch-up it kept the median RSS at about
	// 100 MB instead of 130 MB, for 2-3% of throughput. It is a soft
	// limit: a larger live heap (huge rows) makes the collector run more
	// often, never fails. GOMEMLIMIT overrides it.
	memoryLimit = 80 << 20
)

// Apply sets fluxo's garbage-collector defaults where the environment does
// not choose (GOGC, GOMEMLIMIT). Call it once, first thing in main.
func Apply() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
}
