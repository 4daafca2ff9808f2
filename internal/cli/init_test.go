package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
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
	key := wizardKeys(tm)
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

// The wizard keeps answers: an invalid name is refused at its field and
// corrected there; the domain follows the name until it is typed; Esc goes
// back a page, and leaves on the first; it fits 80 columns.
func TestWizardKeepsAnswers(t *testing.T) {
	answers := defaultAnswers("kindred.yaml")
	answers.Name = "dev"
	w := ui.NewWizard(&answers, wizardChoices(), renderAnswers, false)
	tm := teatest.NewTestModel(t, w, teatest.WithInitialTermSize(80, 24))
	key := wizardKeys(tm)
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("Stack name")) }, teatest.WithDuration(5*time.Second))
	key("ctrl+u")
	key("Shop_1")
	key("enter") // refused: the form stays on the name
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("invalid name")) }, teatest.WithDuration(5*time.Second))
	key("ctrl+u")
	key("shop")
	key("enter")
	key("enter") // the version; now on the second page
	key("esc")   // back to the first page
	key("enter")
	key("enter")
	key("enter") // workers
	key("enter") // zones
	key("enter") // CNI
	if got := w.Answers(); got.Name != "shop" || got.Domain != "" {
		t.Errorf("answers after Esc and back: %+v", got)
	}
	data, problem := w.Stack()
	if problem != nil || !strings.Contains(string(data), "domain: shop.localhost") {
		t.Errorf("the domain should follow the renamed stack: %v\n%s", problem, data)
	}
	for _, l := range strings.Split(w.View().Content, "\n") {
		if ansi.StringWidth(l) > 80 {
			t.Errorf("a line wider than 80 columns: %q", l)
		}
	}
	golden.Check(t, "init-wizard-80x24.txt", []byte(ansi.Strip(w.View().Content)))
	key("esc") // the third page: back
	key("esc") // the second page: back
	key("esc") // the first page: leave
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if final := tm.FinalModel(t).(*ui.Wizard); final.Completed() || !final.Left() {
		t.Errorf("Esc on the first page should leave the wizard, not complete it")
	}
}

// wizardKeys types into the wizard in a test terminal. huh moves to the
// next field through a command, which bubbletea runs on its own
// goroutine; a key sent before its message arrives lands in the field
// being left. So keys that move on are given time to.
func wizardKeys(tm *teatest.TestModel) func(k string) {
	return func(k string) {
		pause := 30 * time.Millisecond
		switch k {
		case "enter":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
			pause = 250 * time.Millisecond
		case "esc":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
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
}

// The wizard's first page at 120×40: the form and the file side by side.
func TestWizard120x40(t *testing.T) {
	answers := defaultAnswers("kindred.yaml")
	answers.Name = "shop"
	w := ui.NewWizard(&answers, wizardChoices(), renderAnswers, false)
	w.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	page := ansi.Strip(w.View().Content)
	for _, l := range strings.Split(page, "\n") {
		if ansi.StringWidth(l) > 120 {
			t.Errorf("a line wider than 120 columns: %q", l)
		}
	}
	if n := strings.Count(page, "\n"); n > 40 {
		t.Errorf("the page is %d lines high, more than 40", n)
	}
	golden.Check(t, "init-wizard-120x40.txt", []byte(page))
}
