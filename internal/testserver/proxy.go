package testserver

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards a port of 127.0.0.1 to a server and breaks the path the
// ways real networks do:
//
//   - Cut closes every connection through it and refuses new ones, like a
//     partition or a server gone away; Restore reopens it on the same port;
//   - BlackHole silently stops forwarding on the connections it has (no
//     FIN, no RST: both ends keep an open socket that passes nothing),
//     while new connections pass, like a NAT gateway, firewall or load
//     balancer that dropped its flows.
//
// Its methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	pairs map[*proxyPair]struct{}
}

// proxyPair is a client connection and its upstream.
type proxyPair struct {
	client, up net.Conn
	holed      chan struct{} // closed by BlackHole
	once       sync.Once
}

// StartProxy listens on a free port of 127.0.0.1 and forwards every
// connection to target.
func StartProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return nil, fmt.Errorf("testserver: proxy: %w", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), pairs: map[*proxyPair]struct{}{}}
	p.serve(ln)
	return p, nil
}

// ProxyT is StartProxy for a test, closed at its end.
func ProxyT(t TB, target string) *Proxy {
	t.Helper()
	p, err := StartProxy(target)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address, host:port; it stays the same after Cut and
// Restore.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *Proxy) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	pr := &proxyPair{client: c, up: up, holed: make(chan struct{})}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		pr.close()
		return
	}
	p.pairs[pr] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pr.forward(up, c)
	}()
	pr.forward(c, up)
	<-done
	p.drop(pr)
}

// forward copies src to dst until src ends: an end of stream is passed on
// as a half-close, a failure closes the pair so that the other direction
// ends too. Once the pair is holed it reads nothing more and forwards
// nothing (what was in flight is dropped, as the network would), and the
// pair stays open until Cut.
func (pr *proxyPair) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for !pr.isHoled() {
		n, err := src.Read(buf)
		if pr.isHoled() {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				pr.close()
				return
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok && err == io.EOF {
			tc.CloseWrite()
			return
		}
		if err != nil {
			pr.close()
			return
		}
	}
}

func (pr *proxyPair) isHoled() bool {
	select {
	case <-pr.holed:
		return true
	default:
		return false
	}
}

// drop closes a pair that ended on its own; a holed pair stays open.
func (p *Proxy) drop(pr *proxyPair) {
	if pr.isHoled() {
		return
	}
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
	pr.close()
}

func (pr *proxyPair) close() {
	pr.client.Close()
	pr.up.Close()
}

// Conns returns how many connections the proxy holds (a connection that
// ended is dropped a moment after its last byte passed).
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// BlackHole stops forwarding on every connection the proxy has, without
// closing any; new connections pass. It returns how many it holed.
func (p *Proxy) BlackHole() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pr := range p.pairs {
		pr.once.Do(func() { close(pr.holed); n++ })
	}
	return n
}

// Cut closes the listener and every connection, holed ones included; new
// connections are refused until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for pr := range p.pairs {
		pr.close()
	}
	clear(p.pairs)
}

// Restore listens again on the proxy's port after Cut.
func (p *Proxy) Restore() error {
	ln, err := ListenAgain(p.addr)
	if err != nil {
		return err
	}
	p.serve(ln)
	return nil
}

// Close cuts the proxy for good.
func (p *Proxy) Close() { p.Cut() }

// ListenAgain listens on addr, retrying for up to 5 s: a port just
// released may linger a moment.
func ListenAgain(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("testserver: listen again on %s: %w", addr, err)
}
