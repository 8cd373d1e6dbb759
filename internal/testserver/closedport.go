package testserver

import "syscall"

// ClosedPort returns a loopback port that refuses connections for the rest
// of the test: a socket bound to it but not listening, closed at Cleanup.
// Unlike a port closed after net.Listen, no server started meanwhile (by
// another test package running in parallel) can take it.
func ClosedPort(t TB) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("closed port: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("closed port: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("closed port: %v", err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}
