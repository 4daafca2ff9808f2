//go:build unix

package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

const (
	benchStack    = "../../testdata/bench/stack.yaml"
	benchChange   = "../../testdata/bench/stack-change.yaml"
	benchHelmfile = "../../testdata/bench/helmfile.yaml.gotmpl"
	benchHFChange = "../../testdata/bench/helmfile-change.yaml.gotmpl"
	benchRuns     = 3
)

// BenchmarkPeers compares kindred with helmfile sync and a serial script of
// helm upgrade --install --wait, on the same thirteen charts and the same
// simulated cluster, alternating, for a cold install, a no-op re-run and
// one changed value, on two graphs: a balanced one, where every pod turns
// Ready after a second, and an unbalanced one, where the CNI and
// cert-manager take far longer than the apps beside them (see
// unbalancedDelays). It prints every ratio and the graph's critical path,
// and writes the medians to bench/out/results.json (the unbalanced graph's
// prefixed unbalanced_). It asserts no timings.
func BenchmarkPeers(b *testing.B) {
	tools := os.Getenv("KINDRED_BENCH_TOOLS")
	if tools == "" {
		testbed.Missing(b, "KINDRED_BENCH_TOOLS names no folder with helm and helmfile; run testbed/bench/build.sh")
	}
	bin := buildKindred(b)
	// The graph's real charts come from the upstream folder, named to the
	// stack files and helmfile's templates alike.
	b.Setenv(testbed.UpstreamEnv, testbed.Upstream(b))
	runs := envInts(b, "KINDRED_BENCH_RUNS", []int{benchRuns})[0]
	all := map[string]float64{}
	var report strings.Builder
	for b.Loop() {
		for _, g := range []struct {
			prefix string
			delays []sim.ReadyDelay
		}{{"", nil}, {"unbalanced_", unbalancedDelays}} {
			// kwok makes every pod Ready after a second, like a fast real
			// start, but for the pods a rule slows down.
			c := testbed.Sim(b, sim.WithReadyDelay(time.Second, g.delays...))
			out := peers(b, c, bin, tools, runs)
			if err := c.Stop(); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&report, "%s\n", or(strings.TrimSuffix(g.prefix, "_"), "balanced"))
			writePeersReport(&report, out)
			for k, v := range out {
				all[g.prefix+k] = v
			}
		}
	}
	testbed.Publish(b, all, report.String())
}

