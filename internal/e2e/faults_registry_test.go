package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestRegistryOutage covers a registry that becomes unreachable (listener
// closed), then answers 503, each time just as a table the stream never
// saw (so a subject it never registered) gets its first rows. The stream
// must wait, then register and deliver; a stop during the outage must be
// prompt and clean, and the restarted stream must deliver what was blocked.
func TestRegistryOutage(t *testing.T) {
	forEachBackend(t, testRegistryOutage)
}

func testRegistryOutage(t *testing.T, e *env) {
	reg := e.restartableRegistry()
	e.seedKV()
	newTable := "CREATE TABLE %s (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(32) NOT NULL)"
	if e.pg != nil { // the publication lists the tables when the stream starts
		e.exec(fmt.Sprintf(newTable, "fresh1"))
		e.exec(fmt.Sprintf(newTable, "fresh2"))
	}
	cfg := e.config("")
	s := e.startStreamReady(cfg)

	// Unreachable: the stream waits, then registers and delivers.
	reg.stop()
	if e.pg == nil {
		e.exec(fmt.Sprintf(newTable, "fresh1"))
	}
	e.insertRows("fresh1", 1, 50)
	e.exec("UPDATE kv SET v = v + 1, s = 'during outage' WHERE id <= 20")
	time.Sleep(2 * time.Second) // registration attempts after 0.1, 0.3, 0.7 and 1.5 s
	if n := len(e.drain(e.topic("fresh1"), 300*time.Millisecond)); n != 0 {
		t.Fatalf("%d records of fresh1 were sent without a registered schema", n)
	}
	if exited, err := s.exited(); exited {
		t.Fatalf("stream exited during the registry outage: %v", err)
	}
	reg.start()
	e.consume(e.topic("fresh1"), 50, 20*time.Second)

	// 503 (e.g. the registry's own Kafka is down); stop during it, restart.
	reg.unavailable()
	if e.pg == nil {
		e.exec(fmt.Sprintf(newTable, "fresh2"))
	}
	e.insertRows("fresh2", 1, 30)
	e.exec("UPDATE kv SET v = v + 1, s = 'during 503' WHERE id > 180")
	time.Sleep(1500 * time.Millisecond)
	stopped := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("stop during the registry outage: %v (want a clean stop)", err)
	}
	if d := time.Since(stopped); d > 5*time.Second {
		t.Errorf("stopping during the registry outage took %s", d)
	}
	reg.available()
	s = e.startStream(cfg)
	e.consume(e.topic("fresh2"), 30, 20*time.Second)
	recs := e.drain(e.topic("kv"), 1500*time.Millisecond)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
	for _, tb := range []string{"fresh1", "fresh2"} {
		compareState(t, replay(e.drain(e.topic(tb), 500*time.Millisecond)), e.tableState(tb))
	}
}

// TestIncompatibleSchema: the registry rejects a table's new schema (409,
// as Confluent's does for a change its compatibility level forbids). The
// stream must exit with the subject and the fix, without checkpointing
// past the rejected change: once the subject accepts it, a restart
// delivers it.
func TestIncompatibleSchema(t *testing.T) {
	forEachBackend(t, testIncompatibleSchema)
}

