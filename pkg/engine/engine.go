// Package engine makes a cluster match a stack. Up runs the stack's plan as
// a parallel dependency graph, waiting on real readiness and doing nothing
// where nothing changed; Down uninstalls in reverse order; Status reports
// what the cluster records. Progress goes out as events to a Sink, and
// diagnostics to a slog.Logger; the engine never prints.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"kindred.dev/kindred/internal/trust"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// Config carries what every action needs.
type Config struct {
	Provider cluster.Provider
	// Sink receives progress events; nil discards them.
	Sink event.Sink
	// Log receives diagnostics, including helm's; nil discards them.
	Log *slog.Logger
	// ChartMirror overrides the stack's chartMirror (KINDRED_CHART_MIRROR).
	ChartMirror string
	// Simulated are controllers a simulated cluster plays besides the
	// built-in components' (a test's own operator, say).
	Simulated []cluster.SimController
	// CacheDir holds fetched charts; defaults to the user's cache folder.
	CacheDir string
	// CADir holds the machine's local CA; defaults to trust.DataDir()/ca.
	CADir string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Sink == nil {
		c.Sink = event.Discard
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CADir == "" {
		c.CADir = trust.DefaultCADir()
	}
	if c.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		c.CacheDir = filepath.Join(dir, "kindred", "charts")
	}
}

// chartMirror is the mirror charts come through: the configured one
// (KINDRED_CHART_MIRROR), else the stack's.
func (c *Config) chartMirror(st *stack.Stack) string {
	if c.ChartMirror != "" {
		return c.ChartMirror
	}
	return st.ChartMirror
}

// offlineRunner renders and fetches a plan's steps with no cluster
// (images, lock).
func offlineRunner(cfg *Config, st *stack.Stack, p *plan.Plan) *runner {
	return &runner{cfg: cfg, st: st, plan: p,
		helm: &helm.Client{Log: cfg.Log, Fetcher: &helm.Fetcher{CacheDir: cfg.CacheDir, Mirror: cfg.chartMirror(st)}}}
}

// forProvider are the plan options for the configured provider.
func (c *Config) forProvider() []plan.Option {
	if c.Provider == nil {
		return nil
	}
	return []plan.Option{plan.ForProvider(c.Provider.Name())}
}

// Up installs a stack.
type Up struct {
	cfg Config
	// Parallelism bounds how many steps run at once; 0 runs every step
	// that is ready.
	Parallelism int
	// LockTimeout is how long to wait for another run to finish.
	LockTimeout time.Duration
	// Prune lets up remove the steps the stack dropped. Without it, up
	// asks Confirm, and with no Confirm it refuses before changing
	// anything (ErrRemovalNotConfirmed).
	Prune bool
	// DeleteData lets a removal destroy a database's data: one kept only
	// in its pod, or its claims. Without it such a removal is refused
	// (ErrDataLoss).
	DeleteData bool
	// Confirm is asked, once, whether to remove the steps listed.
	Confirm func(ctx context.Context, gone []Removal) (bool, error)
	// Keep names recorded steps that stay even though the stack dropped
	// them (another user of a shared cluster still needs them).
	Keep []string
	// Adopt names helm releases kindred did not install that it may take
	// over (upgrade with the stack's chart and values); any other such
	// release is refused.
	Adopt []string
	// Lock, when set, pins every chart and manifest URL to what it
	// resolved; a stack that changed since is refused (ErrLockStale), and
	// a fetched artifact with another digest fails its step
	// (ErrDigestMismatch).
	Lock *Lock
}

// NewUp returns an Up action with defaults.
func NewUp(cfg Config) *Up {
	cfg.defaults()
	return &Up{cfg: cfg, LockTimeout: 2 * time.Minute}
}

