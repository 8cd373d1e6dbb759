// Package checkpoint stores source positions durably, so that a restarted
// stream resumes where Kafka's acknowledged data ends.
package checkpoint

import (
	"context"
	"github.com/fluxo-cdc/fluxo/cdc"
	"time"
)

// Checkpoint is what a Store keeps for one stream.
type Checkpoint struct {
	// Name is the config's name; a store refuses to hand a checkpoint of
	// another stream back.
	Name string `json:"name"`
	// Connector is the kind of source that wrote Position.
	Connector cdc.Connector `json:"connector"`
	// Position is the source's opaque resume position (it includes the table
	// schemas in force there).
	Position []byte `json:"position"`
	// Describe is the position in human terms, for fluxo status.
	Describe string `json:"describe"`
	// SavedAt is when the checkpoint was written.
	SavedAt time.Time `json:"saved_at"`
}

// Store loads and saves a stream's checkpoint.
type Store interface {
	// Load returns the saved checkpoint, or nil and no error when none was
	// ever saved.
	Load(ctx context.Context) (*Checkpoint, error)
	// Save replaces the checkpoint atomically: after a crash at any
	// instant, Load returns either the previous checkpoint or this one.
	Save(ctx context.Context, cp *Checkpoint) error
}
