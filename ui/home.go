package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// HomeItem is one line of the home page: a cluster on this machine, a stack
// file in the current folder, or a built-in stack.
type HomeItem struct {
	Section string // Clusters, Stacks here, Built-in stacks
	Label   string
	Detail  string
	// Stack is what the actions act on: a file, or builtin:NAME. Clusters
	// have the stack they were made from when it is known.
	Stack string
}

// HomeChoice is what the user picked: a verb (up, down, status, init) and,
// but for init, the stack.
type HomeChoice struct {
	Verb  string
	Stack string
}

// Home is what `kindred` shows on a terminal with no command: the clusters
// on this machine with their state, the stack files here, and the built-in
// stacks, with keys for up, down, status and the wizard.
type Home struct {
	items  []HomeItem
	sel    int
	choice *HomeChoice
	note   string
	width  int
	st     styles
}

// NewHome returns the home page.
func NewHome(items []HomeItem, color bool) *Home {
	h := &Home{items: items, width: 100, st: newStyles(color)}
	for h.sel < len(items)-1 && items[h.sel].Stack == "" {
		h.sel++ // start on something the keys act on
	}
	return h
}

// Choice is what the user picked, or nil when they quit.
func (h *Home) Choice() *HomeChoice { return h.choice }

// Init does nothing; the page is drawn from what it was given.
func (h *Home) Init() tea.Cmd { return nil }

// Update moves the selection and picks actions.
func (h *Home) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.width = msg.Width
	case tea.KeyPressMsg:
		h.note = ""
		switch k := msg.String(); k {
		case "ctrl+c", "q", "esc":
			return h, tea.Quit
		case "up", "k":
			if h.sel > 0 {
				h.sel--
			}
		case "down", "j":
			if h.sel < len(h.items)-1 {
				h.sel++
			}
		case "i":
			h.choice = &HomeChoice{Verb: "init"}
			return h, tea.Quit
		case "u", "enter", "d", "s":
			verb := map[string]string{"u": "up", "enter": "up", "d": "down", "s": "status"}[k]
			if len(h.items) == 0 || h.items[h.sel].Stack == "" {
				h.note = "select a stack first"
				return h, nil
			}
			h.choice = &HomeChoice{Verb: verb, Stack: h.items[h.sel].Stack}
			return h, tea.Quit
		}
	}
	return h, nil
}

// View draws the page.
func (h *Home) View() tea.View { return tea.NewView(h.page()) }

func (h *Home) page() string {
	var b strings.Builder
	b.WriteString(h.st.title.Render("kindred") + h.st.dim.Render("  production-shaped local Kubernetes from one stack file") + "\n")
	section := ""
	for i, it := range h.items {
		if it.Section != section {
			section = it.Section
			b.WriteString("\n" + h.st.level.Render(section) + "\n")
		}
		cursor := "  "
		label := fmt.Sprintf("%-28s", it.Label) // padded before styling, which adds escapes
		if i == h.sel {
			cursor = "> "
			label = h.st.title.Render(label)
		}
		line := fmt.Sprintf("%s%s %s", cursor, label, h.st.dim.Render(it.Detail))
		b.WriteString(ansi.Truncate(line, h.width, "…") + "\n")
	}
	if len(h.items) == 0 {
		b.WriteString("\nno clusters or stacks yet: press i to write a stack file\n")
	}
	if h.note != "" {
		b.WriteString("\n" + h.st.failed.Render(h.note) + "\n")
	}
	b.WriteString("\n" + h.st.help.Render("↑/↓ select · u/enter up · s status · d down · i new stack (wizard) · q quit") + "\n")
	return b.String()
}
