package testserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// KindS3rver is s3rver (npm), an S3 implementation fluxo did not write,
// for the lake side's tests besides gofakes3.
const KindS3rver = "s3rver"

// s3rverInstall is the command that installs the harness.
const s3rverInstall = "npm ci --prefix tools/s3rver"

// s3rverScript returns node and s3rver's entry point, or why they are missing.
func s3rverScript() (node, script string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("node not found in PATH (install Node.js >= 20, then run %q)", s3rverInstall)
	}
	dir, err := toolDir("s3rver", "package.json")
	if err != nil {
		return "", "", err
	}
	script = filepath.Join(dir, "node_modules", "s3rver", "bin", "s3rver.js")
	if _, err := os.Stat(script); err != nil {
		return "", "", fmt.Errorf("npm package s3rver not installed in %s (run %q in the repository root)", dir, s3rverInstall)
	}
	return node, script, nil
}

var s3rverListening = regexp.MustCompile(`S3rver listening on (\S+:\d+)`)

// S3rverT starts s3rver on a free loopback port with bucket created, in a
// directory of its own, and returns its endpoint (http://127.0.0.1:port);
// Cleanup stops it. It skips the test when s3rver is not installed (fails
// it under CI).
func S3rverT(t TB, bucket string) string {
	t.Helper()
	node, script, err := s3rverScript()
	if err != nil {
		if InCI() {
			t.Fatalf("testserver: %s is required when CI=true: %v", KindS3rver, err)
		}
		t.Skipf("testserver: %s not available: %v", KindS3rver, err)
	}
	dir, err := os.MkdirTemp("", "s3rver-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	cmd := exec.Command(node, script, "-d", dir, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", bucket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start s3rver: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := s3rverListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case a := <-addr:
		return "http://" + strings.TrimSpace(a)
	case <-ctx.Done():
		t.Fatalf("s3rver did not say where it listens within 30 s")
		return ""
	}
}
