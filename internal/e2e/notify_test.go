package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs the real binary as systemd runs a Type=notify
// service with a watchdog: it must send READY=1 once it streams,
// WATCHDOG=1 regularly, and STOPPING=1 on SIGTERM, then exit 0.
func TestSystemdNotify(t *testing.T) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.seedKV()
	e.config("")
	sock := filepath.Join(e.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	cmd := exec.Command(bin, "stream", "-c", filepath.Join(e.dir, "fluxo.yaml"), "--log-level", "warn")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ready := expectNotify(t, msgs, "READY=1", 30*time.Second)
	if !strings.Contains(ready, "STATUS=streaming") {
		t.Errorf("READY message %q has no STATUS", ready)
	}
	e.exec("INSERT INTO kv VALUES (9999, 1, 'x')")
	e.consume(e.topic("kv"), 201, 20*time.Second) // it really streams
	for range 3 {
		expectNotify(t, msgs, "WATCHDOG=1", 2*time.Second) // every 200ms: half of WATCHDOG_USEC
	}
	cmd.Process.Signal(syscall.SIGTERM)
	expectNotify(t, msgs, "STOPPING=1", 30*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fluxo after SIGTERM: %v\n%s", err, out.String())
	}
}

// expectNotify waits for a notification containing want, skipping others.
func expectNotify(t *testing.T, msgs <-chan string, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q notification within %s", want, timeout)
		}
	}
}
