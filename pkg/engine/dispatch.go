package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
	_ "kindred.dev/kindred/pkg/component/builtin" // the built-in components
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// ErrNotBuilt is wrapped by steps no component handles, so the run says so
// plainly.
var ErrNotBuilt = errors.New("not built yet")

// DefaultTimeout bounds a step that sets no timeout of its own.
const DefaultTimeout = 5 * time.Minute

// step runs one plan step and records it. What a step installs comes from
// its source (a chart, a kustomize folder, manifests) or from the
// component that renders it; the component then finishes it (a login, a
// verdict, a CoreDNS rewrite) before its checks run.
func (r *runner) step(ctx context.Context, s *plan.Step, progress func(string)) (bool, error) {
	prev := r.prev.Steps[s.ID]
	mod := component.For(r.st, s)
	env := r.env(s, progress)
	var rec *StepRecord
	var objs []*unstructured.Unstructured
	var changed bool
	var err error
	render := func() ([]*unstructured.Unstructured, error) {
		var err error
		objs, err = r.render(ctx, s, mod, env)
		return objs, err
	}
	switch {
	case s.Kind == plan.KindComponent && s.Inputs.Chart != nil:
		rec, objs, changed, err = r.chart(ctx, s, mod, env)
	case s.Kind == plan.KindComponent || isRenderer(mod):
		rec, changed, err = r.objects(ctx, s.ID, env.Namespace, prev, progress, render, env.Timeout)
	default:
		return false, fmt.Errorf("%s steps are %w", s.Kind, ErrNotBuilt)
	}
	// A step that fails is recorded with what it put in the cluster, so
	// that status shows it failed, a re-run repairs it, and down and prune
	// remove it.
	fail := func(err error) (bool, error) {
		if rec == nil {
			return changed, err
		}
		rec = withPrevious(rec, prev)
		rec.Hash, rec.Failed = "", failure(err)
		rec.Kind, rec.Level, rec.Applied = s.Kind, s.Level, r.cfg.Now().UTC().Format(time.RFC3339)
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if uerr := r.store.update(uctx, func(st *State) { st.Steps[s.ID] = rec }); uerr != nil && r.cfg.Log != nil {
			r.cfg.Log.Warn("recording a failed step", "step", s.ID, "err", uerr)
		}
		return changed, err
	}
	if err != nil {
		return fail(err)
	}
	if f, ok := mod.(component.Finisher); ok {
		res, err := f.Finish(ctx, env, objs)
		rec.Inventory = append(rec.Inventory, res.Inventory...)
		if err != nil {
			return fail(err)
		}
		rec.Endpoint, rec.Secret, rec.DNSRewrite, rec.Data = res.Endpoint, res.Secret, res.DNSRewrite, res.Data
	}
	if s.Kind == plan.KindComponent {
		var checks []api.Check
		if s.Entry != nil {
			checks = append(checks, s.Entry.Checks...)
		}
		checks = append(checks, s.Component.Checks...)
		if s.Inputs.Chart != nil {
			if checks, err = r.expandChecks(ctx, s, mod, env, checks); err != nil {
				return fail(err)
			}
		}
		if len(checks) > 0 {
			progress(fmt.Sprintf("running %d readiness checks", len(checks)))
			if err := ready.RunChecks(ctx, r.kube, checks, env.Timeout, progress); err != nil {
				return fail(err)
			}
		}
	}
	r.stamp(rec, s, env)
	// A step that failed last time and passes now changed: from failed to done.
	changed = changed || (prev != nil && prev.Failed != "")
	return changed, r.record(ctx, s.ID, prev, rec, changed)
}

// stamp completes the record of step s, which succeeded.
func (r *runner) stamp(rec *StepRecord, s *plan.Step, env *component.Env) {
	rec.Kind, rec.Level, rec.Applied = s.Kind, s.Level, r.cfg.Now().UTC().Format(time.RFC3339)
	rec.Skipped, rec.Fingerprint = env.Skipped, r.fingerprint(s)
}

// record writes a step's record, unless the step changed nothing and the
// record would say what it already says: then the record keeps when the
// step was last applied, and a run that changes nothing writes nothing.
func (r *runner) record(ctx context.Context, id string, prev, rec *StepRecord, changed bool) error {
	if !changed && prev != nil {
		same := *rec
		same.Applied = prev.Applied
		a, aerr := json.Marshal(&same)
		b, berr := json.Marshal(prev)
		if aerr == nil && berr == nil && bytes.Equal(a, b) {
			return nil
		}
	}
	return r.store.update(ctx, func(st *State) { st.Steps[id] = rec })
}

// failure is what a failed step's record says of its error: its first
// line, bounded.
func failure(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return msg
}

func isRenderer(c component.Component) bool {
	_, ok := c.(component.Renderer)
	return ok
}

// hasSource says a component step installs from a source of its own: a
// kustomize folder or manifests (charts go through helm).
func hasSource(s *plan.Step) bool {
	return s.Kind == plan.KindComponent && (s.Component.Kustomize != "" || len(s.Inputs.Manifests) > 0)
}

// env is what the step's component works with.
func (r *runner) env(s *plan.Step, progress func(string)) *component.Env {
	return &component.Env{Stack: r.st, Plan: r.plan, Step: s, Namespace: stepNamespace(s), Timeout: stepTimeout(s),
		Kube: r.kube, Access: r.access, CADir: r.cfg.CADir, Progress: progress, Log: r.cfg.Log}
}

// render is what a step applies itself: its kustomize folder or
// manifests, patched by its component, or, for a step with no source of its
// own, what its component renders.
func (r *runner) render(ctx context.Context, s *plan.Step, mod component.Component, env *component.Env) ([]*unstructured.Unstructured, error) {
	if rd, ok := mod.(component.Renderer); ok && !hasSource(s) {
		return rd.Render(ctx, env)
	}
	var objs []*unstructured.Unstructured
	var err error
	if s.Component.Kustomize != "" {
		objs, err = r.kustomize(s.Component.Kustomize)
	} else {
		objs, err = r.manifests(ctx, s.Inputs.Manifests)
	}
	if err != nil {
		return nil, err
	}
	if p, ok := mod.(component.Patcher); ok {
		if err := p.Patch(env, objs); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// stepNamespace is where a step installs what has no namespace of its own.
func stepNamespace(s *plan.Step) string {
	switch s.Kind {
	case plan.KindComponent:
		return componentNamespace(s)
	case plan.KindDatabase:
		return s.Database.Namespace
	case plan.KindJob:
		return s.Job.Namespace
	case plan.KindRoute:
		return s.Route.Service.Namespace
	}
	return ""
}

// stepTimeout bounds a step's wait.
func stepTimeout(s *plan.Step) time.Duration {
	switch {
	case s.Kind == plan.KindComponent && s.Component.Timeout.Duration > 0:
		return s.Component.Timeout.Duration
	case s.Kind == plan.KindJob:
		return s.Job.Timeout.Duration
	}
	return DefaultTimeout
}

// componentNamespace is where a component installs: its own namespace,
// else its catalogue entry's, else the default.
func componentNamespace(s *plan.Step) string {
	if ns := s.Component.Namespace; ns != "" {
		return ns
	}
	if s.Entry != nil && s.Entry.Namespace != "" {
		return s.Entry.Namespace
	}
	return stack.DefaultNamespace
}
