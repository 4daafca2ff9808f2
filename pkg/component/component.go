// Package component is how kindred's built-in components plug into the
// engine, after caddy's modules: each built-in (Calico, Contour,
// cert-manager, the databases, tenants, jobs, Prometheus, Mailpit) is a
// package under pkg/component that registers itself, and owns everything
// about itself: what it renders, what it does once its objects are ready,
// how it is torn down, what a status page shows of it, and which images it
// runs. The engine names no component; it asks the registry.
//
// A component implements Component and any of the optional interfaces
// below. It is found for a plan step by the step's kind (a database step,
// a route step) or by the catalogue entry the step uses (use: calico).
package component

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

// Component is a built-in; its ID is its catalogue entry's name (calico),
// or for built-ins with no entry, its own (tenant).
type Component interface {
	ID() string
}

// StepKinds is a component that handles every plan step of some kinds
// (cert-manager the issuer, the database component every database). Route
// steps go to the stack's ingress controller instead.
type StepKinds interface {
	StepKinds() []string
}

// Env is what a component works with for one step.
type Env struct {
	Stack *stack.Stack
	Plan  *plan.Plan
	Step  *plan.Step
	// Namespace is where the step installs; Timeout bounds its wait.
	Namespace string
	Timeout   time.Duration
	// Kube reaches the cluster; it is nil when rendering without one
	// (kindred images).
	Kube   *kube.Client
	Access cluster.Access
	// CADir holds the machine's local CA.
	CADir string
	// Progress says what the step is doing now.
	Progress func(string)
	Log      *slog.Logger
	// Skipped lists the checks the step skipped (see Skip); the engine
	// records them, and status shows them.
	Skipped []string
}

// Skip says that a check was skipped, and why; the step still succeeds,
// but nobody takes the check for passed.
func (e *Env) Skip(check, why string) {
	e.Skipped = append(e.Skipped, check+" ("+why+")")
	e.Say("skipped the " + check + ": " + why)
}

// Say reports progress, if anyone listens.
func (e *Env) Say(msg string) {
	if e.Progress != nil {
		e.Progress(msg)
	}
}

// Ref names one object a step applied; the engine records it in the
// step's inventory.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Adopted means the object existed before kindred first applied it:
	// removing the step leaves it where it is.
	Adopted bool `json:"adopted,omitempty"`
}

// Same reports whether r and o name the same object.
func (r Ref) Same(o Ref) bool {
	return r.APIVersion == o.APIVersion && r.Kind == o.Kind && r.Namespace == o.Namespace && r.Name == o.Name
}

// Result is what a component adds to its step's record.
type Result struct {
	// Inventory: objects the component applied itself, removed with the
	// step.
	Inventory []Ref
	// Endpoint is an in-cluster address to show; Secret names the Secret
	// that holds its credentials (never the credentials).
	Endpoint string
	Secret   string
	// DNSRewrite is the domain the component pointed CoreDNS at its
	// proxy for; a Remover undoes it.
	DNSRewrite string
	// Data says where the step keeps data, for a step that does.
	Data *Data
}

// Data says where a step's data lives, so that removing the step can say
// whether the data outlives it.
type Data struct {
	// Where, in words: "in the pod (emptyDir)", "in claim data-pg-0".
	Where string `json:"where"`
	// Kept: the data outlives the step's objects (a host folder, a claim).
	Kept bool `json:"kept,omitempty"`
	// Claims hold the data; only an explicit request deletes them.
	Claims []Ref `json:"claims,omitempty"`
}

// Checker is a component that checks, before a run changes anything,
// that its step can run on the cluster at hand (say, that the cluster is
// one the step may put a key into).
type Checker interface {
	Check(env *Env) error
}

// Renderer is a component whose objects kindred renders itself (a
// database, a tenant, a route). The engine applies them server-side with
// an inventory and waits for them.
type Renderer interface {
	Render(ctx context.Context, env *Env) ([]*unstructured.Unstructured, error)
}

// Patcher changes the objects of a component's own source (its chart or
// manifests) before they are applied.
type Patcher interface {
	Patch(env *Env, objs []*unstructured.Unstructured) error
}

// Finisher acts once the step's objects are applied and ready, before its
// catalogue checks: a real login to a database, the Calico Installation,
// Contour's verdict on a route.
type Finisher interface {
	Finish(ctx context.Context, env *Env, objs []*unstructured.Unstructured) (Result, error)
}

