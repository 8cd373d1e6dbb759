// Package sdnotify implements the sd_notify(3) protocol, so that fluxo
// can run as a systemd Type=notify service: READY=1 once it streams,
// WATCHDOG=1 while it is healthy, STOPPING=1 on shutdown.
package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Notifier sends notifications to the service manager's socket. A nil
// *Notifier (not run by systemd) sends nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// New returns a Notifier for socket, the value of $NOTIFY_SOCKET: a path,
// or an abstract socket name starting with '@'. It returns nil when socket
// is empty.
func New(socket string) *Notifier {
	if socket == "" {
		return nil
	}
	if socket[0] == '@' {
		socket = "\x00" + socket[1:]
	}
	return &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
}

// Notify sends state, one or more newline-separated assignments such as
// "READY=1" or "STATUS=streaming". It does nothing on a nil Notifier.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %q: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %q: %w", n.addr.Name, err)
	}
	return nil
}

// WatchdogInterval returns how often to send WATCHDOG=1: half of usec, the
// value of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises. It returns 0
// when the watchdog is off, or when pid ($WATCHDOG_PID, if set) is not
// self.
func WatchdogInterval(usec, pid string, self int) time.Duration {
	if usec == "" {
		return 0
	}
	if pid != "" {
		if p, err := strconv.Atoi(pid); err != nil || p != self {
			return 0
		}
	}
	us, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}
