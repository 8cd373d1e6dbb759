package pipeline

import (
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Observer receives what the pipeline does, for metrics and liveness. Its
// methods must be quick; Round and Saved are called from the checkpoint
// goroutine, the others from the pipeline's.
type Observer interface {
	// Table returns the observer of one table's events. It is called once
	// per table and schema version, when the table's first event arrives.
	Table(id cdc.TableID) TableObserver
	// Round is called on every round of the checkpoint loop (each
	// CheckpointInterval) with when the checkpoint was last saved by this
	// pipeline (zero: not yet) and when the oldest transaction read but not
	// yet in the saved checkpoint was read (zero: none).
	Round(saved, oldestUnsaved time.Time)
	// Saved is called after each checkpoint save.
	Saved()
	// Transaction is called when a Kafka transaction ended (transactional
	// pipelines): committed, its commit having taken d, or aborted.
	Transaction(d time.Duration, committed bool)
}

// TableObserver receives one table's events and records.
type TableObserver interface {
	// Event is called for each event before its records are produced.
	Event(ev *cdc.Event)
	// Record is called for each record produced, with its key and value
	// bytes.
	Record(bytes int)
}

// noObserver is the Observer used when Options.Observer is nil.
type noObserver struct{}

func (noObserver) Table(cdc.TableID) TableObserver { return noObserver{} }
func (noObserver) Round(_, _ time.Time)            {}
func (noObserver) Saved()                          {}
func (noObserver) Transaction(time.Duration, bool) {}
func (noObserver) Event(*cdc.Event)                {}
func (noObserver) Record(int)                      {}
