package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// servers are the demo's throwaway MariaDB, Kafka broker and registry.
type servers struct {
	db          *testserver.MariaDB
	kafka       *kfake.Cluster
	brokers     []string
	registry    *srfake.Registry
	registryURL string
}

// startServers starts the three servers, printing where they listen. On
// failure it stops those already started.
func startServers(ctx context.Context, out io.Writer) (*servers, error) {
	s := &servers{}
	if err := s.start(ctx, out); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

func (s *servers) start(ctx context.Context, out io.Writer) error {
	began := time.Now()
	var err error
	if s.db, err = testserver.StartMariaDB(ctx, testserver.MariaDBOptions{}); err != nil {
		return err
	}
	version, err := s.db.QueryValue(ctx, "SELECT VERSION()")
	if err != nil {
		return err
	}
	version, _, _ = strings.Cut(version, "-") // 10.11.6-MariaDB-0+deb12u1-log
	fmt.Fprintf(out, "    %-26s %s (started in %s)\n", "MariaDB "+version, s.db.Addr(), time.Since(began).Round(100*time.Millisecond))
	if s.kafka, s.brokers, err = testserver.StartKafka(); err != nil {
		return err
	}
	fmt.Fprintf(out, "    %-26s %s\n", "Kafka broker (kfake)", strings.Join(s.brokers, ", "))
	if s.registry, s.registryURL, err = testserver.StartRegistry(); err != nil {
		return err
	}
	fmt.Fprintf(out, "    %-26s %s\n", "schema registry (srfake)", s.registryURL)
	return nil
}

// close stops every server that was started and removes MariaDB's files.
func (s *servers) close() error {
	if s.registry != nil {
		s.registry.Close()
	}
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.db != nil {
		return s.db.Close()
	}
	return nil
}

// stream is app.Stream running in a goroutine.
type stream struct {
	cancel context.CancelFunc
	exited chan struct{} // closed when app.Stream has returned
	err    error         // app.Stream's result, set before exited is closed
	addr   chan string   // the HTTP endpoint's address, once it listens
}

// startStream runs app.Stream(cfg) until stop is called or ctx is done.
func startStream(ctx context.Context, cfg *config.Config) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{cancel: cancel, exited: make(chan struct{}), addr: make(chan string, 1)}
	o := command.StreamOptions{Listening: func(a string) { s.addr <- a }}
	go func() {
		defer close(s.exited)
		s.err = command.Stream(ctx, cfg, o, newLogger())
	}()
	return s
}

// stop cancels the stream's context, as SIGTERM does for `fluxo stream`,
// and returns app.Stream's result. It may be called more than once.
func (s *stream) stop() error {
	s.cancel()
	select {
	case <-s.exited:
		return s.err
	case <-time.After(60 * time.Second):
		return errors.New("fluxo stream did not stop within 60s")
	}
}

// waitCheckpoint waits until the stream has saved a checkpoint whose GTID
// set contains target (any checkpoint when target is ""), and returns its
// GTID set. A checkpoint is saved only once Kafka has acknowledged every
// record before it, so afterwards those records can be consumed.
func waitCheckpoint(ctx context.Context, st *stream, cfg *config.Config, target string) (string, error) {
	store := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		gtid, saved, err := checkpointGTID(ctx, store)
		if err != nil {
			return "", err
		}
		if saved && target == "" {
			return gtid, nil
		}
		if ok, err := gtidContains(gtid, target); err != nil || ok {
			return gtid, err
		}
		select {
		case <-st.exited:
			return "", fmt.Errorf("fluxo stream ended early: %w", st.err)
		case <-ctx.Done():
			if target == "" {
				return "", fmt.Errorf("no checkpoint saved yet: %w", ctx.Err())
			}
			return "", fmt.Errorf("the checkpoint is at GTID %q: %w", gtid, ctx.Err())
		case <-tick.C:
		}
	}
}

// checkpointGTID returns the GTID set of the saved checkpoint; saved is
// false when there is none yet, or while its snapshot has tables to read.
func checkpointGTID(ctx context.Context, store checkpoint.Store) (gtid string, saved bool, err error) {
	cp, err := store.Load(ctx)
	if err != nil || cp == nil {
		return "", false, err
	}
	pos, err := mysql.ParsePosition(cp.Position)
	if err != nil {
		return "", true, err
	}
	// The incremental snapshot is done once the checkpoint has no table
	// left to read.
	return pos.GTIDSet, !pos.Incremental().Pending(), nil
}

// gtidContains reports whether the MariaDB GTID set have contains want.
func gtidContains(have, want string) (bool, error) {
	if have == "" {
		return false, nil
	}
	h, err := gomysql.ParseMariadbGTIDSet(have)
	if err != nil {
		return false, err
	}
	w, err := gomysql.ParseMariadbGTIDSet(want)
	if err != nil {
		return false, err
	}
	return h.Contain(w), nil
}
