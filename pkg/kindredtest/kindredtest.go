// Package kindredtest gives a Go test a cluster with a stack installed:
//
//	func TestCheckout(t *testing.T) {
//		env := kindredtest.Up(t, "testdata/stack.yaml", kindredtest.WithProvider(kindredtest.Sim))
//		ns := env.Namespace(t)
//		...
//	}
//
// Up works from any test, with no TestMain. The cluster is keyed by a hash of
// the resolved stack: tests and packages that ask for the same stack share
// one cluster (go test runs packages as parallel processes; a file lock and
// lease files coordinate them), and a later run finds it again when
// KINDRED_REUSE=1 kept it. Up waits until every step of the stack is really
// ready, not until pods merely exist.
//
// Environment:
//
//	KINDRED_REUSE=1            keep the cluster after the run, for the next one
//	KINDRED_KEEP_ON_FAILURE=1  keep it when a test failed, to look inside
//	KINDRED_ARTIFACTS=DIR      where diagnostics of failed tests go (default t.ArtifactDir())
//	KINDRED_KUBECONFIG=PATH    use this existing cluster instead
//	KINDRED_NODE_IMAGE=REF     kind node image instead of the pinned one
package kindredtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/internal/proc"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

// ProviderKind names where the cluster comes from.
type ProviderKind string

// Providers.
const (
	Kind     ProviderKind = "kind"     // a kind cluster (needs a container runtime)
	Sim      ProviderKind = "sim"      // the simulated cluster: seconds, no Docker
	Existing ProviderKind = "existing" // the cluster of KINDRED_KUBECONFIG
)

// Option configures Up.
type Option func(*options)

type options struct {
	provider ProviderKind
	timeout  time.Duration
	env      map[string]string
	ttl      time.Duration
	image    string
}

// WithProvider picks the provider; the default is Kind, or Existing when
// KINDRED_KUBECONFIG is set.
func WithProvider(p ProviderKind) Option { return func(o *options) { o.provider = p } }

// WithTimeout bounds Up; the default is 10 minutes.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithVars sets ${VAR} values for the stack file, over the environment.
func WithVars(vars map[string]string) Option { return func(o *options) { o.env = vars } }

// WithNodeImage sets the kind node image, for images built locally; the
// default is KINDRED_NODE_IMAGE, else the image pinned for the stack's
// Kubernetes version.
func WithNodeImage(ref string) Option { return func(o *options) { o.image = ref } }

// WithTTL sets how long a cluster left by a killed test run may idle before
// a later run removes it; the default is an hour.
func WithTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

// Env is a cluster with the stack installed.
type Env struct {
	// Kubeconfig is the path of an admin kubeconfig (mode 0600).
	Kubeconfig string
	// Config is the client configuration.
	Config *rest.Config
	// Client is a typed client-go clientset.
	Client kubernetes.Interface
	// Stack is the stack as loaded.
	Stack *stack.Stack

	provider ProviderKind
	p        cluster.Provider
	access   cluster.Access
	report   *engine.Report
}

