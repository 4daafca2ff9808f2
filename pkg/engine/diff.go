package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aymanbagabas/go-udiff"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// What diff says up would do with a step, and with an object.
const (
	DiffCreate    = "create"
	DiffUpgrade   = "upgrade"
	DiffUnchanged = "unchanged"
	DiffRepair    = "repair"
	DiffRemove    = "remove"
	DiffChange    = "change"
	DiffDelete    = "delete"
)

// DiffReport is what up would do to the cluster, step by step.
type DiffReport struct {
	Stack string `json:"stack"`
	// Cluster is false when the stack's cluster does not exist yet: up
	// would create it and everything in it.
	Cluster bool       `json:"cluster"`
	Steps   []StepDiff `json:"steps"`
}

// Changes counts the steps up would change.
func (d *DiffReport) Changes() int {
	n := 0
	for _, s := range d.Steps {
		if s.Action != DiffUnchanged {
			n++
		}
	}
	return n
}

// StepDiff is what up would do with one step.
type StepDiff struct {
	Step   string `json:"step"`
	Kind   string `json:"kind"`
	Action string `json:"action"`
	// Release is a chart step's helm release.
	Release string       `json:"release,omitempty"`
	Objects []ObjectDiff `json:"objects,omitempty"`
	// Removal says what goes, for a step the stack dropped.
	Removal *Removal `json:"removal,omitempty"`
	// Note says why no object detail is shown, when there is none.
	Note string `json:"note,omitempty"`
}

// ObjectDiff is one object up would create, change or delete; Diff is a
// unified diff of its YAML, live then desired, with Secrets' values
// masked.
type ObjectDiff struct {
	Object string `json:"object"`
	Action string `json:"action"`
	Diff   string `json:"diff,omitempty"`
}

// Diff computes what Up would do, changing nothing.
type Diff struct {
	cfg Config
	// Adopt is Up's: releases kindred did not install that up may take
	// over; diff shows their upgrade instead of refusing.
	Adopt []string
	// Lock is Up's: with it, diff compares what up would install, the
	// locked charts and files, and refuses a stack changed since it was
	// locked, as up does.
	Lock *Lock
}

// NewDiff returns a Diff action.
func NewDiff(cfg Config) *Diff {
	cfg.defaults()
	return &Diff{cfg: cfg}
}

// Run compares the stack with what its cluster runs: for a chart, helm's
// dry-run render against the live release; for objects, a server-side
// dry-run apply against the live objects.
func (d *Diff) Run(ctx context.Context, st *stack.Stack) (*DiffReport, error) {
	p, err := plan.Build(st, d.cfg.forProvider()...)
	if err != nil {
		return nil, err
	}
	if d.Lock != nil {
		if err := d.Lock.apply(st, p); err != nil {
			return nil, err
		}
	}
	rep := &DiffReport{Stack: st.Metadata.Name}
	acc, kc, hc, err := connect(ctx, &d.cfg, st)
	if errors.Is(err, cluster.ErrNoCluster) {
		for _, s := range p.Steps {
			rep.Steps = append(rep.Steps, StepDiff{Step: s.ID, Kind: s.Kind, Action: DiffCreate, Note: "the cluster does not exist yet"})
		}
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	rep.Cluster = true
	hc.Fetcher.Mirror = d.cfg.chartMirror(st)
	store := &stateStore{cs: kc.Typed, stack: st.Metadata.Name}
	prev, err := store.load(ctx)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: &d.cfg, st: st, plan: p, access: acc, kube: kc, helm: hc, prev: prev, adopt: d.Adopt}
	for _, s := range p.Steps {
		if s.Kind == plan.KindCluster {
			rep.Steps = append(rep.Steps, StepDiff{Step: s.ID, Kind: s.Kind, Action: DiffUnchanged})
			continue
		}
		sd, err := r.diffStep(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", s.ID, err)
		}
		rep.Steps = append(rep.Steps, sd)
	}
	for _, m := range r.removals() {
		m := m
		rep.Steps = append(rep.Steps, StepDiff{Step: m.Step, Kind: m.Kind, Action: DiffRemove, Release: m.Release, Removal: &m})
	}
	return rep, nil
}

// diffStep is what up would do with one step of the plan.
func (r *runner) diffStep(ctx context.Context, s *plan.Step) (StepDiff, error) {
	sd := StepDiff{Step: s.ID, Kind: s.Kind}
	prev := r.prev.Steps[s.ID]
	mod := component.For(r.st, s)
	env := r.env(s, func(string) {})
	switch {
	case s.Kind == plan.KindComponent && s.Inputs.Chart != nil:
		rel, err := r.chartRelease(s, mod, env)
		if err != nil {
			return sd, err
		}
		sd.Release = rel.Name
		planned, err := r.helm.Plan(ctx, rel)
		if err != nil {
			return sd, err
		}
		switch {
		case planned.Action == helm.ActionNone && len(planned.Drift) > 0:
			sd.Action, sd.Note = DiffRepair, "restores what drifted: "+strings.Join(planned.Drift, "; ")
		case planned.Action == helm.ActionNone:
			sd.Action = DiffUnchanged
		case planned.Action == helm.ActionInstall:
			sd.Action = DiffCreate
		default:
			sd.Action = DiffUpgrade
		}
		if sd.Action == DiffCreate || sd.Action == DiffUpgrade {
			sd.Objects, err = manifestDiff(planned.Current, planned.Desired, env.Namespace)
			if err != nil {
				return sd, err
			}
		}
	case s.Kind == plan.KindComponent || isRenderer(mod):
		objs, err := r.render(ctx, s, mod, env)
		if err != nil {
			return sd, err
		}
		for _, o := range objs {
			if o.GetNamespace() == "" && env.Namespace != "" {
				if _, namespaced, err := r.kube.Resource(o.GroupVersionKind(), env.Namespace); err == nil && namespaced {
					o.SetNamespace(env.Namespace)
				}
			}
		}
		hash, err := hashObjects(objs)
		if err != nil {
			return sd, err
		}
		sd.Objects, err = r.liveDiff(ctx, objs, prev)
		if err != nil {
			return sd, err
		}
		switch {
		case prev == nil:
			sd.Action = DiffCreate
		case prev.Hash != hash || prev.Failed != "" || len(sd.Objects) > 0:
			sd.Action = DiffUpgrade
		default:
			sd.Action = DiffUnchanged
		}
	default:
		return sd, fmt.Errorf("%s steps are %w", s.Kind, ErrNotBuilt)
	}
	return sd, nil
}

