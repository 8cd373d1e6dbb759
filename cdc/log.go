package cdc

// Log attribute keys: every fluxo component logs with the same two.
const (
	// LogComponent names the part of fluxo that logs: "mysql",
	// "postgresql", "kafka", "registry".
	LogComponent = "component"
	// LogError carries the error.
	LogError = "err"
)
