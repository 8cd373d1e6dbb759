// Package liveconn dials TCP connections that notice a silent peer: a
// server, NAT gateway, firewall or load balancer that stops passing bytes
// without closing the connection (no FIN, no RST). Such a connection would
// otherwise block a read forever.
//
// A connection from Dialer is guarded three ways, all bounded by
// Dialer.Timeout (fluxo's source.read_timeout):
//
//   - no read and no write may wait longer than Timeout (at most half as
//     long again) without progress: the call, and every later one, then
//     fails with a *SilentError, which drivers treat as a broken connection
//     (pgx closes it; go-mysql returns it), so that fluxo reconnects;
//   - TCP keepalive probes every Timeout/6 after Timeout/2 of idleness, and
//     TCP_USER_TIMEOUT of Timeout for unacknowledged data (Linux), so that
//     the kernel also notices a dropped flow on connections that wait
//     patiently (see Patient).
//
// Deadlines set by the caller (a context ending, a driver's own timeouts)
// keep their meaning: such a deadline passing fails the call with the
// usual timeout error, not a SilentError.
package liveconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// Dialer dials guarded TCP connections. The zero value dials unguarded
// ones.
type Dialer struct {
	// Timeout is how long a read or write may wait without progress before
	// the peer is taken as gone; 0 disables the guards.
	Timeout time.Duration
	// ConnectTimeout bounds the TCP handshake; 0 means Timeout (or none).
	ConnectTimeout time.Duration
}

// DialContext dials address on network (tcp, tcp4, tcp6; a unix socket is
// dialed unguarded) and returns the guarded connection.
func (d Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.ConnectTimeout}
	if nd.Timeout == 0 {
		nd.Timeout = d.Timeout
	}
	if d.Timeout > 0 {
		nd.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: max(d.Timeout/2, time.Second),
			Interval: max(d.Timeout/6, time.Second), Count: 3}
	}
	c, err := nd.DialContext(ctx, network, address)
	if err != nil || d.Timeout <= 0 {
		return c, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	if err := setUserTimeout(tc, d.Timeout); err != nil {
		c.Close()
		return nil, fmt.Errorf("set TCP_USER_TIMEOUT: %w", err)
	}
	return &Conn{TCPConn: tc, timeout: d.Timeout, addr: address}, nil
}

// SilentError is the failure of a read or write that made no progress for
// the Dialer's Timeout. Its Timeout method reports false on purpose: a
// driver must treat the connection as broken, not as a call that merely
// ran out of time.
type SilentError struct {
	Op      string // "read" or "write"
	Addr    string
	Timeout time.Duration
}

func (e *SilentError) Error() string {
	return fmt.Sprintf("%s %s: no progress for %s (source.read_timeout): the peer or the network path went silent, "+
		"so the connection is taken as lost (if the server is merely slow to answer, raise source.read_timeout)",
		e.Op, e.Addr, e.Timeout)
}

// ErrSilent matches every *SilentError with errors.Is.
var ErrSilent = errors.New("liveconn: silent peer")

// Is implements errors.Is for ErrSilent.
func (e *SilentError) Is(target error) bool { return target == ErrSilent }

// Conn is a guarded connection (see the package comment).
//
// The progress deadline is armed lazily, Timeout*3/2 ahead, and re-armed
// only when a call starts with less than Timeout of it left: a call that
// waits without progress fails after between Timeout and 1.5 Timeout, and a
// busy connection pays a clock read per call, not a deadline change.
type Conn struct {
	*net.TCPConn
	timeout time.Duration
	addr    string

	mu      sync.Mutex
	patient int   // Patient calls in force: no progress bound
	dead    error // the SilentError once the peer went silent
	read    direction
	write   direction
}

// direction is the deadline state of reads or of writes.
type direction struct {
	caller time.Time // deadline set by the caller
	armed  time.Time // progress deadline given to the socket; zero when none
	seen   time.Time // the caller's latest non-zero deadline during the call
	busy   bool      // a call is in progress
}

// effective is the deadline to give the socket: the caller's, or the armed
// progress deadline if sooner.
func effective(d *direction) time.Time {
	if d.armed.IsZero() || (!d.caller.IsZero() && d.caller.Before(d.armed)) {
		return d.caller
	}
	return d.armed
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.begin(&c.read, c.TCPConn.SetReadDeadline); err != nil {
		return 0, err
	}
	n, err := c.TCPConn.Read(b)
	return n, c.end(&c.read, "read", err)
}

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.begin(&c.write, c.TCPConn.SetWriteDeadline); err != nil {
		return 0, err
	}
	n, err := c.TCPConn.Write(b)
	return n, c.end(&c.write, "write", err)
}

// begin prepares a call, or fails it at once on a connection whose peer
// went silent.
func (c *Conn) begin(d *direction, set func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead != nil {
		return c.dead
	}
	d.busy, d.seen = true, d.caller
	if c.patient > 0 {
		if !d.armed.IsZero() {
			d.armed = time.Time{}
			set(d.caller)
		}
		return nil
	}
	if now := time.Now(); d.armed.IsZero() || d.armed.Sub(now) < c.timeout {
		d.armed = now.Add(c.timeout * 3 / 2)
		set(effective(d))
	}
	return nil
}

// end turns a timeout that the caller's deadline does not explain into a
// SilentError, which every later read and write returns at once; the owner
// closes the connection as after any other failure.
func (c *Conn) end(d *direction, op string, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d.busy = false
	caller := d.seen // a deadline that passed and was lifted since still explains the timeout
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if !caller.IsZero() && !time.Now().Before(caller) {
		return err // the caller's own deadline
	}
	c.dead = &SilentError{Op: op, Addr: c.addr, Timeout: c.timeout}
	return c.dead
}

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setCaller(&c.read, t, c.TCPConn.SetReadDeadline)
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setCaller(&c.write, t, c.TCPConn.SetWriteDeadline)
}

// setCaller records the caller's deadline t of one direction and gives the
// socket the effective one.
func (c *Conn) setCaller(d *direction, t time.Time, set func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d.caller = t
	if d.busy && !t.IsZero() {
		d.seen = t
	}
	return set(effective(d))
}

// Patient lifts the progress bound of nc (a guarded connection, possibly
// under TLS; anything else is left alone) until the returned function is
// called: for a statement that may rightly wait long for the server, such
// as creating a replication slot while old transactions run. TCP keepalive
// and TCP_USER_TIMEOUT still notice a dropped flow meanwhile.
func Patient(nc net.Conn) (restore func()) {
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	c, ok := nc.(*Conn)
	if !ok {
		return func() {}
	}
	c.mu.Lock()
	c.patient++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.patient--
		c.mu.Unlock()
	}
}