// Up brings up a cluster with the stack file installed, or reuses one that
// already has exactly this stack, and registers cleanup with t.
func Up(t testing.TB, stackFile string, opts ...Option) *Env {
	t.Helper()
	o := &options{timeout: 10 * time.Minute, ttl: time.Hour, image: os.Getenv("KINDRED_NODE_IMAGE")}
	if os.Getenv("KINDRED_KUBECONFIG") != "" {
		o.provider = Existing
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.provider == "" {
		o.provider = Kind
	}
	lookup := func(k string) (string, bool) {
		if v, ok := o.env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	st, err := stack.Load(stackFile, stack.WithEnv(lookup))
	if err != nil {
		t.Fatalf("kindredtest: loading %s: %v", stackFile, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	var p cluster.Provider
	var shared *sharedCluster
	switch o.provider {
	case Existing:
		kc := os.Getenv("KINDRED_KUBECONFIG")
		if kc == "" {
			missing(t, "WithProvider(Existing) needs KINDRED_KUBECONFIG")
		}
		p, _ = cluster.New(cluster.Existing, cluster.Options{Kubeconfig: kc})
	case Sim, Kind:
		// The cluster is keyed by its shape (and node image); the
		// components on it are brought up to date in place by Up, which is
		// fast when nothing changed.
		hash, err := ShapeHash(st)
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(cluster.StateDir(), "kindredtest")
		st.Cluster.Name = "kt-" + hash[:10]
		rc := reapedCluster{sim: filepath.Join(root, "clusters", st.Cluster.Name)}
		if o.provider == Kind {
			runtime, err := cluster.DetectRuntime(context.Background(), "")
			if err != nil {
				missing(t, fmt.Sprintf("the kind provider needs a container runtime: %v", err))
			}
			if o.image != "" {
				sum := sha256.Sum256([]byte(hash + "\x00" + o.image))
				hash = hex.EncodeToString(sum[:])
				st.Cluster.Name = "kt-" + hash[:10]
			}
			ko := cluster.Options{Runtime: runtime, NodeImage: o.image, Recreate: true}
			rc = reapedCluster{kind: st.Cluster.Name, runtime: runtime, kindState: cluster.Folder(cluster.Kind, ko, st)}
			p, _ = cluster.New(cluster.Kind, ko)
		} else {
			p, _ = cluster.New(cluster.Sim, cluster.Options{Root: filepath.Join(root, "clusters")})
		}
		shared, err = join(root, hash, o.ttl, rc)
		if err != nil {
			t.Fatalf("kindredtest: %v", err)
		}
	default:
		t.Fatalf("kindredtest: unknown provider %q", o.provider)
	}

	env := &Env{Stack: st, provider: o.provider, p: p}
	var failed []string
	sink := event.SinkFunc(func(e event.Event) {
		if e.Type == event.StepFailed {
			failed = append(failed, e.Step+": "+e.Message)
		}
	})
	upErr := func() error {
		if shared != nil {
			if err := shared.lock(); err != nil {
				return err
			}
			defer shared.unlock()
		}
		_, err := engine.NewUp(engine.Config{Provider: p, Sink: sink}).Run(ctx, st)
		return err
	}()
	if acc, err := p.Access(ctx, st); err == nil {
		env.access = acc
	}
	t.Cleanup(func() { env.cleanup(t, shared) })
	if upErr != nil {
		env.fail(t, fmt.Sprintf("kindredtest: bringing up %s: %v\n%s", stackFile, upErr, strings.Join(failed, "\n")))
		return nil
	}
	env.Kubeconfig = env.access.Kubeconfig
	env.Config, err = env.access.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if env.Client, err = kubernetes.NewForConfig(env.Config); err != nil {
		t.Fatal(err)
	}
	if env.report, err = engine.NewStatus(engine.Config{Provider: p}).Run(ctx, st); err != nil {
		t.Fatal(err)
	}
	return env
}

// fail writes diagnostics and fails the test.
func (e *Env) fail(t testing.TB, msg string) {
	t.Helper()
	if dir := artifactDir(t); dir != "" && e.access.Kubeconfig != "" {
		if err := e.diagnostics(dir); err == nil {
			msg += "\ndiagnostics: " + dir
		}
	}
	t.Fatal(msg)
}

func (e *Env) cleanup(t testing.TB, shared *sharedCluster) {
	if t.Failed() && e.access.Kubeconfig != "" {
		if dir := artifactDir(t); dir != "" {
			if err := e.diagnostics(dir); err == nil {
				t.Logf("kindredtest: diagnostics written to %s", dir)
			}
		}
	}
	if shared == nil {
		return
	}
	// The cluster outlives the test, so later tests of this process (and
	// of parallel processes) reuse it; the reaper stops it once the last of
	// them has exited, unless it is to be kept.
	if os.Getenv("KINDRED_REUSE") == "1" {
		t.Logf("kindredtest: KINDRED_REUSE=1 keeps the cluster; kubeconfig %s", e.access.Kubeconfig)
		return
	}
	if t.Failed() && os.Getenv("KINDRED_KEEP_ON_FAILURE") == "1" {
		_ = os.WriteFile(filepath.Join(shared.dir, "keep"), nil, 0o600)
		t.Logf("kindredtest: KINDRED_KEEP_ON_FAILURE=1 keeps the cluster; kubeconfig %s", e.access.Kubeconfig)
	}
}

// Namespace creates a fresh namespace that is deleted when t ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "kt-" + hex.EncodeToString(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kindred.dev/test": sanitize(t.Name())}}}
	if _, err := e.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kindredtest: creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// URL returns the URL of the route for host, as the host machine reaches it.
func (e *Env) URL(host string) (string, error) {
	for _, r := range e.Stack.Routes {
		if r.Host == host {
			return e.Stack.RouteURL(r), nil
		}
	}
	return "", fmt.Errorf("the stack has no route for %s", host)
}

// DSN returns the connection URL of a database of the stack, with its
// generated credentials, for clients inside the cluster.
func (e *Env) DSN(name string) (string, error) {
	for _, db := range e.Stack.Databases {
		if db.Name != name {
			continue
		}
		s, err := e.Client.CoreV1().Secrets(db.Namespace).Get(context.Background(), name+"-credentials", metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("reading the credentials of %s: %w", name, err)
		}
		return database.URL(db, s.Data, true), nil
	}
	return "", fmt.Errorf("the stack has no database %s", name)
}

// LoadImage makes an image from the local container runtime available to
// every node of a kind cluster, so pods can use it with imagePullPolicy
// Never or IfNotPresent. The simulated cluster runs no containers, so there
// it only checks the name; an existing cluster's nodes are out of reach.
func (e *Env) LoadImage(ref string) error {
	if ref == "" {
		return errors.New("an empty image reference")
	}
	if e.access.Simulated {
		return nil
	}
	if l, ok := e.p.(cluster.ImageLoader); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		return l.LoadImage(ctx, e.Stack, ref)
	}
	return fmt.Errorf("LoadImage cannot reach the nodes of an existing cluster; push %s to a registry it pulls from", ref)
}

// Diagnostics writes what helps explain a failure to dir: the recorded
// stack and step health, nodes, pods and events in every namespace.
func (e *Env) Diagnostics(dir string) error { return e.diagnostics(dir) }

func (e *Env) diagnostics(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := e.access.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	write := func(name string, v any, err error) {
		if err != nil {
			v = map[string]string{"error": err.Error()}
		}
		data, _ := json.MarshalIndent(v, "", "  ")
		_ = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	write("nodes.json", nodes, err)
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	write("pods.json", pods, err)
	events, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	write("events.json", events, err)
	// The step records, not the applied stack: its values may hold secrets.
	if rep, err := engine.NewStatus(engine.Config{Provider: e.p}).Run(ctx, e.Stack); err == nil {
		write("steps.json", rep.Steps, nil)
	}
	return nil
}

// ShapeHash identifies the cluster a stack needs: its nodes, networking and
// Kubernetes version. Stacks with the same shape share a cluster; a changed
// shape means another cluster.
func ShapeHash(st *stack.Stack) (string, error) {
	c := st.Cluster
	c.Name = "" // the name is derived from this hash
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(data, sim.KubernetesVersion...))
	return hex.EncodeToString(sum[:])[:32], nil
}

// Hash identifies the whole resolved stack (charts, versions, values,
// values files and the cluster shape); kindred records what it applied in
// the cluster, and Up upgrades what changed.
func Hash(st *stack.Stack) (string, error) {
	data, err := json.Marshal(st.Stack)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(data)
	// Local files the stack names count too: a changed values file or
	// chart is a changed stack.
	for _, c := range st.Components {
		for _, f := range c.ValuesFiles {
			if b, err := st.ReadFile(f); err == nil {
				h.Write(b)
			}
		}
	}
	fmt.Fprint(h, sim.KubernetesVersion)
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func artifactDir(t testing.TB) string {
	if d := os.Getenv("KINDRED_ARTIFACTS"); d != "" {
		return filepath.Join(d, sanitize(t.Name()))
	}
	if at, ok := t.(interface{ ArtifactDir() string }); ok {
		return at.ArtifactDir()
	}
	return ""
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if v := os.Getenv("CI"); v != "" && v != "false" && v != "0" {
		t.Fatalf("kindredtest: %s (CI=true: not skipping)", msg)
	}
	t.Skipf("kindredtest: %s", msg)
}

// sharedCluster coordinates test processes that share one cluster: a file
// lock serialises changes, and each process holds a lease file while it
// uses the cluster.
type sharedCluster struct {
	dir   string
	lease string
	lk    *flock.Flock
}

// join registers this process with the cluster for hash, first removing
// clusters whose every user died more than ttl ago.
func join(root, hash string, ttl time.Duration, rc reapedCluster) (*sharedCluster, error) {
	if err := gc(root, ttl); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "leases", hash)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &sharedCluster{dir: dir, lease: filepath.Join(dir, fmt.Sprintf("%d.lease", os.Getpid()))}
	if err := os.WriteFile(s.lease, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, err
	}
	reapers.Lock()
	defer reapers.Unlock()
	if !reapers.started[dir] && os.Getenv("KINDRED_REUSE") != "1" {
		if err := writeCluster(dir, rc); err != nil {
			return nil, err
		}
		if err := startReaper(dir, rc); err != nil {
			return nil, err
		}
		reapers.started[dir] = true
	}
	return s, nil
}

// reapers records, per cluster, that this process started its reaper.
var reapers = struct {
	sync.Mutex
	started map[string]bool
}{started: map[string]bool{}}

// reaperScript waits for the test process to exit, drops its lease, and
// when no live process holds a lease (and none asked to keep the cluster)
// stops the cluster's process group and removes its folders, under the
// same lock Up takes.
const reaperScript = `
owner=$1 leases=$2 clusters=$3 kind=$4 runtime=$5 kindstate=$6
while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
rm -f "$leases/$owner.lease"
exec 9>>"$leases/lock"
command -v flock >/dev/null && flock 9
[ -e "$leases/keep" ] && exit 0
for f in "$leases"/*.lease; do
  [ -e "$f" ] || continue
  p=$(basename "$f" .lease)
  if kill -0 "$p" 2>/dev/null; then exit 0; fi
  rm -f "$f"
done
for o in "$clusters"/*/owner; do
  [ -e "$o" ] || continue
  read pid start pgid keep < "$o"
  kill -TERM -"$pgid" 2>/dev/null
  i=0; while kill -0 -"$pgid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL -"$pgid" 2>/dev/null
done
if [ -n "$kind" ]; then
  "$runtime" ps -aq --filter "label=io.x-k8s.kind.cluster=$kind" | xargs -r "$runtime" rm -f -v >/dev/null
  rm -rf "$kindstate"
fi
rm -rf "$clusters" "$leases"
`

// reapedCluster says what a reaper removes: a simulated cluster's folder,
// or a kind cluster's node containers and state folder.
type reapedCluster struct {
	sim       string
	kind      string
	runtime   string
	kindState string
}

// writeCluster records rc beside the leases, for gc.
func writeCluster(leases string, rc reapedCluster) error {
	b, err := json.Marshal(map[string]string{"sim": rc.sim, "kind": rc.kind, "runtime": rc.runtime, "kindState": rc.kindState})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(leases, "cluster.json"), b, 0o600)
}

// startReaper starts a detached shell that cleans up after this process.
func startReaper(leases string, rc reapedCluster) error {
	cmd := exec.Command("sh", "-c", reaperScript, "kindredtest-reaper", strconv.Itoa(os.Getpid()), leases, rc.sim, rc.kind, rc.runtime, rc.kindState)
	proc.Detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the cluster reaper: %w", err)
	}
	return cmd.Process.Release()
}

func (s *sharedCluster) lock() error {
	lk := flock.New(filepath.Join(s.dir, "lock"), flock.SetPermissions(0o600))
	if err := lk.Lock(); err != nil {
		return err
	}
	s.lk = lk
	return nil
}

func (s *sharedCluster) unlock() {
	if s.lk != nil {
		_ = s.lk.Unlock()
		s.lk = nil
	}
}

// liveLeases lists the lease files of processes still running.
func liveLeases(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.lease"))
	var live []string
	for _, f := range files {
		pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(f), ".lease"))
		if err == nil && proc.Alive(pid) {
			live = append(live, f)
		}
	}
	return live
}