// Preparer adds, once a chart step's release is applied and before its
// objects are waited for, what the chart's own controller needs before
// anything it runs can be ready (Calico's Installation, without which the
// operator readies nothing). What it returns is part of the step.
type Preparer interface {
	Prepare(ctx context.Context, env *Env) (Result, error)
}

// PreparedObjects is a Preparer whose objects render with no cluster, so
// that kindred render can write them, applied after the chart's.
type PreparedObjects interface {
	PreparedObjects(env *Env) ([]*unstructured.Unstructured, error)
}

// Remover undoes, when a step is removed, what a Finisher did beyond the
// step's inventory.
type Remover interface {
	Remove(ctx context.Context, kc *kube.Client, res Result) error
}

// Detailer says what a status page shows of the live objects of one kind
// ("certificate … expires …"); ok is false when there is nothing to say.
type Detailer interface {
	DetailKind() string
	Detail(obj *unstructured.Unstructured) (detail string, ok bool)
}

// Imager lists the images a step runs that rendering cannot find.
type Imager interface {
	Images(env *Env) ([]string, error)
}

// Simulator is a component whose controller the simulated cluster plays
// (no containers run there): the kwok stages that set the statuses its
// controller would, once its CRDs are served.
type Simulator interface {
	Simulated() []sim.Controller
}

// Simulations are the controllers every registered component asks the
// simulated cluster to play.
func Simulations() []sim.Controller {
	var out []sim.Controller
	for _, c := range All() {
		if s, ok := c.(Simulator); ok {
			out = append(out, s.Simulated()...)
		}
	}
	return out
}

// Valuer adds chart values to the component's release, before the stack's
// own values (which win).
type Valuer interface {
	Values(env *Env) (map[string]any, error)
}

var (
	mu     sync.RWMutex
	byID   = map[string]Component{}
	byKind = map[string]Component{}
)

// Register adds a component. Built-ins register in their package's init;
// registering an ID twice panics, as it is a programming error.
func Register(c Component) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := byID[c.ID()]; dup {
		panic(fmt.Sprintf("component %q registered twice", c.ID()))
	}
	byID[c.ID()] = c
	if k, ok := c.(StepKinds); ok {
		for _, kind := range k.StepKinds() {
			if other, dup := byKind[kind]; dup {
				panic(fmt.Sprintf("components %q and %q both handle %s steps", other.ID(), c.ID(), kind))
			}
			byKind[kind] = c
		}
	}
}

// Get returns the component with id.
func Get(id string) (Component, bool) {
	mu.RLock()
	defer mu.RUnlock()
	c, ok := byID[id]
	return c, ok
}

// All returns every registered component, by ID.
func All() []Component {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Component, 0, len(byID))
	for _, c := range byID {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// For finds the component a plan step of st belongs to: for a route, the
// stack's ingress controller; for a catalogue component, the one
// registered under its entry's name; else the one that handles the step's
// kind. It returns nil for a stack's own chart, kustomize folder or
// manifests, which need no component.
func For(st *stack.Stack, s *plan.Step) Component {
	mu.RLock()
	defer mu.RUnlock()
	switch {
	case s.Kind == plan.KindRoute:
		if st.Ingress == nil {
			return nil
		}
		return byID[st.Ingress.Controller]
	case s.Kind == plan.KindComponent:
		if s.Entry == nil {
			return nil
		}
		return byID[s.Entry.Name]
	}
	return byKind[s.Kind]
}

// Ingress is an ingress controller component: where it wants the
// certificate it serves, and the address of its proxy inside the cluster.
type Ingress interface {
	Component
	// CertificateSecret is the namespace and name of the Secret holding
	// the wildcard certificate the proxy serves.
	CertificateSecret() (namespace, name string)
	// ProxyNamespace is where its proxy runs, which tenants' network
	// policies let in.
	ProxyNamespace() string
	// ProxyService is the proxy's Service: on a cluster kindred did not
	// create, routes are reached through it (or its load balancer).
	ProxyService() (namespace, name string)
}

// IngressFor returns the ingress controller component called id.
func IngressFor(id string) (Ingress, bool) {
	c, ok := Get(id)
	if !ok {
		return nil, false
	}
	in, ok := c.(Ingress)
	return in, ok
}
