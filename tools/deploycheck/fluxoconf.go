package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// imageWorkdir is the working directory of the fluxo image (the Dockerfile's
// WORKDIR, checked by checkDockerfile): relative config paths resolve there.
const imageWorkdir = "/var/lib/fluxo"

// imageDefaultArgs is the fluxo image's CMD, used when a container gives no
// arguments (checked against the Dockerfile by checkDockerfile).
func imageDefaultArgs() []string { return []string{"stream", "-c", "/etc/fluxo/fluxo.yaml"} }

// fluxoRun is a fluxo command line as a container or unit runs it.
type fluxoRun struct {
	// Command is stream, fullload, sink, check, status or version.
	Command string
	// Config is the -c file.
	Config string
	// RunID is fullload's --run-id.
	RunID string
	// Tables is fullload's --tables.
	Tables string
}

// parseFluxoArgs parses args (without the program name) as cmd/fluxo does:
// one command, then flags in any order. It rejects what fluxo would reject
// and flags that the command ignores.
func parseFluxoArgs(args []string) (fluxoRun, error) {
	if len(args) == 0 {
		return fluxoRun{}, errors.New("no fluxo command")
	}
	run := fluxoRun{Command: args[0]}
	known := []string{"stream", "fullload", "sink", "check", "status", "version"}
	if !slices.Contains(known, run.Command) {
		return run, fmt.Errorf("unknown fluxo command %q; use one of %s", run.Command, strings.Join(known, ", "))
	}
	fs := flag.NewFlagSet("fluxo "+run.Command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&run.Config, "c", "", "")
	level := fs.String("log-level", "info", "")
	format := fs.String("log-format", "", "")
	jsonOut := fs.Bool("json", false, "")
	fs.StringVar(&run.Tables, "tables", "", "")
	fs.StringVar(&run.RunID, "run-id", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return run, fmt.Errorf("fluxo %s: %w", run.Command, err)
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("fluxo %s: unexpected argument %q", run.Command, fs.Arg(0)))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, *level) {
		errs = append(errs, fmt.Errorf("--log-level %q: use debug, info, warn or error", *level))
	}
	if !slices.Contains([]string{"", "json", "text"}, *format) {
		errs = append(errs, fmt.Errorf("--log-format %q: use json or text", *format))
	}
	if run.Command != "version" && run.Config == "" {
		errs = append(errs, fmt.Errorf("fluxo %s needs -c FILE", run.Command))
	}
	if run.Command != "fullload" && (run.RunID != "" || run.Tables != "") {
		errs = append(errs, fmt.Errorf("--run-id and --tables are fullload flags; fluxo %s ignores them", run.Command))
	}
	if run.Command != "status" && *jsonOut {
		errs = append(errs, fmt.Errorf("--json is a status flag; fluxo %s ignores it", run.Command))
	}
	return run, errors.Join(errs...)
}

// loadFluxoConfig parses data with fluxo's own config package as `fluxo
// <command>` does: ${VAR} from env only, the defaults, the checks of every
// command, then those of stream or fullload.
func loadFluxoConfig(name string, data []byte, command string, lookup func(string) (string, bool)) (*config.Config, error) {
	cfg, err := config.Parse(name, data, lookup)
	if err != nil {
		return nil, err
	}
	switch command {
	case "stream":
		err = cfg.ValidateStream()
	case "fullload":
		err = cfg.ValidateFullload()
	case "sink":
		err = cfg.ValidateSink()
	}
	return cfg, err
}

// mapEnv looks variables up in env.
func mapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// placeholderEnv sets every variable, to a placeholder.
func placeholderEnv(string) (string, bool) { return "placeholder", true }

// servedPort returns the port of http.listen, or an error when fluxo would
// listen on a loopback address only: probes, Prometheus and published ports
// reach a container from outside, so they would never connect.
func servedPort(cfg *config.Config) (int, error) {
	host, p, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		return 0, fmt.Errorf("http.listen %q: %w", cfg.HTTP.Listen, err)
	}
	if isLoopback(host) {
		return 0, fmt.Errorf("http.listen %q accepts connections from inside the container only, so probes and Prometheus cannot reach it: use \":%s\"", cfg.HTTP.Listen, p)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("http.listen %q: %w", cfg.HTTP.Listen, err)
	}
	return port, nil
}

// isLoopback reports whether host names the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// absIn resolves p against dir when p is relative.
func absIn(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}

// endpoint is a host:port fluxo connects to, with the config key naming it.
type endpoint struct {
	Key  string
	Host string
	Port int
}

// endpoints lists the servers cfg makes `fluxo <command>` connect to.
func endpoints(cfg *config.Config, command string) []endpoint {
	var out []endpoint
	if command != "sink" { // the sink reads Kafka, not the database
		if e, ok := urlEndpoint("source.dsn", cfg.Source.DSN, defaultDBPort(cfg)); ok {
			out = append(out, e)
		}
	}
	if command == "fullload" || command == "sink" {
		if u, err := url.Parse(cfg.Bronze.URL); err == nil && u.Scheme == "s3" {
			if e, ok := urlEndpoint("bronze.url endpoint", u.Query().Get("endpoint"), 443); ok {
				out = append(out, e)
			}
		}
	}
	if command == "fullload" {
		return out
	}
	for _, b := range cfg.Kafka.Brokers {
		host, p, err := net.SplitHostPort(b)
		if port, perr := strconv.Atoi(p); err == nil && perr == nil {
			out = append(out, endpoint{Key: "kafka.brokers", Host: host, Port: port})
		}
	}
	if e, ok := urlEndpoint("schema_registry.url", cfg.SchemaRegistry.URL, 443); ok {
		out = append(out, e)
	}
	return out
}

// defaultDBPort is the source's port when the DSN names none.
func defaultDBPort(cfg *config.Config) int {
	if cfg.Source.Connector() == cdc.ConnectorPostgres {
		return 5432
	}
	return 3306
}

// urlEndpoint extracts host and port from a URL; def is the port when the
// URL names none (80 for http://).
func urlEndpoint(key, raw string, def int) (endpoint, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return endpoint{}, false
	}
	port := def
	if u.Scheme == "http" {
		port = 80
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	return endpoint{Key: key, Host: u.Hostname(), Port: port}, true
}
