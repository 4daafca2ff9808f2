package cli_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kindred.dev/kindred/internal/testbed"
)

// The real-kind tests run kindred's public path — the CLI with the kind
// provider and the node image built here (testbed/e2e/build.sh) — against
// the test bed's real Docker. `make test-kind` runs them alone.

type kindRun struct {
	t     *testing.T
	bin   string
	env   []string
	image string
}

func newKindRun(t *testing.T) *kindRun {
	imgs := testbed.RequireE2E(t)
	testbed.RequireBlackholes(t)
	home := t.TempDir()
	return &kindRun{
		t:   t,
		bin: buildKindred(t),
		env: append(os.Environ(),
			"XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
			"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "KINDRED_REGISTRY_IMAGE="+imgs.Registry),
		image: imgs.Node,
	}
}

// kindred runs the CLI with the kind provider and the e2e node image, and
// returns its output, exit code and wall time.
func (k *kindRun) kindred(args ...string) (string, int, time.Duration) {
	k.t.Helper()
	full := append([]string{args[0], "--provider", "kind"}, args[1:]...)
	if args[0] == "up" {
		full = append([]string{"up", "--provider", "kind", "--node-image", k.image}, args[1:]...)
	}
	return k.plain(full...)
}

// plain runs the CLI as a user does after up: no --provider, no
// --node-image; the cluster is found by name.
func (k *kindRun) plain(args ...string) (string, int, time.Duration) {
	k.t.Helper()
	cmd := exec.Command(k.bin, args...)
	cmd.Env = k.env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatal(err)
	}
	return string(out), code, time.Since(start)
}

