package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/pkg/event"
)

// fixture drives the progress page with messages at a fixed clock and size.
type fixture struct {
	t      *testing.T
	now    time.Time
	page   *Progress
	cancel int
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	f.page = NewProgress("kindred up shop", func() { f.cancel++ }, func() time.Time { return f.now }, false)
	f.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	return f
}

func (f *fixture) send(msg tea.Msg) tea.Cmd {
	_, cmd := f.page.Update(msg)
	return cmd
}

func (f *fixture) event(e event.Event) tea.Cmd {
	if e.Time.IsZero() {
		e.Time = f.now
	}
	return f.send(EventMsg{Event: e})
}

func (f *fixture) view() string { return f.page.View().Content }

func TestProgressView(t *testing.T) {
	f := newFixture(t)
	f.event(event.Event{Type: event.PlanReady, Levels: [][]string{{"cluster"}, {"calico"}, {"orders", "redis"}, {"api"}}})
	f.event(event.Event{Type: event.StepStarted, Step: "cluster"})
	f.now = f.now.Add(8 * time.Second)
	if cmd := f.event(event.Event{Type: event.StepSucceeded, Step: "cluster", Changed: true, Elapsed: 8 * time.Second}); cmd == nil {
		t.Error("a finished step did not print above the live area")
	}
	f.event(event.Event{Type: event.StepStarted, Step: "calico"})
	f.now = f.now.Add(2 * time.Second)
	f.event(event.Event{Type: event.StepProgress, Step: "calico", Message: "2/3 objects ready, waiting for Deployment tigera-operator/tigera-operator"})
	f.event(event.Event{Type: event.StepStarted, Step: "orders"})
	f.event(event.Event{Type: event.StepProgress, Step: "orders", Message: `0/4 ready; ImagePullBackOff (pod orders-7d9f8c6b5-x2x4k, container orders): Back-off pulling image "registry.example.test/orders:1.4", for Deployment shop/orders`})
	golden.Check(t, "progress-running.txt", []byte(f.view()))
	f.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	golden.Check(t, "progress-running-120x40.txt", []byte(f.view()))
	f.send(tea.WindowSizeMsg{Width: 80, Height: 24})

	// The log pane shows the selected step's details.
	f.send(tea.KeyPressMsg{Code: 'l', Text: "l"})
	if v := f.view(); !strings.Contains(v, "log of calico") || !strings.Contains(v, "2/3 objects ready") {
		t.Errorf("log pane missing:\n%s", v)
	}
}

func TestProgressCancel(t *testing.T) {
	f := newFixture(t)
	f.event(event.Event{Type: event.PlanReady, Levels: [][]string{{"cluster"}, {"a", "b"}}})
	f.event(event.Event{Type: event.StepStarted, Step: "cluster"})
	f.send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	f.send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if f.cancel != 1 {
		t.Errorf("cancel called %d times, want once", f.cancel)
	}
	if !strings.Contains(f.view(), "cancelling") {
		t.Errorf("no cancelling notice:\n%s", f.view())
	}
	f.event(event.Event{Type: event.StepFailed, Step: "cluster", Message: "context canceled"})
	f.event(event.Event{Type: event.StepSkipped, Step: "a", Message: "needs cluster, which failed"})
	f.event(event.Event{Type: event.StepSkipped, Step: "b", Message: "needs cluster, which failed"})
	f.send(DoneMsg{Summary: event.Summary{Failed: 1, Skipped: 2, Cancelled: true}, Err: errors.New("cancelled")})
	final := f.page.final()
	for _, want := range []string{"not done: a, b", "run the same command again"} {
		if !strings.Contains(final, want) {
			t.Errorf("final block lacks %q:\n%s", want, final)
		}
	}
	if f.page.Err() == nil {
		t.Error("the run's error was lost")
	}
}

