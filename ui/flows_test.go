package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"kindred.dev/kindred/pkg/event"
)

// Whole runs of the progress page in a test terminal, fed the events a run
// sends: one that succeeds, one that fails, and one cancelled with Ctrl-C.

func runFlow(t *testing.T, cancel func(), feed func(tm *teatest.TestModel)) (*Progress, string) {
	t.Helper()
	page := NewProgress("kindred up shop", cancel, nil, false)
	tm := teatest.NewTestModel(t, page, teatest.WithInitialTermSize(100, 30))
	feed(tm)
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	out, err := io.ReadAll(tm.FinalOutput(t))
	if err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t).(*Progress), string(out)
}

func ev(typ event.Type, step string) EventMsg {
	return EventMsg{Event: event.Event{Time: time.Now(), Type: typ, Step: step}}
}

func TestFlowUpSucceeds(t *testing.T) {
	page, out := runFlow(t, nil, func(tm *teatest.TestModel) {
		tm.Send(EventMsg{Event: event.Event{Type: event.PlanReady, Levels: [][]string{{"cluster"}, {"orders"}}}})
		tm.Send(ev(event.StepStarted, "cluster"))
		tm.Send(EventMsg{Event: event.Event{Type: event.StepSucceeded, Step: "cluster", Changed: true, Elapsed: time.Second}})
		tm.Send(ev(event.StepStarted, "orders"))
		tm.Send(EventMsg{Event: event.Event{Type: event.StepSucceeded, Step: "orders", Changed: true, Elapsed: time.Second}})
		tm.Send(DoneMsg{Summary: event.Summary{Changed: 2}})
	})
	if page.Err() != nil {
		t.Errorf("err %v", page.Err())
	}
	for _, want := range []string{"cluster", "orders", "2 changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFlowUpFails(t *testing.T) {
	page, out := runFlow(t, nil, func(tm *teatest.TestModel) {
		tm.Send(EventMsg{Event: event.Event{Type: event.PlanReady, Levels: [][]string{{"cluster"}, {"orders"}}}})
		tm.Send(ev(event.StepStarted, "cluster"))
		tm.Send(EventMsg{Event: event.Event{Type: event.StepFailed, Step: "cluster", Message: "the node image could not be pulled"}})
		tm.Send(EventMsg{Event: event.Event{Type: event.StepSkipped, Step: "orders", Message: "needs cluster, which failed"}})
		tm.Send(DoneMsg{Summary: event.Summary{Failed: 1, Skipped: 1}, Err: errors.New("failed: cluster")})
	})
	if page.Err() == nil {
		t.Error("the failure was lost")
	}
	for _, want := range []string{"the node image could not be pulled", "1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFlowCtrlC(t *testing.T) {
	cancelled := make(chan struct{})
	page, out := runFlow(t, func() { close(cancelled) }, func(tm *teatest.TestModel) {
		tm.Send(EventMsg{Event: event.Event{Type: event.PlanReady, Levels: [][]string{{"cluster"}, {"orders"}}}})
		tm.Send(ev(event.StepStarted, "cluster"))
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("cluster")) })
		tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
		select {
		case <-cancelled: // the run's context, as the CLI wires it
		case <-time.After(5 * time.Second):
			t.Fatal("Ctrl-C did not cancel the run")
		}
		tm.Send(EventMsg{Event: event.Event{Type: event.StepFailed, Step: "cluster", Message: "context canceled"}})
		tm.Send(EventMsg{Event: event.Event{Type: event.StepSkipped, Step: "orders", Message: "needs cluster, which failed"}})
		tm.Send(DoneMsg{Summary: event.Summary{Failed: 1, Skipped: 1, Cancelled: true}, Err: errors.New("cancelled")})
	})
	if page.Err() == nil {
		t.Error("the cancellation was lost")
	}
	if !strings.Contains(out, "run the same command again") {
		t.Errorf("the final screen does not say a re-run resumes:\n%s", out)
	}
}

// The status dashboard in a test terminal at 80×24: the cursor moves down
// to the database (the page scrolls to keep it in sight), f leaves the
// page with the choice to forward it.
func TestFlowStatusForward(t *testing.T) {
	page := NewStatus(func(context.Context) StatusSnapshot { return snapshot() }, time.Hour, nil, false)
	tm := teatest.NewTestModel(t, page, teatest.WithInitialTermSize(80, 24))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("1 of 9 unhealthy")) }, teatest.WithDuration(5*time.Second))
	for range 7 {
		tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("> ✓ orders")) }, teatest.WithDuration(5*time.Second))
	tm.Send(tea.KeyPressMsg{Code: 'f', Text: "f"})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	c := tm.FinalModel(t).(*Status).Choice()
	if c == nil || c.Verb != "forward" || c.Row.Name != "orders" {
		t.Errorf("the choice after f on orders: %+v", c)
	}
}
