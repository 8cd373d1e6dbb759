package cdc

// Health receives the reachability of the servers a stream depends on (the
// source database, the Kafka brokers, the schema registry). It feeds
// readiness (/readyz) and the fluxo_up and fluxo_reconnects_total metrics.
// Implementations are safe for concurrent use.
type Health interface {
	// Up records that component answered: a connection was made or a
	// request succeeded. It is cheap enough to call on every success.
	Up(component string)
	// Down records that component cannot be reached right now; err says
	// why. The caller keeps retrying; Down is not a permanent failure.
	Down(component string, err error)
	// Heard records that component sent something just now: data, or a
	// heartbeat or keepalive that carries none. A source calls it for
	// everything it receives, so that a silent one shows (readiness and
	// fluxo_source_silence_seconds); it is cheap enough for every event.
	Heard(component string)
}

// Components named in Health calls.
const (
	ComponentSource   = "source"
	ComponentKafka    = "kafka"
	ComponentRegistry = "schema_registry"
)

// NoHealth is a Health that records nothing.
type NoHealth struct{}

// Up implements Health.
func (NoHealth) Up(string) {}

// Down implements Health.
func (NoHealth) Down(string, error) {}

// Heard implements Health.
func (NoHealth) Heard(string) {}
