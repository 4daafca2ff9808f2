// Package render prints a run's events for terminals that are not
// interactive and for machines: whole lines of text, or JSON lines. It only
// consumes events; the TUI in ui/ is the third renderer.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"kindred.dev/kindred/pkg/event"
)

// Text writes one line per event, never redrawing: fit for logs and CI.
type Text struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
}

// NewText returns a text renderer; verbose adds progress details.
func NewText(w io.Writer, verbose bool) *Text { return &Text{w: w, verbose: verbose} }

// Emit prints e.
func (t *Text) Emit(e event.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Type {
	case event.PlanReady:
		fmt.Fprintf(t.w, "plan: %s\n", e.Message)
		for i, lv := range e.Levels {
			fmt.Fprintf(t.w, "  level %d: %s\n", i, strings.Join(lv, ", "))
		}
	case event.StepStarted:
		fmt.Fprintf(t.w, "start     %s\n", e.Step)
	case event.StepProgress:
		// The cluster's own progress always shows: its lines are few, and
		// its steps (creating a cluster, building binaries on first use)
		// take minutes.
		if t.verbose || e.Step == "" || e.Kind == "cluster" {
			name := e.Step
			if name == "" {
				name = "kindred"
			}
			fmt.Fprintf(t.w, "          %s: %s\n", name, e.Message)
		}
	case event.StepSucceeded:
		word := "unchanged"
		if e.Changed {
			word = "changed"
		}
		if e.Removed {
			word = "removed"
		}
		if e.Repaired {
			fmt.Fprintf(t.w, "repaired  %s (%s): %s\n", e.Step, Duration(e.Elapsed), strings.TrimPrefix(e.Message, "repaired: "))
			break
		}
		fmt.Fprintf(t.w, "%-9s %s (%s)\n", word, e.Step, Duration(e.Elapsed))
	case event.StepFailed:
		fmt.Fprintf(t.w, "FAILED    %s (%s): %s\n", e.Step, Duration(e.Elapsed), strings.ReplaceAll(e.Message, "\n", "\n          "))
		if e.Detail != "" {
			for _, l := range strings.Split(strings.TrimRight(e.Detail, "\n"), "\n") {
				fmt.Fprintf(t.w, "          | %s\n", l)
			}
		}
	case event.StepSkipped:
		fmt.Fprintf(t.w, "skipped   %s: %s\n", e.Step, e.Message)
	case event.Finished:
		s := e.Summary
		if s == nil {
			s = &event.Summary{}
		}
		repaired := ""
		if s.Repaired > 0 {
			repaired = fmt.Sprintf(" (%d repaired)", s.Repaired)
		}
		if e.Message != "" {
			fmt.Fprintln(t.w, e.Message)
			if *s == (event.Summary{}) {
				break
			}
		}
		if s.Removed > 0 && s.Changed == 0 && s.Unchanged == 0 {
			fmt.Fprintf(t.w, "done in %s: %d removed, %d failed, %d skipped\n", Duration(e.Elapsed), s.Removed, s.Failed, s.Skipped)
		} else {
			removed := ""
			if s.Removed > 0 {
				removed = fmt.Sprintf("%d removed, ", s.Removed)
			}
			fmt.Fprintf(t.w, "done in %s: %s%d changed%s, %d unchanged, %d failed, %d skipped\n", Duration(e.Elapsed), removed, s.Changed, repaired, s.Unchanged, s.Failed, s.Skipped)
		}
		if s.Cancelled {
			fmt.Fprintln(t.w, "cancelled: steps not finished were left as they were; run the same command again to resume")
		}
		for _, n := range e.Notes {
			fmt.Fprintf(t.w, "left      %s\n", n)
		}
	}
}

// JSON writes each event as one JSON object per line.
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSON returns a JSON-lines renderer.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Emit writes e.
func (j *JSON) Emit(e event.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Schema = event.SchemaVersion
	_ = j.enc.Encode(e)
}

