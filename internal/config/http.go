package config

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Loopback reports whether Listen binds loopback addresses only (127.0.0.0/8,
// ::1 or localhost); an empty host binds every interface.
func (h HTTP) Loopback() bool {
	host, _, err := net.SplitHostPort(h.Listen)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AdminToken reads the token in AdminTokenFile ("" when none is
// configured); surrounding white space is not part of it.
func (h HTTP) AdminToken() (string, error) {
	if h.AdminTokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(h.AdminTokenFile)
	if err != nil {
		return "", fmt.Errorf("http.admin_token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("http.admin_token_file %s is empty: write a long random token into it (e.g. openssl rand -hex 32 > %s)", h.AdminTokenFile, h.AdminTokenFile)
	}
	return tok, nil
}

// AdminURL is the base URL at which a local client reaches the endpoint:
// Listen, with a wildcard host replaced by loopback.
func (h HTTP) AdminURL() string {
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		return "http://" + h.Listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
