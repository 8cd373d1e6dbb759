package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// runBrokerChild runs kfake in this process, prints its seed addresses on
// one line of out and returns when in reaches EOF (the parent exited or
// closed the pipe).
func runBrokerChild(in io.Reader, out io.Writer) error {
	c, addrs, err := testserver.StartKafka()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := fmt.Fprintln(out, strings.Join(addrs, ",")); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, in)
	return err
}

// broker is the kfake child process.
type broker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader // the child's stdout after its first line
	addrs []string
}

// runRegistryChild serves the bench's schema registry (indexRegistry) in
// this process, prints its URL on one line of out and returns when in
// reaches EOF: the registry out of the measured process.
func runRegistryChild(in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newIndexRegistry()}
	go srv.Serve(ln)
	defer srv.Close()
	if _, err := fmt.Fprintln(out, "http://"+ln.Addr().String()); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, in)
	return err
}

// startBroker starts this binary with -broker-child and reads the broker's
// addresses from its first line of output.
func startBroker() (*broker, error) { return startChild("-broker-child") }

// startRegistryChild starts this binary with -registry-child; its addrs
// hold the registry's URL.
func startRegistryChild() (*broker, error) { return startChild("-registry-child") }

// startChild starts this binary with flag and reads what it serves from
// its first line of output.
func startChild(flag string, args ...string) (*broker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{flag}, args...)...)
	cmd.Env = brokerEnv(os.Environ())
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", flag, err)
	}
	b := &broker{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := b.out.ReadString('\n')
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("%s: read address: %w", flag, err)
	}
	b.addrs = strings.Split(strings.TrimSpace(line), ",")
	return b, nil
}

// brokerEnv returns env without the Go GC settings, so that tuning fluxo's
// GC with GOGC or GOMEMLIMIT does not make the broker, which holds every
// record, collect all the time.
func brokerEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=")
	})
}

// Pid returns the child's process id.
func (b *broker) Pid() int { return b.cmd.Process.Pid }

// Close closes the child's stdin so it exits, and kills it after 10 s.
func (b *broker) Close() error {
	b.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return errors.Join(errors.New("broker child did not exit, killed"), b.cmd.Process.Kill())
	}
}