func testIncompatibleSchema(t *testing.T, e *env) {
	reg, url := testserver.RegistryT(t)
	e.regURL = url
	e.seedKV()
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	e.consume(e.topic("kv"), 200, 20*time.Second)
	subject := e.topic("kv") + "-value"
	reg.Intercept(rejectRegistration(subject))
	e.exec("ALTER TABLE kv ADD COLUMN x INT")
	e.exec("INSERT INTO kv (id, v, s, x) VALUES (5000, 1, 'after alter', 7)")
	err := s.waitExit(t, 30*time.Second)
	wantMention(t, err, subject, "incompatible", "compatibility") // the cause, then the fix
	if r := findKey(e.drain(e.topic("kv"), time.Second), 5000); r != nil {
		t.Fatalf("the rejected change was sent: %v", r.Value)
	}
	reg.ClearInterceptors()
	s = e.startStream(cfg)
	deadline := time.Now().Add(20 * time.Second)
	var r *record
	for r == nil && time.Now().Before(deadline) {
		r = findKey(e.drain(e.topic("kv"), 500*time.Millisecond), 5000)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if r == nil {
		t.Fatal("the change the registry rejected was not delivered after the restart: the checkpoint skipped it")
	}
	if row := rowOf(r.Value["after"]); row == nil || fmt.Sprint(row["x"]) != "map[int:7]" && fmt.Sprint(row["x"]) != "7" {
		t.Errorf("delivered row %v, want x = 7", r.Value["after"])
	}
}

// TestRegistryCredentials: a registry that refuses fluxo's credentials
// (401) is a permanent fault, whether the refusal comes from the registry
// (Confluent's JSON error) or from a proxy in front of it (a bare 401): the
// stream must stop with the fix instead of waiting forever, and the
// restarted stream, once the credentials are right, must deliver all.
func TestRegistryCredentials(t *testing.T) {
	for _, tc := range []struct{ name, contentType, body string }{
		{"registry refuses", "application/vnd.schemaregistry.v1+json", `{"error_code":401,"message":"Unauthorized"}`},
		{"proxy refuses", "text/html", "<html><body><h1>401 Authorization Required</h1></body></html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			reg, url := testserver.RegistryT(t)
			e.regURL = url
			reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, tc.body)
				return true
			})
			e.seedKV()
			cfg := e.config("")
			s := e.startStream(cfg)
			wantMention(t, s.waitExit(t, 10*time.Second), "401", "schema_registry.username")
			reg.ClearInterceptors()
			s = e.startStream(cfg)
			time.Sleep(time.Second)
			recs := e.drain(e.topic("kv"), time.Second)
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			compareState(t, replay(recs), e.tableState("kv"))
		})
	}
}

// rejectRegistration answers every registration under subject like a
// registry whose compatibility check failed.
func rejectRegistration(subject string) srfake.Interceptor {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || r.URL.Path != "/subjects/"+subject+"/versions" {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"%s\""}`, subject)
		return true
	}
}

// registryHandle serves an srfake registry on a fixed loopback address
// that can be closed (connections refused) and reopened with its schemas,
// or made to answer 503.
type registryHandle struct {
	t    *testing.T
	reg  *srfake.Registry
	addr string

	mu   sync.Mutex
	srv  *http.Server
	down bool // answer 503
}

// restartableRegistry replaces the env's registry; call it before
// e.config.
func (e *env) restartableRegistry() *registryHandle {
	e.t.Helper()
	h := &registryHandle{t: e.t, reg: srfake.NewRegistry()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	h.serve(ln)
	e.t.Cleanup(h.stop)
	e.regURL = "http://" + h.addr
	return h
}

func (h *registryHandle) serve(ln net.Listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.srv = &http.Server{Handler: http.HandlerFunc(h.handle)}
	go h.srv.Serve(ln)
}

func (h *registryHandle) handle(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	down := h.down
	h.mu.Unlock()
	if down {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error_code":50003,"message":"Error while forwarding the request to the leader"}`)
		return
	}
	h.reg.Handler().ServeHTTP(w, r)
}

// stop closes the listener and every connection.
func (h *registryHandle) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		h.srv.Close()
		h.srv = nil
	}
}

// start listens again on the same address.
func (h *registryHandle) start() {
	h.t.Helper()
	ln, err := testserver.ListenAgain(h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.serve(ln)
}

func (h *registryHandle) unavailable() { h.setDown(true) }
func (h *registryHandle) available()   { h.setDown(false) }

func (h *registryHandle) setDown(v bool) {
	h.mu.Lock()
	h.down = v
	h.mu.Unlock()
}
