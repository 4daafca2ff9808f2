package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/ui"
)

// A whole wizard run, key by key, in a test terminal: the answers become a
// stack file that the real loader accepts, shown live beside the form.
func TestWizardFlow(t *testing.T) {
	answers := defaultAnswers("kindred.yaml")
	answers.Name, answers.Domain = "dev", "dev.localhost"
	choices := wizardChoices()
	w := ui.NewWizard(&answers, choices, renderAnswers, false)
	tm := teatest.NewTestModel(t, w, teatest.WithInitialTermSize(140, 50))
	// huh moves to the next field through a command, which bubbletea runs
	// on its own goroutine; a key sent before its message arrives lands in
	// the field being left. So keys that move on are given time to.
	key := func(k string) {
		pause := 30 * time.Millisecond
		switch k {
		case "enter":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
			pause = 250 * time.Millisecond
		case "y":
			tm.Type(k)
			pause = 250 * time.Millisecond
		case "down":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
		case "ctrl+u":
			tm.Send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
		default:
			tm.Type(k)
		}
		time.Sleep(pause)
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("Stack name")) }, teatest.WithDuration(5*time.Second))
	// The name, then the newest Kubernetes version.
	key("ctrl+u")
	key("shop")
	key("enter")
	key("enter")
	// One worker, zones, Calico.
	key("down")
	key("enter")
	key("y") // accepts and moves on
	key("down")
	key("enter")
	// Ingress, its domain, the local CA.
	key("enter")
	key("ctrl+u")
	key("shop.localhost")
	key("enter")
	key("enter")
	// Postgres and Redis; no more components.
	key("x")
	key("down")
	key("down")
	key("x")
	key("enter")
	key("enter")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	final := tm.FinalModel(t).(*ui.Wizard)
	if !final.Completed() {
		t.Fatalf("the form did not complete; answers %+v", final.Answers())
	}
	data, problem := final.Stack()
	if problem != nil {
		t.Fatalf("the stack is not valid: %v\n%s", problem, data)
	}
	if !strings.HasPrefix(string(data), schemaModeline) {
		t.Errorf("no schema modeline:\n%s", data)
	}
	golden.Check(t, "init-wizard.yaml", data)
}
