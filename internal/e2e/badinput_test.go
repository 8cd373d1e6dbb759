package e2e

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// streamError runs the stream expecting it to fail on its own, and returns
// the error.
func (e *env) streamError(cfg *config.Config) error {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := command.Stream(ctx, cfg, command.StreamOptions{}, slog.New(slog.NewTextHandler(testWriter{e.t}, nil)))
	if ctx.Err() != nil {
		e.t.Fatalf("stream did not fail within 30s")
	}
	return err
}

// TestBadServerSettings covers server-side mistakes: each must stop fluxo
// with an error naming the cause and the fix, before anything is
// checkpointed.
func TestBadServerSettings(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	e.exec("DROP USER IF EXISTS 'noperm'@'%'")
	e.exec("CREATE USER 'noperm'@'%' IDENTIFIED BY 'pw'")
	e.exec("GRANT SELECT ON *.* TO 'noperm'@'%'")
	tests := []struct {
		name  string
		setup func() func()
		dsn   string
		want  []string
	}{
		{name: "statement binlog format", setup: func() func() {
			e.exec("SET GLOBAL binlog_format = 'STATEMENT'")
			return func() { e.exec("SET GLOBAL binlog_format = 'ROW'") }
		}, want: []string{"binlog_format is STATEMENT", "SET GLOBAL binlog_format = 'ROW'"}},
		{name: "minimal row image", setup: func() func() {
			e.exec("SET GLOBAL binlog_row_image = 'MINIMAL'")
			return func() { e.exec("SET GLOBAL binlog_row_image = 'FULL'") }
		}, want: []string{"binlog_row_image is MINIMAL", "FULL"}},
		{name: "missing replication privilege", dsn: "mysql://noperm:pw@" + e.db.Addr() + "/",
			want: []string{"REPLICATION SLAVE", "GRANT"}},
		{name: "wrong password", dsn: "mysql://root:wrong@" + e.db.Addr() + "/",
			want: []string{"Access denied", "check the user and password"}},
		{name: "unreachable server", dsn: "mysql://root@127.0.0.1:1/",
			want: []string{"unreachable", "127.0.0.1:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				t.Cleanup(tc.setup())
			}
			cfg := e.config("")
			if tc.dsn != "" {
				cfg.Source.DSN = tc.dsn
			}
			err := e.streamError(cfg)
			if err == nil {
				t.Fatal("stream started; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("error %q shows the password", err)
			}
			cp, _ := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name).Load(context.Background())
			if cp != nil {
				t.Errorf("a checkpoint was saved: %s", cp.Describe)
			}
		})
	}
}

// TestPurgedCheckpoint resumes from a checkpoint whose binlog the server no
// longer has: fluxo must refuse and say how to re-snapshot.
func TestPurgedCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	store := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name)
	cp, err := store.Load(context.Background())
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %v", err)
	}
	// Pretend the checkpoint points at a file and GTID the server purged.
	cp.Position = []byte(strings.NewReplacer(`"file":"binlog.`, `"file":"gone.`, `"gtid_set":"0-1-`, `"gtid_set":"0-77-`).Replace(string(cp.Position)))
	if err := store.Save(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	err = e.streamError(cfg)
	var msg string
	if err != nil {
		msg = err.Error()
	}
	if !strings.Contains(msg, "delete the checkpoint") {
		t.Fatalf("error %v does not say how to re-snapshot", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
