package testserver_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// echoServer echoes every line back, on a free port of 127.0.0.1.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line on c and returns the error of reading it back
// within d.
func roundTrip(c net.Conn, d time.Duration) error {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(d))
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxy(t *testing.T) {
	p := testserver.ProxyT(t, echoServer(t))
	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	old := dial()
	if err := roundTrip(old, time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	// A half-close passes through: the server still answers, then closes.
	half := dial()
	half.Write([]byte("last\n"))
	half.(*net.TCPConn).CloseWrite()
	half.SetReadDeadline(time.Now().Add(time.Second))
	if got, err := io.ReadAll(half); string(got) != "last\n" || err != nil {
		t.Fatalf("after a half-close: read %q, %v; want the answer, then the end", got, err)
	}
	for deadline := time.Now().Add(5 * time.Second); p.Conns() > 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the half-closed connection is dropped just after its end passed
	}
	if n := p.BlackHole(); n != 1 {
		t.Fatalf("BlackHole() = %d, want the one connection", n)
	}
	// The holed connection stays open and passes nothing: reads time out,
	// no EOF and no reset.
	if err := roundTrip(old, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a black-holed connection: %v, want a silent timeout", err)
	}
	if err := roundTrip(dial(), time.Second); err != nil {
		t.Fatalf("a new connection after BlackHole: %v", err)
	}
	p.Cut()
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("a connection while cut was accepted")
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(dial(), time.Second); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}
