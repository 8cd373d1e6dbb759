package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/fullload"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

// FullloadOptions are the command-line settings of `fluxo fullload`.
type FullloadOptions struct {
	// Tables restricts the run to these schema.table names (--tables).
	Tables []string
	// RunID resumes or names the run (--run-id).
	RunID string
	// Progress receives the live display when Terminal is set; Summary the
	// table printed at the end.
	Progress, Summary io.Writer
	Terminal          bool
}

// Fullload runs `fluxo fullload`: it loads the configured tables into the
// bronze layer and returns nil only when every table is complete.
func Fullload(ctx context.Context, cfg *config.Config, o FullloadOptions, log *slog.Logger) error {
	if err := cfg.ValidateFullload(); err != nil {
		return err
	}
	log = log.With("name", cfg.Name)
	log.Info("fullload starting", "version", Version, "config", cfg.Redacted(), "run_id", o.RunID)
	store, err := bronze.Open(ctx, cfg.Bronze.URL)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.CheckWritable(ctx); err != nil {
		return err
	}
	dumper, err := openDumper(ctx, cfg, o.Tables, log)
	if err != nil {
		return err
	}
	defer dumper.Close()
	log.Info("source view open", "view", dumper.Info())
	res, err := fullload.Run(ctx, fullload.Options{
		Name: cfg.Name, TopicPrefix: cfg.Kafka.TopicPrefix, Dumper: dumper, Store: store,
		Format: cfg.Bronze.Format, Compression: cfg.Bronze.Compression, Parallelism: cfg.Bronze.Parallelism,
		MaxPartBytes: cfg.Bronze.MaxPartBytes, RunID: o.RunID, Only: o.Tables, Version: Version,
		Logger: log, Progress: o.Progress, Terminal: o.Terminal,
	})
	if res != nil && o.Summary != nil {
		fullload.WriteSummary(o.Summary, res)
	}
	if res != nil {
		for _, t := range res.Tables {
			log.Info("table", "table", t.Table.String(), "rows", t.Rows, "files", t.Files, "bytes", t.Bytes,
				"complete", t.Err == nil, "elapsed", t.Elapsed.String())
		}
	}
	return err
}

// openDumper opens the source's read-only view, narrowed to only when set.
func openDumper(ctx context.Context, cfg *config.Config, only []string, log *slog.Logger) (cdc.Dumper, error) {
	tf, err := cfg.Source.TableFilter()
	if err != nil {
		return nil, err
	}
	var filter cdc.Filter = tf
	if len(only) > 0 {
		filter = onlyTables{Filter: tf, names: only}
	}
	switch cfg.Source.Flavor() {
	case config.FlavorMySQL:
		conn, err := mysqlConn(cfg)
		if err != nil {
			return nil, err
		}
		return mysql.OpenDumper(ctx, mysql.DumpOptions{Conn: conn, Filter: filter, Parallelism: cfg.Bronze.Parallelism,
			Logger: log.With("source", "mysql")})
	case config.FlavorPostgres:
		return postgres.OpenDumper(ctx, postgres.DumpOptions{DSN: cfg.Source.DSN, Filter: filter,
			Parallelism: cfg.Bronze.Parallelism, ReadTimeout: cfg.Source.ReadTimeout, Logger: log.With("source", "postgres")})
	}
	return nil, errors.New("source.dsn: use a mysql:// or postgres:// URL")
}

// onlyTables narrows a filter to the tables named by --tables.
type onlyTables struct {
	cdc.Filter
	names []string
}

func (o onlyTables) Match(schema, table string) bool {
	return slices.Contains(o.names, schema+"."+table) && o.Filter.Match(schema, table)
}

// ParseTables splits the --tables flag ("a.b,c.d") into names.
func ParseTables(flag string) ([]string, error) {
	if strings.TrimSpace(flag) == "" {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(flag, ",") {
		name = strings.TrimSpace(name)
		if strings.Count(name, ".") != 1 || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			return nil, fmt.Errorf("--tables: %q: name tables as schema.table (the database for MySQL), separated by commas", name)
		}
		out = append(out, name)
	}
	return out, nil
}
