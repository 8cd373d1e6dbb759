//go:build !linux

package liveconn

import (
	"net"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist; the
// keepalive probes and the progress bound still apply.
func setUserTimeout(*net.TCPConn, time.Duration) error { return nil }