func (k *kindRun) must(args ...string) (string, time.Duration) {
	k.t.Helper()
	out, code, d := k.kindred(args...)
	if code != 0 {
		k.t.Fatalf("kindred %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out, d
}

func (k *kindRun) client(stackFile string) *kubernetes.Clientset {
	k.t.Helper()
	out, _ := k.must("kubeconfig", stackFile)
	path := strings.TrimSpace(out)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		k.t.Fatalf("kubeconfig %s: %v, mode %v; want 0600", path, err, fi.Mode())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		k.t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// leftovers lists containers, networks and volumes of a cluster or of the
// shared registry.
func leftovers(t *testing.T, cluster string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"ps", "-a", "--filter", "label=io.x-k8s.kind.cluster=" + cluster, "--format", "container {{.Names}}"},
		// Other packages' tests run registries of their own meanwhile;
		// only kindred's shared one counts here.
		{"ps", "-a", "--filter", "label=dev.kindred.registry=kindred-registry", "--format", "container {{.Names}}"},
		{"volume", "ls", "--filter", "label=dev.kindred.registry=kindred-registry", "--format", "volume {{.Name}}"},
	} {
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %v: %v: %s", args, err, out)
		}
		b.Write(out)
	}
	return strings.TrimSpace(b.String())
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKindOneNode: a 1-node kindnet cluster with kindred's local registry.
// An app image built here is pushed to the registry on 127.0.0.1 and pulled
// by the node through containerd's hosts.toml; a Deployment with a Service
// and a PVC serves it, and a Job reaches it by its Service name. Then: a
// second up changes nothing, status is healthy, a stopped node is started
// again with the volume's data intact, a changed node count is refused
// without --recreate, and down removes the cluster and keeps the data
// folder, which --purge then removes with the registry.
func TestKindOneNode(t *testing.T) {
	k := newKindRun(t)
	dir := t.TempDir()
	cluster := fmt.Sprintf("kt-one-%d", os.Getpid()%100000)
	port := testbed.FreePort(t)
	dataDir := filepath.Join(dir, "data")
	base := fmt.Sprintf(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: %s}
cluster:
  kubernetesVersion: v1.35.4
  dataDir: %s
  registry: {hostPort: %d}
  nodes:
    - role: control-plane
`, cluster, dataDir, port)
	bare := filepath.Join(dir, "bare.yaml")
	writeFile(t, bare, base)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "exec", cluster+"-control-plane", "sh", "-c",
				"kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -A -o wide; kubectl --kubeconfig /etc/kubernetes/admin.conf get events -A | tail -30; journalctl -u kubelet --no-pager | tail -40").CombinedOutput()
			t.Logf("cluster state on failure:\n%s", out)
		}
		k.kindred("down", "--purge", bare)
		if left := leftovers(t, cluster); left != "" {
			t.Errorf("left after down --purge:\n%s", left)
		}
	})

	out, took := k.must("up", "-v", "-o", "text", bare)
	t.Logf("kindred up, 1 node, to Ready: %.1fs", took.Seconds())
	if !strings.Contains(out, "creating kind cluster "+cluster) {
		t.Fatalf("up did not create the cluster:\n%s", out)
	}
	cs := k.client(bare)
	ctx := context.Background()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 || !nodeReady(&nodes.Items[0]) {
		t.Fatalf("nodes: %v, %+v", err, nodes)
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-public").Get(ctx, "local-registry-hosting", metav1.GetOptions{})
	if err != nil || !strings.Contains(cm.Data["localRegistryHosting.v1"], fmt.Sprintf(`host: "localhost:%d"`, port)) {
		t.Fatalf("local-registry-hosting: %v %v", err, cm)
	}

	// The app, pushed to the local registry from the host.
	pushApp(t, fmt.Sprintf("127.0.0.1:%d/kindred-e2e/app:1", port))
	appImage := fmt.Sprintf("localhost:%d/kindred-e2e/app:1", port)
	manifest, err := os.ReadFile("../../testdata/e2e/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "app.yaml"), strings.ReplaceAll(string(manifest), "${APP_IMAGE}", appImage))
	full := filepath.Join(dir, "stack.yaml")
	writeFile(t, filepath.Join(dir, "schema.sql"), "CREATE TABLE visits (id serial PRIMARY KEY, at timestamptz DEFAULT now());\n")
	writeFile(t, filepath.Join(dir, "fixtures.sql"), "INSERT INTO visits DEFAULT VALUES;\n")
	writeFile(t, filepath.Join(dir, "items.sql"), "CREATE TABLE items (id INT PRIMARY KEY);\n")
	writeFile(t, filepath.Join(dir, "items-seed.sql"), "INSERT INTO items VALUES (1), (2);\n")
	writeFile(t, full, base+fmt.Sprintf(`components:
  - name: app
    manifests: [app.yaml]
databases:
  - name: orders
    engine: postgres
    version: "15"
    init: [schema.sql]
    seed: [fixtures.sql]
    persistence: {enabled: true, size: 64Mi}
  - name: sessions
    engine: redis
  - name: inventory
    engine: mysql
    init: [items.sql]
    seed: [items-seed.sql]
jobs:
  - name: reach-app
    image: %s
    args: [get, "http://app.default.svc.cluster.local/"]
    needs: [app]
    timeout: 3m
`, appImage))
	out, took = k.must("up", "-v", "-o", "text", full)
	t.Logf("kindred up with the app, Postgres, Redis and MySQL: %.1fs", took.Seconds())
	if !strings.Contains(out, "0 failed") {
		t.Fatalf("up with the app:\n%s", out)
	}
	// The database step was ready only when a real SELECT 1 answered.
	if !strings.Contains(out, "connecting: SELECT 1 as kindred on postgres://127.0.0.1:") {
		t.Errorf("up did not report the real connection check:\n%s", out)
	}
	if !strings.Contains(out, "connecting: AUTH and PING on redis://127.0.0.1:") {
		t.Errorf("up did not report Redis's real connection check:\n%s", out)
	}
	if !strings.Contains(out, "connecting: ping as kindred on mysql://127.0.0.1:") {
		t.Errorf("up did not report MySQL's real connection check:\n%s", out)
	}
	creds, _ := k.must("creds", "--in-cluster", "--stack", full)
	if !strings.Contains(creds, "postgres://kindred:****@orders.default.svc.cluster.local:5432/orders") ||
		!strings.Contains(creds, "redis://:****@sessions.default.svc.cluster.local:6379/0") {
		t.Errorf("creds:\n%s", creds)
	}
	secret, err := cs.CoreV1().Secrets("default").Get(ctx, "orders-credentials", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pw := string(secret.Data["password"]); pw == "" || strings.Contains(out+creds, pw) {
		t.Errorf("the generated password is empty or was printed")
	}
	// The init script made the table, and the seed script put a row in it.
	psql := exec.Command("docker", "exec", cluster+"-control-plane", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf",
		"exec", "orders-0", "--", "psql", "-U", "kindred", "-d", "orders", "-tAc", "SELECT count(*) FROM visits")
	if got, err := psql.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "1" {
		t.Errorf("the init script's table with the seed's row: %v %s", err, got)
	}
	mysql := exec.Command("docker", "exec", cluster+"-control-plane", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf",
		"exec", "inventory-0", "--", "sh", "-c", `mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -e "SELECT count(*) FROM items" inventory`)
	if got, err := mysql.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "2" {
		t.Errorf("MySQL: the init script's table with the seed's rows: %v %s", err, got)
	}

	out, took = k.must("up", "-o", "json", full)
	t.Logf("second kindred up (no-op): %.1fs", took.Seconds())
	if strings.Contains(out, `"changed":true`) {
		t.Errorf("second up changed something:\n%s", out)
	}
	status, _ := k.must("status", "-o", "json", full)
	var rep struct {
		Steps []struct {
			ID      string `json:"id"`
			Healthy bool   `json:"healthy"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(status), &rep); err != nil || len(rep.Steps) < 2 {
		t.Fatalf("status -o json: %v\n%s", err, status)
	}
	for _, s := range rep.Steps {
		if !s.Healthy {
			t.Errorf("status: %s unhealthy\n%s", s.ID, status)
		}
	}

	// Drift: a stopped node is started again, and the app's volume kept
	// its data across the restart. Another container takes the node's
	// address meanwhile, so the node comes back on a new one.
	oldIP := nodeIP(t, cluster+"-control-plane")
	if out, err := exec.Command("docker", "stop", cluster+"-control-plane").CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v %s", err, out)
	}
	// Docker hands out the lowest free address, which is the one the node
	// just released.
	thief := cluster + "-ip-thief"
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", "-v", thief).Run() })
	if out, err := exec.Command("docker", "run", "-d", "--name", thief, "--network", "kind", os.Getenv("KINDRED_E2E_REGISTRY_IMAGE")).CombinedOutput(); err != nil {
		t.Fatalf("taking the node's address: %v %s", err, out)
	}
	out, took = k.must("up", "-v", "-o", "text", full)
	t.Logf("kindred up after the node was stopped: %.1fs", took.Seconds())
	if !strings.Contains(out, "started 1 stopped node") {
		t.Errorf("up did not say it started the node:\n%s", out)
	}
	if newIP := nodeIP(t, cluster+"-control-plane"); newIP == oldIP {
		t.Logf("the node kept its address %s (another container took a different one)", oldIP)
	} else {
		t.Logf("the node came back on %s instead of %s", newIP, oldIP)
	}
	cs = k.client(full)
	starts := appStarts(t, cs, cluster)
	if strings.Count(starts, "start ") < 2 {
		t.Errorf("the app's volume should record two starts, one per node boot:\n%s", starts)
	}

	// A changed node count is refused without --recreate; nothing changes.
	two := filepath.Join(dir, "two.yaml")
	writeFile(t, two, base+"    - role: worker\n")
	out, code, _ := k.kindred("up", "-o", "text", two)
	if code == 0 || !strings.Contains(out, "--recreate") || !strings.Contains(out, "role: worker") {
		t.Errorf("a changed node count: exit %d, want a refusal naming --recreate and the difference:\n%s", code, out)
	}
	if n, _ := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); n == nil || len(n.Items) != 1 {
		t.Errorf("the refused up changed the nodes: %v", n)
	}

	// A row in the database, to outlive the cluster.
	psqlIn := func(sql string) (string, error) {
		out, err := exec.Command("docker", "exec", cluster+"-control-plane", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf",
			"exec", "orders-0", "--", "psql", "-U", "kindred", "-d", "orders", "-tAc", sql).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := psqlIn("INSERT INTO visits DEFAULT VALUES"); err != nil {
		t.Fatalf("insert: %v %s", err, out)
	}

	// stop and start, by the cluster's name alone: the row written before
	// stop is there after start, and the stack is checked healthy again.
	out, code, took = k.plain("stop", cluster)
	t.Logf("kindred stop: %.1fs", took.Seconds())
	if code != 0 {
		t.Fatalf("stop: exit %d\n%s", code, out)
	}
	if running, _ := exec.Command("docker", "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster="+cluster).Output(); len(bytes.TrimSpace(running)) != 0 {
		t.Errorf("node containers still running after stop: %s", running)
	}
	if out, code, _ := k.plain("status", cluster); code == 0 || !strings.Contains(out, "kindred start "+cluster) {
		t.Errorf("status of the stopped cluster: exit %d\n%s", code, out)
	}
	out, code, took = k.plain("start", "-o", "text", cluster)
	t.Logf("kindred start (resume): %.1fs", took.Seconds())
	if code != 0 || !strings.Contains(out, "0 failed") {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	if got, err := psqlIn("SELECT count(*) FROM visits"); err != nil || got != "2" {
		t.Errorf("the database after stop and start: %v %q, want the seed's row and the one written before", err, got)
	}
	// logs of a step, and of a workload, by the cluster's name.
	for _, args := range [][]string{{"logs", "orders", "-c", cluster}, {"logs", "statefulset/orders", "-n", "default", "-c", cluster}} {
		out, code, _ := k.plain(args...)
		if code != 0 || !strings.Contains(out, "ready to accept connections") {
			t.Errorf("kindred %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, code, _ := k.plain("logs", "nope", "-c", cluster); code != 2 || !strings.Contains(out, "no step \"nope\"") {
		t.Errorf("logs of an unknown step: exit %d\n%s", code, out)
	}
	k.reachFromHost(cluster, psqlIn)
	// connect runs the engine's own client in the pod, logged in.
	for _, tc := range []struct{ db, stdin, want string }{
		{"orders", "SELECT count(*) FROM visits", "2"},
		{"inventory", "SELECT count(*) FROM items", "2"},
		{"sessions", "PING", "PONG"},
	} {
		args := []string{"connect", tc.db, "-c", cluster}
		switch tc.db {
		case "orders":
			args = append(args, "--", "-tA")
		case "inventory":
			args = append(args, "--", "-N")
		}
		cmd := exec.Command(k.bin, args...)
		cmd.Env, cmd.Stdin = k.env, strings.NewReader(tc.stdin+"\n")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("kindred %s with %q: %v\n%s", strings.Join(args, " "), tc.stdin, err, out)
		}
	}

	// down deletes the cluster and keeps the data folder.
	out, took = k.must("down", full)
	if !strings.Contains(out, "removed kind cluster "+cluster) {
		t.Errorf("down does not say it removed the cluster:\n%s", out)
	}
	t.Logf("kindred down: %.1fs", took.Seconds())
	if left, _ := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+cluster).Output(); len(bytes.TrimSpace(left)) != 0 {
		t.Errorf("node containers left after down: %s", left)
	}
	if entries, err := os.ReadDir(dataDir); err != nil || len(entries) == 0 {
		t.Errorf("down should keep the data folder %s: %v %v", dataDir, entries, err)
	}
	// The next up re-creates the cluster; Postgres finds its data, and
	// kindred its password, in the data folder (the readiness check logs
	// in); the seed, recorded in the data, does not run twice.
	_, took = k.must("up", "-o", "text", full)
	t.Logf("kindred up again on the kept data: %.1fs", took.Seconds())
	if got, err := psqlIn("SELECT count(*) FROM visits"); err != nil || got != "2" {
		t.Errorf("the database after down and up: %v %q, want the seed's row and the one written before", err, got)
	}
	k.must("down", "--purge", full)
	if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
		t.Errorf("down --purge left data: %v", entries)
	}
	if out, _ := k.must("down", full); !strings.Contains(out, "nothing to remove: no kind cluster "+cluster) {
		t.Errorf("a second down does not say there was nothing to remove:\n%s", out)
	}
}