// Run makes the cluster match st. A step that fails is reported and its
// dependants are skipped; the error is then a *RunError.
func (u *Up) Run(ctx context.Context, st *stack.Stack) (event.Summary, error) {
	started := u.cfg.Now()
	if c, ok := u.cfg.Provider.(cluster.Checker); ok {
		if ps := c.Check(st); len(ps) > 0 {
			return event.Summary{}, ps
		}
	}
	p, err := plan.Build(st, u.cfg.forProvider()...)
	if err != nil {
		return event.Summary{}, err
	}
	if u.Lock != nil {
		if err := u.Lock.apply(st, p); err != nil {
			return event.Summary{}, err
		}
	}
	u.cfg.Sink.Emit(event.Event{Time: started, Type: event.PlanReady, Levels: p.Levels, Message: fmt.Sprintf("%d steps in %d levels", len(p.Steps), len(p.Levels))})

	r := &runner{cfg: &u.cfg, st: st, plan: p, lockTimeout: u.LockTimeout,
		pruneAllowed: u.Prune, deleteData: u.DeleteData, confirm: u.Confirm, keep: u.Keep, adopt: u.Adopt, parallel: u.Parallelism}
	nodes := r.nodes()
	sum, err := execute(ctx, nodes, u.Parallelism, u.cfg.Sink, u.cfg.Now)
	r.endChecks()
	if r.lock != nil {
		r.lock.release()
	}
	u.cfg.Sink.Emit(event.Event{Time: u.cfg.Now(), Type: event.Finished, Elapsed: u.cfg.Now().Sub(started), Summary: &sum})
	return sum, err
}

// runner holds one Up run's shared state.
type runner struct {
	cfg         *Config
	st          *stack.Stack
	plan        *plan.Plan
	lockTimeout time.Duration

	// What removals are allowed; pruneAllowed turns true once confirmed.
	pruneAllowed bool
	deleteData   bool
	confirm      func(context.Context, []Removal) (bool, error)
	keep         []string
	adopt        []string

	// Set by the cluster step, read by every later step.
	access cluster.Access
	kube   *kube.Client
	helm   *helm.Client
	store  *stateStore
	prev   *State
	lock   *lock

	outages outages  // whether to wait out a kind not found (retryTransient)
	repairs sync.Map // step ID → what drift the step restored
	// outcomes: step ID → whether the step changed anything (or failed).
	outcomes sync.Map
	// fingerprints: step ID → its fingerprint (runner.fingerprint).
	fingerprints sync.Map
	// checks of the steps that should have nothing to do (startChecks).
	parallel   int // at most this many steps at once; 0 is no bound
	checks     map[string]*check
	checking   sync.WaitGroup
	stopChecks context.CancelFunc
	// claims are the objects other stacks on the cluster created, and
	// which stack and step did.
	claims map[ObjectRef]string
}

// noteRepair records that step id restored drift.
func (r *runner) noteRepair(id string, what []string) {
	if len(what) > 0 {
		r.repairs.Store(id, strings.Join(what, "; "))
	}
}

func (r *runner) repairedOf(id string) string {
	v, _ := r.repairs.Load(id)
	s, _ := v.(string)
	return s
}

// nodes turns the plan into executor nodes, plus removal nodes for steps
// the cluster records but the stack no longer has.
func (r *runner) nodes() []*node {
	var out []*node
	for _, s := range r.plan.Steps {
		s := s
		n := &node{id: s.ID, kind: s.Kind, needs: s.Needs, repaired: func() string { return r.repairedOf(s.ID) }}
		if s.Kind == plan.KindCluster {
			n.run = func(ctx context.Context, progress func(string)) (bool, error) {
				changed, err := retryTransient(ctx, progress, &r.outages, func() (bool, error) { return r.cluster(ctx, progress) })
				r.outcomes.Store(s.ID, changed || err != nil)
				if err == nil {
					r.startChecks(ctx)
				}
				return changed, err
			}
		} else {
			n.run = func(ctx context.Context, progress func(string)) (bool, error) {
				return r.runStep(ctx, s, progress)
			}
		}
		out = append(out, n)
	}
	// Removals depend on the recorded state, which the cluster step reads;
	// they are decided then, so one node runs them all.
	out = append(out, &node{id: "prune", kind: "prune", removes: true, needs: []string{stack.StepCluster}, run: func(ctx context.Context, progress func(string)) (bool, error) {
		return retryTransient(ctx, progress, &r.outages, func() (bool, error) { return r.prune(ctx, progress) })
	}})
	return out
}