// unbalancedDelays slow the pods of the benchmark graph's platform charts
// down the way a real cluster does: on a laptop with images cached, the
// CNI (the Tigera operator, then Calico's node agents) is the slowest
// start, cert-manager (whose webhook needs its own certificate and the CA
// injector before it answers) the next, monitoring next, and small apps
// are ready within seconds. The durations keep that order and rough
// proportions at about a quarter of a laptop's; they are chosen, not
// measured on this machine, which can pull no image.
var unbalancedDelays = []sim.ReadyDelay{
	{Label: "k8s-app=tigera-operator", Delay: 10 * time.Second},
	{Label: "app.kubernetes.io/instance=cert-manager", Delay: 8 * time.Second},
	{Label: "app.kubernetes.io/instance=prometheus", Delay: 4 * time.Second},
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// peers runs the three tools on c, alternating, runs times each, and
// returns the medians.
func peers(b *testing.B, c *sim.Cluster, bin, tools string, runs int) map[string]float64 {
	helmBin, helmfileBin := filepath.Join(tools, "helm"), filepath.Join(tools, "helmfile")
	// Widgets turn Ready as their operator would; helm and helmfile do not
	// wait for that, kindred does.
	testbed.PlayWidgets(b, c, 0)
	ctx := context.Background()
	kc, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	st, err := stack.Load(benchStack)
	if err != nil {
		b.Fatal(err)
	}
	p, err := plan.Build(st)
	if err != nil {
		b.Fatal(err)
	}
	var releases []string
	for _, s := range p.Steps { // by level: a valid serial order
		if s.Kind == plan.KindComponent {
			releases = append(releases, s.ID)
		}
	}
	env := append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "HELM_CACHE_HOME="+b.TempDir(), "HELM_CONFIG_HOME="+b.TempDir(), "HELM_DATA_HOME="+b.TempDir())
	run := func(name string, args ...string) (time.Duration, int64, []byte) {
		return runBench(ctx, b, env, name, args...)
	}
	reset := func() {
		for _, r := range releases {
			s, _ := p.Step(r)
			cmd := exec.CommandContext(ctx, helmBin, "uninstall", r, "-n", s.Component.Namespace, "--ignore-not-found", "--wait")
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("helm uninstall %s: %v\n%s", r, err, out)
			}
		}
		_ = kc.CoreV1().Secrets("kindred-system").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "kindred.dev/stack"})
	}
	var peakRSS int64
	res := map[string][]time.Duration{}
	kindredUp := func(file string, cold bool) time.Duration {
		d, rss, out := run(bin, "up", "--provider", "existing", "--kubeconfig", c.Kubeconfig, "-o", "json", file)
		peakRSS = max(peakRSS, rss)
		if cold {
			// The bounds come from each cold run's own step durations, so
			// they move with the cluster's speed at that moment.
			path, levels := bounds(p, out)
			res["critical_path_s"] = append(res["critical_path_s"], path)
			res["level_by_level_s"] = append(res["level_by_level_s"], levels)
		}
		return d
	}
	helmfileSync := func(file string) time.Duration {
		d, _, _ := run(helmfileBin, "--helm-binary", helmBin, "-f", file, "sync", "--concurrency", "0")
		return d
	}
	helmSerial := func() time.Duration {
		var total time.Duration
		for _, r := range releases {
			s, _ := p.Step(r)
			args := []string{"upgrade", "--install", r, s.Component.Chart.Path,
				"-n", s.Component.Namespace, "--create-namespace", "--wait", "--wait-for-jobs", "--timeout", "5m"}
			if len(s.Component.Values) > 0 {
				vals, err := json.Marshal(s.Component.Values)
				if err != nil {
					b.Fatal(err)
				}
				file := filepath.Join(b.TempDir(), r+"-values.json")
				if err := os.WriteFile(file, vals, 0o600); err != nil {
					b.Fatal(err)
				}
				args = append(args, "-f", file)
			}
			d, _, _ := run(helmBin, args...)
			total += d
		}

		return total
	}

	{
		for i := range runs {
			// Alternate which tool goes first, so neither always meets a
			// warmer cluster.
			order := []string{"kindred", "helmfile", "helm"}
			if i%2 == 1 {
				slices.Reverse(order)
			}
			for _, tool := range order {
				reset()
				switch tool {
				case "kindred":
					res["kindred_cold_s"] = append(res["kindred_cold_s"], kindredUp(benchStack, true))
					res["kindred_noop_s"] = append(res["kindred_noop_s"], kindredUp(benchStack, false))
					res["kindred_one_change_s"] = append(res["kindred_one_change_s"], kindredUp(benchChange, false))
				case "helmfile":
					res["helmfile_cold_s"] = append(res["helmfile_cold_s"], helmfileSync(benchHelmfile))
					res["helmfile_noop_s"] = append(res["helmfile_noop_s"], helmfileSync(benchHelmfile))
					res["helmfile_one_change_s"] = append(res["helmfile_one_change_s"], helmfileSync(benchHFChange))
				case "helm":
					res["helm_serial_cold_s"] = append(res["helm_serial_cold_s"], helmSerial())
				}
			}
		}
	}
	out := map[string]float64{"kindred_peak_rss_mb": float64(peakRSS) / (1 << 20)}
	for k, v := range res {
		out[k] = median(v).Seconds()
	}
	return out
}

// writePeersReport prints one graph's medians and ratios.
func writePeersReport(report *strings.Builder, out map[string]float64) {
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(report, "  %-24s %8.3f\n", k, out[k])
	}
	ratio := func(name string, a, c string) {
		fmt.Fprintf(report, "  %-40s %6.2fx\n", name, out[a]/out[c])
	}
	ratio("kindred cold / critical path", "kindred_cold_s", "critical_path_s")
	// helmfile runs its releases in groups, one level of the graph after
	// another; on the same step times that schedule can be no faster than
	// this, which bounds how far ahead any graph scheduler can get of it.
	ratio("level by level / critical path", "level_by_level_s", "critical_path_s")
	ratio("helmfile cold / kindred cold", "helmfile_cold_s", "kindred_cold_s")
	ratio("helm serial cold / kindred cold", "helm_serial_cold_s", "kindred_cold_s")
	ratio("helmfile no-op / kindred no-op", "helmfile_noop_s", "kindred_noop_s")
	ratio("helmfile one change / kindred one change", "helmfile_one_change_s", "kindred_one_change_s")
}

// bounds computes, from a cold run's JSON events, the two schedules its
// step durations allow: the critical path (the longest chain of durations
// along the needs edges, the physical limit) and the level-by-level one,
// where each level of the graph starts when the slowest step of the level
// before it is done (how helmfile runs its groups of releases).
func bounds(p *plan.Plan, out []byte) (path, levels time.Duration) {
	took := map[string]time.Duration{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e event.Event
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == event.StepSucceeded {
			took[e.Step] = e.Elapsed
		}
	}
	finish := map[string]time.Duration{}
	for _, s := range p.Steps { // sorted by level, so needs come first
		var start time.Duration
		for _, n := range s.Needs {
			start = max(start, finish[n])
		}
		finish[s.ID] = start + took[s.ID]
		path = max(path, finish[s.ID])
	}
	for _, ids := range p.Levels {
		var slowest time.Duration
		for _, id := range ids {
			slowest = max(slowest, took[id])
		}
		levels += slowest
	}
	return path, levels
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
