// Package event is the stream of user progress a kindred run emits: the plan,
// each step starting, progressing, succeeding (changed or unchanged),
// failing or being skipped, and the end. Renderers (text, JSON lines, the
// TUI) and tests consume it through a Sink.
package event

import (
	_ "embed" // the events' JSON Schema
	"sync"
	"time"
)

// Type is the kind of event.
type Type string

// Event types.
const (
	PlanReady     Type = "plan"
	StepStarted   Type = "started"
	StepProgress  Type = "progress"
	StepSucceeded Type = "succeeded"
	StepFailed    Type = "failed"
	StepSkipped   Type = "skipped"
	Finished      Type = "finished"
)

// SchemaVersion names the JSON form of events, which JSONSchema
// describes; every event line `-o json` prints carries it. A change that
// could break a reader gets a new version.
const SchemaVersion = "kindred.dev/events/v1"

// JSONSchema is the JSON Schema of the lines `kindred up -o json` and
// `kindred down -o json` print: events, notes and a final error.
//
//go:embed events.schema.json
var JSONSchema []byte

// Event is one thing that happened in a run.
type Event struct {
	// Schema is SchemaVersion in JSON output; empty elsewhere.
	Schema string    `json:"schema,omitempty"`
	Time   time.Time `json:"time"`
	Type   Type      `json:"type"`
	// Step is the step's ID; empty for run-wide events.
	Step string `json:"step,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Message is a short human line: a progress detail, why a step was
	// skipped, or what failed.
	Message string `json:"message,omitempty"`
	// Changed tells, for StepSucceeded, whether the step changed anything.
	Changed bool `json:"changed,omitempty"`
	// Repaired tells, for StepSucceeded, that the step restored drift
	// (objects deleted or changed by hand); Message says what.
	Repaired bool `json:"repaired,omitempty"`
	// Removed tells, for StepSucceeded, that the step was removed (down,
	// or a step the stack dropped).
	Removed bool `json:"removed,omitempty"`
	// Elapsed is the step's (or, for Finished, the run's) duration.
	Elapsed time.Duration `json:"elapsed,omitempty"`
	// Levels is the plan, for PlanReady: step IDs grouped by level.
	Levels [][]string `json:"levels,omitempty"`
	// Detail carries a failure's captured output.
	Detail string `json:"detail,omitempty"`
	// Summary totals the run, for Finished.
	Summary *Summary `json:"summary,omitempty"`
	// Notes, for Finished, say what the run left on purpose and why (the
	// CRDs and namespaces down keeps).
	Notes []string `json:"notes,omitempty"`
}

// Summary counts a finished run's steps.
type Summary struct {
	Changed int `json:"changed"`
	// Repaired counts the changed steps that restored drift.
	Repaired int `json:"repaired,omitempty"`
	// Removed counts the steps removed.
	Removed   int  `json:"removed,omitempty"`
	Unchanged int  `json:"unchanged"`
	Failed    int  `json:"failed"`
	Skipped   int  `json:"skipped"`
	Cancelled bool `json:"cancelled,omitempty"`
}

// OK reports whether the run succeeded.
func (s Summary) OK() bool { return s.Failed == 0 && s.Skipped == 0 && !s.Cancelled }

// Sink receives events. Implementations must be safe for concurrent use.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink; the function must be safe for
// concurrent use.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(Event) {})

// Tee sends each event to every sink, in order.
func Tee(sinks ...Sink) Sink {
	return SinkFunc(func(e Event) {
		for _, s := range sinks {
			s.Emit(e)
		}
	})
}

// Recorder keeps every event, for tests.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Emit records e.
func (r *Recorder) Emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns a copy of what was recorded.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Final returns each step's last terminal event type: succeeded, failed or
// skipped, with "succeeded" split into "removed", "repaired", "changed"
// and "unchanged".
func (r *Recorder) Final() map[string]string {
	out := map[string]string{}
	for _, e := range r.Events() {
		switch e.Type {
		case StepSucceeded:
			if e.Removed {
				out[e.Step] = "removed"
			} else if e.Repaired {
				out[e.Step] = "repaired"
			} else if e.Changed {
				out[e.Step] = "changed"
			} else {
				out[e.Step] = "unchanged"
			}
		case StepFailed, StepSkipped:
			out[e.Step] = string(e.Type)
		}
	}
	return out
}
