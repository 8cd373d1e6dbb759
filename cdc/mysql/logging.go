package mysql

import (
	"context"
	"log/slog"
)

// minLevel is a slog handler that drops records below a level; go-mysql
// logs routine steps (its whole config, each rotate) at info.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// libraryLogger is the logger handed to go-mysql: warnings and errors only,
// unless debug logging is on.
func libraryLogger(log *slog.Logger) *slog.Logger {
	if log.Enabled(context.Background(), slog.LevelDebug) {
		return log.With("library", "go-mysql")
	}
	return slog.New(minLevel{log.Handler(), slog.LevelWarn}).With("library", "go-mysql")
}
