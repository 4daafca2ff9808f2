package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// StatusRow is one line of the status dashboard.
type StatusRow struct {
	Group   string // Cluster, Components, Routes, Certificates, Databases, Tenants, Jobs
	Name    string
	Healthy bool
	Detail  string
	// URL is how the host reaches a route, or a database's endpoint.
	URL string
}

// StatusSnapshot is what the dashboard shows at one moment.
type StatusSnapshot struct {
	Stack      string
	Kubeconfig string
	Rows       []StatusRow
	Err        error
	At         time.Time
}

// statusGroups is the order groups are drawn in.
var statusGroups = []string{"Cluster", "Components", "Routes", "Certificates", "Databases", "Tenants", "Jobs"}

// snapshotMsg carries a fresh snapshot into the dashboard.
type snapshotMsg StatusSnapshot

// refreshMsg asks for the next snapshot.
type refreshMsg struct{}

// Status is the live `kindred status` dashboard: components with their
// health, routes with their URLs and the ingress controller's verdicts, certificates with
// their expiry, databases with their endpoints, and tenants. It fetches a
// snapshot every interval.
type Status struct {
	fetch    func(context.Context) StatusSnapshot
	interval time.Duration
	clock    Clock
	st       styles
	width    int
	snap     StatusSnapshot
	loaded   bool
}

// NewStatus returns the dashboard.
func NewStatus(fetch func(context.Context) StatusSnapshot, interval time.Duration, clock Clock, color bool) *Status {
	if clock == nil {
		clock = time.Now
	}
	return &Status{fetch: fetch, interval: interval, clock: clock, st: newStyles(color), width: 100}
}

// Init fetches the first snapshot.
func (m *Status) Init() tea.Cmd { return m.load }

func (m *Status) load() tea.Msg {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return snapshotMsg(m.fetch(ctx))
}

// Update takes snapshots, keys and the refresh timer.
func (m *Status) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width = msg.Width
	case tea.KeyPressMsg:
		switch msg.String() {
		case "ctrl+c", "q", "esc":
			return m, tea.Quit
		case "r":
			return m, m.load
		}
	case snapshotMsg:
		m.snap, m.loaded = StatusSnapshot(msg), true
		return m, tea.Tick(m.interval, func(time.Time) tea.Msg { return refreshMsg{} })
	case refreshMsg:
		return m, m.load
	}
	return m, nil
}

// View draws the dashboard.
func (m *Status) View() tea.View {
	return tea.NewView(m.render())
}

func (m *Status) render() string {
	var b strings.Builder
	if !m.loaded {
		b.WriteString(m.st.title.Render("kindred status") + "\n\nreading the cluster…\n")
		return b.String()
	}
	s := m.snap
	fmt.Fprintf(&b, "%s  %s\n", m.st.title.Render("kindred status "+s.Stack), m.st.dim.Render("at "+s.At.Format("15:04:05")))
	if s.Kubeconfig != "" {
		b.WriteString(m.st.dim.Render("kubeconfig "+s.Kubeconfig) + "\n")
	}
	if s.Err != nil {
		b.WriteString("\n" + m.st.failed.Render("✗ "+s.Err.Error()) + "\n")
	}
	unhealthy := 0
	for _, g := range statusGroups {
		var rows []StatusRow
		for _, r := range s.Rows {
			if r.Group == g {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		b.WriteString("\n" + m.st.level.Render(g) + "\n")
		nameW := 0
		for _, r := range rows {
			nameW = max(nameW, len(r.Name))
		}
		for _, r := range rows {
			mark := m.st.ok.Render("✓")
			if !r.Healthy {
				mark = m.st.failed.Render("✗")
				unhealthy++
			}
			detail := r.Detail
			if r.URL != "" {
				detail = r.URL + "  " + m.st.dim.Render(detail)
			}
			line := fmt.Sprintf("  %s %-*s  %s", mark, nameW, r.Name, detail)
			b.WriteString(ansi.Truncate(line, m.width, "…") + "\n")
		}
	}
	b.WriteString("\n")
	switch {
	case s.Err != nil:
		b.WriteString(m.st.failed.Render("the cluster could not be read; trying again"))
	case unhealthy == 0:
		b.WriteString(m.st.ok.Render(fmt.Sprintf("all %d healthy", len(s.Rows))))
	default:
		b.WriteString(m.st.failed.Render(fmt.Sprintf("%d of %d unhealthy", unhealthy, len(s.Rows))))
	}
	b.WriteString("\n" + m.st.help.Render(fmt.Sprintf("refreshes every %s · r refresh · q quit", m.interval)) + "\n")
	return b.String()
}
