package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"kindred.dev/kindred/internal/golden"
)

func homeItems() []HomeItem {
	return []HomeItem{
		{Section: "Clusters on this machine", Label: "shop", Detail: "kind, created", Stack: "kindred.yaml"},
		{Section: "Clusters on this machine", Label: "scratch", Detail: "sim, stopped"},
		{Section: "Stacks here", Label: "kindred.yaml", Detail: "stack shop", Stack: "kindred.yaml"},
		{Section: "Built-in stacks", Label: "builtin:default", Detail: "The reference stack", Stack: "builtin:default"},
		{Section: "Built-in stacks", Label: "builtin:minimal", Detail: "A one-node cluster with nothing installed.", Stack: "builtin:minimal"},
	}
}

// The home page at 80x24, then the keys: moving, a cluster whose stack is
// unknown refusing an action, and picking status and up.
func TestHome(t *testing.T) {
	h := NewHome(homeItems(), false)
	h.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	golden.Check(t, "home-120x40.txt", []byte(h.page()))
	h.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	golden.Check(t, "home-80x24.txt", []byte(h.page()))

	h.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	if _, cmd := h.Update(tea.KeyPressMsg{Code: 's', Text: "s"}); cmd != nil || h.Choice() != nil {
		t.Fatalf("status on a cluster with no known stack should not quit: %+v", h.Choice())
	}
	golden.Check(t, "home-no-stack.txt", []byte(h.page()))

	h.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	h.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	if _, cmd := h.Update(tea.KeyPressMsg{Code: 's', Text: "s"}); cmd == nil || *h.Choice() != (HomeChoice{Verb: "status", Stack: "builtin:default"}) {
		t.Fatalf("choice %+v", h.Choice())
	}

	h = NewHome(homeItems(), false)
	if _, cmd := h.Update(tea.KeyPressMsg{Code: tea.KeyEnter}); cmd == nil || *h.Choice() != (HomeChoice{Verb: "up", Stack: "kindred.yaml"}) {
		t.Fatalf("enter: choice %+v", h.Choice())
	}
	h = NewHome(nil, false)
	if _, cmd := h.Update(tea.KeyPressMsg{Code: 'i', Text: "i"}); cmd == nil || h.Choice().Verb != "init" {
		t.Fatalf("i: choice %+v", h.Choice())
	}
}
