package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTTPLoopbackAndURL(t *testing.T) {
	cases := []struct {
		listen   string
		loopback bool
		url      string
	}{
		{"127.0.0.1:9187", true, "http://127.0.0.1:9187"},
		{"127.0.0.2:9187", true, "http://127.0.0.2:9187"},
		{"localhost:9187", true, "http://localhost:9187"},
		{"[::1]:9187", true, "http://[::1]:9187"},
		{":9187", false, "http://127.0.0.1:9187"},
		{"0.0.0.0:9187", false, "http://127.0.0.1:9187"},
		{"[::]:9187", false, "http://127.0.0.1:9187"},
		{"10.0.0.5:9187", false, "http://10.0.0.5:9187"},
	}
	for _, c := range cases {
		h := HTTP{Listen: c.listen}
		if got := h.Loopback(); got != c.loopback {
			t.Errorf("Loopback(%q) = %v, want %v", c.listen, got, c.loopback)
		}
		if got := h.AdminURL(); got != c.url {
			t.Errorf("AdminURL(%q) = %q, want %q", c.listen, got, c.url)
		}
	}
}

func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	good, empty := filepath.Join(dir, "good"), filepath.Join(dir, "empty")
	os.WriteFile(good, []byte("  s3cret \n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	if tok, err := (HTTP{AdminTokenFile: good}).AdminToken(); tok != "s3cret" || err != nil {
		t.Errorf("token file: %q, %v; want s3cret", tok, err)
	}
	if tok, err := (HTTP{}).AdminToken(); tok != "" || err != nil {
		t.Errorf("no token file: %q, %v; want none", tok, err)
	}
	if _, err := (HTTP{AdminTokenFile: empty}).AdminToken(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v, want an error saying so", err)
	}
	if _, err := (HTTP{AdminTokenFile: filepath.Join(dir, "missing")}).AdminToken(); err == nil || !strings.Contains(err.Error(), "http.admin_token_file") {
		t.Errorf("missing token file: %v, want an error naming the key", err)
	}
}
