package liveconn

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

const timeout = 300 * time.Millisecond

// peer accepts one connection on loopback and hands it to serve.
func peer(t *testing.T, serve func(net.Conn)) *Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
		serve(c)
	}()
	nc, err := Dialer{Timeout: timeout}.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*Conn)
}

func silent(net.Conn) {}

// trickle writes a byte every interval until the connection breaks.
func trickle(interval time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		for {
			if _, err := c.Write([]byte{1}); err != nil {
				return
			}
			time.Sleep(interval)
		}
	}
}

func TestSilentRead(t *testing.T) {
	c := peer(t, silent)
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	var se *SilentError
	if !errors.As(err, &se) || !errors.Is(err, ErrSilent) || se.Op != "read" {
		t.Fatalf("read from a silent peer: %v, want a SilentError", err)
	}
	if d := time.Since(start); d < timeout || d > 5*timeout {
		t.Errorf("noticed after %s, want about %s", d, timeout)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("a SilentError must not look like a timeout to drivers")
	}
	start = time.Now()
	if _, err := c.Write([]byte{1}); !errors.Is(err, ErrSilent) || time.Since(start) > timeout/2 {
		t.Errorf("write after the silence: %v after %s, want the SilentError at once", err, time.Since(start))
	}
}

func TestProgressKeepsItAlive(t *testing.T) {
	c := peer(t, trickle(timeout/4))
	buf := make([]byte, 1)
	for end := time.Now().Add(4 * timeout); time.Now().Before(end); {
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("read from a peer that sends every %s: %v", timeout/4, err)
		}
	}
}

func TestCallerDeadline(t *testing.T) {
	tests := []struct {
		name string
		set  func(c *Conn)
	}{
		{"earlier than the bound", func(c *Conn) { c.SetReadDeadline(time.Now().Add(timeout / 3)) }},
		{"set during the read, then lifted", func(c *Conn) {
			go func() { // as pgx's context watcher does on cancel, then Unwatch
				time.Sleep(timeout / 3)
				c.SetDeadline(time.Now())
			}()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := peer(t, silent)
			tc.set(c)
			_, err := c.Read(make([]byte, 1))
			c.SetDeadline(time.Time{})
			if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrSilent) {
				t.Fatalf("read past the caller's deadline: %v, want os.ErrDeadlineExceeded", err)
			}
			// The connection stays usable once the caller lifts its deadline.
			c.SetReadDeadline(time.Now().Add(timeout / 3))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("second read: %v", err)
			}
		})
	}
}

func TestPatient(t *testing.T) {
	c := peer(t, func(nc net.Conn) {
		time.Sleep(3 * timeout)
		nc.Write([]byte{1})
		// then silent
	})
	restore := Patient(c)
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("a patient read waiting %s: %v", 3*timeout, err)
	}
	restore()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrSilent) {
		t.Fatalf("read after restore: %v, want a SilentError", err)
	}
}

func TestSilentWrite(t *testing.T) {
	c := peer(t, silent) // never reads: the buffers fill, then writes block
	buf := make([]byte, 1<<20)
	var err error
	for range 256 {
		if _, err = c.Write(buf); err != nil {
			break
		}
	}
	var se *SilentError
	if !errors.As(err, &se) || se.Op != "write" {
		t.Fatalf("write to a peer that reads nothing: %v, want a SilentError", err)
	}
}

func TestDisabled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := Dialer{}.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, ok := nc.(*Conn); ok {
		t.Errorf("Timeout 0 returned a guarded connection")
	}
	Patient(nc)() // a no-op on other connections
}
