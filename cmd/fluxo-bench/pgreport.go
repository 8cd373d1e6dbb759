package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets of the PostgreSQL catch-up benchmark; the RSS target is
// targetRSS.
const pgTargetRatio = 0.70 // of the parse-only rate

// pgServerCPU is the index of the server's CPU time in a pass's CPU times.
const pgServerCPU = 2

// printPGReport prints the backlog, the passes and the targets.
func printPGReport(w io.Writer, r pgResults) {
	bl, big := r.Backlog, r.BigTx
	fmt.Fprintf(w, "\nfluxo-bench: PostgreSQL (pgoutput) catch-up into kfake (child process) + srfake (%s, GOMAXPROCS %d, %d CPUs)\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "backlog: %s row changes (c %s / u %s / d %s) in %s transactions of 1 to 1,000 rows; %s of WAL; built in %s\n",
		thousands(bl.Ops.Total()), thousands(bl.Ops.Inserts), thousands(bl.Ops.Updates), thousands(bl.Ops.Deletes),
		thousands(int64(bl.Txs)), mb(bl.WALBytes), bl.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "big transaction (second phase, own slots): one INSERT of %s rows; %s of WAL; built in %s\n\n",
		thousands(int64(big.Rows)), mb(big.WALBytes), big.Elapsed.Round(time.Millisecond))
	printPGPasses(w, r)
	fmt.Fprintf(w, "\nEach full fluxo pass produced %s records (deletes add a tombstone). kfake child RSS at the end %s (peak %s), not counted above.\n",
		thousands(r.Rounds[0].Full.Records), mb(r.BrokerRSS), mb(r.BrokerHWM))
	fmt.Fprintln(w, "Each pass reads its own slot from the start, connection included. \"postgres\" is the postmaster and all its children (the")
	fmt.Fprintln(w, "walsender decoding the slot); the big transaction is sent only once the walsender decoded all of it.")
	printPGTargets(w, r)
	if r.ProfilePath != "" {
		fmt.Fprintf(w, "\nCPU profile of the first full fluxo pass: go tool pprof -top %s\n", r.ProfilePath)
	}
}

// printPGPasses prints the passes table.
func printPGPasses(w io.Writer, r pgResults) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pass\trow changes\telapsed\trows/s\tself CPU µs/row\tpostgres CPU µs/row\tCPU cores self/broker/postgres/others\tRSS peak\tRSS median\tRSS HWM\t")
	for i, rd := range r.Rounds {
		for k, v := range parseVariants {
			p := rd.Parse[k]
			printPGRow(tw, passRow{fmt.Sprintf("%s #%d", v.Label, i+1), p.Ops.Total(), p.Elapsed, p.CPU, p.RSS})
		}
		printPGRow(tw, passRow{fmt.Sprintf("fluxo, full backlog #%d", i+1), r.Backlog.Ops.Total(), rd.Full.Elapsed, rd.Full.CPU, rd.Full.RSS})
	}
	suffix := ", " + thousands(int64(r.BigTx.Rows)) + "-row tx"
	for k, v := range parseVariants {
		p := r.BigParse[k]
		printPGRow(tw, passRow{v.Label + suffix, p.Ops.Total(), p.Elapsed, p.CPU, p.RSS})
	}
	printPGRow(tw, passRow{"fluxo" + suffix, int64(r.BigTx.Rows), r.Big.Elapsed, r.Big.CPU, r.Big.RSS})
	tw.Flush()
}

// printPGRow prints one pass with the server's CPU per row after fluxo's.
func printPGRow(tw io.Writer, p passRow) {
	c := p.cells()
	c = slices.Insert(c, 5, p.perRow(pgServerCPU))
	fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
}

// pgRates are the medians over the rounds of the full-backlog rates.
type pgRates struct {
	parse [len(parseVariants)]float64 // per parse-only variant
	fluxo float64
	ratio float64 // fluxo over the faster parse-only variant of its round
}

// medianRates computes pgRates from the rounds.
func medianRates(r pgResults) pgRates {
	var out pgRates
	var parse [len(parseVariants)][]float64
	var fluxo, ratios []float64
	for _, rd := range r.Rounds {
		best := 0.0
		for k, p := range rd.Parse {
			rate := float64(p.Ops.Total()) / p.Elapsed.Seconds()
			parse[k], best = append(parse[k], rate), max(best, rate)
		}
		f := float64(r.Backlog.Ops.Total()) / rd.Full.Elapsed.Seconds()
		fluxo, ratios = append(fluxo, f), append(ratios, f/best)
	}
	for k := range parse {
		out.parse[k] = median(parse[k])
	}
	out.fluxo, out.ratio = median(fluxo), median(ratios)
	return out
}

// printPGTargets prints each target with PASS or FAIL, judged on the
// medians over the rounds against the faster parse-only loop, and the
// absolute rates.
func printPGTargets(w io.Writer, r pgResults) {
	m := medianRates(r)
	bigPeak := max(r.Big.RSS.Peak, r.Big.RSS.HWM)
	bigRows := thousands(int64(r.BigTx.Rows))
	fmt.Fprintf(w, "\ntargets (medians over %d round(s); parse-only: the faster loop of each round):\n", len(r.Rounds))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  fluxo >= %.0f%% of parse-only\t%.1f%%\t%s\n", pgTargetRatio*100, m.ratio*100, verdict(m.ratio >= pgTargetRatio))
	fmt.Fprintf(tw, "  RSS <= %s during the %s-row tx (peak)\t%s\t%s\n", mb(targetRSS), bigRows, mb(bigPeak), verdict(bigPeak <= targetRSS))
	tw.Flush()
	fmt.Fprintf(w, "\nrates (row changes/s), full backlog: fluxo %s; %s %s (fluxo %.0f%%); %s %s (fluxo %.0f%%)\n",
		thousands(int64(m.fluxo)), parseVariants[0].Label, thousands(int64(m.parse[0])), 100*m.fluxo/m.parse[0],
		parseVariants[1].Label, thousands(int64(m.parse[1])), 100*m.fluxo/m.parse[1])
	rate := func(d time.Duration) string { return thousands(int64(float64(r.BigTx.Rows) / d.Seconds())) }
	fmt.Fprintf(w, "rates (row changes/s), %s-row tx: fluxo %s; %s %s; %s %s\n", bigRows, rate(r.Big.Elapsed),
		parseVariants[0].Label, rate(r.BigParse[0].Elapsed), parseVariants[1].Label, rate(r.BigParse[1].Elapsed))
}
