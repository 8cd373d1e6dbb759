package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"golang.org/x/term"

	"github.com/fluxo-cdc/fluxo/internal/config"
)

// common are the flags of every command that runs against a config file.
type common struct {
	config, logLevel, logFormat string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "c", "", "config file (YAML)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "", "json or text (default: text on a terminal, json otherwise)")
}

// setup builds the logger the flags chose into e, then loads the config.
func (c *common) setup(e *env) (*config.Config, error) {
	log, json, err := newLogger(e.stderr, c.logLevel, c.logFormat)
	if err != nil {
		return nil, usageError{err}
	}
	e.log, e.jsonLogs = log, json
	if c.config == "" {
		return nil, errors.New("no config file: pass -c FILE")
	}
	return config.Load(c.config, os.LookupEnv)
}

// newLogger builds the logger; json reports whether it writes JSON.
func newLogger(w io.Writer, level, format string) (log *slog.Logger, json bool, err error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, false, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), true, nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), false, nil
	}
	return nil, false, errors.New("--log-format must be json or text")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
