package cdc

// Check is the outcome of one preflight check of `fluxo check`.
type Check struct {
	// Name identifies the check, e.g. "source.binlog_format".
	Name string `json:"name"`
	// Status is CheckOK, CheckWarn, CheckFail or CheckSkip.
	Status string `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what fixes a warn or FAIL. SQL holds the statements it
	// names, verbatim, for an administrator to run.
	Fix string   `json:"fix,omitempty"`
	SQL []string `json:"sql,omitempty"`
}

// Statuses of a Check.
const (
	// CheckOK: the check passed.
	CheckOK = "ok"
	// CheckWarn: streaming works, at a cost the detail names, or only
	// fluxo fullload is affected.
	CheckWarn = "warn"
	// CheckFail: fluxo stream would not start, or would stop.
	CheckFail = "FAIL"
	// CheckSkip: not run, because an earlier check failed or the setting is
	// not configured.
	CheckSkip = "skip"
)
