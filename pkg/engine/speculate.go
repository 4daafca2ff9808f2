package engine

import (
	"context"
	"errors"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/plan"
)

// On a re-run most steps have nothing to do, yet each waits for the steps
// it needs before it can find that out: a no-op run of a stack of sixteen
// levels took sixteen rounds of reads, one after another. So, once the
// cluster step has read the record, every step that succeeded last time
// with the same definition is checked at once, reading only (a check):
// its release or objects are as recorded, none drifted, and every object
// is ready now. The steps still run in graph order. When a step's turn
// comes and no step it needs changed anything in this run, its check
// stands and the step is done; otherwise, or when the check found work,
// the step runs as it would have. Checks read from the API server's watch
// cache (a moment behind at most, and no read of etcd): a check is as old
// as its start anyway.

// errWouldChange is a check's answer for a step that has work to do.
var errWouldChange = errors.New("the step would change")

// checkWidth bounds how many checks run at once (and so does a run's
// bound on parallel steps).
const checkWidth = 16

// check is the pending or finished check of one step.
type check struct {
	done     chan struct{}
	rec      *StepRecord
	progress []string
	err      error
}

// checkable says whether step s may be checked ahead of its turn: it
// succeeded last time with the same definition, and its component does
// nothing beyond its objects (no preparing, finishing or checks, which may
// write or take long).
func (r *runner) checkable(s *plan.Step) bool {
	if r.prev == nil || s.Kind == plan.KindCluster {
		return false
	}
	if !r.succeededAsIs(r.prev.Steps[s.ID], s) {
		return false
	}
	mod := component.For(r.st, s)
	if _, ok := mod.(component.Preparer); ok {
		return false
	}
	if _, ok := mod.(component.Finisher); ok {
		return false
	}
	if s.Component != nil && len(s.Component.Checks) > 0 || s.Entry != nil && len(s.Entry.Checks) > 0 {
		return false
	}
	return s.Kind == plan.KindComponent || isRenderer(mod)
}

// startChecks checks every checkable step, checkWidth at a time, lowest
// level first. It is called once the record is read; endChecks stops and
// waits for what is still running.
func (r *runner) startChecks(ctx context.Context) {
	var steps []*plan.Step
	for _, s := range r.plan.Steps {
		if r.checkable(s) {
			steps = append(steps, s)
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Level < steps[j].Level })
	r.checks = make(map[string]*check, len(steps))
	queue := make(chan *plan.Step, len(steps))
	for _, s := range steps {
		r.checks[s.ID] = &check{done: make(chan struct{})}
		queue <- s
	}
	close(queue)
	ctx, r.stopChecks = context.WithCancel(ctx)
	width := checkWidth
	if r.parallel > 0 {
		width = min(width, r.parallel)
	}
	for range min(width, len(steps)) {
		r.checking.Add(1)
		go func() {
			defer r.checking.Done()
			for s := range queue {
				c := r.checks[s.ID]
				c.rec, c.err = r.verify(ctx, s, func(msg string) { c.progress = append(c.progress, msg) })
				close(c.done)
			}
		}()
	}
}

// endChecks stops the checks still running and waits for them.
func (r *runner) endChecks() {
	if r.stopChecks != nil {
		r.stopChecks()
	}
	r.checking.Wait()
}

// checked returns the record of step s when its check found nothing to do
// and no step it needs changed anything in this run; it passes the
// check's progress on.
func (r *runner) checked(ctx context.Context, s *plan.Step, progress func(string)) (*StepRecord, bool) {
	c := r.checks[s.ID]
	if c == nil {
		return nil, false
	}
	for _, need := range s.Needs {
		if changed, ok := r.outcomes.Load(need); !ok || changed.(bool) {
			return nil, false
		}
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, false
	}
	if c.err != nil {
		return nil, false
	}
	for _, msg := range c.progress {
		progress(msg)
	}
	return c.rec, true
}

// verify is step for a step that should have nothing to do, reading only:
// it returns the step's record, or errWouldChange (or another error) when
// the step must run.
func (r *runner) verify(ctx context.Context, s *plan.Step, progress func(string)) (*StepRecord, error) {
	prev := r.prev.Steps[s.ID]
	mod := component.For(r.st, s)
	env := r.env(s, progress)
	var rec *StepRecord
	var objs, seen []*unstructured.Unstructured
	if s.Kind == plan.KindComponent && s.Inputs.Chart != nil {
		rel, err := r.chartRelease(s, mod, env)
		if err != nil {
			return nil, err
		}
		progress("helm: ensuring release " + s.Component.Name)
		res, err := r.helm.Verify(ctx, rel)
		if errors.Is(err, helm.ErrWouldChange) {
			return nil, errWouldChange
		}
		if err != nil {
			return nil, err
		}
		rec = &StepRecord{Release: s.Component.Name, Namespace: env.Namespace, Hash: res.ChartVersion}
		if objs, err = releaseObjects(res.Manifest, env.Namespace); err != nil {
			return nil, err
		}
		seen = res.Live
	} else {
		var err error
		objs, rec, err = r.inventory(ctx, s.ID, env.Namespace, prev, func() ([]*unstructured.Unstructured, error) {
			return r.render(ctx, s, mod, env)
		})
		if err != nil {
			return nil, err
		}
		if rec.Hash != prev.Hash {
			return nil, errWouldChange
		}
		var gone []string
		if gone, seen = r.missing(ctx, objs, true); len(gone) > 0 {
			return nil, errWouldChange
		}
	}
	if len(objs) > 0 {
		sts, err := ready.Now(ctx, r.kube, objs, seen)
		if err != nil {
			return nil, err
		}
		for _, st := range sts {
			if !st.Ready {
				return nil, errWouldChange
			}
		}
		readyProgress(progress)(sts, nil)
	}
	r.stamp(rec, s, env)
	return rec, nil
}

// runStep runs step s in its turn: as its check found it, when that
// stands, else by running it. It notes whether the step changed anything,
// for the checks of the steps that need it.
func (r *runner) runStep(ctx context.Context, s *plan.Step, progress func(string)) (bool, error) {
	if rec, ok := r.checked(ctx, s, progress); ok {
		r.outcomes.Store(s.ID, false)
		return false, r.record(ctx, s.ID, r.prev.Steps[s.ID], rec, false)
	}
	changed, err := retryTransient(ctx, progress, &r.outages, func() (bool, error) { return r.step(ctx, s, progress) })
	r.outcomes.Store(s.ID, changed || err != nil)
	return changed, err
}