// cluster ensures the cluster, takes the run's lock and reads the state.
func (r *runner) cluster(ctx context.Context, progress func(string)) (bool, error) {
	if r.cfg.Provider == nil {
		return false, errors.New("no cluster provider configured")
	}
	if s, ok := r.cfg.Provider.(cluster.Simulator); ok {
		s.Simulate(append(component.Simulations(), r.cfg.Simulated...))
	}
	acc, changed, err := r.cfg.Provider.Ensure(ctx, r.st, progress)
	if err != nil {
		return false, err
	}
	r.access = acc
	rc, err := acc.RESTConfig()
	if err != nil {
		return false, err
	}
	if r.kube, err = kube.New(rc); err != nil {
		return false, err
	}
	r.outages.defines = r.kube.Defines // the later steps' retries read it
	r.helm = &helm.Client{Kubeconfig: acc.Kubeconfig, Context: acc.Context, Log: r.cfg.Log,
		Fetcher: &helm.Fetcher{CacheDir: r.cfg.CacheDir, Mirror: r.cfg.chartMirror(r.st)}}
	for _, s := range r.plan.Steps {
		if c, ok := component.For(r.st, s).(component.Checker); ok {
			if err := c.Check(r.env(s, progress)); err != nil {
				return false, fmt.Errorf("step %s: %w", s.ID, err)
			}
		}
	}
	if acc.Existing && r.lock == nil {
		// Someone else's cluster: before the first write, make sure the
		// user may do what the plan needs, except for the steps that
		// succeeded here before with what they have now.
		prev, err := (&stateStore{cs: r.kube.Typed, stack: r.st.Metadata.Name}).load(ctx)
		if r.prev = prev; err != nil {
			r.prev = nil
		}
		steps := r.unchecked(r.prev)
		if len(steps) > 0 || (r.prev != nil && len(r.removals()) > 0) {
			progress(fmt.Sprintf("checking what you may do on this cluster (%d of %d steps)", len(steps), len(r.plan.Steps)-1))
			if err := r.checkPermissions(ctx, steps); err != nil {
				return false, err
			}
		}
	}
	if err := ensureSystemNamespace(ctx, r.kube.Typed); err != nil {
		return false, fmt.Errorf("creating %s: %w", SystemNamespace, err)
	}
	if r.lock == nil { // a retry of this step keeps the lock it took
		r.lock, err = acquireLock(ctx, r.kube.Typed, r.lockTimeout, func(holder string) {
			progress(fmt.Sprintf("waiting for another kindred run to finish (%s)", holder))
		})
		if err != nil {
			return false, err
		}
	}
	r.store = &stateStore{cs: r.kube.Typed, stack: r.st.Metadata.Name}
	if r.prev, err = r.store.load(ctx); err != nil {
		return false, err
	}
	if err := r.claimedElsewhere(ctx); err != nil {
		return false, err
	}
	if err := r.allowRemovals(ctx); err != nil {
		return false, err
	}
	spec, _ := json.Marshal(r.st.Stack)
	if r.prev.Stack == r.st.Metadata.Name && r.prev.File == r.st.File && bytes.Equal(r.prev.Spec, spec) {
		return changed, nil // recorded already
	}
	err = r.store.update(ctx, func(s *State) {
		s.Stack, s.File, s.Spec = r.st.Metadata.Name, r.st.File, spec
	})
	return changed, err
}

