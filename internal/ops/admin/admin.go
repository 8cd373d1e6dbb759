// Package admin serves the requests that change what a running stream
// does, beside /metrics on the stream's HTTP endpoint: on-demand
// incremental snapshots (POST /snapshot, which `fluxo snapshot` sends) and
// their progress (GET /snapshot).
//
// Whoever can scrape /metrics must not be able to trigger snapshots: a
// request that changes something needs the admin token ("Authorization:
// Bearer <token>", http.admin_token_file) when one is configured, and is
// refused outright when the endpoint listens beyond loopback without one.
// Refused requests are logged and counted.
package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// Options configure a Handler.
type Options struct {
	// Snapshots is the running source's on-demand snapshot control.
	Snapshots *incremental.Control
	// Captured reports whether the stream captures a table; requests for
	// other tables are refused.
	Captured func(cdc.TableID) bool
	// Token, when set, is the admin token every request that changes
	// something must present.
	Token string
	// Loopback says the endpoint listens on loopback addresses only: with
	// no Token, requests are then accepted from whoever can connect.
	Loopback bool
	Metrics  prometheus.Registerer
	Logger   *slog.Logger
}

// SnapshotRequest is the body of POST /snapshot.
type SnapshotRequest struct {
	// Tables are schema.table names (database.table for MySQL).
	Tables []string `json:"tables"`
}

// SnapshotAccepted is the answer to an accepted POST /snapshot.
type SnapshotAccepted struct {
	ID     string   `json:"id"`
	Tables []string `json:"tables"`
}

// SnapshotStatus is the answer to GET /snapshot: the tables an incremental
// snapshot still has to read, requested ones included, the first being
// read.
type SnapshotStatus struct {
	Tables []incremental.TableReport `json:"tables"`
}

// Handler serves /snapshot.
type Handler struct {
	o        Options
	requests *prometheus.CounterVec
	mux      *http.ServeMux
}

// New returns the handler, its metrics registered in o.Metrics.
func New(o Options) (*Handler, error) {
	h := &Handler{o: o, mux: http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_admin_requests_total",
			Help: "Requests to the admin endpoints (POST /snapshot), by result: accepted, unauthorized (no or wrong token), forbidden (no token configured beyond loopback), invalid."},
			[]string{"result"})}
	if err := o.Metrics.Register(h.requests); err != nil {
		return nil, fmt.Errorf("register admin metrics: %w", err)
	}
	h.mux.HandleFunc("POST /snapshot", h.request)
	h.mux.HandleFunc("GET /snapshot", h.status)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) status(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, SnapshotStatus{Tables: h.o.Snapshots.Queue().Report()})
}

func (h *Handler) request(w http.ResponseWriter, r *http.Request) {
	if code, why := h.authorize(r); code != 0 {
		h.refuse(w, r, code, why)
		return
	}
	var req SnapshotRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		h.refuse(w, r, http.StatusBadRequest, "the body is not {\"tables\": [\"schema.table\", ...]}: "+err.Error())
		return
	}
	ids, err := h.tables(req.Tables)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	id := requestID()
	h.o.Snapshots.Request(ids...)
	h.requests.WithLabelValues("accepted").Inc()
	h.o.Logger.Info("incremental snapshot requested", "request", id, "tables", strings.Join(req.Tables, ","), "from", r.RemoteAddr)
	reply(w, http.StatusAccepted, SnapshotAccepted{ID: id, Tables: req.Tables})
}

// authorize returns 0, or the status and reason of a refusal.
func (h *Handler) authorize(r *http.Request) (int, string) {
	if h.o.Token == "" {
		if h.o.Loopback {
			return 0, ""
		}
		return http.StatusForbidden, "the endpoint listens beyond loopback and no admin token is configured: set http.admin_token_file (fluxo snapshot reads it from the same config)"
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.o.Token)) != 1 {
		return http.StatusUnauthorized, "missing or wrong admin token: send \"Authorization: Bearer <the token in http.admin_token_file>\""
	}
	return 0, ""
}

// tables parses and checks the requested table names.
func (h *Handler) tables(names []string) ([]cdc.TableID, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("no tables: name at least one as schema.table")
	}
	ids := make([]cdc.TableID, len(names))
	for i, n := range names {
		schema, table, ok := strings.Cut(n, ".")
		if !ok || schema == "" || table == "" {
			return nil, fmt.Errorf("table %q: name it as schema.table (database.table for MySQL)", n)
		}
		ids[i] = cdc.TableID{Schema: schema, Name: table}
		if !h.o.Captured(ids[i]) {
			return nil, fmt.Errorf("table %q is not captured by this stream: add it to source.tables (and restart, which snapshots it) first", n)
		}
	}
	return ids, nil
}

// refuse answers a refused request, logs and counts it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, code int, why string) {
	result := map[int]string{http.StatusUnauthorized: "unauthorized", http.StatusForbidden: "forbidden"}[code]
	if result == "" {
		result = "invalid"
	}
	h.requests.WithLabelValues(result).Inc()
	h.o.Logger.Warn("admin request refused", "path", r.URL.Path, "from", r.RemoteAddr, "status", code, "reason", why)
	reply(w, code, map[string]string{"error": why})
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// requestID is a random id naming a request in logs and answers.
func requestID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
