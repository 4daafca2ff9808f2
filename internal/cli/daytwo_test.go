package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kindred.dev/kindred/internal/eventschema"
	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/sim"
)

// A developer's day on simulated clusters, with no --provider and no
// stack file after up: clusters are found by name (or as the only one),
// every "next" hint up prints runs, stop keeps what the cluster holds and
// start brings it back, two clusters live side by side, down deletes a
// simulated cluster whole, and a cluster deleted behind kindred's back is
// reported as gone.
func TestIntegrationDayTwo(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("KINDRED_DIAGNOSTICS", filepath.Join(home, "diagnostics"))
	work := t.TempDir()
	t.Chdir(work) // no ./kindred.yaml here
	shop := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(shop, []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
cluster:
  name: shop
  nodes: [{role: control-plane}]
databases:
  - {name: orders, engine: postgres}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		var out bytes.Buffer
		began := time.Now()
		code := Run(args, strings.NewReader(""), &out, &out, os.LookupEnv)
		t.Logf("kindred %s: exit %d in %s", strings.Join(args, " "), code, time.Since(began).Round(time.Millisecond))
		return out.String(), code
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := run(args...)
		if code != ExitOK {
			t.Fatalf("kindred %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	t.Cleanup(func() {
		for _, name := range []string{"shop", "minimal"} {
			_, _ = run("down", name)
		}
	})

	out := must("up", "-o", "text", "--provider", "sim", shop)
	next := regexp.MustCompile(`(?m)^next\s+(.*)$`).FindStringSubmatch(out)
	if next == nil {
		t.Fatalf("up printed no next hints:\n%s", out)
	}
	hints := strings.Split(next[1], "   ·   ")
	want := []string{"kindred status shop", "kindred env shop", "kindred stop shop", "kindred down shop"}
	for _, w := range want {
		if !strings.Contains(next[1], w) {
			t.Errorf("the hints %q lack %q", next[1], w)
		}
	}

	// The GitHub face: a run's job summary, and env's exports to
	// $GITHUB_ENV with every password masked first.
	summary, ghenv := filepath.Join(home, "summary.md"), filepath.Join(home, "github.env")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	t.Setenv("GITHUB_ENV", ghenv)
	if out := must("up", "shop", "-o", "github"); !strings.Contains(out, "::group::unchanged orders") {
		t.Errorf("up -o github has no group per step:\n%s", out)
	}
	if b, err := os.ReadFile(summary); err != nil || !strings.Contains(string(b), "| `orders` | unchanged |") || !strings.Contains(string(b), "```mermaid\ngantt") ||
		!strings.Contains(string(b), "postgres://kindred:****@") {
		t.Errorf("the job summary: %v\n%s", err, b)
	}
	out = must("env", "shop", "-o", "github")
	b, err := os.ReadFile(ghenv)
	m := regexp.MustCompile(`(?m)^ORDERS_URL=postgres://kindred:([^@]+)@127\.0\.0\.1:\d+/orders`).FindSubmatch(b)
	if err != nil || m == nil || !strings.Contains(string(b), "KUBECONFIG=") {
		t.Fatalf("$GITHUB_ENV after env -o github: %v\n%s", err, b)
	}
	pw := string(m[1])
	if !strings.HasPrefix(out, "::add-mask::"+pw+"\n") || strings.Count(out, pw) != 2 {
		t.Errorf("env -o github must mask the password before anything, and print it nowhere else:\n%s", out)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	t.Setenv("GITHUB_ENV", "")
	// Every line of the JSON stream matches the published schema.
	if n, err := eventschema.Check([]byte(must("up", "shop", "-o", "json"))); err != nil || n < 5 {
		t.Errorf("up -o json against the events schema: %d lines: %v", n, err)
	}

	// Something to find again after stop and start.
	kubeconfig := strings.TrimSpace(must("kubeconfig", "shop"))
	cs := clientFor(t, kubeconfig)
	ctx := context.Background()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Every hint but down runs as printed, by name; status and env also as
	// the only cluster, with no argument at all.
	for _, h := range hints {
		if !strings.HasPrefix(h, "kindred ") || strings.HasPrefix(h, "kindred down") {
			continue
		}
		args := append(strings.Fields(strings.TrimPrefix(h, "kindred ")), "-o", "text")
		out := must(args...)
		switch args[0] {
		case "status":
			if !strings.Contains(out, "orders") || !strings.Contains(out, "healthy") {
				t.Errorf("%s:\n%s", h, out)
			}
		case "env":
			if !strings.Contains(out, "export ORDERS_URL='postgres://") || !strings.Contains(out, "@127.0.0.1:") || !strings.Contains(out, "kindred forward shop") {
				t.Errorf("%s:\n%s", h, out)
			}
		case "stop":
			if !strings.Contains(out, "kindred start shop") {
				t.Errorf("%s:\n%s", h, out)
			}
		}
	}
	if out, code := run("status", "-o", "text"); code != ExitFailure || !strings.Contains(out, "stopped") || !strings.Contains(out, "kindred start shop") {
		t.Errorf("status of the stopped cluster: exit %d\n%s", code, out)
	}
	if out := must("ls", "-o", "json"); !strings.Contains(out, `"state": "stopped"`) {
		t.Errorf("ls after stop:\n%s", out)
	}
	must("start", "shop", "-o", "text")
	cs = clientFor(t, strings.TrimSpace(must("kubeconfig", "shop")))
	if cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil || cm.Data["k"] != "v" {
		t.Errorf("the ConfigMap made before stop, after start: %v %v", cm, err)
	}
	if out := must("status", "-o", "text"); !strings.Contains(out, "orders") {
		t.Errorf("status as the only cluster:\n%s", out)
	}

	// A second cluster: names are needed now, and both are listed.
	must("up", "-o", "text", "--provider", "sim", "builtin:minimal")
	if out, code := run("status", "-o", "text"); code != ExitBadInput || !strings.Contains(out, "name one: minimal, shop") {
		t.Errorf("status with two clusters and no name: exit %d\n%s", code, out)
	}
	var list []clusterEntry
	if err := json.Unmarshal([]byte(must("ls", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "minimal" || list[1].Name != "shop" || list[0].State != "running" || list[1].State != "running" || list[1].Source != shop {
		t.Errorf("ls with two clusters: %+v", list)
	}
	if out := must("status", "minimal", "-o", "text"); !strings.Contains(out, `stack "minimal"`) {
		t.Errorf("status minimal:\n%s", out)
	}
	if out, code := run("status", "nothing-here", "-o", "text"); code != ExitBadInput || !strings.Contains(out, "kindred ls lists them") {
		t.Errorf("status of an unknown name: exit %d\n%s", code, out)
	}

	// down deletes a simulated cluster whole, saying so, and forgets it.
	if out := must("down", "shop", "-o", "text"); !strings.Contains(out, "removed simulated cluster shop") {
		t.Errorf("down shop:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home, "state", "kindred", "sim", "shop")); !os.IsNotExist(err) {
		t.Errorf("down left the simulated cluster's folder: %v", err)
	}

	// Deleted behind kindred's back: listed as gone, and down says there
	// was nothing to remove.
	c, err := sim.Open(filepath.Join(home, "state", "kindred", "sim", "minimal"))
	if err != nil || c == nil {
		t.Fatalf("the minimal cluster: %v %v", c, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(must("ls", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "minimal" || list[0].State != "gone" {
		t.Errorf("ls after the cluster was deleted behind kindred's back: %+v", list)
	}
	if out := must("down", "-o", "text"); !strings.Contains(out, "nothing to remove") {
		t.Errorf("down of a gone cluster:\n%s", out)
	}
	if out := must("ls", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("ls after down: %s", out)
	}
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