// ErrClaimed is wrapped when a stack would take over what another stack
// on the same cluster installed.
var ErrClaimed = errors.New("claimed by another stack")

// claimedElsewhere refuses a run whose releases or namespaces another
// stack on the cluster recorded as its own: two stacks never share a step.
func (r *runner) claimedElsewhere(ctx context.Context) error {
	others, err := otherStates(ctx, r.kube.Typed, r.st.Metadata.Name)
	if err != nil {
		return err
	}
	// What the other stacks created (not what they found): applying any
	// of it is refused when a step gets to it (see objects).
	r.claims = map[ObjectRef]string{}
	for _, o := range others {
		for id, rec := range o.Steps {
			for _, ref := range rec.Inventory {
				if !ref.Adopted {
					r.claims[ref] = fmt.Sprintf("stack %q (its step %s)", o.Stack, id)
				}
			}
		}
	}
	for _, s := range r.plan.Steps {
		if s.Kind != plan.KindComponent || s.Inputs.Chart == nil {
			continue
		}
		rel, ns := s.Component.Name, componentNamespace(s)
		for _, o := range others {
			for id, rec := range o.Steps {
				if rec.Release == rel && rec.Namespace == ns {
					return fmt.Errorf("%w: step %s would install release %s in namespace %s, which stack %q installed (its step %s); two stacks cannot share a release: rename the component in one of them, or run `kindred down` for %q first",
						ErrClaimed, s.ID, rel, ns, o.Stack, id, o.Stack)
				}
			}
		}
	}
	return nil
}

// prune removes what earlier runs installed for steps the stack dropped,
// later levels first, as down does; the cluster step allowed it.
func (r *runner) prune(ctx context.Context, progress func(string)) (bool, error) {
	gone := r.removals()
	for _, m := range gone {
		progress("removing " + m.String())
		if err := removeStep(ctx, r.kube, r.helm, r.prev.Steps[m.Step], r.deleteData); err != nil {
			return true, fmt.Errorf("removing %s: %w", m.Step, err)
		}
		if err := r.store.update(ctx, func(s *State) { delete(s.Steps, m.Step) }); err != nil {
			return true, err
		}
	}
	return len(gone) > 0, nil
}

// connect reaches the existing cluster of st, for actions that do not
// create it.
func connect(ctx context.Context, cfg *Config, st *stack.Stack) (cluster.Access, *kube.Client, *helm.Client, error) {
	if s, ok := cfg.Provider.(cluster.Simulator); ok {
		s.Simulate(append(component.Simulations(), cfg.Simulated...))
	}
	acc, err := cfg.Provider.Access(ctx, st)
	if err != nil {
		return acc, nil, nil, err
	}
	rc, err := acc.RESTConfig()
	if err != nil {
		return acc, nil, nil, err
	}
	kc, err := kube.New(rc)
	if err != nil {
		return acc, nil, nil, err
	}
	hc := &helm.Client{Kubeconfig: acc.Kubeconfig, Context: acc.Context, Log: cfg.Log, Fetcher: &helm.Fetcher{CacheDir: cfg.CacheDir}}
	return acc, kc, hc, nil
}

// Down uninstalls what the cluster records, in reverse order.
type Down struct {
	cfg         Config
	LockTimeout time.Duration
}

// NewDown returns a Down action.
func NewDown(cfg Config) *Down {
	cfg.defaults()
	return &Down{cfg: cfg, LockTimeout: 2 * time.Minute}
}

