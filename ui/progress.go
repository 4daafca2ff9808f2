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
	title  string
	clock  Clock
	st     styles
	spin   spinner.Model
	cancel func()
	width  int
	steps  map[string]*stepState
	order  []string // by level, then ID
	// selected is the ID of the step the cursor is on, so the cursor
	// stays on it while the steps above finish.
	selected string
	showLog  bool
	// header says what the run creates (cluster, nodes, version,
	// provider); below the title.
	header string
	// quitting is set while q waits for its y.
	quitting bool
	started  time.Time
	// cancelling is set once Ctrl-C asked the run to stop.
	cancelling bool
	finished   bool
	// lines waits to be printed above the page, one at a time and in
	// order (see say); printing is set while one is on its way, and ended
	// once the last line and the quit are.
	lines    []string
	printing bool
	ended    bool
	summary  event.Summary
	err      error
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

// WithHeader sets the line under the title that says what is created.
func (m *Progress) WithHeader(h string) *Progress { m.header = h; return m }

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
		if m.quitting && msg.String() != "ctrl+c" {
			// q asked whether to cancel: only y does.
			m.quitting = false
			if msg.String() == "y" || msg.String() == "Y" {
				m.stop()
			}
			return m, nil
		}
		switch msg.String() {
		case "ctrl+c":
			if m.asking != nil {
				m.asking.Answer <- false
				m.asking = nil
			}
			m.stop()
		case "q":
			if !m.cancelling && !m.finished {
				m.quitting = true
			}
		case "l":
			m.showLog = !m.showLog
		case "up", "k":
			m.moveCursor(-1)
		case "down", "j":
			m.moveCursor(1)
		}
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case EventMsg:
		return m, m.apply(msg.Event)
	case DoneMsg:
		m.finished, m.summary, m.err = true, msg.Summary, msg.Err
		return m, m.next()
	case printed:
		m.printing = false
		return m, m.next()
	}
	return m, nil
}

// printed says the line say sent last is out.
type printed struct{}

// say prints line above the page. tea.Println is a command, and commands
// run side by side: lines of two updates could pass each other, and a
// step's failure could lose the race with the quit. So lines go out one
// at a time, each after the one before has been printed, and the page
// quits only after the last.
func (m *Progress) say(line string) tea.Cmd {
	m.lines = append(m.lines, line)
	return m.next()
}

// next sends the next line, or, once the run is done and every line is
// out, the summary and the quit.
func (m *Progress) next() tea.Cmd {
	if m.printing || m.ended {
		return nil
	}
	if len(m.lines) == 0 {
		if !m.finished {
			return nil
		}
		m.ended = true
		return tea.Sequence(tea.Println(m.final()), tea.Quit)
	}
	line := m.lines[0]
	m.lines = m.lines[1:]
	m.printing = true
	return tea.Sequence(tea.Println(line), func() tea.Msg { return printed{} })
}

// stop cancels the run, once.
func (m *Progress) stop() {
	if !m.cancelling && !m.finished {
		m.cancelling = true
		if m.cancel != nil {
			m.cancel()
		}
	}
}

// cursor is the index in live of the selected step: the step it was on,
// else the first one after it in plan order that still runs.
func (m *Progress) cursor(live []*stepState) int {
	if len(live) == 0 || m.selected == "" {
		return 0
	}
	after := false
	for _, id := range m.order {
		if id == m.selected {
			after = true
		}
		if !after {
			continue
		}
		for i, s := range live {
			if s.id == id {
				return i
			}
		}
	}
	return len(live) - 1
}

func (m *Progress) moveCursor(by int) {
	live := m.live()
	if len(live) == 0 {
		return
	}
	i := min(max(m.cursor(live)+by, 0), len(live)-1)
	m.selected = live[i].id
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
		return m.say(m.line(s))
	case event.StepFailed:
		s.status, s.elapsed, s.detail = "failed", e.Elapsed, e.Message
		return m.say(m.line(s))
	case event.StepSkipped:
		// Said once, with the others skipped for the same cause, at the end.
		s.status, s.detail = "skipped", e.Message
	}
	return nil
}

// skippedLines says the skipped steps in one line per failed step they
// waited on: "3 steps skipped because db failed: api, web, job".
func (m *Progress) skippedLines() []string {
	var failed, skipped []string
	for _, id := range m.order {
		switch m.steps[id].status {
		case "failed":
			failed = append(failed, id)
		case "skipped":
			skipped = append(skipped, id)
		}
	}
	if len(skipped) == 0 {
		return nil
	}
	cause := "an earlier step failed"
	switch len(failed) {
	case 0:
		cause = "the run was cancelled"
	case 1:
		cause = failed[0] + " failed"
	default:
		cause = strings.Join(failed, " and ") + " failed"
	}
	n := len(skipped)
	return []string{m.st.skipped.Render(fmt.Sprintf("- %d step%s skipped because %s", n, map[bool]string{true: "", false: "s"}[n == 1], cause)) + m.st.dim.Render(": "+strings.Join(skipped, ", "))}
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
	if m.header != "" {
		b.WriteString(m.st.dim.Render(truncate(m.header, max(20, m.width))) + "\n")
	}
	lastLevel := -2
	live := m.live()
	sel := m.cursor(live)
	for i, s := range live {
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
		if i == sel {
			cursor = ">"
		}
		line := fmt.Sprintf("%s %s %s%s", cursor, mark, s.id, m.st.dim.Render(timing))
		if s.detail != "" {
			line += m.st.dim.Render("  " + truncate(s.detail, max(20, m.width-len(s.id)-20)))
		}
		b.WriteString(line + "\n")
	}
	if m.showLog && sel < len(live) {
		s := live[sel]
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
	if m.quitting {
		b.WriteString(m.st.failed.Render("Cancel the run? What finished stays; the next run resumes.") + "\n")
		b.WriteString(m.st.help.Render("y cancel · any other key go on"))
		return tea.NewView(b.String())
	}
	b.WriteString(m.st.help.Render("↑/↓ select · l log · q or ctrl+c cancel"))
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
	if sk := m.skippedLines(); len(sk) > 0 && !s.Cancelled {
		line = strings.Join(sk, "\n") + "\n" + line
	}
	if s.Cancelled || m.cancelling {
		var left []string
		for _, id := range m.order {
			if st := m.steps[id]; st.status == "skipped" || st.status == "pending" || st.status == "running" {
				left = append(left, id)
			}
		}
		if len(left) > 0 {
			line += "\ncancelled; not done: " + strings.Join(left, ", ")
		} else {
			line += "\ncancelled after every step had finished"
		}
		line += "\nrun the same command again to resume where this run stopped"
	}
	return line
}

// Cancelled reports whether the user cancelled the run (Ctrl-C, or q
// then y).
func (m *Progress) Cancelled() bool { return m.cancelling }

// Err is the run's error, once it finished.
func (m *Progress) Err() error { return m.err }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