// TestKindTwoNodes: a control plane and a worker with zone labels; the
// labels are on the nodes, and both turn Ready.
func TestKindTwoNodes(t *testing.T) {
	k := newKindRun(t)
	dir := t.TempDir()
	cluster := fmt.Sprintf("kt-two-%d", os.Getpid()%100000)
	stackFile := filepath.Join(dir, "stack.yaml")
	writeFile(t, stackFile, fmt.Sprintf(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: %s}
cluster:
  kubernetesVersion: v1.35.4
  nodes:
    - role: control-plane
      labels: {topology.kubernetes.io/zone: zone-a}
    - role: worker
      labels: {topology.kubernetes.io/zone: zone-b, tier: apps}
`, cluster))
	t.Cleanup(func() {
		k.kindred("down", stackFile)
		if left := leftovers(t, cluster); left != "" {
			t.Errorf("left after down:\n%s", left)
		}
	})
	// Ctrl-C while kind creates the cluster (its node containers exist,
	// kubeadm is at work): up waits for kind, removes what it half-made,
	// and fails.
	out := k.interruptWhileCreating(stackFile, cluster, 2, os.Interrupt)
	if !strings.Contains(out, "cancel") {
		t.Errorf("up interrupted while creating: want it to say it was cancelled:\n%s", out)
	}
	if left := leftovers(t, cluster); left != "" {
		t.Errorf("left after an interrupted up:\n%s\nits output:\n%s", left, out)
	}
	// SIGKILL at the same moment leaves the half-made cluster behind; the
	// next up deletes it and creates it again.
	k.interruptWhileCreating(stackFile, cluster, 2, os.Kill)
	out, took := k.must("up", "-o", "json", stackFile)
	if !strings.Contains(out, "half-created") {
		t.Errorf("the up after the kill does not say it removed the half-created cluster:\n%s", out)
	}
	t.Logf("kindred up, 2 nodes, after a killed creation, to Ready: %.1fs", took.Seconds())
	cs := k.client(stackFile)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes: %v %v", err, nodes)
	}
	want := map[string]string{cluster + "-control-plane": "zone-a", cluster + "-worker": "zone-b"}
	for _, n := range nodes.Items {
		if !nodeReady(&n) {
			t.Errorf("node %s is not Ready after up: %s", n.Name, nodeReadyCondition(&n))
		}
		if got := n.Labels["topology.kubernetes.io/zone"]; got != want[n.Name] {
			t.Errorf("node %s zone = %q, want %q", n.Name, got, want[n.Name])
		}
	}

	// A workload whose image cannot be pulled: while up waits, it says why,
	// and its error at the deadline names the pod's real trouble.
	writeFile(t, filepath.Join(dir, "stuck.yaml"), `apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      containers: [{name: app, image: "127.0.0.1:1/missing:1"}]
`)
	stuckStack := filepath.Join(dir, "stuck-stack.yaml")
	writeFile(t, stuckStack, "include: [stack.yaml]\ncomponents:\n  - {name: stuck, namespace: apps, manifests: [stuck.yaml], timeout: 20s}\n")
	out, code, _ := k.kindred("up", "-o", "json", stuckStack)
	if code != 1 {
		t.Errorf("up with an image that cannot be pulled: exit %d, want 1", code)
	}
	var progress, failure string
	for _, line := range strings.Split(out, "\n") {
		var e struct{ Type, Step, Message string }
		if json.Unmarshal([]byte(line), &e) != nil || e.Step != "stuck" {
			continue
		}
		switch {
		case e.Type == "progress" && strings.Contains(e.Message, "container app)"):
			progress = e.Message
		case e.Type == "failed":
			failure = e.Message
		}
	}
	if !strings.HasSuffix(progress, ", for Deployment apps/stuck") || !strings.Contains(progress, "ImagePull") || !strings.Contains(progress, "(pod stuck-") {
		t.Errorf("while waiting, no progress named the pod's trouble; last: %q\n%s", progress, out)
	}
	if !strings.Contains(failure, "ImagePull") || !strings.Contains(failure, "127.0.0.1:1/missing:1") {
		t.Errorf("the step's error does not name the image that cannot be pulled: %q", failure)
	}
	t.Logf("waiting: %s\nfailed: %s", progress, failure)

	_, took = k.must("down", stackFile)
	t.Logf("kindred down, 2 nodes: %.1fs", took.Seconds())
}

// interruptWhileCreating starts up and sends it sig once kind has made the
// cluster's node containers, before the cluster is done, and returns what
// up wrote before it ended.
func (k *kindRun) interruptWhileCreating(stackFile, cluster string, nodes int, sig os.Signal) string {
	k.t.Helper()
	cmd := exec.Command(k.bin, "up", "--provider", "kind", "--node-image", k.image, "-o", "json", stackFile)
	cmd.Env = k.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case err := <-exited:
			k.t.Fatalf("up ended (%v) before its node containers existed:\n%s", err, out.Bytes())
		case <-time.After(100 * time.Millisecond):
		}
		ps, err := exec.Command("docker", "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster="+cluster).Output()
		if err != nil {
			k.t.Fatal(err)
		}
		if len(strings.Fields(string(ps))) == nodes {
			break
		}
	}
	_ = cmd.Process.Signal(sig)
	err := <-exited
	if err == nil {
		k.t.Fatalf("up exited 0 after %v:\n%s", sig, out.Bytes())
	}
	// Ctrl-C is a cancel, not a failure: exit 130, the way to resume, and
	// no diagnostics bundle.
	if ee, ok := err.(*exec.ExitError); sig == os.Interrupt && (!ok || ee.ExitCode() != 130 ||
		!strings.Contains(out.String(), "resumes") || strings.Contains(out.String(), "diagnostics bundle")) {
		k.t.Errorf("up after Ctrl-C: %v, want exit 130, the way to resume and no bundle:\n%s", err, out.Bytes())
	}
	if strings.Contains(out.String(), `"type":"succeeded","step":"cluster"`) {
		k.t.Fatalf("the cluster step finished before %v; the test interrupted nothing half-made:\n%s", sig, out.Bytes())
	}
	return out.String()
}

// TestKindRefusesAClusterItDidNotMake: a kind cluster of the stack's name
// that kindred has no record of making is somebody else's; up refuses to
// touch it, says how to proceed, and leaves it alone.
func TestKindRefusesAClusterItDidNotMake(t *testing.T) {
	k := newKindRun(t)
	cluster := fmt.Sprintf("kt-foreign-%d", os.Getpid()%100000)
	node := cluster + "-control-plane"
	// A stopped container with kind's labels is a cluster to kind.
	if out, err := exec.Command("docker", "create", "--name", node,
		"--label", "io.x-k8s.kind.cluster="+cluster, "--label", "io.x-k8s.kind.role=control-plane",
		k.image).CombinedOutput(); err != nil {
		t.Fatalf("docker create: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", "-v", node).Run() })
	stackFile := filepath.Join(t.TempDir(), "stack.yaml")
	writeFile(t, stackFile, fmt.Sprintf(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: %s}
cluster:
  kubernetesVersion: v1.35.4
`, cluster))
	out, code, _ := k.kindred("up", "-o", "text", stackFile)
	if code == 0 || !strings.Contains(out, "no record of making it") || !strings.Contains(out, "kind delete cluster --name "+cluster) {
		t.Errorf("up on a cluster kindred did not make: exit %d, want a refusal that says what to do:\n%s", code, out)
	}
	state, err := exec.Command("docker", "inspect", "--format", "{{.State.Status}}", node).CombinedOutput()
	if err != nil || strings.TrimSpace(string(state)) != "created" {
		t.Errorf("the other cluster's node after the refusal: %v %s; want it untouched (created)", err, state)
	}
}