// Run uninstalls every recorded step, last level first, then forgets them.
// It needs only the cluster, not the stack file that installed it.
func (d *Down) Run(ctx context.Context, st *stack.Stack) (event.Summary, error) {
	started := d.cfg.Now()
	_, kc, hc, err := connect(ctx, &d.cfg, st)
	if err != nil {
		return event.Summary{}, err
	}
	store := &stateStore{cs: kc.Typed, stack: st.Metadata.Name}
	state, err := store.load(ctx)
	if err != nil {
		return event.Summary{}, err
	}
	l, err := acquireLock(ctx, kc.Typed, d.LockTimeout, func(holder string) {
		d.cfg.Sink.Emit(event.Event{Time: d.cfg.Now(), Type: event.StepProgress, Message: "waiting for another kindred run to finish (" + holder + ")"})
	})
	if err != nil {
		return event.Summary{}, err
	}
	defer l.release()

	// Each recorded step waits for every step of a later level to go first.
	var nodes []*node
	for id, rec := range state.Steps {
		id, rec := id, rec
		var needs []string
		for other, o := range state.Steps {
			if o.Level > rec.Level {
				needs = append(needs, other)
			}
		}
		nodes = append(nodes, &node{id: id, kind: rec.Kind, needs: needs, removes: true, run: func(ctx context.Context, progress func(string)) (bool, error) {
			if err := removeStep(ctx, kc, hc, rec, false); err != nil {
				return false, err
			}
			return true, store.update(ctx, func(s *State) { delete(s.Steps, id) })
		}})
	}
	if len(nodes) == 0 {
		sum := event.Summary{}
		d.cfg.Sink.Emit(event.Event{Time: d.cfg.Now(), Type: event.Finished, Elapsed: d.cfg.Now().Sub(started), Summary: &sum,
			Message: fmt.Sprintf("nothing to remove: this cluster has no record of stack %q", st.Metadata.Name)})
		return sum, nil
	}
	left := leftBehind(ctx, hc, state)
	levels := downLevels(state)
	d.cfg.Sink.Emit(event.Event{Time: started, Type: event.PlanReady, Levels: levels, Message: fmt.Sprintf("%d steps to remove in %d rounds, in this order (each round in parallel)", len(nodes), len(levels))})
	sum, err := execute(ctx, nodes, 0, d.cfg.Sink, d.cfg.Now)
	d.cfg.Sink.Emit(event.Event{Time: d.cfg.Now(), Type: event.Finished, Elapsed: d.cfg.Now().Sub(started), Summary: &sum, Notes: left.notes(ctx, kc)})
	return sum, err
}

// downLevels is the order down really runs: recorded levels, last first,
// each level's steps in parallel (sorted by ID).
func downLevels(state *State) [][]string {
	byLevel := map[int][]string{}
	for id, rec := range state.Steps {
		byLevel[rec.Level] = append(byLevel[rec.Level], id)
	}
	var order []int
	for l := range byLevel {
		order = append(order, l)
	}
	slices.Sort(order)
	slices.Reverse(order)
	var levels [][]string
	for _, l := range order {
		ids := byLevel[l]
		slices.Sort(ids)
		levels = append(levels, ids)
	}
	return levels
}

// kept is what down leaves on purpose: the releases' CRDs and kept
// objects, and the namespaces helm installed releases into.
type kept struct {
	crds, objects, namespaces []string
}

// leftBehind reads, before the releases go, what uninstalling them keeps.
func leftBehind(ctx context.Context, hc *helm.Client, state *State) kept {
	var k kept
	for _, rec := range state.Steps {
		if rec.Release == "" {
			continue
		}
		if rel, err := hc.Kept(ctx, rec.Release, rec.Namespace); err == nil {
			k.crds = append(k.crds, rel.CRDs...)
			k.objects = append(k.objects, rel.Objects...)
		}
		if rec.Namespace != "" && !slices.Contains(k.namespaces, rec.Namespace) {
			k.namespaces = append(k.namespaces, rec.Namespace)
		}
	}
	// Namespaces a step's objects went into without the step owning the
	// Namespace itself: created for them, or someone else's.
	owned := map[string]bool{}
	for _, rec := range state.Steps {
		for _, o := range rec.Inventory {
			if o.Kind == "Namespace" {
				owned[o.Name] = true
			}
		}
	}
	for _, rec := range state.Steps {
		for _, o := range rec.Inventory {
			ns := o.Namespace
			if ns == "" || owned[ns] || ns == "default" || ns == SystemNamespace || strings.HasPrefix(ns, "kube-") || slices.Contains(k.namespaces, ns) {
				continue
			}
			k.namespaces = append(k.namespaces, ns)
		}
	}
	return k
}

