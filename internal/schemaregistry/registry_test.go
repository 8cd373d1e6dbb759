package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"github.com/fluxo-cdc/fluxo/cdc"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRegistry answers POST /subjects/{s}/versions with the statuses in
// order (the last one repeats), and GET /schemas/ids/{id} with a schema.
func fakeRegistry(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `{"schema":"\"string\""}`)
			return
		}
		n := int(posts.Add(1)) - 1
		st := statuses[min(n, len(statuses)-1)]
		w.WriteHeader(st)
		if st == http.StatusOK {
			fmt.Fprint(w, `{"id":7}`)
			return
		}
		fmt.Fprintf(w, `{"error_code":%d,"message":"status %d"}`, st, st)
	}))
	t.Cleanup(srv.Close)
	return srv, &posts
}

func TestRegister(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		permanent bool
		posts     int32
	}{
		{"ok", []int{200}, false, 1},
		{"transient then ok", []int{503, 500, 200}, false, 3},
		{"incompatible", []int{409}, true, 1},
		{"unauthorized", []int{401}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, posts := fakeRegistry(t, tc.statuses...)
			c, err := New(Options{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			id, err := c.Register(ctx, "t-value", `"string"`)
			var perr *cdc.PermanentError
			if tc.permanent != errors.As(err, &perr) {
				t.Fatalf("err = %v, permanent = %v", err, tc.permanent)
			}
			if !tc.permanent && (err != nil || id != 7) {
				t.Fatalf("Register = %d, %v", id, err)
			}
			if tc.permanent && !strings.Contains(err.Error(), `"t-value"`) {
				t.Errorf("error %q does not name the subject", err)
			}
			if got := posts.Load(); got != tc.posts {
				t.Errorf("%d registration requests, want %d", got, tc.posts)
			}
			if !tc.permanent { // cached: no second request
				c.Register(ctx, "t-value", `"string"`)
				if got := posts.Load(); got != tc.posts {
					t.Errorf("a cached schema was registered again")
				}
			}
		})
	}
}

// TestRegisterGivesUpWithContext: an unreachable registry is retried until
// the context ends, and the error says where it tried.
func TestRegisterGivesUpWithContext(t *testing.T) {
	c, err := New(Options{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = c.Register(ctx, "t-value", `"string"`)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}