// nodeIP is a node container's address on the kind network.
func nodeIP(t *testing.T, container string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.NetworkSettings.Networks.kind.IPAddress}}", container).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect %s: %v %s", container, err, out)
	}
	return strings.TrimSpace(string(out))
}

// nodeReadyCondition says what a node's Ready condition says, for errors.
func nodeReadyCondition(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return fmt.Sprintf("%s %s: %s (since %s, heartbeat %s)", c.Status, c.Reason, c.Message, c.LastTransitionTime.Format(time.RFC3339), c.LastHeartbeatTime.Format(time.RFC3339))
		}
	}
	return "no Ready condition"
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// appStarts reads the app's record of starts through the API server's
// service proxy, waiting for the app to be back.
func appStarts(t *testing.T, cs *kubernetes.Clientset, cluster string) string {
	t.Helper()
	var last error
	for range 90 {
		b, err := cs.CoreV1().Services("default").ProxyGet("http", "app", "80", "/", nil).DoRaw(context.Background())
		if err == nil {
			return string(b)
		}
		last = err
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("the app did not answer through its Service after the restart: %v", last)
	return ""
}

// pushApp builds testdata/e2e/app into a one-layer image and pushes it to
// ref, a registry on loopback.
func pushApp(t testing.TB, ref string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command("go", "build", "-o", bin, "../../testdata/e2e/app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the app: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	for _, h := range []*tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "app", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromReader(bytes.NewReader(layerTar.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/app"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, withPlatform(t, img))
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

func withPlatform(t testing.TB, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	return cf
}

// reachFromHost checks, with the real clients on this machine, that the
// URLs kindred env prints reach Postgres, MySQL and Redis while kindred
// forward runs, and that the forward follows Postgres to its new pod when
// the old one is deleted.
func (k *kindRun) reachFromHost(cluster string, psqlIn func(string) (string, error)) {
	t := k.t
	t.Helper()
	for _, c := range []string{"psql", "mysql", "redis-cli"} {
		if _, err := exec.LookPath(c); err != nil {
			testbed.Missing(t, "%s is not installed (testbed/packages.sh installs it)", c)
		}
	}
	fwd := exec.Command(k.bin, "forward", "-c", cluster, "-o", "text")
	fwd.Env = k.env
	var log testbed.Output
	fwd.Stdout, fwd.Stderr = &log, &log
	if err := fwd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = fwd.Process.Signal(os.Interrupt)
		_ = fwd.Wait()
		t.Logf("kindred forward:\n%s", log.String())
	}()
	waitLog := func(what string, n int) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); strings.Count(log.String(), what) < n; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("kindred forward never said %q %d times:\n%s", what, n, log.String())
			}
		}
	}
	waitLog("→ pod", 3)
	env, code, _ := k.plain("env", cluster)
	if code != 0 {
		t.Fatalf("env: exit %d\n%s", code, env)
	}
	url := func(name string) string {
		m := regexp.MustCompile(`(?m)^export ` + name + `_URL='([^']*)'$`).FindStringSubmatch(env)
		if m == nil || !strings.Contains(m[1], "@127.0.0.1:") {
			t.Fatalf("env has no host URL for %s:\n%s", name, env)
		}
		return m[1]
	}
	psql := func() (string, error) {
		out, err := exec.Command("psql", url("ORDERS"), "-tAc", "SELECT count(*) FROM visits").CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if got, err := psql(); err != nil || got != "2" {
		t.Errorf("psql on the host with ORDERS_URL: %v %q", err, got)
	}
	my := regexp.MustCompile(`^mysql://([^:]*):([^@]*)@127\.0\.0\.1:(\d+)/(.*)$`).FindStringSubmatch(url("INVENTORY"))
	if my == nil {
		t.Fatalf("INVENTORY_URL is not a MySQL URL on the host: %s", url("INVENTORY"))
	}
	q := exec.Command("mysql", "-h", "127.0.0.1", "-P", my[3], "-u", my[1], "-N", "-e", "SELECT count(*) FROM items", my[4])
	q.Env = append(os.Environ(), "MYSQL_PWD="+my[2])
	if out, err := q.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "2" {
		t.Errorf("mysql on the host with INVENTORY_URL: %v %s", err, out)
	}
	// redis-cli -u sends the URL's empty user name to AUTH, which Redis
	// refuses; the URL's password goes through REDISCLI_AUTH instead.
	rd := regexp.MustCompile(`^redis://:([^@]*)@127\.0\.0\.1:(\d+)/0$`).FindStringSubmatch(url("SESSIONS"))
	if rd == nil {
		t.Fatalf("SESSIONS_URL is not a Redis URL on the host: %s", url("SESSIONS"))
	}
	rc := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", rd[2], "PING")
	rc.Env = append(os.Environ(), "REDISCLI_AUTH="+rd[1])
	if out, err := rc.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "PONG" {
		t.Errorf("redis-cli on the host with SESSIONS_URL: %v %s", err, out)
	}
	// The pod goes; the forward reaches its successor on the same port.
	cs := k.client(cluster)
	if err := cs.CoreV1().Pods("default").Delete(context.Background(), "orders-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLog("→ pod default/orders-0", 2)
	var got string
	var err error
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if got, err = psql(); err == nil && got == "2" {
			break
		}
	}
	if err != nil || got != "2" {
		t.Errorf("psql through the forward after the pod was replaced: %v %q", err, got)
	}
}
