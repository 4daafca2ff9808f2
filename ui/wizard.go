package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// WizardAnswers are what `kindred init` asks for.
type WizardAnswers struct {
	Name              string
	KubernetesVersion string
	Workers           int
	Zones             bool
	CNI               string // one of the choices' CNIs
	Ingress           bool
	Domain            string
	TLS               string // local-ca, self-signed or none
	Databases         []string
	Components        []string
}

// WizardChoices are the options the wizard offers.
type WizardChoices struct {
	KubernetesVersions []string // the pinned ones, newest first
	Databases          []string // engines
	Components         []string // catalogue entries a stack can use
	CNIs               []Choice // kind's own first
	Ingress            string   // what the default ingress controller is, for its question
	// ValidName and ValidDomain check an answer as it is entered, with
	// the stack loader's rules, so a bad one is said at its field and
	// no answer is lost at the end.
	ValidName, ValidDomain func(string) error
}

// Choice is one option of a list, as shown and as written.
type Choice struct{ Label, Value string }

// Wizard is the `kindred init` form, with the stack file it makes shown
// live beside it and checked by the real loader on every change.
type Wizard struct {
	form    *huh.Form
	answers *WizardAnswers
	// render makes the stack file from the answers and validates it.
	render  func(WizardAnswers) ([]byte, error)
	preview string
	problem error
	width   int
	height  int
	st      styles
	// first are the first page's fields: Esc there leaves the wizard,
	// elsewhere it goes back a page.
	first []huh.Field
	left  bool
}

// NewWizard returns the wizard, starting from answers (the defaults).
func NewWizard(answers *WizardAnswers, choices WizardChoices, render func(WizardAnswers) ([]byte, error), color bool) *Wizard {
	a := answers
	opts := func(values []string) []huh.Option[string] { return huh.NewOptions(values...) }
	workers := []huh.Option[int]{huh.NewOption("none: one node does everything", 0), huh.NewOption("1", 1), huh.NewOption("2", 2), huh.NewOption("3", 3)}
	valid := func(f func(string) error) func(string) error {
		if f == nil {
			return func(string) error { return nil }
		}
		return f
	}
	name := huh.NewInput().Title("Stack name").Description("Lower case letters, digits and dashes; it names the cluster.").Value(&a.Name).Validate(valid(choices.ValidName))
	version := huh.NewSelect[string]().Title("Kubernetes version").Description("kind's node images, pinned by digest.").Options(opts(choices.KubernetesVersions)...).Value(&a.KubernetesVersion)
	// The domain follows the name until it is typed: empty means the
	// name's .localhost, shown as the placeholder.
	domain := huh.NewInput().Title("Domain").Description("*.localhost reaches this machine without DNS; empty: the one shown.").
		PlaceholderFunc(func() string { return a.Name + ".localhost" }, &a.Name).Value(&a.Domain).
		Validate(func(d string) error {
			if d == "" {
				return nil
			}
			return valid(choices.ValidDomain)(d)
		})
	components := huh.NewMultiSelect[string]().Title("More from the catalogue").Options(opts(choices.Components)...).Value(&a.Components)
	components.Height(min(len(choices.Components), 6) + 2)
	form := huh.NewForm(
		huh.NewGroup(name, version),
		huh.NewGroup(
			huh.NewSelect[int]().Title("Worker nodes").Options(workers...).Value(&a.Workers),
			huh.NewConfirm().Title("Spread nodes over zones?").Description("Labels topology.kubernetes.io/zone, as production has them.").Value(&a.Zones),
			huh.NewSelect[string]().Title("CNI").Options(choiceOptions(choices.CNIs)...).Value(&a.CNI),
		),
		huh.NewGroup(
			huh.NewConfirm().Title("Ingress ("+choices.Ingress+")?").Value(&a.Ingress),
			domain,
			huh.NewSelect[string]().Title("TLS").Options(
				huh.NewOption("a local CA this machine trusts", "local-ca"), huh.NewOption("self-signed", "self-signed"), huh.NewOption("none", "none")).Value(&a.TLS),
		),
		huh.NewGroup(
			huh.NewMultiSelect[string]().Title("Databases").Options(opts(choices.Databases)...).Value(&a.Databases),
			components,
		),
	).WithShowHelp(true)
	w := &Wizard{form: form, answers: a, render: render, width: 120, st: newStyles(color), first: []huh.Field{name, version}}
	w.refresh()
	return w
}

