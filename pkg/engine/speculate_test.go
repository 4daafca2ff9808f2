package engine

import (
	"context"
	"errors"
	"slices"
	"testing"

	"kindred.dev/kindred/pkg/plan"
)

// A step's check, made ahead of its turn, stands only when it found
// nothing to do and every step it needs changed nothing in this run; its
// progress is passed on then, and only then.
func TestCheckStandsOnlyWhenNothingItNeedsChanged(t *testing.T) {
	ctx := context.Background()
	s := &plan.Step{ID: "app", Needs: []string{"cluster", "db"}}
	finished := func(err error) *check {
		c := &check{done: make(chan struct{}), rec: &StepRecord{Hash: "h"}, progress: []string{"3/3 objects ready"}, err: err}
		close(c.done)
		return c
	}
	for _, tc := range []struct {
		name     string
		check    *check
		outcomes map[string]bool
		stands   bool
	}{
		{"nothing changed", finished(nil), map[string]bool{"cluster": false, "db": false}, true},
		{"a need changed", finished(nil), map[string]bool{"cluster": false, "db": true}, false},
		{"a need has not finished", finished(nil), map[string]bool{"cluster": false}, false},
		{"the check found work", finished(errWouldChange), map[string]bool{"cluster": false, "db": false}, false},
		{"the check failed", finished(errors.New("connection refused")), map[string]bool{"cluster": false, "db": false}, false},
		{"no check", nil, map[string]bool{"cluster": false, "db": false}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{checks: map[string]*check{}}
			if tc.check != nil {
				r.checks[s.ID] = tc.check
			}
			for id, changed := range tc.outcomes {
				r.outcomes.Store(id, changed)
			}
			var said []string
			rec, ok := r.checked(ctx, s, func(m string) { said = append(said, m) })
			if ok != tc.stands {
				t.Fatalf("check stands: %v, want %v", ok, tc.stands)
			}
			if ok && (rec == nil || rec.Hash != "h" || !slices.Equal(said, []string{"3/3 objects ready"})) {
				t.Errorf("a standing check gave record %+v and progress %q", rec, said)
			}
			if !ok && len(said) > 0 {
				t.Errorf("a check that does not stand passed its progress on: %q", said)
			}
		})
	}
}

// A check still running when the run is cancelled does not stand.
func TestCheckCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &runner{checks: map[string]*check{"app": {done: make(chan struct{})}}}
	if _, ok := r.checked(ctx, &plan.Step{ID: "app"}, func(string) {}); ok {
		t.Fatal("an unfinished check stood after the run was cancelled")
	}
}
