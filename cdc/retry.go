package cdc

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Reconnection backoff: the first retry after RetryFirst, doubling up to
// RetryMax.
const (
	RetryFirst = 200 * time.Millisecond
	RetryMax   = 30 * time.Second
)

// Recover retries try after cause, a lost connection to the source, with
// capped exponential backoff, until try succeeds, fails with an error that
// transient reports false for (returned: retrying will not help), or ctx
// ends. The source is reported Down to h meanwhile and Up once try
// succeeds; each attempt is logged with what ("binlog connection lost")
// and attrs (the position to resume from, say).
func Recover(ctx context.Context, h Health, log *slog.Logger, what string, cause error,
	transient func(error) bool, try func() error, attrs ...any) error {
	h.Down(ComponentSource, cause)
	backoff := RetryFirst
	for attempt := 1; ; attempt++ {
		log.Warn(what+", retrying", append([]any{LogError, firstLine(cause), "attempt", attempt, "backoff", backoff.String()}, attrs...)...)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		err := try()
		if err == nil {
			log.Info(what+": recovered", append([]any{"attempts", attempt}, attrs...)...)
			h.Up(ComponentSource)
			return nil
		}
		if !transient(err) {
			return err
		}
		cause, backoff = err, min(backoff*2, RetryMax)
	}
}

// firstLine drops the stack traces some driver errors carry.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}
