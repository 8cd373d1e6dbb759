package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
)

// TestPGGenerator checks that the queued SQL holds one BEGIN ... COMMIT per
// planned transaction and that the counts add up to the requested rows.
func TestPGGenerator(t *testing.T) {
	const rows = 20_000
	sizes := mixedSizes(rows)
	g := &pgGenerator{ids: newIDPlanner()}
	for _, s := range sizes {
		g.queueTx(s)
	}
	sql := g.batch.String()
	if got := g.ids.ops.Total(); got != rows {
		t.Errorf("%d row changes, want %d", got, rows)
	}
	if g.txs != len(sizes) || strings.Count(sql, "BEGIN;") != g.txs || strings.Count(sql, "COMMIT;") != g.txs {
		t.Errorf("%d transactions, %d BEGIN, %d COMMIT; want %d", g.txs, strings.Count(sql, "BEGIN;"), strings.Count(sql, "COMMIT;"), len(sizes))
	}
	if live := int64(g.ids.hi - g.ids.lo); live != g.ids.ops.Inserts-g.ids.ops.Deletes {
		t.Errorf("%d live rows, want inserts - deletes = %d", live, g.ids.ops.Inserts-g.ids.ops.Deletes)
	}
	for _, op := range []string{"INSERT INTO t", "UPDATE t SET", "DELETE FROM t"} {
		if !strings.Contains(sql, op) {
			t.Errorf("no %q in the backlog", op)
		}
	}
}

// TestCountMessage checks that the parse-only count stops at the commit
// that completes the wanted row changes.
func TestCountMessage(t *testing.T) {
	var res parseResult
	msgs := []pglogrepl.Message{&pglogrepl.BeginMessage{}, &pglogrepl.InsertMessage{}, &pglogrepl.UpdateMessage{},
		&pglogrepl.CommitMessage{}, &pglogrepl.BeginMessage{}, &pglogrepl.RelationMessage{}, &pglogrepl.DeleteMessage{}}
	for _, m := range msgs {
		if countMessage(m, 3, &res) {
			t.Fatalf("done before the last commit: %+v", res)
		}
	}
	if !countMessage(&pglogrepl.CommitMessage{}, 3, &res) {
		t.Fatalf("not done at the last commit: %+v", res)
	}
	if want := (opCounts{Inserts: 1, Updates: 1, Deletes: 1}); res.Ops != want || res.Txs != 2 {
		t.Errorf("counted %+v in %d transactions, want %+v in 2", res.Ops, res.Txs, want)
	}
}

// TestPGNames covers the slot names and the replication DSN.
func TestPGNames(t *testing.T) {
	if got := slotName("parse", 0); got != "bench_parse_1" {
		t.Errorf("slotName(parse, 0) = %q", got)
	}
	if got := slotName("fluxo", -1); got != "bench_fluxo_big" {
		t.Errorf("slotName(fluxo, -1) = %q", got)
	}
	for dsn, want := range map[string]string{
		"postgres://u@h:1/db?sslmode=disable": "postgres://u@h:1/db?sslmode=disable&replication=database",
		"postgres://u@h:1/db":                 "postgres://u@h:1/db?replication=database",
	} {
		if got := replicationDSN(dsn); got != want {
			t.Errorf("replicationDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// TestParseFlagsSource checks -source and its limits.
func TestParseFlagsSource(t *testing.T) {
	for args, ok := range map[string]bool{
		"":                               true,
		"-source postgres":               true,
		"-source postgres -repeat 8":     true,
		"-source postgres -repeat 9":     false,
		"-source mysql -repeat 9":        true,
		"-source oracle":                 false,
		"-source postgres -rows 999":     false,
		"-parse-cpuprofile p -rows 1000": true,
	} {
		o, err := parseFlags(strings.Fields(args), io.Discard)
		if (err == nil) != ok {
			t.Errorf("parseFlags(%q): err %v, want ok=%v", args, err, ok)
		}
		if err == nil && args == "" && o.source != "mysql" {
			t.Errorf("default -source %q, want mysql", o.source)
		}
	}
}

// TestMedianRates checks that the ratio is taken against the faster
// parse-only loop of each round.
func TestMedianRates(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	parse := func(s float64) parseResult { return parseResult{Ops: opCounts{Inserts: 1000}, Elapsed: sec(s)} }
	r := pgResults{Backlog: &pgBacklog{Ops: opCounts{Inserts: 1000}}, Rounds: []pgRound{
		{Parse: [2]parseResult{parse(2), parse(1)}, Full: fluxoResult{Elapsed: sec(1.25)}}, // 800/s vs 1000/s
		{Parse: [2]parseResult{parse(1), parse(2)}, Full: fluxoResult{Elapsed: sec(2)}},    // 500/s vs 1000/s
		{Parse: [2]parseResult{parse(4), parse(1)}, Full: fluxoResult{Elapsed: sec(1)}},    // 1000/s vs 1000/s
	}}
	m := medianRates(r)
	if m.ratio != 0.8 || m.fluxo != 800 || m.parse[0] != 500 || m.parse[1] != 1000 {
		t.Errorf("medianRates = %+v, want ratio 0.8, fluxo 800, parse [500 1000]", m)
	}
}
