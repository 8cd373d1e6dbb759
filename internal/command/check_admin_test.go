package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// TestCheckAdmin: fluxo check says who may ask for snapshots, and fails on
// a token file the stream could not read.
func TestCheckAdmin(t *testing.T) {
	dir := t.TempDir()
	token, empty := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	os.WriteFile(token, []byte("s3cret\n"), 0o600)
	os.WriteFile(empty, nil, 0o600)
	cases := []struct {
		name, listen, file string
		status             string
		detail             string
	}{
		{"token", "0.0.0.0:9187", token, cdc.CheckOK, "need the token in " + token},
		{"loopback without a token", "127.0.0.1:9187", "", cdc.CheckOK, "accepted from this host"},
		{"beyond loopback without a token", ":9187", "", cdc.CheckWarn, "are refused"},
		{"empty token file", "127.0.0.1:9187", empty, cdc.CheckFail, "is empty"},
		{"missing token file", "127.0.0.1:9187", filepath.Join(dir, "nope"), cdc.CheckFail, "http.admin_token_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := checkAdmin(&config.Config{HTTP: config.HTTP{Listen: c.listen, AdminTokenFile: c.file}})
			if got.Status != c.status || !strings.Contains(got.Detail, c.detail) || got.Status != cdc.CheckOK && got.Fix == "" {
				t.Errorf("got %+v, want %s with %q and a fix unless ok", got, c.status, c.detail)
			}
		})
	}
}
