package render

import (
	"bytes"
	"testing"
	"time"

	"kindred.dev/kindred/internal/eventschema"
	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/pkg/event"
)

// stream is one recorded run: a plan, a success, a failure and a skip.
func stream() []event.Event {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	return []event.Event{
		{Time: at(0), Type: event.PlanReady, Message: "3 steps in 2 levels", Levels: [][]string{{"cluster"}, {"api", "db"}}},
		{Time: at(0), Type: event.StepStarted, Step: "cluster", Kind: "cluster"},
		{Time: at(8 * time.Second), Type: event.StepSucceeded, Step: "cluster", Kind: "cluster", Changed: true, Elapsed: 8 * time.Second},
		{Time: at(8 * time.Second), Type: event.StepStarted, Step: "db", Kind: "database"},
		{Time: at(9 * time.Second), Type: event.StepProgress, Step: "db", Kind: "database", Message: "0/4 objects ready"},
		{Time: at(12 * time.Second), Type: event.StepFailed, Step: "db", Kind: "database", Message: "StatefulSet default/db failed: 50% done\nsecond line", Elapsed: 4 * time.Second},
		{Time: at(12 * time.Second), Type: event.StepSkipped, Step: "api", Kind: "component", Message: "needs db, which failed"},
		{Time: at(12 * time.Second), Type: event.Finished, Elapsed: 12 * time.Second, Summary: &event.Summary{Changed: 1, Failed: 1, Skipped: 1}},
	}
}

func TestRenderersGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		sink func(*bytes.Buffer) event.Sink
	}{
		{"text.txt", func(b *bytes.Buffer) event.Sink { return NewText(b, false) }},
		{"text-verbose.txt", func(b *bytes.Buffer) event.Sink { return NewText(b, true) }},
		{"events.jsonl", func(b *bytes.Buffer) event.Sink { return NewJSON(b) }},
		{"github.txt", func(b *bytes.Buffer) event.Sink { return NewGitHub(b) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			s := tc.sink(&b)
			for _, e := range stream() {
				s.Emit(e)
			}
			golden.Check(t, tc.name, b.Bytes())
		})
	}
}

// The job summary of the recorded run: the table with the critical path
// (cluster, then db, which ended last), and the Mermaid timeline.
func TestJobSummaryGolden(t *testing.T) {
	var b bytes.Buffer
	g := &Recorder{}
	for _, e := range stream() {
		g.Emit(e)
	}
	JobSummary(&b, "kindred up shop", g.Steps(), []string{"route https://web.shop.localhost/"})
	golden.Check(t, "summary.md", b.Bytes())
	if crit := CriticalPath(g.Steps()); !crit["cluster"] || !crit["db"] || crit["api"] {
		t.Errorf("critical path %v, want cluster and db", crit)
	}
}

// Every kind of event, as the JSON renderer writes it, matches the
// published schema; and the schema refuses what is not an event.
func TestEventsMatchTheSchema(t *testing.T) {
	var b bytes.Buffer
	j := NewJSON(&b)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, e := range append(stream(),
		event.Event{Time: t0, Type: event.StepSucceeded, Step: "db", Kind: "database", Changed: true, Repaired: true, Message: "repaired: StatefulSet default/db", Elapsed: time.Second},
		event.Event{Time: t0, Type: event.StepSucceeded, Step: "old", Kind: "component", Removed: true},
		event.Event{Time: t0, Type: event.Finished, Summary: &event.Summary{Removed: 1, Repaired: 1, Cancelled: true}, Notes: []string{"CRDs kept"}},
	) {
		j.Emit(e)
	}
	b.WriteString(`{"schema":"kindred.dev/events/v1","type":"note","message":"removed kind cluster shop"}` + "\n")
	b.WriteString(`{"error":"1 problem found","problems":[{"file":"a.yaml","line":4,"column":1,"message":"unknown field"}]}` + "\n")
	n, err := eventschema.Check(b.Bytes())
	if err != nil || n != len(stream())+5 {
		t.Fatalf("%d lines checked: %v", n, err)
	}
	for _, bad := range []string{
		`{"time":"2026-11-25T12:00:00Z","type":"plan"}`,
		`{"schema":"kindred.dev/events/v1","time":"2026-11-25T12:00:00Z","type":"exploded"}`,
		`{"schema":"kindred.dev/events/v1","time":"yesterday","type":"plan"}`,
	} {
		if _, err := eventschema.Check([]byte(bad)); err == nil {
			t.Errorf("the schema accepted %s", bad)
		}
	}
}
