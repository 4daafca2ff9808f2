//go:build unix

package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

// scaleSeed fixes the generated graphs, so every run measures the same ones.
const scaleSeed = 24

// BenchmarkScaling measures kindred on generated stacks of 10, 50 and 200
// components from the test charts (random but seeded dependency graphs;
// KINDRED_BENCH_SIZES picks others, KINDRED_BENCH_RUNS the runs per size),
// each run on a fresh simulated cluster of three nodes whose pods turn
// Ready after a second: validate and plan, a cold install against the graph's critical
// path (from the run's own step times), a no-op re-run and one changed
// value, kindred's peak RSS, and the API requests kindred made, by verb,
// from the API server's audit log. helmfile installs the same graphs at 10
// and 50 components. Medians go to bench/out/results.json. It asserts no
// timings.
func BenchmarkScaling(b *testing.B) {
	sizes := envInts(b, "KINDRED_BENCH_SIZES", []int{10, 50, 200})
	runs := envInts(b, "KINDRED_BENCH_RUNS", []int{3})[0]
	tools := os.Getenv("KINDRED_BENCH_TOOLS")
	if tools == "" {
		testbed.Missing(b, "KINDRED_BENCH_TOOLS names no folder with helm and helmfile; run testbed/bench/build.sh")
	}
	helmBin, helmfileBin := filepath.Join(tools, "helm"), filepath.Join(tools, "helmfile")
	bin := buildKindred(b)
	charts, err := filepath.Abs("../../testdata/charts")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	out := map[string]float64{}
	var report strings.Builder
	for b.Loop() {
		for _, n := range sizes {
			dir := b.TempDir()
			data := testbed.GenerateStack(n, scaleSeed, charts)
			stackFile, changeFile := filepath.Join(dir, "stack.yaml"), filepath.Join(dir, "change.yaml")
			writeBenchFile(b, stackFile, data)
			// One value of a component in the middle of the graph.
			writeBenchFile(b, changeFile, fmt.Appendf(nil, "include: [stack.yaml]\ncomponents:\n  - name: c%03d\n    values: {bench: {changed: true}}\n", n/2))
			p := validatePlanTimes(b, data, out, n)
			hf, hfChange := writeHelmfiles(b, dir, p, n/2)

			res := map[string][]float64{}
			var peak int64
			for i := range runs {
				// Alternate who goes first.
				order := []string{"kindred", "helmfile"}
				if i%2 == 1 {
					slices.Reverse(order)
				}
				for _, tool := range order {
					if tool == "helmfile" && n > 50 {
						continue
					}
					// Three nodes of 250 pods: 200 components run about 550.
					c := testbed.Sim(b, sim.WithReadyDelay(time.Second), sim.WithAuditLog(),
						sim.WithNodes(sim.Node{Name: "control-plane", Count: 1, ControlPlane: true}, sim.Node{Name: "worker", Count: 2}))
					env := append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "XDG_STATE_HOME="+b.TempDir(),
						"HELM_CACHE_HOME="+b.TempDir(), "HELM_CONFIG_HOME="+b.TempDir(), "HELM_DATA_HOME="+b.TempDir())
					var at int64
					requests := func(phase string) {
						counts, next, err := testbed.AuditCount(c.AuditLog, at, "kindred/")
						if err != nil {
							b.Fatal(err)
						}
						at = next
						sum := 0
						for verb, k := range counts {
							res["requests_"+phase+"_"+verb] = append(res["requests_"+phase+"_"+verb], float64(k))
							sum += k
						}
						res["requests_"+phase] = append(res["requests_"+phase], float64(sum))
					}
					switch tool {
					case "kindred":
						up := func(file string) (time.Duration, []byte) {
							d, rss, o := runBench(ctx, b, env, bin, "up", "--provider", "existing", "--kubeconfig", c.Kubeconfig, "-o", "json", file)
							peak = max(peak, rss)
							return d, o
						}
						d, o := up(stackFile)
						path, _ := bounds(p, o)
						res["cold_s"] = append(res["cold_s"], d.Seconds())
						res["critical_path_s"] = append(res["critical_path_s"], path.Seconds())
						requests("cold")
						d, _ = up(stackFile)
						res["noop_s"] = append(res["noop_s"], d.Seconds())
						requests("noop")
						d, o = up(changeFile)
						res["one_change_s"] = append(res["one_change_s"], d.Seconds())
						res["one_change_steps_changed"] = append(res["one_change_steps_changed"], float64(changedSteps(o)))
						requests("one_change")
					case "helmfile":
						sync := func(file string) float64 {
							// --skip-deps: the test charts carry their subcharts, and
							// helm dependency build would write a Chart.lock into them.
							d, _, _ := runBench(ctx, b, env, helmfileBin, "--helm-binary", helmBin, "-f", file, "sync", "--skip-deps", "--concurrency", "0")
							return d.Seconds()
						}
						res["helmfile_cold_s"] = append(res["helmfile_cold_s"], sync(hf))
						res["helmfile_noop_s"] = append(res["helmfile_noop_s"], sync(hf))
						res["helmfile_one_change_s"] = append(res["helmfile_one_change_s"], sync(hfChange))
					}
					if err := c.Stop(); err != nil {
						b.Fatal(err)
					}
				}
			}
			prefix := fmt.Sprintf("scale_%d_", n)
			for k, v := range res {
				out[prefix+k] = medianOf(v)
			}
			out[prefix+"peak_rss_mb"] = float64(peak) / (1 << 20)
			fmt.Fprintf(&report, "%d components: validate+plan %.1f ms; cold %.2f s (critical path %.2f s, %.3fx); no-op %.3f s; one change %.2f s; peak RSS %.0f MB; requests cold %.0f, no-op %.0f",
				n, out[prefix+"validate_plan_ms"], out[prefix+"cold_s"], out[prefix+"critical_path_s"], out[prefix+"cold_s"]/out[prefix+"critical_path_s"],
				out[prefix+"noop_s"], out[prefix+"one_change_s"], out[prefix+"peak_rss_mb"], out[prefix+"requests_cold"], out[prefix+"requests_noop"])
			if hfc, ok := out[prefix+"helmfile_cold_s"]; ok {
				fmt.Fprintf(&report, "; helmfile cold %.2f s (%.2fx kindred), no-op %.2f s (%.0fx), one change %.2f s (%.1fx)",
					hfc, hfc/out[prefix+"cold_s"], out[prefix+"helmfile_noop_s"], out[prefix+"helmfile_noop_s"]/out[prefix+"noop_s"],
					out[prefix+"helmfile_one_change_s"], out[prefix+"helmfile_one_change_s"]/out[prefix+"one_change_s"])
			}
			report.WriteString("\n")
		}
	}
	testbed.Publish(b, out, report.String())
}

