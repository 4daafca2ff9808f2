package testbed

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// MergeResults writes out's figures into the file KINDRED_BENCH_OUT names
// (make bench: bench/out/results.json), keeping those of the other
// benchmarks, and the table of them all beside it (results.md). Without it (make test's single smallest run) they are only
// printed.
func MergeResults(b testing.TB, out map[string]float64) {
	resultsFile := os.Getenv("KINDRED_BENCH_OUT")
	if resultsFile == "" {
		return
	}
	all := map[string]float64{}
	if data, err := os.ReadFile(resultsFile); err == nil {
		if err := json.Unmarshal(data, &all); err != nil {
			b.Fatalf("%s: %v", resultsFile, err)
		}
	}
	maps.Copy(all, out)
	if err := os.MkdirAll(filepath.Dir(resultsFile), 0o755); err != nil {
		b.Fatal(err)
	}
	data, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(resultsFile, append(data, '\n'), 0o644); err != nil {
		b.Fatal(err)
	}
	// The table of every figure so far, for the README.
	table := strings.TrimSuffix(resultsFile, filepath.Ext(resultsFile)) + ".md"
	if err := os.WriteFile(table, []byte(Table(all)), 0o644); err != nil {
		b.Fatal(err)
	}
}

// Publish reports a benchmark's figures: each as a metric of b, report
// in b's log and on standard output, and the figures merged into the
// results file (MergeResults).
func Publish(b *testing.B, out map[string]float64, report string) {
	b.Helper()
	for _, k := range slices.Sorted(maps.Keys(out)) {
		b.ReportMetric(out[k], k)
	}
	b.Log("\n" + report)
	fmt.Print(report)
	MergeResults(b, out)
}

// Table renders the benchmark figures as the README's markdown table: each
// measure with kindred's median, its peer's (the critical path, helmfile,
// helm, polling, kind's CLI) and their ratio. Rows whose figures are
// missing are left out.
func Table(r map[string]float64) string {
	var b strings.Builder
	b.WriteString("| Measure | kindred | Beside it | Ratio |\n|---|---|---|---|\n")
	row := func(measure, unit, k, peerName, p string) {
		v, ok := r[k]
		if !ok {
			return
		}
		if p == "" {
			fmt.Fprintf(&b, "| %s | %s | | |\n", measure, num(v, unit))
			return
		}
		pv, ok := r[p]
		if !ok || v == 0 {
			return
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s | %.2f× |\n", measure, num(v, unit), peerName, num(pv, unit), pv/v)
	}
	for _, g := range []struct{ name, prefix string }{{"balanced graph", ""}, {"unbalanced graph", "unbalanced_"}} {
		p := g.prefix
		row("Cold install, 13 charts, "+g.name, "s", p+"kindred_cold_s", "critical path", p+"critical_path_s")
		row("Cold install, 13 charts, "+g.name, "s", p+"kindred_cold_s", "helmfile", p+"helmfile_cold_s")
		row("Cold install, 13 charts, "+g.name, "s", p+"kindred_cold_s", "serial helm", p+"helm_serial_cold_s")
		row("Cold install, 13 charts, "+g.name, "s", p+"kindred_cold_s", "level by level (bound)", p+"level_by_level_s")
		row("No-op re-run, "+g.name, "s", p+"kindred_noop_s", "helmfile", p+"helmfile_noop_s")
		row("One changed value, "+g.name, "s", p+"kindred_one_change_s", "helmfile", p+"helmfile_one_change_s")
		row("Peak RSS, "+g.name, "MB", p+"kindred_peak_rss_mb", "", "")
	}
	for _, n := range scaleSizes(r) {
		p := fmt.Sprintf("scale_%d_", n)
		c := fmt.Sprintf("%d components: ", n)
		row(c+"validate + plan", "ms", p+"validate_plan_ms", "", "")
		row(c+"cold install", "s", p+"cold_s", "critical path", p+"critical_path_s")
		row(c+"cold install", "s", p+"cold_s", "helmfile", p+"helmfile_cold_s")
		// helmfile ran at the smaller sizes only.
		helmfile := func(k string) (string, string) {
			if _, ok := r[p+"helmfile_"+k]; ok {
				return "helmfile", p + "helmfile_" + k
			}
			return "", ""
		}
		name, peer := helmfile("noop_s")
		row(c+"no-op re-run", "s", p+"noop_s", name, peer)
		name, peer = helmfile("one_change_s")
		row(c+"one changed value", "s", p+"one_change_s", name, peer)
		row(c+"peak RSS", "MB", p+"peak_rss_mb", "", "")
		row(c+"API requests, cold", "", p+"requests_cold", "", "")
		row(c+"API requests, no-op", "", p+"requests_noop", "", "")
	}
	row("Readiness wait: requests per object (20 objects, 3 s)", "", "ready_watch_requests_per_object", "polling", "ready_poll_requests_per_object")
	row("Readiness wait: returned after the last object turned ready", "ms", "ready_watch_detect_ms", "polling", "ready_poll_detect_ms")
	row("kind cluster, one node: create", "s", "cluster_kindred_create_s", "kind create cluster", "cluster_kind_create_s")
	row("kind cluster, one node: delete", "s", "cluster_kindred_delete_s", "kind delete cluster", "cluster_kind_delete_s")
	row("Image pulls at 50 Mbit/s, real kind: up, cold cache", "s", "pulls_cold_s", "", "")
	row("Image pulls at 50 Mbit/s, real kind: up, warm cache", "s", "pulls_warm_s", "cold cache", "pulls_cold_s")
	row("Image pulls at 50 Mbit/s, real kind: up, prefetch while booting", "s", "pulls_prefetch_s", "cold cache", "pulls_cold_s")
	row("Image pulls: from the upstream, cold cache", "MB", "pulls_cold_upstream_mb", "", "")
	row("Image pulls: from the upstream, warm cache", "MB", "pulls_warm_upstream_mb", "", "")
	row("Image pulls: from the upstream, prefetch", "MB", "pulls_prefetch_upstream_mb", "", "")
	row("Image pulls: requests the upstream answered, cold cache", "", "pulls_cold_upstream_requests", "", "")
	row("Image pulls: requests the upstream answered, warm cache", "", "pulls_warm_upstream_requests", "", "")
	row("Image pulls: requests the upstream answered, prefetch", "", "pulls_prefetch_upstream_requests", "", "")
	return b.String()
}

// scaleSizes are the stack sizes the scaling benchmark measured.
func scaleSizes(r map[string]float64) []int {
	var out []int
	for k := range r {
		if rest, ok := strings.CutPrefix(k, "scale_"); ok {
			if n, ok := strings.CutSuffix(rest, "_cold_s"); ok && !strings.Contains(n, "_") {
				if v, err := strconv.Atoi(n); err == nil {
					out = append(out, v)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func num(v float64, unit string) string {
	switch {
	case unit == "":
		return strconv.FormatFloat(v, 'f', -1, 64)
	case unit == "MB" && v < 0.01:
		return fmt.Sprintf("%.0f bytes", v*1e6)
	case v < 10:
		return fmt.Sprintf("%.2f %s", v, unit)
	default:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
}