// liveDiff compares each object with the live one through a server-side
// dry-run apply; objects the step had and no longer renders are deleted
// (unless kindred found them in the cluster).
func (r *runner) liveDiff(ctx context.Context, objs []*unstructured.Unstructured, prev *StepRecord) ([]ObjectDiff, error) {
	var out []ObjectDiff
	var refs []ObjectRef
	for _, o := range objs {
		name := o.GetKind() + " " + kube.Name(o)
		refs = append(refs, ObjectRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()})
		live, err := r.kube.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			out = append(out, ObjectDiff{Object: name, Action: DiffCreate, Diff: yamlDiff(nil, o)})
			continue
		}
		if err != nil {
			return nil, err
		}
		applied, err := r.kube.ApplyDryRun(ctx, o.DeepCopy())
		if err != nil {
			return nil, err
		}
		if text := yamlDiff(live, applied); text != "" {
			out = append(out, ObjectDiff{Object: name, Action: DiffChange, Diff: text})
		}
	}
	if prev != nil {
		for _, old := range prev.Inventory {
			if !old.Adopted && !containsRef(refs, old) {
				out = append(out, ObjectDiff{Object: old.Kind + " " + refName(old), Action: DiffDelete})
			}
		}
	}
	return out, nil
}

func refName(r ObjectRef) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// manifestDiff compares a release's manifest now and after, object by
// object.
func manifestDiff(current, desired, namespace string) ([]ObjectDiff, error) {
	cur, err := releaseObjects(current, namespace)
	if err != nil {
		return nil, err
	}
	want, err := releaseObjects(desired, namespace)
	if err != nil {
		return nil, err
	}
	key := func(u *unstructured.Unstructured) string { return u.GetKind() + " " + kube.Name(u) }
	byKey := map[string]*unstructured.Unstructured{}
	for _, u := range cur {
		byKey[key(u)] = u
	}
	var out []ObjectDiff
	for _, u := range want {
		old, ok := byKey[key(u)]
		delete(byKey, key(u))
		switch {
		case !ok:
			out = append(out, ObjectDiff{Object: key(u), Action: DiffCreate, Diff: yamlDiff(nil, u)})
		default:
			if text := yamlDiff(old, u); text != "" {
				out = append(out, ObjectDiff{Object: key(u), Action: DiffChange, Diff: text})
			}
		}
	}
	var gone []string
	for k := range byKey {
		gone = append(gone, k)
	}
	sort.Strings(gone)
	for _, k := range gone {
		out = append(out, ObjectDiff{Object: k, Action: DiffDelete})
	}
	return out, nil
}

// yamlDiff is a unified diff of two versions of an object (nil for none),
// without what the server keeps for itself, and with a Secret's values
// masked: each says only whether it changed.
func yamlDiff(before, after *unstructured.Unstructured) string {
	a, b := forDiff(before), forDiff(after)
	if a != nil && b != nil && (a.GetKind() == "Secret") {
		maskSecrets(a, b)
	} else {
		maskSecrets(a, nil)
		maskSecrets(b, nil)
	}
	text := func(u *unstructured.Unstructured) string {
		if u == nil {
			return ""
		}
		data, _ := yaml.Marshal(u.Object)
		return string(data)
	}
	ta, tb := text(a), text(b)
	if ta == tb {
		return ""
	}
	return udiff.Unified("live", "stack", ta, tb)
}

// forDiff copies u without its server-kept fields and status.
func forDiff(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u == nil {
		return nil
	}
	cp := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"} {
		unstructured.RemoveNestedField(cp.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(cp.Object, "status")
	if len(cp.GetAnnotations()) == 0 {
		unstructured.RemoveNestedField(cp.Object, "metadata", "annotations")
	}
	return cp
}

// maskSecrets replaces the values of Secret a, and of b (its next
// version, or nil), with marks: a's say "(masked)", b's say whether each
// value changed since a, so a diff shows a changed value as a changed
// line and never the value.
func maskSecrets(a, b *unstructured.Unstructured) {
	if a == nil || a.GetKind() != "Secret" {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		av, _, _ := unstructured.NestedMap(a.Object, field)
		var bv map[string]any
		if b != nil {
			bv, _, _ = unstructured.NestedMap(b.Object, field)
		}
		if av != nil {
			masked := map[string]any{}
			for k := range av {
				masked[k] = "(masked)"
			}
			_ = unstructured.SetNestedMap(a.Object, masked, field)
		}
		if bv != nil {
			masked := map[string]any{}
			for k, v := range bv {
				masked[k] = "(masked)"
				if old, ok := av[k]; !ok || fmt.Sprint(old) != fmt.Sprint(v) {
					masked[k] = "(masked, changed)"
				}
			}
			_ = unstructured.SetNestedMap(b.Object, masked, field)
		}
	}
}
