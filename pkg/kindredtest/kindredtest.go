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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/plan"
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
	played   []sim.Controller
}

// WithSimulated has a simulated cluster play these controllers too, for a
// stack whose custom resources need an operator the cluster cannot run
// (their readiness waits for the status the operator writes).
func WithSimulated(controllers ...sim.Controller) Option {
	return func(o *options) { o.played = append(o.played, controllers...) }
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
		up := engine.NewUp(engine.Config{Provider: p, Sink: sink, Simulated: o.played})
		// A test's own cluster is scratch: what its stack dropped goes,
		// unless another live test process (or an earlier test of this
		// one) uses it. On an existing cluster, data goes only by hand.
		up.Prune, up.DeleteData = true, o.provider != Existing
		if shared != nil {
			if err := shared.lock(); err != nil {
				return err
			}
			defer shared.unlock()
			pl, err := plan.Build(st)
			if err != nil {
				return err
			}
			var ids []string
			for _, s := range pl.Steps {
				ids = append(ids, s.ID)
			}
			up.Keep = shared.use(st.Metadata.Name, ids)
		}
		_, err := up.Run(ctx, st)
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

func missing(t testing.TB, msg string) {
	t.Helper()
	if v := os.Getenv("CI"); v != "" && v != "false" && v != "0" {
		t.Fatalf("kindredtest: %s (CI=true: not skipping)", msg)
	}
	t.Skipf("kindredtest: %s", msg)
}