// gc stops clusters left by killed runs (a go test -timeout panic skips
// t.Cleanup) once every lease is dead and the folder idled for ttl.
func gc(root string, ttl time.Duration) error {
	dirs, _ := filepath.Glob(filepath.Join(root, "leases", "*"))
	for _, dir := range dirs {
		info, err := os.Stat(dir)
		if err != nil || time.Since(info.ModTime()) < ttl || len(liveLeases(dir)) > 0 {
			continue
		}
		hash := filepath.Base(dir)
		st := &stack.Stack{}
		st.Cluster.Name = "kt-" + hash[:min(10, len(hash))]
		name, o := cluster.Sim, cluster.Options{Root: filepath.Join(root, "clusters")}
		var rc map[string]string
		if b, err := os.ReadFile(filepath.Join(dir, "cluster.json")); err == nil && json.Unmarshal(b, &rc) == nil && rc["kind"] != "" {
			st.Cluster.Name = rc["kind"]
			name, o = cluster.Kind, cluster.Options{Runtime: rc["runtime"]}
		}
		p, err := cluster.New(name, o)
		if err != nil {
			return err
		}
		if err := p.(cluster.Deleter).Delete(context.Background(), st); err != nil {
			return fmt.Errorf("removing the idle cluster %s: %w", hash, err)
		}
		_ = os.RemoveAll(dir)
	}
	return nil
}
