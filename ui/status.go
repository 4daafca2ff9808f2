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

// StatusChoice is an action the user picked on the dashboard that leaves
// it: follow a step's logs, or forward a database to the host.
type StatusChoice struct {
	Verb string // logs or forward
	Row  StatusRow
}

// StatusActions are what the dashboard's keys do outside it; a nil one
// leaves its key out.
type StatusActions struct {
	// Open opens a route's URL in the browser.
	Open func(url string) error
	// Copy returns what c copies for a row (a route's URL, a database's
	// connection URL on the host), or "" when it has none.
	Copy func(row StatusRow) string
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
	height   int
	snap     StatusSnapshot
	loaded   bool

	actions StatusActions
	// cursor is the selected row's group and name, so it stays on its
	// row when a refresh reorders or adds rows.
	cursor string
	// flash is the outcome of the last action, shown in the footer.
	flash  string
	choice *StatusChoice
}

// WithActions sets what the dashboard's action keys do.
func (m *Status) WithActions(a StatusActions) *Status { m.actions = a; return m }

// Choice is the action the user left the dashboard with, or nil.
func (m *Status) Choice() *StatusChoice { return m.choice }

// ordered are the snapshot's rows in the order they are drawn.
func (m *Status) ordered() []StatusRow {
	var out []StatusRow
	for _, g := range statusGroups {
		for _, r := range m.snap.Rows {
			if r.Group == g {
				out = append(out, r)
			}
		}
	}
	return out
}

func rowKey(r StatusRow) string { return r.Group + "/" + r.Name }

// selected is the index of the selected row in ordered, 0 when the row it
// was on is gone.
func (m *Status) selected(rows []StatusRow) int {
	for i, r := range rows {
		if rowKey(r) == m.cursor {
			return i
		}
	}
	return 0
}

func (m *Status) move(by int) {
	rows := m.ordered()
	if len(rows) == 0 {
		return
	}
	i := min(max(m.selected(rows)+by, 0), len(rows)-1)
	m.cursor = rowKey(rows[i])
}

// act runs the action key k on the selected row.
func (m *Status) act(k string) (tea.Model, tea.Cmd) {
	rows := m.ordered()
	if len(rows) == 0 {
		return m, nil
	}
	r := rows[m.selected(rows)]
	switch k {
	case "o":
		if r.Group != "Routes" || r.URL == "" || m.actions.Open == nil {
			m.flash = "o opens a route: select one"
			return m, nil
		}
		if err := m.actions.Open(r.URL); err != nil {
			m.flash = "could not open " + r.URL + ": " + err.Error()
		} else {
			m.flash = "opened " + r.URL
		}
	case "c":
		text := ""
		if m.actions.Copy != nil {
			text = m.actions.Copy(r)
		}
		if text == "" {
			m.flash = "nothing to copy for " + r.Name
			return m, nil
		}
		m.flash = "copied the URL of " + r.Name
		return m, tea.SetClipboard(text)
	case "l":
		m.choice = &StatusChoice{Verb: "logs", Row: r}
		return m, tea.Quit
	case "f":
		if r.Group != "Databases" {
			m.flash = "f forwards a database to this machine: select one"
			return m, nil
		}
		m.choice = &StatusChoice{Verb: "forward", Row: r}
		return m, tea.Quit
	}
	return m, nil
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
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		switch k := msg.String(); k {
		case "ctrl+c", "q", "esc":
			return m, tea.Quit
		case "r":
			return m, m.load
		case "up", "k":
			m.move(-1)
		case "down", "j":
			m.move(1)
		case "o", "c", "l", "f":
			return m.act(k)
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
	// The rows, grouped, with the selected one marked; on a short
	// terminal only a window of them around the selection.
	unhealthy := 0
	rows := m.ordered()
	sel := m.selected(rows)
	var lines []string
	selLine := 0
	for _, g := range statusGroups {
		var group []StatusRow
		for _, r := range rows {
			if r.Group == g {
				group = append(group, r)
			}
		}
		if len(group) == 0 {
			continue
		}
		lines = append(lines, "", m.st.level.Render(g))
		nameW := 0
		for _, r := range group {
			nameW = max(nameW, len(r.Name))
		}
		for _, r := range group {
			mark := m.st.ok.Render("✓")
			if !r.Healthy {
				mark = m.st.failed.Render("✗")
				unhealthy++
			}
			detail := r.Detail
			if r.URL != "" {
				detail = r.URL + "  " + m.st.dim.Render(detail)
			}
			pointer := " "
			if rowKey(r) == rowKey(rows[sel]) {
				pointer, selLine = ">", len(lines)
			}
			line := fmt.Sprintf("%s %s %-*s  %s", pointer, mark, nameW, r.Name, detail)
			lines = append(lines, ansi.Truncate(line, m.width, "…"))
		}
	}
	// Title, kubeconfig, error and the four footer lines stay; the rows
	// scroll in what is left.
	room := len(lines)
	if m.height > 0 {
		fixed := 6
		if s.Err != nil {
			fixed += 2
		}
		room = max(m.height-fixed, 3)
	}
	if len(lines) > room {
		first := min(max(selLine-room/2, 0), len(lines)-room)
		above, below := first, len(lines)-first-room
		window := append([]string{}, lines[first:first+room]...)
		if above > 0 {
			window[0] = m.st.dim.Render(fmt.Sprintf("  ↑ %d more", above))
		}
		if below > 0 {
			window[len(window)-1] = m.st.dim.Render(fmt.Sprintf("  ↓ %d more", below))
		}
		lines = window
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
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
	if m.flash != "" {
		b.WriteString("  " + m.st.dim.Render(ansi.Truncate(m.flash, max(m.width-2, 10), "…")))
	}
	help := fmt.Sprintf("every %s · ↑/↓ · o open · c copy URL · l logs · f forward · r · q", m.interval)
	b.WriteString("\n" + m.st.help.Render(ansi.Truncate(help, m.width, "…")) + "\n")
	return b.String()
}
