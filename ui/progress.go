package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/render"
)

// stepState is what the progress page knows of one step.
type stepState struct {
	id, kind string
	level    int
	status   string // pending, running, changed, unchanged, failed, skipped
	detail   string
	started  time.Time
	elapsed  time.Duration
	log      []string
}

func (s *stepState) done() bool {
	return s.status != "pending" && s.status != "running"
}

// Progress is the page of a running `kindred up` (or down).
type Progress struct {
	title    string
	clock    Clock
	st       styles
	spin     spinner.Model
	cancel   func()
	width    int
	steps    map[string]*stepState
	order    []string // by level, then ID
	selected int
	showLog  bool
	started  time.Time
	// cancelling is set once Ctrl-C asked the run to stop.
	cancelling bool
	finished   bool
	summary    event.Summary
	err        error
	// asking is the question on screen while the run waits for an answer.
	asking *ConfirmMsg
}

// ConfirmMsg asks the user a yes/no question while the run waits: the page
// shows the question and its lines, and sends the answer on Answer (false
// for anything but y).
type ConfirmMsg struct {
	Question string
	Lines    []string
	Answer   chan<- bool
}

// NewProgress returns the progress page. cancel stops the run (through its
// context) when the user presses Ctrl-C.
func NewProgress(title string, cancel func(), clock Clock, color bool) *Progress {
	if clock == nil {
		clock = time.Now
	}
	return &Progress{
		title: title, clock: clock, st: newStyles(color), cancel: cancel,
		spin:  spinner.New(spinner.WithSpinner(spinner.Line)),
		steps: map[string]*stepState{}, started: clock(), width: 100,
	}
}

// Init starts the spinner.
func (m *Progress) Init() tea.Cmd { return m.spin.Tick }

// Update handles events, keys and ticks. It never blocks.
func (m *Progress) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width = msg.Width
	case ConfirmMsg:
		m.asking = &msg
	case tea.KeyPressMsg:
		if m.asking != nil && msg.String() != "ctrl+c" {
			m.asking.Answer <- msg.String() == "y" || msg.String() == "Y"
			m.asking = nil
			return m, nil
		}
		switch msg.String() {
		case "ctrl+c", "q":
			if m.asking != nil {
				m.asking.Answer <- false
				m.asking = nil
			}
			if !m.cancelling && !m.finished {
				m.cancelling = true
				if m.cancel != nil {
					m.cancel()
				}
			}
		case "l":
			m.showLog = !m.showLog
		case "up", "k":
			if m.selected > 0 {
				m.selected--
			}
		case "down", "j":
			if m.selected < len(m.live())-1 {
				m.selected++
			}
		}
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case EventMsg:
		return m, m.apply(msg.Event)
	case DoneMsg:
		m.finished, m.summary, m.err = true, msg.Summary, msg.Err
		return m, tea.Sequence(tea.Println(m.final()), tea.Quit)
	}
	return m, nil
}

// apply folds one event into the page; a finished step prints above.
func (m *Progress) apply(e event.Event) tea.Cmd {
	switch e.Type {
	case event.PlanReady:
		for lv, ids := range e.Levels {
			for _, id := range ids {
				if _, ok := m.steps[id]; !ok {
					m.steps[id] = &stepState{id: id, level: lv, status: "pending"}
					m.order = append(m.order, id)
				}
			}
		}
		return nil
	}
	s := m.steps[e.Step]
	if s == nil {
		if e.Step == "" {
			return nil
		}
		// A step outside the plan, such as prune.
		s = &stepState{id: e.Step, level: -1, status: "pending"}
		m.steps[e.Step] = s
		m.order = append(m.order, e.Step)
	}
	s.kind = e.Kind
	switch e.Type {
	case event.StepStarted:
		s.status, s.started = "running", e.Time
	case event.StepProgress:
		s.detail = e.Message
		s.log = append(s.log, e.Message)
	case event.StepSucceeded:
		s.status, s.elapsed = "unchanged", e.Elapsed
		if e.Changed {
			s.status = "changed"
		}
		if e.Repaired {
			s.status, s.detail = "repaired", strings.TrimPrefix(e.Message, "repaired: ")
		}
		if e.Removed {
			s.status = "removed"
		}
		return tea.Println(m.line(s))
	case event.StepFailed:
		s.status, s.elapsed, s.detail = "failed", e.Elapsed, e.Message
		return tea.Println(m.line(s))
	case event.StepSkipped:
		s.status, s.detail = "skipped", e.Message
		return tea.Println(m.line(s))
	}
	return nil
}

