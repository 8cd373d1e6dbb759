package mysql_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestDumpStartRetried: the connection to the server is lost between Open
// and the binlog dump's start (the first Next); the source retries the
// dump's start until the server is back and then yields what was written,
// instead of failing the stream.
func TestDumpStartRetried(t *testing.T) {
	m := testserver.MariaDBT(t, testserver.MariaDBOptions{})
	p := testserver.ProxyT(t, m.Addr())
	exec := func(q string) {
		c, err := client.Connect(m.Addr(), "root", "", "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Execute(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE DATABASE ds")
	exec("CREATE TABLE ds.t (id INT PRIMARY KEY)")
	host, port := splitAddr(t, p.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, err := mysql.Open(ctx, mysql.Options{
		Conn:     mysql.Conn{Host: host, Port: port, User: "root"},
		ServerID: 9901, Filter: dbFilter{db: "ds"}, Snapshot: cdc.SnapshotNever,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p.Cut()
	exec("INSERT INTO ds.t VALUES (7)")
	time.AfterFunc(time.Second, func() { p.Restore() })
	for {
		m, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (want the dump's start retried until the proxy is back)", err)
		}
		if m.Event != nil {
			if m.Event.Op != cdc.OpCreate || m.Event.After[0] != int64(7) {
				t.Fatalf("got %+v, want the insert of 7", m.Event)
			}
			return
		}
	}
}

// splitAddr splits a 127.0.0.1:port address.
func splitAddr(t *testing.T, addr string) (string, uint16) {
	t.Helper()
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return host, uint16(port)
}
