package command

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/fluxo-cdc/fluxo/changes"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// recorder is a Registry that remembers the collectors registered in it.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var descName = regexp.MustCompile(`fqName: "([a-zA-Z0-9_:]+)"`)

// exportedMetrics returns the name of every metric a PostgreSQL stream
// registers (a MySQL stream registers all but the slot's), from the
// descriptors of what startOps and watchSlot register, and the sink's.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte("name: t\nsource: {dsn: 'postgres://u@127.0.0.1/db'}\nhttp: {listen: '127.0.0.1:0'}\n"),
		func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Registry: prometheus.NewRegistry()}
	x, err := startOps(cfg, StreamOptions{Metrics: rec}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer x.close()
	if err := x.metrics.RegisterPostgres(x.reg); err != nil {
		t.Fatal(err)
	}
	if _, err := changes.NewMetrics(rec); err != nil { // what fluxo sink adds
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range rec.collectors {
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := descName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no name in %s", d)
			}
			names[m[1]] = true
		}
	}
	return names
}

// metricRef matches what may name a metric in PromQL: an identifier not
// followed by "(" (a function) and not a label name inside braces (those
// are removed first).
var (
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	braces     = regexp.MustCompile(`\{[^}]*\}`)
	quoted     = regexp.MustCompile(`"[^"]*"`)
	grafanaVar = regexp.MustCompile(`\$(__rate_interval|__interval|__range|[a-z_]+)`)
)

// promqlWords are PromQL's keywords, functions and aggregation clause
// words, and the labels the dashboards group by.
var promqlWords = wordSet(`sum by without on ignoring group_left group_right and or unless rate increase irate
	histogram_quantile max min avg count time changes label_values offset bool le instance job table op component result
	topic partition`)

func wordSet(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}

// metricsOf returns the metric names an expression refers to.
func metricsOf(expr string) []string {
	e := quoted.ReplaceAllString(braces.ReplaceAllString(expr, ""), "")
	e = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(e, "") // range selectors: [5m]
	var out []string
	for _, id := range identifier.FindAllString(e, -1) {
		if !promqlWords[id] {
			out = append(out, id)
		}
	}
	return out
}

// known reports whether name is a metric in names, or one of the series a
// histogram exposes (_bucket, _sum, _count).
func known(names map[string]bool, name string) bool {
	if names[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && names[base] {
			return true
		}
	}
	return false
}

// dashboardExprs returns the queries of deploy/grafana/fluxo.json: its
// panels' targets and its variables' queries.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/grafana/fluxo.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Query any
			}
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/grafana/fluxo.json: %v", err)
	}
	exprs := map[string]string{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			exprs[fmt.Sprintf("panel %q query %d", p.Title, i+1)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			lv := q["query"].(string)
			inner := strings.TrimSuffix(strings.TrimPrefix(lv, "label_values("), ")")
			exprs["variable "+v.Name] = inner[:strings.LastIndexByte(inner, ',')]
		}
	}
	return exprs
}

// alertExprs returns the expressions of deploy/prometheus/alerts.yaml.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("deploy/prometheus/alerts.yaml: %v", err)
	}
	exprs := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	return exprs
}

// TestDashboardsAndAlerts: every query of the Grafana dashboard and every
// alert names only metrics fluxo exports, and at least one; promtool
// parses them all (the dashboard's queries with Grafana's variables
// filled in) and checks the alerting rules.
func TestDashboardsAndAlerts(t *testing.T) {
	names := exportedMetrics(t)
	exprs := dashboardExprs(t)
	for k, v := range alertExprs(t) {
		exprs[k] = v
	}
	if len(exprs) < 20 {
		t.Fatalf("only %d queries found in the dashboard and the alerts", len(exprs))
	}
	for where, expr := range exprs {
		refs := metricsOf(expr)
		if len(refs) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, m := range refs {
			if !known(names, m) {
				t.Errorf("%s: %q names %s, which fluxo does not export", where, expr, m)
			}
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing (Debian package prometheus; scripts/deps.sh test installs it)")
		}
		t.Skip("promtool is missing: scripts/deps.sh test installs it")
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	i := 0
	for _, expr := range exprs {
		i++
		e := grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
			if strings.HasPrefix(v, "$__") {
				return "5m"
			}
			return ".*"
		})
		b, _ := json.Marshal(e) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "      - record: fluxo:query_%d\n        expr: %s\n", i, b)
	}
	path := filepath.Join(t.TempDir(), "queries.yaml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, "../../deploy/prometheus/alerts.yaml"} {
		if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
		}
	}
}