// changedSteps counts the steps a run's JSON events call changed.
func changedSteps(out []byte) int {
	n := 0
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, `"type":"succeeded"`) && strings.Contains(line, `"changed":true`) {
			n++
		}
	}
	return n
}

// validatePlanTimes records the median time, over five runs, to load,
// validate and plan the stack data, and returns its plan.
func validatePlanTimes(b *testing.B, data []byte, out map[string]float64, n int) *plan.Plan {
	var p *plan.Plan
	var took []float64
	for range 5 {
		start := time.Now()
		st, err := stack.Parse("generated.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if p, err = plan.Build(st); err != nil {
			b.Fatal(err)
		}
		took = append(took, float64(time.Since(start).Microseconds())/1000)
	}
	out[fmt.Sprintf("scale_%d_validate_plan_ms", n)] = medianOf(took)
	return p
}

// writeHelmfiles writes helmfile's form of plan p's graph, and the same
// with one value changed for component c<changed>, as the stack does.
func writeHelmfiles(b *testing.B, dir string, p *plan.Plan, changed int) (hf, hfChange string) {
	write := func(name, change string) string {
		var w strings.Builder
		w.WriteString("helmDefaults: {wait: true, waitForJobs: true, createNamespace: true, timeout: 300}\nreleases:\n")
		for _, s := range p.Steps {
			if s.Kind != plan.KindComponent {
				continue
			}
			fmt.Fprintf(&w, "  - name: %s\n    namespace: %s\n    chart: %s\n", s.ID, s.Component.Namespace, s.Component.Chart.Path)
			var needs []string
			for _, n := range s.Needs {
				if d, ok := p.Step(n); ok && d.Kind == plan.KindComponent {
					needs = append(needs, d.Component.Namespace+"/"+n)
				}
			}
			if len(needs) > 0 {
				fmt.Fprintf(&w, "    needs: [%s]\n", strings.Join(needs, ", "))
			}
			if s.ID == change {
				w.WriteString("    values: [{bench: {changed: true}}]\n")
			}
		}
		file := filepath.Join(dir, name)
		writeBenchFile(b, file, []byte(w.String()))
		return file
	}
	return write("helmfile.yaml", ""), write("helmfile-change.yaml", fmt.Sprintf("c%03d", changed))
}

// runBench runs a command to its end and returns how long it took, its
// peak RSS and its output; a failure ends the benchmark.
func runBench(ctx context.Context, b *testing.B, env []string, name string, args ...string) (time.Duration, int64, []byte) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		// The failed steps first: a big stack's output is long.
		var failed []string
		for line := range strings.Lines(out.String()) {
			if strings.Contains(line, `"type":"failed"`) {
				failed = append(failed, strings.TrimSpace(line))
			}
		}
		b.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(name), strings.Join(args, " "), err, strings.Join(failed, "\n"), tail(out.Bytes(), 2000))
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	return time.Since(start), rss, out.Bytes()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func writeBenchFile(b *testing.B, path string, data []byte) {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

// envInts reads a comma-separated list of numbers from the environment.
func envInts(b *testing.B, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want positive numbers separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
