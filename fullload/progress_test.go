package fullload

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

func TestProgressDisplay(t *testing.T) {
	p := newTableProgress(cdc.TableID{Schema: "shop", Name: "orders"}, 1000)
	p.setState(stateReading)
	p.add(250)
	time.Sleep(20 * time.Millisecond)
	var out bytes.Buffer
	r := &runner{o: Options{Progress: &out, Terminal: true}, tables: []*table{{id: p.id, prog: p}}}
	if n := r.draw(0); n != 2 {
		t.Fatalf("draw wrote %d lines, want 2", n)
	}
	line := strings.Split(out.String(), "\n")[1]
	if !strings.Contains(line, "shop.orders") || !strings.Contains(line, "reading") || !strings.Contains(line, " 250 ") {
		t.Fatalf("display line %q", line)
	}
	if _, _, rate, eta := p.snapshot(); rate <= 0 || eta <= 0 {
		t.Fatalf("rate %v eta %v", rate, eta)
	}
	out.Reset()
	r.draw(2)
	if !strings.HasPrefix(out.String(), "\x1b[2A") {
		t.Fatalf("redraw does not move up over the previous lines: %q", out.String())
	}
}

func TestProgressLogsWhenNotATerminal(t *testing.T) {
	store, _ := openStore(t)
	d := newFakeDumper()
	d.addTable("orders", 3000, cdc.SplitKey)
	var logs bytes.Buffer
	o := testOptions(d, store, "r1")
	o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	o.LogEvery = time.Millisecond
	d.delay = 50 * time.Microsecond
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"fullload progress","table":"shop.orders"`) {
		t.Fatalf("no progress log line in %s", logs.String())
	}
	var sum bytes.Buffer
	WriteSummary(&sum, res)
	if !strings.Contains(sum.String(), "shop.orders") || !strings.Contains(sum.String(), "complete") || !strings.Contains(sum.String(), " 3000 ") {
		t.Fatalf("summary:\n%s", sum.String())
	}
}