// Duration rounds d for people: 850ms, 12.3s, 2m05s.
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// GitHub writes whole lines like Text for GitHub Actions logs: each step's
// lines, its progress included, in a collapsible ::group:: printed when
// the step ends (steps run in parallel, so their lines would interleave
// otherwise), failures as error annotations. A Recorder beside it keeps
// the steps' times for the job summary (JobSummary).
type GitHub struct {
	mu      sync.Mutex
	w       io.Writer
	text    *Text
	pending map[string]*bytes.Buffer
}

// Recorder keeps each step's times and outcome as the events pass, for a
// job summary or the timeline in a diagnostics bundle. It is a Sink.
type Recorder struct {
	mu      sync.Mutex
	steps   []Timed
	started map[string]time.Time
}

// Emit records e when it starts or ends a step.
func (r *Recorder) Emit(e event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Type {
	case event.StepStarted:
		if r.started == nil {
			r.started = map[string]time.Time{}
		}
		r.started[e.Step] = e.Time
	case event.StepSucceeded, event.StepFailed, event.StepSkipped:
		start, ok := r.started[e.Step]
		if !ok {
			start = e.Time.Add(-e.Elapsed)
		}
		r.steps = append(r.steps, Timed{Step: e.Step, Kind: e.Kind, Outcome: outcome(e), Start: start, End: e.Time})
	}
}

// Steps are the steps that ended so far, in the order they ended.
func (r *Recorder) Steps() []Timed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Timed(nil), r.steps...)
}

// outcome is the word for how a step ended.
func outcome(e event.Event) string {
	switch {
	case e.Type == event.StepFailed:
		return "failed"
	case e.Type == event.StepSkipped:
		return "skipped"
	case e.Removed:
		return "removed"
	case e.Changed:
		return "changed"
	}
	return "unchanged"
}

// Timed is one step of a run with its times and outcome, for the job
// summary and the diagnostics bundle's timeline.
type Timed struct {
	Step, Kind, Outcome string
	Start, End          time.Time
}

// NewGitHub returns a GitHub Actions renderer.
func NewGitHub(w io.Writer) *GitHub {
	return &GitHub{w: w, text: NewText(w, true), pending: map[string]*bytes.Buffer{}}
}

// Emit prints e.
func (g *GitHub) Emit(e event.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch e.Type {
	case event.StepStarted:
		g.buffer(e.Step, e)
	case event.StepProgress:
		if e.Step == "" {
			g.text.Emit(e)
			return
		}
		g.buffer(e.Step, e)
	case event.StepSucceeded, event.StepFailed, event.StepSkipped:
		fmt.Fprintf(g.w, "::group::%s %s (%s)\n", outcome(e), e.Step, Duration(e.Elapsed))
		if b := g.pending[e.Step]; b != nil {
			_, _ = g.w.Write(b.Bytes())
			delete(g.pending, e.Step)
		}
		g.text.Emit(e)
		fmt.Fprintln(g.w, "::endgroup::")
		switch {
		case e.Type == event.StepFailed:
			fmt.Fprintf(g.w, "::error title=kindred step %s failed::%s\n", e.Step, escapeGitHub(e.Message))
		case e.Type == event.StepSkipped:
			fmt.Fprintf(g.w, "::warning title=kindred step %s skipped::%s\n", e.Step, escapeGitHub(e.Message))
		case e.Repaired:
			fmt.Fprintf(g.w, "::notice title=kindred step %s repaired drift::%s\n", e.Step, escapeGitHub(strings.TrimPrefix(e.Message, "repaired: ")))
		}
	default:
		g.text.Emit(e)
	}
}

// buffer keeps a step's line until the step ends.
func (g *GitHub) buffer(step string, e event.Event) {
	b := g.pending[step]
	if b == nil {
		b = &bytes.Buffer{}
		g.pending[step] = b
	}
	t := NewText(b, true)
	t.Emit(e)
}

// escapeGitHub escapes a workflow command's message.
func escapeGitHub(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}
