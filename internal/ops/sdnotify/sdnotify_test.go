package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(map[bool]string{false: "path", true: "abstract"}[abstract], func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "notify.sock")
			listen, socket := name, name
			if abstract {
				base := fmt.Sprintf("fluxo-test-%d-%d", os.Getpid(), time.Now().UnixNano())
				listen, socket = "\x00"+base, "@"+base
			}
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: listen, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := New(socket).Notify("READY=1\nSTATUS=streaming"); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 256)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf[:n]); got != "READY=1\nSTATUS=streaming" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestNotifyOff(t *testing.T) {
	var n *Notifier = New("")
	if n != nil {
		t.Fatal("New(\"\") is not nil")
	}
	if err := n.Notify("READY=1"); err != nil {
		t.Fatal(err)
	}
	if err := New(filepath.Join(t.TempDir(), "missing.sock")).Notify("READY=1"); err == nil {
		t.Fatal("no error for a missing socket")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"30000000", "", 15 * time.Second},
		{"30000000", "42", 15 * time.Second},
		{"30000000", "43", 0},
		{"x", "", 0},
		{"0", "", 0},
	} {
		if got := WatchdogInterval(c.usec, c.pid, 42); got != c.want {
			t.Errorf("WatchdogInterval(%q, %q) = %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}
