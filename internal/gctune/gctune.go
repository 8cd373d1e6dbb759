// Package gctune holds fluxo's garbage-collector defaults, applied by the
// fluxo binary and by fluxo-bench so that both measure the same process.
package gctune

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// GC defaults, used unless GOGC / GOMEMLIMIT are set.
const (
	// gcPercent trades memory for CPU: a streaming process allocates a lot of
	// short-lived garbage per row, and collecting at 4x the live heap instead
	// of 2x cut CPU per row change by about a quarter in cmd/fluxo-bench.
	gcPercent = 400
	// memoryLimit keeps that trade inside the 100 MB budget of resident
	// memory (issue 15) while the live heap is small, as in a catch-up of
	// one table: the collector runs earlier as the heap nears it. In
	// cmd/fluxo-bench's MariaDB catch-up the process holds about 30 MB
	// besides the Go heap (the binary's pages, stacks); 64 MiB kept the
	// peak RSS at 92 MB (80 MiB: 108 MB), for about 5% of throughput.
	memoryLimit = 64 << 20
	// liveFactor raises the limit with the live heap: never below this
	// multiple of it. A fixed limit near the live heap makes the collector
	// run without pause: a stream of 2,000 tables (a live heap of tens of
	// MB: codecs, schemas, the producer's metadata) took 117 s to start
	// under a fixed 80 MiB, 17 s without.
	liveFactor = 3
	// retune is how often the limit follows the live heap.
	retune = 500 * time.Millisecond
)

// Apply sets fluxo's garbage-collector defaults where the environment does
// not choose (GOGC, GOMEMLIMIT): GOGC 400 and a soft memory limit of
// max(64 MiB, 3 x the live heap), which a goroutine keeps up to date for
// the life of the process. Call it once, first thing in main.
func Apply() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
		go follow()
	}
}

// follow sets the memory limit from the live heap every retune.
func follow() {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for range time.Tick(retune) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(limitFor(sample[0].Value.Uint64()))
		}
	}
}

// limitFor is the memory limit for a live heap of live bytes.
func limitFor(live uint64) int64 {
	return max(memoryLimit, int64(min(live, 1<<40))*liveFactor)
}