// live lists the steps not finished yet, in plan order.
func (m *Progress) live() []*stepState {
	var out []*stepState
	for _, id := range m.order {
		if s := m.steps[id]; !s.done() {
			out = append(out, s)
		}
	}
	return out
}

// line renders a finished step as it stays on screen.
func (m *Progress) line(s *stepState) string {
	switch s.status {
	case "changed":
		return m.st.ok.Render("✓ ") + s.id + m.st.dim.Render(" "+render.Duration(s.elapsed))
	case "unchanged":
		return m.st.unchanged.Render("= "+s.id+" unchanged") + m.st.dim.Render(" "+render.Duration(s.elapsed))
	case "repaired":
		return m.st.ok.Render("✓ ") + s.id + m.st.dim.Render(" "+render.Duration(s.elapsed)) + " repaired: " + s.detail
	case "removed":
		return m.st.ok.Render("✓ ") + s.id + " removed" + m.st.dim.Render(" "+render.Duration(s.elapsed))
	case "failed":
		return m.st.failed.Render("✗ "+s.id) + m.st.dim.Render(" "+render.Duration(s.elapsed)) + "\n    " + s.detail
	}
	return m.st.skipped.Render("- "+s.id+" skipped") + m.st.dim.Render(": "+s.detail)
}

// View draws the live area: running and pending steps by level, the log of
// the selected step when shown, and the keys.
func (m *Progress) View() tea.View {
	if m.finished {
		return tea.NewView("")
	}
	var b strings.Builder
	done := len(m.order) - len(m.live())
	fmt.Fprintf(&b, "%s %s\n", m.st.title.Render(m.title), m.st.dim.Render(fmt.Sprintf("%d/%d steps, %s", done, len(m.order), render.Duration(m.clock().Sub(m.started)))))
	lastLevel := -2
	for i, s := range m.live() {
		if s.level != lastLevel && s.level >= 0 {
			b.WriteString(m.st.level.Render(fmt.Sprintf("level %d", s.level)) + "\n")
			lastLevel = s.level
		}
		mark, timing := "·", ""
		if s.status == "running" {
			mark = m.spin.View()
			timing = " " + render.Duration(m.clock().Sub(s.started))
		}
		cursor := " "
		if i == m.selected {
			cursor = ">"
		}
		line := fmt.Sprintf("%s %s %s%s", cursor, mark, s.id, m.st.dim.Render(timing))
		if s.detail != "" {
			line += m.st.dim.Render("  " + truncate(s.detail, max(20, m.width-len(s.id)-20)))
		}
		b.WriteString(line + "\n")
	}
	if live := m.live(); m.showLog && m.selected < len(live) {
		s := live[m.selected]
		b.WriteString(m.st.title.Render("log of "+s.id) + "\n")
		start := max(0, len(s.log)-8)
		for _, l := range s.log[start:] {
			b.WriteString("  " + m.st.dim.Render(l) + "\n")
		}
	}
	if m.cancelling {
		b.WriteString(m.st.skipped.Render("cancelling: finishing the steps in flight…") + "\n")
	}
	if q := m.asking; q != nil {
		b.WriteString(m.st.failed.Render(q.Question) + "\n")
		for _, l := range q.Lines {
			b.WriteString("  " + l + "\n")
		}
		b.WriteString(m.st.help.Render("y yes · any other key no"))
		return tea.NewView(b.String())
	}
	b.WriteString(m.st.help.Render("↑/↓ select · l log · ctrl+c cancel"))
	return tea.NewView(b.String())
}

// final is the last block printed: the totals, and what a cancel left.
func (m *Progress) final() string {
	s := m.summary
	removed := ""
	if s.Removed > 0 {
		removed = fmt.Sprintf("%d removed, ", s.Removed)
	}
	line := fmt.Sprintf("%s in %s: %s%d changed, %d unchanged, %d failed, %d skipped",
		m.title, render.Duration(m.clock().Sub(m.started)), removed, s.Changed, s.Unchanged, s.Failed, s.Skipped)
	if s.Cancelled {
		var left []string
		for _, id := range m.order {
			if st := m.steps[id]; st.status == "skipped" || st.status == "pending" || st.status == "running" {
				left = append(left, id)
			}
		}
		line += "\ncancelled; not done: " + strings.Join(left, ", ") + "\nrun the same command again to resume where this run stopped"
	}
	return line
}

// Err is the run's error, once it finished.
func (m *Progress) Err() error { return m.err }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
