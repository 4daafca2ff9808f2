package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"kindred.dev/kindred/pkg/event"
)

// StepError is a failed step, with the step's name and the output or
// details that explain it.
type StepError struct {
	Step   string
	Err    error
	Detail string
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// RunError is a run that did not converge: the steps that failed, and
// those skipped because of them.
type RunError struct {
	Failed  []*StepError
	Skipped []string
}

// Unwrap returns the failed steps' errors, for errors.Is and errors.As.
func (e *RunError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

func (e *RunError) Error() string {
	var parts []string
	for _, f := range e.Failed {
		parts = append(parts, f.Error())
	}
	if len(e.Skipped) > 0 {
		parts = append(parts, fmt.Sprintf("skipped: %s", strings.Join(e.Skipped, ", ")))
	}
	return strings.Join(parts, "; ")
}

// node is one task of the executor's graph.
type node struct {
	id    string
	kind  string
	needs []string
	run   func(ctx context.Context, progress func(string)) (changed bool, err error)
	// repaired, if set, says after a successful run what drift the run
	// restored ("" for none).
	repaired func() string
	// removes: the node removes its step, and reports "removed".
	removes bool
}

// execute runs nodes as their needs allow, at most parallel at a time (0 is
// no bound). A failed node's dependants are skipped; independent branches
// go on. It returns the summary and, when anything failed or was skipped,
// a *RunError.
func execute(ctx context.Context, nodes []*node, parallel int, sink event.Sink, now func() time.Time) (event.Summary, error) {
	byID := map[string]*node{}
	waiting := map[string]int{}
	dependants := map[string][]string{}
	for _, n := range nodes {
		byID[n.id] = n
	}
	for _, n := range nodes {
		for _, d := range n.needs {
			if _, ok := byID[d]; ok {
				waiting[n.id]++
				dependants[d] = append(dependants[d], n.id)
			}
		}
	}
	if parallel <= 0 {
		parallel = len(nodes)
	}
	sem := make(chan struct{}, max(parallel, 1))

	type result struct {
		id       string
		changed  bool
		repaired bool
		removed  bool
		err      error
		// cancelled: the run's cancel stopped the step.
		cancelled bool
	}
	results := make(chan result)
	var sum event.Summary
	var runErr RunError
	done := map[string]bool{}
	running := 0
	var wg sync.WaitGroup

	start := func(n *node) {
		running++
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results <- result{id: n.id, err: ctx.Err(), cancelled: true}
				return
			}
			defer func() { <-sem }()
			began := now()
			sink.Emit(event.Event{Time: began, Type: event.StepStarted, Step: n.id, Kind: n.kind})
			progress := func(msg string) {
				sink.Emit(event.Event{Time: now(), Type: event.StepProgress, Step: n.id, Kind: n.kind, Message: msg})
			}
			changed, err := n.run(ctx, progress)
			elapsed := now().Sub(began)
			if err != nil && ctx.Err() != nil {
				// Stopped by the cancel, not failed: the next run resumes it.
				results <- result{id: n.id, err: err, cancelled: true}
				return
			}
			if err != nil {
				var se *StepError
				detail := ""
				if errors.As(err, &se) {
					detail = se.Detail
				}
				sink.Emit(event.Event{Time: now(), Type: event.StepFailed, Step: n.id, Kind: n.kind, Message: err.Error(), Detail: detail, Elapsed: elapsed})
			} else {
				msg, repaired := "unchanged", ""
				if changed {
					msg = "changed"
				}
				if n.repaired != nil {
					repaired = n.repaired()
				}
				if repaired != "" {
					msg = "repaired: " + repaired
				}
				removed := n.removes && changed
				if removed {
					msg = "removed"
				}
				sink.Emit(event.Event{Time: now(), Type: event.StepSucceeded, Step: n.id, Kind: n.kind, Changed: changed, Repaired: repaired != "", Removed: removed, Message: msg, Elapsed: elapsed})
				results <- result{id: n.id, changed: changed, repaired: repaired != "", removed: removed}
				return
			}
			results <- result{id: n.id, changed: changed, err: err}
		}()
	}
	var skip func(id, reason string)
	skip = func(id, reason string) {
		if done[id] {
			return
		}
		done[id] = true
		sum.Skipped++
		runErr.Skipped = append(runErr.Skipped, id)
		sink.Emit(event.Event{Time: now(), Type: event.StepSkipped, Step: id, Kind: byID[id].kind, Message: reason})
		for _, d := range dependants[id] {
			skip(d, fmt.Sprintf("needs %s, which did not succeed", id))
		}
	}

	ids := make([]string, 0, len(nodes))
	for _, n := range nodes {
		ids = append(ids, n.id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if waiting[id] == 0 {
			start(byID[id])
		}
	}
	for running > 0 {
		r := <-results
		running--
		if r.cancelled {
			sum.Cancelled = true
			skip(r.id, "cancelled while it ran")
			continue
		}
		done[r.id] = true
		if r.err != nil {
			if errors.Is(r.err, context.Canceled) && ctx.Err() != nil {
				sum.Cancelled = true
			}
			sum.Failed++
			se := &StepError{}
			if !errors.As(r.err, &se) {
				se = &StepError{Step: r.id, Err: r.err}
			}
			se.Step = r.id
			runErr.Failed = append(runErr.Failed, se)
			for _, d := range dependants[r.id] {
				skip(d, fmt.Sprintf("needs %s, which failed", r.id))
			}
			continue
		}
		if r.repaired {
			sum.Repaired++
		}
		if r.removed {
			sum.Removed++
		} else if r.changed {
			sum.Changed++
		} else {
			sum.Unchanged++
		}
		next := dependants[r.id]
		sort.Strings(next)
		for _, d := range next {
			waiting[d]--
			if waiting[d] == 0 && !done[d] {
				if ctx.Err() != nil {
					sum.Cancelled = true
					skip(d, "the run was cancelled")
					continue
				}
				start(byID[d])
			}
		}
	}
	wg.Wait()
	// Anything never reached (after a cancel) counts as skipped.
	for _, id := range ids {
		if !done[id] {
			skip(id, "the run was cancelled")
		}
	}
	if ctx.Err() != nil {
		sum.Cancelled = true
	}
	if len(runErr.Failed) > 0 || len(runErr.Skipped) > 0 {
		return sum, &runErr
	}
	return sum, nil
}
