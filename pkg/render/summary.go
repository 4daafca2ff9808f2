package render

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// CriticalPath is the chain of steps that decided how long a run took:
// from the step that ended last, back through the step that ended last
// before each one started (a step starts once the last of its needs ends).
func CriticalPath(steps []Timed) map[string]bool {
	on := map[string]bool{}
	var last *Timed
	for i := range steps {
		if steps[i].Outcome == "skipped" {
			continue
		}
		if last == nil || steps[i].End.After(last.End) {
			last = &steps[i]
		}
	}
	for last != nil {
		on[last.Step] = true
		var prev *Timed
		for i := range steps {
			s := &steps[i]
			if on[s.Step] || s.Outcome == "skipped" || s.End.After(last.Start.Add(time.Second)) {
				continue
			}
			if prev == nil || s.End.After(prev.End) {
				prev = s
			}
		}
		last = prev
	}
	return on
}

// Timeline writes the run's steps as a Mermaid gantt chart (GitHub renders
// it in Markdown), the critical path marked crit.
func Timeline(w io.Writer, title string, steps []Timed) {
	if len(steps) == 0 {
		return
	}
	sorted := append([]Timed(nil), steps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	t0 := sorted[0].Start
	crit := CriticalPath(steps)
	fmt.Fprintf(w, "```mermaid\ngantt\n    title %s\n    dateFormat x\n    axisFormat %%M:%%S\n", mermaidText(title))
	for _, s := range sorted {
		if s.Outcome == "skipped" {
			continue
		}
		tags := []string{}
		if crit[s.Step] {
			tags = append(tags, "crit")
		}
		if s.Outcome == "failed" {
			tags = append(tags, "active")
		}
		tags = append(tags, fmt.Sprint(s.Start.Sub(t0).Milliseconds()), fmt.Sprint(max(s.End.Sub(t0).Milliseconds(), s.Start.Sub(t0).Milliseconds()+1)))
		fmt.Fprintf(w, "    %s (%s) : %s\n", mermaidText(s.Step), Duration(s.End.Sub(s.Start)), strings.Join(tags, ", "))
	}
	fmt.Fprintln(w, "```")
}

// mermaidText keeps a name from ending a gantt line early.
func mermaidText(s string) string {
	return strings.NewReplacer(":", " ", "#", " ", ";", " ").Replace(s)
}

// JobSummary writes a GitHub job summary in Markdown: each step with its
// outcome and duration, the critical path, then the timeline. extra lines
// (routes, masked connection URLs) follow the table.
func JobSummary(w io.Writer, title string, steps []Timed, extra []string) {
	fmt.Fprintf(w, "### %s\n\n| step | result | took | critical path |\n|---|---|---|---|\n", title)
	crit := CriticalPath(steps)
	for _, s := range steps {
		took := Duration(s.End.Sub(s.Start))
		if s.Outcome == "skipped" {
			took = "-"
		}
		mark := ""
		if crit[s.Step] {
			mark = "●"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", s.Step, s.Outcome, took, mark)
	}
	fmt.Fprintln(w)
	for _, l := range extra {
		fmt.Fprintf(w, "- %s\n", l)
	}
	if len(extra) > 0 {
		fmt.Fprintln(w)
	}
	Timeline(w, title, steps)
}
