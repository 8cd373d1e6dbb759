package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// runProxyChild runs a testserver.Proxy to target in this process (its CPU
// is not fluxo's), prints its address on one line of out, then obeys the
// lines of in: "cut" and "restore" (each answered "ok" or the error). It
// returns when in reaches EOF.
func runProxyChild(target string, in io.Reader, out io.Writer) error {
	p, err := testserver.StartProxy(target)
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := fmt.Fprintln(out, p.Addr()); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var err error
		switch cmd := strings.TrimSpace(sc.Text()); cmd {
		case "cut":
			p.Cut()
		case "restore":
			err = p.Restore()
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		answer := "ok"
		if err != nil {
			answer = strings.ReplaceAll(err.Error(), "\n", " ")
		}
		if _, err := fmt.Fprintln(out, answer); err != nil {
			return err
		}
	}
	return sc.Err()
}

// proxyChild is the parent's handle on a -proxy-child process.
type proxyChild struct{ *broker }

// startProxyChild starts a proxy to target in a child process.
func startProxyChild(target string) (proxyChild, error) {
	b, err := startChild("-proxy-child", target)
	return proxyChild{b}, err
}

// Addr is the address the proxy listens on.
func (p proxyChild) Addr() string { return p.addrs[0] }

// Cut closes every connection through the proxy and refuses new ones.
func (p proxyChild) Cut() error { return p.do("cut") }

// Restore accepts connections again.
func (p proxyChild) Restore() error { return p.do("restore") }

func (p proxyChild) do(cmd string) error {
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		return err
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("proxy %s: %w", cmd, err)
	}
	if line = strings.TrimSpace(line); line != "ok" {
		return fmt.Errorf("proxy %s: %s", cmd, line)
	}
	return nil
}