// notes says which of the kept things are still there, and why.
func (k kept) notes(ctx context.Context, kc *kube.Client) []string {
	exists := func(gvk schema.GroupVersionKind, ns, name string) bool {
		_, err := kc.Get(ctx, gvk, ns, name)
		return err == nil
	}
	var crds, nss []string
	for _, n := range k.crds {
		if !slices.Contains(crds, n) && exists(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, "", n) {
			crds = append(crds, n)
		}
	}
	for _, n := range k.namespaces {
		if exists(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "", n) {
			nss = append(nss, n)
		}
	}
	slices.Sort(crds)
	slices.Sort(nss)
	var out []string
	if len(crds) > 0 {
		out = append(out, fmt.Sprintf("%d CustomResourceDefinitions of the charts (helm never deletes a chart's CRDs: deleting one deletes every resource of its kind in the cluster): %s", len(crds), strings.Join(crds, ", ")))
	}
	if len(k.objects) > 0 {
		out = append(out, fmt.Sprintf("%d objects the charts mark helm.sh/resource-policy: keep: %s", len(k.objects), strings.Join(k.objects, ", ")))
	}
	if len(nss) > 0 {
		out = append(out, fmt.Sprintf("namespaces %s: releases and objects were installed into them, and a namespace is never deleted with them (it may hold what others put there); delete them with kubectl delete namespace if they are yours", strings.Join(nss, ", ")))
	}
	return out
}

// StepStatus is one recorded step and its health now.
type StepStatus struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Level   int    `json:"level"`
	Healthy bool   `json:"healthy"`
	Message string `json:"message"`
	Release string `json:"release,omitempty"`
	// Namespace of the release.
	Namespace string      `json:"namespace,omitempty"`
	Endpoint  string      `json:"endpoint,omitempty"`
	Objects   []ObjectRef `json:"objects,omitempty"`
	Applied   string      `json:"applied,omitempty"`
}

// Report is what Status returns.
type Report struct {
	Stack      string       `json:"stack"`
	File       string       `json:"file,omitempty"`
	Kubeconfig string       `json:"kubeconfig"`
	Steps      []StepStatus `json:"steps"`
}

// Status reads what the cluster records and checks each step's health.
type Status struct{ cfg Config }

// NewStatus returns a Status action.
func NewStatus(cfg Config) *Status {
	cfg.defaults()
	return &Status{cfg: cfg}
}

// Run reports the stack recorded in the cluster.
func (s *Status) Run(ctx context.Context, st *stack.Stack) (*Report, error) {
	acc, kc, hc, err := connect(ctx, &s.cfg, st)
	if err != nil {
		return nil, err
	}
	state, err := (&stateStore{cs: kc.Typed, stack: st.Metadata.Name}).load(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Stack: state.Stack, File: state.File, Kubeconfig: acc.Kubeconfig}
	for id, rec := range state.Steps {
		ss := StepStatus{ID: id, Kind: rec.Kind, Level: rec.Level, Release: rec.Release, Namespace: rec.Namespace, Endpoint: rec.Endpoint, Objects: rec.Inventory, Applied: rec.Applied}
		ss.Healthy, ss.Message = health(ctx, kc, hc, rec)
		rep.Steps = append(rep.Steps, ss)
	}
	slices.SortFunc(rep.Steps, func(a, b StepStatus) int {
		if a.Level != b.Level {
			return a.Level - b.Level
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return rep, nil
}