// A question put while the run waits: the page shows it with its lines,
// y answers yes, any other key no (q included, which otherwise cancels),
// and the page goes back to the steps.
func TestProgressConfirm(t *testing.T) {
	for _, c := range []struct {
		key  tea.KeyPressMsg
		want bool
	}{
		{tea.KeyPressMsg{Code: 'y', Text: "y"}, true},
		{tea.KeyPressMsg{Code: 'n', Text: "n"}, false},
		{tea.KeyPressMsg{Code: tea.KeyEnter}, false},
		{tea.KeyPressMsg{Code: 'q', Text: "q"}, false},
	} {
		f := newFixture(t)
		f.event(event.Event{Type: event.PlanReady, Levels: [][]string{{"cluster"}, {"api"}}})
		f.event(event.Event{Type: event.StepStarted, Step: "cluster"})
		answer := make(chan bool, 1)
		f.send(ConfirmMsg{Question: "The stack dropped 1 step; remove them from the cluster?", Lines: []string{"orders: 3 objects; its data, only in its pod (no persistence), is lost"}, Answer: answer})
		if c.key.Code == 'y' {
			golden.Check(t, "progress-confirm.txt", []byte(f.view()))
		}
		f.send(c.key)
		select {
		case got := <-answer:
			if got != c.want {
				t.Errorf("key %q answered %v, want %v", c.key.String(), got, c.want)
			}
		default:
			t.Fatalf("key %q gave no answer", c.key.String())
		}
		if strings.Contains(f.view(), "remove them") || f.cancel != 0 {
			t.Errorf("after the answer to key %q the question stays (or the run was cancelled: %d):\n%s", c.key.String(), f.cancel, f.view())
		}
	}
}

// q asks before cancelling (any key but y goes on); the cursor stays on
// its step while the steps above it finish; skipped steps are one line
// naming their cause; the header says what the run creates.
func TestProgressTrust(t *testing.T) {
	f := newFixture(t)
	f.page.WithHeader("kind cluster shop · 2 nodes · Kubernetes v1.35.4")
	f.event(event.Event{Type: event.PlanReady, Levels: [][]string{{"cluster"}, {"calico", "orders", "redis"}, {"api", "web"}}})
	f.event(event.Event{Type: event.StepStarted, Step: "cluster"})
	if v := f.view(); !strings.Contains(v, "kind cluster shop · 2 nodes · Kubernetes v1.35.4") {
		t.Errorf("no header:\n%s", v)
	}
	f.send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if v := f.view(); !strings.Contains(v, "Cancel the run?") || f.cancel != 0 {
		t.Errorf("q should ask first (cancelled %d times):\n%s", f.cancel, v)
	}
	f.send(tea.KeyPressMsg{Code: 'n', Text: "n"})
	if v := f.view(); strings.Contains(v, "Cancel the run?") || f.cancel != 0 {
		t.Errorf("q then n should go on (cancelled %d times):\n%s", f.cancel, v)
	}
	// The cursor on redis stays there as cluster and calico finish.
	for range 3 {
		f.send(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	if v := f.view(); !strings.Contains(v, "> · redis") {
		t.Fatalf("the cursor should be on redis:\n%s", v)
	}
	f.event(event.Event{Type: event.StepSucceeded, Step: "cluster", Changed: true})
	f.event(event.Event{Type: event.StepStarted, Step: "calico"})
	f.event(event.Event{Type: event.StepSucceeded, Step: "calico", Changed: true})
	if v := f.view(); !strings.Contains(v, "> · redis") {
		t.Errorf("the cursor left redis when the steps above finished:\n%s", v)
	}
	f.event(event.Event{Type: event.StepFailed, Step: "orders", Message: "boom"})
	f.event(event.Event{Type: event.StepSucceeded, Step: "redis", Changed: true})
	for _, s := range []string{"api", "web"} {
		if cmd := f.event(event.Event{Type: event.StepSkipped, Step: s, Message: "needs orders, which failed"}); cmd != nil {
			t.Errorf("skipping %s printed a line of its own", s)
		}
	}
	final := f.page.final()
	if !strings.Contains(final, "- 2 steps skipped because orders failed: api, web") || strings.Count(final, "skipped because") != 1 {
		t.Errorf("the skipped steps should be one line:\n%s", final)
	}
	f.send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	f.send(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if f.cancel != 1 {
		t.Errorf("q then y should cancel once, cancelled %d times", f.cancel)
	}
}
