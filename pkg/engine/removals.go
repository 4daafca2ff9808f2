package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"kindred.dev/kindred/pkg/plan"
)

// Removal is a step that up would remove because the stack no longer has
// it: what goes, and what stays.
type Removal struct {
	Step      string `json:"step"`
	Kind      string `json:"kind"`
	Release   string `json:"release,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Objects kindred created for the step, deleted with it; Kept, those
	// it found in the cluster, which stay.
	Objects int `json:"objects"`
	Kept    int `json:"kept,omitempty"`
	// Data is where a database's data lives; DataLost, that removing the
	// step destroys it (unless it was kept, only --delete-data allows it).
	Data     string `json:"data,omitempty"`
	DataLost bool   `json:"dataLost,omitempty"`
}

// String says what goes, in one line.
func (m Removal) String() string {
	var parts []string
	if m.Release != "" {
		parts = append(parts, fmt.Sprintf("helm release %s in %s", m.Release, m.Namespace))
	}
	if m.Objects > 0 || m.Release == "" {
		parts = append(parts, fmt.Sprintf("%d object%s", m.Objects, plural(m.Objects)))
	}
	if m.Kept > 0 {
		parts = append(parts, fmt.Sprintf("%d it found there stay", m.Kept))
	}
	if m.Data != "" {
		fate := "its data lives on " + m.Data
		if m.DataLost {
			fate = "its data, " + m.Data + ", is lost"
		}
		parts = append(parts, fate)
	}
	return m.Step + ": " + strings.Join(parts, "; ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ErrRemovalNotConfirmed is wrapped when up would remove steps the stack
// dropped and neither --prune nor a confirmation allowed it.
var ErrRemovalNotConfirmed = errors.New("removal not confirmed")

// ErrDataLoss is wrapped when a removal would destroy a database's data
// and --delete-data was not given.
var ErrDataLoss = errors.New("removal would destroy data")

// removals lists what the cluster records for this stack that the plan no
// longer has, later levels first (the order prune runs).
func (r *runner) removals() []Removal {
	var out []Removal
	for id, rec := range r.prev.Steps {
		if _, ok := r.plan.Step(id); ok || slices.Contains(r.keep, id) {
			continue
		}
		m := Removal{Step: id, Kind: rec.Kind, Release: rec.Release, Namespace: rec.Namespace}
		for _, o := range rec.Inventory {
			if o.Adopted {
				m.Kept++
			} else {
				m.Objects++
			}
		}
		switch {
		case rec.Data != nil:
			m.Data, m.DataLost = rec.Data.Where, !rec.Data.Kept
			if r.deleteData && rec.Data.Kept && len(rec.Data.Claims) > 0 {
				m.Data, m.DataLost = rec.Data.Where+" (deleted with --delete-data)", true
			}
		case rec.Kind == plan.KindDatabase:
			m.Data, m.DataLost = "not recorded by the kindred that installed it", true
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := r.prev.Steps[out[i].Step], r.prev.Steps[out[j].Step]
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		return out[i].Step < out[j].Step
	})
	return out
}

// allowRemovals decides, before anything is changed, whether up may
// remove the steps the stack dropped: --prune or a confirmation, and
// --delete-data for a database whose data would be lost.
func (r *runner) allowRemovals(ctx context.Context) error {
	gone := r.removals()
	if len(gone) == 0 {
		return nil
	}
	var lines []string
	var lost []string
	for _, m := range gone {
		lines = append(lines, "  "+m.String())
		if m.DataLost {
			lost = append(lost, m.Step)
		}
	}
	if len(lost) > 0 && !r.deleteData {
		return fmt.Errorf("%w: the stack dropped %s, and removing %s destroys its data:\n%s\nkeep them in the stack, or run up with --prune --delete-data to remove them; nothing was changed",
			ErrDataLoss, strings.Join(ids(gone), ", "), strings.Join(lost, ", "), strings.Join(lines, "\n"))
	}
	if r.pruneAllowed {
		return nil
	}
	if r.confirm != nil {
		ok, err := r.confirm(ctx, gone)
		if err != nil {
			return err
		}
		if ok {
			r.pruneAllowed = true
			return nil
		}
		return fmt.Errorf("%w: you declined to remove %s; nothing was changed", ErrRemovalNotConfirmed, strings.Join(ids(gone), ", "))
	}
	return fmt.Errorf("%w: the stack dropped steps the cluster still runs; up would remove:\n%s\nrun up with --prune to remove them (kindred diff shows the whole change); nothing was changed",
		ErrRemovalNotConfirmed, strings.Join(lines, "\n"))
}

func ids(ms []Removal) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Step)
	}
	return out
}
