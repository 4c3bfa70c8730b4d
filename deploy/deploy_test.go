// Package deploy_test checks the operations files in deploy/: the Grafana
// dashboard covers every metric docs/metrics.md documents, and its queries
// and the alerting rules use only documented metrics, valid PromQL and
// runbook links that exist. promtool checks and unit-tests the rules
// themselves (make rules-check).
package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	dashboardFile = "grafana/switchyard-dashboard.json"
	rulesFile     = "prometheus/switchyard-alerts.yml"
	metricsDoc    = "../docs/metrics.md"
	runbookDoc    = "../docs/troubleshooting.md"
)

// pending are metrics the rules and the dashboard use ahead of the router,
// with the reason; once docs/metrics.md has one, this test asks to remove
// it from here.
var pending = map[string]string{}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func loadRules(t *testing.T) rules {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var r rules
	if err := yaml.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return r
}

var metricName = regexp.MustCompile(`switchyard_[a-z_]+`)

// metricsIn returns the switchyard metric families an expression reads
// (a histogram's _bucket, _count and _sum series are its family).
func metricsIn(expr string) []string {
	var out []string
	for _, m := range metricName.FindAllString(expr, -1) {
		for _, suf := range []string{"_bucket", "_count", "_sum"} {
			if strings.HasSuffix(m, suf) && (strings.HasPrefix(m, "switchyard_request_duration_seconds") || strings.HasPrefix(m, "switchyard_batch_size")) {
				m = strings.TrimSuffix(m, suf)
			}
		}
		out = append(out, m)
	}
	return out
}

// documented reads the metric names of docs/metrics.md's table.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(switchyard_[a-z_]+)` \\|")
	out := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if len(out) < 10 {
		t.Fatalf("read only %d metrics from %s's table: has its format changed?", len(out), metricsDoc)
	}
	return out
}

func TestDashboardIsWellFormed(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title (provisioning keys on the uid)")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["destination"] {
		t.Errorf("want the datasource and destination variables, have %v", vars)
	}
	ids := map[int]string{}
	queries := 0
	for _, p := range d.Panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
		}
		ids[p.ID] = p.Title
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v is outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource must be the ${datasource} variable, so the dashboard imports anywhere", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			if strings.Contains(q.Expr, "destination") && strings.Contains(q.Expr, "switchyard_events_total") && !strings.Contains(q.Expr, `destination=~"$destination"`) {
				t.Errorf("panel %q ignores the destination selector: %s", p.Title, q.Expr)
			}
		}
	}
	if queries < 20 {
		t.Errorf("only %d queries", queries)
	}
}

// Every documented metric has a panel, and every metric a panel or an
// alert reads is documented (or pending, with a reason).
func TestDashboardAndAlertsCoverTheDocumentedMetrics(t *testing.T) {
	doc := documented(t)
	d := loadDashboard(t)
	onDashboard := map[string]bool{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, m := range metricsIn(q.Expr) {
				onDashboard[m] = true
				if !doc[m] && pending[m] == "" {
					t.Errorf("panel %q reads %s, which %s does not document", p.Title, m, metricsDoc)
				}
			}
		}
	}
	for m := range doc {
		if !onDashboard[m] {
			t.Errorf("%s is documented in %s but no dashboard panel shows it", m, metricsDoc)
		}
	}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			for _, m := range metricsIn(r.Expr) {
				if !doc[m] && pending[m] == "" {
					t.Errorf("alert %s reads %s, which %s does not document", r.Alert, m, metricsDoc)
				}
			}
		}
	}
	for m, why := range pending {
		if doc[m] {
			t.Errorf("%s is documented now: remove it from pending (%s)", m, why)
		}
		if !onDashboard[m] {
			t.Errorf("pending metric %s is on no panel", m)
		}
	}
}

// Each alert has a severity, a summary naming what it is about, and a
// runbook link to a heading that exists.
func TestAlertsHaveRunbooksThatExist(t *testing.T) {
	b, err := os.ReadFile(runbookDoc)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			anchors[githubAnchor(strings.TrimLeft(line, "# "))] = true
		}
	}
	n := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			n++
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", r.Alert)
			}
			link := r.Annotations["runbook"]
			file, anchor, _ := strings.Cut(link, "#")
			if file != "docs/troubleshooting.md" || !anchors[anchor] {
				t.Errorf("%s: runbook %q: no such heading in %s (have %v)", r.Alert, link, runbookDoc, keys(anchors))
			}
		}
	}
	if n < 7 {
		t.Errorf("%d alerts, want at least the 7 documented ones", n)
	}
}

// The dashboard's queries are valid PromQL: each becomes a recording rule
// (Grafana's variables replaced by values) that promtool checks.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found: CI installs it (.ci/run: apt-get install prometheus)")
		}
		t.Skip("promtool not found (apt-get install prometheus); CI runs this")
	}
	d := loadDashboard(t)
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$destination", ".*")
	var exprs []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			exprs = append(exprs, a.Expr)
		}
	}
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rs []rule
	for i, e := range exprs {
		rs = append(rs, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: grafana.Replace(e)})
	}
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rs}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's %d queries: %v\n%s", len(rs), err, res)
	}
	if !strings.Contains(string(res), fmt.Sprintf("SUCCESS: %d rules found", len(rs))) {
		t.Errorf("promtool did not check all %d queries:\n%s", len(rs), res)
	}
}

// githubAnchor is the id GitHub gives a Markdown heading.
func githubAnchor(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestReadmeListsEveryAlert: deploy/README.md's alert table names every
// rule of the rules file, with its severity, and no rule that is gone.
func TestReadmeListsEveryAlert(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(Switchyard[A-Za-z]+)` \\| .* \\| (warning|critical) \\|$")
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		listed[m[1]] = m[2]
	}
	n := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			n++
			sev, ok := listed[r.Alert]
			switch {
			case !ok:
				t.Errorf("deploy/README.md: the alert table has no row for %s", r.Alert)
			case sev != r.Labels["severity"]:
				t.Errorf("deploy/README.md: %s is listed as %s, the rule says %s", r.Alert, sev, r.Labels["severity"])
			}
			delete(listed, r.Alert)
		}
	}
	for name := range listed {
		t.Errorf("deploy/README.md lists %s, which %s does not define", name, rulesFile)
	}
	if n == 0 {
		t.Fatal("precondition: no rules read")
	}
}
