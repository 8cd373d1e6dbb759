package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// TestSnapshotRequest: POST /snapshot queues captured tables when the
// request may change things (loopback without a token, or the right
// token), and otherwise is refused with a status and reason, counted by
// result, queueing nothing.
func TestSnapshotRequest(t *testing.T) {
	const body = `{"tables": ["shop.orders"]}`
	cases := []struct {
		name, token, auth, body string
		loopback                bool
		code                    int
		result                  string
	}{
		{"loopback, no token configured", "", "", body, true, 202, "accepted"},
		{"beyond loopback, no token configured", "", "Bearer x", body, false, 403, "forbidden"},
		{"token configured, none sent", "tok", "", body, true, 401, "unauthorized"},
		{"wrong token", "tok", "Bearer tok2", body, false, 401, "unauthorized"},
		{"not a bearer token", "tok", "Basic tok", body, false, 401, "unauthorized"},
		{"right token", "tok", "Bearer tok", body, false, 202, "accepted"},
		{"not JSON", "", "", "shop.orders", true, 400, "invalid"},
		{"no tables", "", "", `{"tables": []}`, true, 400, "invalid"},
		{"not schema.table", "", "", `{"tables": ["orders"]}`, true, 400, "invalid"},
		{"not captured", "", "", `{"tables": ["shop.secrets"]}`, true, 400, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctl := &incremental.Control{}
			h, err := New(Options{Snapshots: ctl, Token: c.token, Loopback: c.loopback, Metrics: prometheus.NewRegistry(),
				Logger:   slog.New(slog.DiscardHandler),
				Captured: func(id cdc.TableID) bool { return id.Schema == "shop" && id.Name != "secrets" }})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/snapshot", strings.NewReader(c.body))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.code {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, c.code)
			}
			if got := testutil.ToFloat64(h.requests.WithLabelValues(c.result)); got != 1 {
				t.Errorf("fluxo_admin_requests_total{result=%q} = %v, want 1", c.result, got)
			}
			queued := ctl.Queue().Has(cdc.TableID{Schema: "shop", Name: "orders"})
			if queued != (c.code == 202) {
				t.Errorf("queued %v after status %d", queued, c.code)
			}
			if c.code != 202 && !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("a refusal without a reason: %s", w.Body)
			}
		})
	}
}

// TestSnapshotStatus: GET /snapshot needs no token and lists the queue:
// the published progress, then the requests not yet taken.
func TestSnapshotStatus(t *testing.T) {
	ctl := &incremental.Control{}
	a, b := cdc.TableID{Schema: "shop", Name: "a"}, cdc.TableID{Schema: "shop", Name: "b"}
	ctl.Publish((&incremental.Progress{Tables: []incremental.Cursor{{Table: a, Rows: 30, Chunks: 3, Estimate: 100}}}))
	ctl.Request(b)
	h, err := New(Options{Snapshots: ctl, Token: "tok", Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/snapshot", nil))
	var st SnapshotStatus
	if err := json.Unmarshal(w.Body.Bytes(), &st); w.Code != 200 || err != nil {
		t.Fatalf("GET /snapshot: %d %s (%v)", w.Code, w.Body, err)
	}
	want := []incremental.TableReport{{Table: "shop.a", RowsDone: 30, Estimate: 100, Chunks: 3, Reading: true}, {Table: "shop.b"}}
	if len(st.Tables) != 2 || st.Tables[0] != want[0] || st.Tables[1] != want[1] {
		t.Fatalf("GET /snapshot = %+v, want %+v", st.Tables, want)
	}
}
