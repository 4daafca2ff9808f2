package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"kindred.dev/kindred/internal/golden"
)

func snapshot() StatusSnapshot {
	return StatusSnapshot{
		Stack: "shop", Kubeconfig: "/home/dev/.local/state/kindred/kind/shop/kubeconfig",
		At: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Rows: []StatusRow{
			{Group: "Cluster", Name: "cluster", Healthy: true, Detail: "kind, 2 nodes Ready"},
			{Group: "Components", Name: "calico", Healthy: true, Detail: "release calico revision 1 (chart v3.31.5) deployed"},
			{Group: "Components", Name: "contour", Healthy: true, Detail: "24 objects ready"},
			{Group: "Components", Name: "cert-manager", Healthy: true, Detail: "release cert-manager revision 1 (chart v1.21.2) deployed"},
			{Group: "Routes", Name: "api.shop.localhost", Healthy: true, URL: "https://api.shop.localhost/", Detail: "2 objects ready; HTTPProxy valid"},
			{Group: "Routes", Name: "web.shop.localhost", Healthy: false, URL: "https://web.shop.localhost/", Detail: "not ready: HTTPProxy apps/web-shop-localhost: invalid"},
			{Group: "Certificates", Name: "issuer", Healthy: true, Detail: "3 objects ready; certificate kindred-wildcard expires 2027-02-23"},
			{Group: "Databases", Name: "orders", Healthy: true, URL: "orders.default.svc.cluster.local:5432", Detail: "4 objects ready"},
			{Group: "Tenants", Name: "team-a", Healthy: true, Detail: "7 objects ready"},
		},
	}
}

// The dashboard at two terminal sizes, without colour; then a failed read
// is shown in place, and the next refresh replaces it.
func TestStatusDashboard(t *testing.T) {
	fetched := 0
	m := NewStatus(func(context.Context) StatusSnapshot { fetched++; return snapshot() }, 2*time.Second, nil, false)
	if got := m.render(); got != "kindred status\n\nreading the cluster…\n" {
		t.Errorf("before the first snapshot:\n%s", got)
	}
	msg := m.Init()()
	for _, size := range []struct {
		w, h int
		file string
	}{{80, 24, "status-80x24.txt"}, {120, 40, "status-120x40.txt"}} {
		m.Update(tea.WindowSizeMsg{Width: size.w, Height: size.h})
		_, cmd := m.Update(msg)
		if cmd == nil {
			t.Fatal("a snapshot should schedule the next refresh")
		}
		golden.Check(t, size.file, []byte(m.render()))
	}
	if fetched != 1 {
		t.Errorf("fetched %d times, want 1", fetched)
	}

	broken := snapshot()
	broken.Rows = nil
	broken.Err = errors.New("the API server does not answer")
	m.Update(snapshotMsg(broken))
	golden.Check(t, "status-unreachable.txt", []byte(m.render()))

	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd == nil {
		t.Error("q should quit")
	}
}

// The cursor and the actions: o opens the selected route, c copies its
// URL, f leaves to forward the selected database, l to follow a step's
// logs; the cursor stays on its row when a refresh adds rows above it,
// and a short terminal scrolls to keep it in sight.
func TestStatusActions(t *testing.T) {
	var opened, copied []string
	actions := StatusActions{
		Open: func(url string) error { opened = append(opened, url); return nil },
		Copy: func(r StatusRow) string { copied = append(copied, r.Name); return "copied:" + r.Name },
	}
	m := NewStatus(func(context.Context) StatusSnapshot { return snapshot() }, 2*time.Second, nil, false).WithActions(actions)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(m.Init()())
	key := func(k string) tea.Cmd {
		var msg tea.KeyPressMsg
		switch k {
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		default:
			msg = tea.KeyPressMsg{Code: rune(k[0]), Text: k}
		}
		_, cmd := m.Update(msg)
		return cmd
	}
	for range 4 {
		key("down")
	}
	key("o")
	if len(opened) != 1 || opened[0] != "https://api.shop.localhost/" {
		t.Errorf("o on the first route opened %v", opened)
	}
	if cmd := key("c"); cmd == nil || len(copied) != 1 || copied[0] != "api.shop.localhost" {
		t.Errorf("c on the route copied %v (command %v)", copied, cmd)
	}
	golden.Check(t, "status-route-selected-80x24.txt", []byte(m.render()))

	// A refresh with a new component above: the cursor stays on the route.
	more := snapshot()
	more.Rows = append([]StatusRow{{Group: "Components", Name: "aaa", Healthy: true, Detail: "new"}}, more.Rows...)
	m.Update(snapshotMsg(more))
	key("o")
	if len(opened) != 2 || opened[1] != "https://api.shop.localhost/" {
		t.Errorf("after a refresh, o opened %v", opened)
	}
	for range 3 {
		key("down")
	}
	if cmd := key("f"); cmd == nil || m.Choice() == nil || m.Choice().Verb != "forward" || m.Choice().Row.Name != "orders" {
		t.Errorf("f on the database: %+v", m.Choice())
	}
	view := m.render()
	if !strings.Contains(view, "> ✓ orders") || !strings.Contains(view, "↑ ") {
		t.Errorf("at 80x24 the view should scroll to the selected database:\n%s", view)
	}

	m = NewStatus(func(context.Context) StatusSnapshot { return snapshot() }, 2*time.Second, nil, false).WithActions(actions)
	m.Update(m.Init()())
	key("f")
	if m.Choice() != nil || !strings.Contains(m.render(), "f forwards a database") {
		t.Errorf("f on the cluster row should only say what it does:\n%s", m.render())
	}
	key("down")
	if cmd := key("l"); cmd == nil || m.Choice() == nil || m.Choice().Verb != "logs" || m.Choice().Row.Name != "calico" {
		t.Errorf("l on calico: %+v", m.Choice())
	}
}
