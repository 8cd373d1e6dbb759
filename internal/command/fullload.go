package command

import (
	"context"
	"io"
	"log/slog"
	"slices"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mask"
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
	// Version is fluxo's version, written into the manifests ("" is
	// DevVersion).
	Version string
}

// Fullload runs `fluxo fullload`: it loads the configured tables into the
// bronze layer and returns nil only when every table is complete.
func Fullload(ctx context.Context, cfg *config.Config, o FullloadOptions, log *slog.Logger) error {
	if err := cfg.ValidateFullload(); err != nil {
		return err
	}
	log = log.With("name", cfg.Name)
	o.Version = orDev(o.Version)
	log.Info("fullload starting", "version", o.Version, "config", cfg.Redacted(), "run_id", o.RunID)
	store, err := openBronze(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	dumper, err := openDumper(ctx, cfg, o.Tables, log)
	if err != nil {
		return err
	}
	defer dumper.Close()
	log.Info("source view open", "view", dumper.Info())
	res, err := fullload.Run(ctx, fullload.Options{
		Name: cfg.Name, TopicPrefix: cfg.Kafka.TopicPrefix, Dumper: dumper, Store: store,
		Format: cfg.Bronze.Format, Compression: cfg.Bronze.Compression, Parallelism: cfg.Bronze.Parallelism,
		MaxPartBytes: cfg.Bronze.MaxPartBytes, RunID: o.RunID, Only: o.Tables, Version: o.Version,
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
	kind, err := kindOf(cfg)
	if err != nil {
		return nil, err
	}
	d, err := kind.dumper(ctx, cfg, filter, log.With(cdc.LogComponent, string(kind.connector)))
	if err == nil && tf.Masking() {
		d = mask.New(tf, cfg.MaskKey()).Dumper(d)
	}
	return d, err
}

// onlyTables narrows a filter to the tables named by --tables.
type onlyTables struct {
	cdc.Filter
	names []string
}

func (o onlyTables) Match(schema, table string) bool {
	return slices.Contains(o.names, schema+"."+table) && o.Filter.Match(schema, table)
}

// openBronze opens bronze.url and checks that it is writable (fluxo
// fullload and fluxo sink write there).
func openBronze(ctx context.Context, cfg *config.Config) (*bronze.Store, error) {
	store, err := bronze.Open(ctx, cfg.Bronze.URL)
	if err != nil {
		return nil, err
	}
	if err := store.CheckWritable(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}
