package ui

import (
	"context"
	"errors"
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