// Answers are the answers so far.
func (w *Wizard) Answers() WizardAnswers { return *w.answers }

// Left reports whether the user left the wizard (Ctrl-C, or Esc on its
// first page).
func (w *Wizard) Left() bool { return w.left }

// Completed reports whether the user finished the form.
func (w *Wizard) Completed() bool { return w.form.State == huh.StateCompleted }

// Stack is the stack file of the current answers and its problem, if any.
func (w *Wizard) Stack() ([]byte, error) { return []byte(w.preview), w.problem }

func (w *Wizard) refresh() {
	out, err := w.render(*w.answers)
	w.preview, w.problem = string(out), err
}

// Init starts the form.
func (w *Wizard) Init() tea.Cmd { return w.form.Init() }

// Update passes input to the form and redraws the preview.
func (w *Wizard) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if ws, ok := msg.(tea.WindowSizeMsg); ok {
		w.width, w.height = ws.Width, ws.Height
		if ws.Width < 100 {
			// The form above the file: the page must fit the
			// terminal's height, or its top would scroll away.
			w.form = w.form.WithWidth(ws.Width).WithHeight(max(8, ws.Height-w.previewLines()-5))
		} else {
			w.form = w.form.WithWidth((ws.Width - 2) / 2).WithHeight(max(8, ws.Height-4))
		}
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "ctrl+c":
			w.left = true
			return w, tea.Quit
		case "esc":
			focused := w.form.GetFocusedField()
			for _, f := range w.first {
				if f == focused {
					w.left = true
					return w, tea.Quit
				}
			}
			return w, w.form.PrevGroup()
		}
	}
	m, cmd := w.form.Update(msg)
	if f, ok := m.(*huh.Form); ok {
		w.form = f
	}
	w.refresh()
	if w.form.State != huh.StateNormal {
		return w, tea.Quit
	}
	return w, cmd
}

// View draws the form with the stack file beside it.
func (w *Wizard) View() tea.View { return tea.NewView(w.page()) }

// page draws the form and the stack file side by side when there is room
// (100 columns or more), else the form above the file's first lines; no
// line is wider than the terminal.
// previewLines is how much of the file shows under the form on a narrow
// terminal.
func (w *Wizard) previewLines() int {
	if w.height == 0 {
		return 10
	}
	return max(3, min(10, w.height/3))
}

func (w *Wizard) page() string {
	status := w.st.ok.Render("✓ valid stack")
	if w.problem != nil {
		status = w.st.failed.Render("✗ " + firstLine(w.problem.Error()))
	}
	form := w.st.title.Render("kindred init") + "\n\n" + w.form.View()
	preview := func(width, lines int) string {
		all := strings.Split(strings.TrimRight(w.preview, "\n"), "\n")
		if len(all) > lines {
			all = append(all[:lines-1], w.st.dim.Render(fmt.Sprintf("… %d more lines", len(all)-lines+1)))
		}
		out := []string{ansi.Truncate(w.st.title.Render("kindred.yaml")+"  "+status, width, "…")}
		for _, l := range all {
			out = append(out, ansi.Truncate(l, width, "…"))
		}
		return strings.Join(out, "\n")
	}
	if w.width < 100 {
		return form + "\n" + preview(w.width, w.previewLines()) + "\n"
	}
	half := (w.width - 2) / 2
	left := lipgloss.NewStyle().Width(half).Render(form)
	right := lipgloss.NewStyle().Width(half).Render(preview(half, 60))
	return lipgloss.JoinHorizontal(lipgloss.Top, left, "  ", right) + "\n"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func choiceOptions(cs []Choice) []huh.Option[string] {
	var out []huh.Option[string]
	for _, c := range cs {
		out = append(out, huh.NewOption(c.Label, c.Value))
	}
	return out
}
