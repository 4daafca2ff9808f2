package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
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
	st      styles
}

// NewWizard returns the wizard, starting from answers (the defaults).
func NewWizard(answers *WizardAnswers, choices WizardChoices, render func(WizardAnswers) ([]byte, error), color bool) *Wizard {
	a := answers
	opts := func(values []string) []huh.Option[string] { return huh.NewOptions(values...) }
	workers := []huh.Option[int]{huh.NewOption("none: one node does everything", 0), huh.NewOption("1", 1), huh.NewOption("2", 2), huh.NewOption("3", 3)}
	form := huh.NewForm(
		huh.NewGroup(
			huh.NewInput().Title("Stack name").Description("Lower case letters, digits and dashes; it names the cluster.").Value(&a.Name),
			huh.NewSelect[string]().Title("Kubernetes version").Description("kind's node images, pinned by digest.").Options(opts(choices.KubernetesVersions)...).Value(&a.KubernetesVersion),
		),
		huh.NewGroup(
			huh.NewSelect[int]().Title("Worker nodes").Options(workers...).Value(&a.Workers),
			huh.NewConfirm().Title("Spread nodes over zones?").Description("Labels topology.kubernetes.io/zone, as production has them.").Value(&a.Zones),
			huh.NewSelect[string]().Title("CNI").Options(choiceOptions(choices.CNIs)...).Value(&a.CNI),
		),
		huh.NewGroup(
			huh.NewConfirm().Title("Ingress ("+choices.Ingress+")?").Value(&a.Ingress),
			huh.NewInput().Title("Domain").Description("*.localhost reaches this machine without DNS.").Value(&a.Domain),
			huh.NewSelect[string]().Title("TLS").Options(
				huh.NewOption("a local CA this machine trusts", "local-ca"), huh.NewOption("self-signed", "self-signed"), huh.NewOption("none", "none")).Value(&a.TLS),
		),
		huh.NewGroup(
			huh.NewMultiSelect[string]().Title("Databases").Options(opts(choices.Databases)...).Value(&a.Databases),
			huh.NewMultiSelect[string]().Title("More from the catalogue").Options(opts(choices.Components)...).Value(&a.Components),
		),
	).WithShowHelp(true)
	w := &Wizard{form: form, answers: a, render: render, width: 120, st: newStyles(color)}
	w.refresh()
	return w
}

// Answers are the answers so far.
func (w *Wizard) Answers() WizardAnswers { return *w.answers }

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
		w.width = ws.Width
		w.form = w.form.WithWidth(max(40, ws.Width/2-2))
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "ctrl+c" {
		return w, tea.Quit
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

func (w *Wizard) page() string {
	half := max(40, w.width/2-2)
	status := w.st.ok.Render("✓ valid stack")
	if w.problem != nil {
		status = w.st.failed.Render("✗ " + firstLine(w.problem.Error()))
	}
	right := lipgloss.NewStyle().Width(half).Render(w.st.title.Render("kindred.yaml") + "\n" + status + "\n\n" + w.preview)
	left := lipgloss.NewStyle().Width(half).Render(w.st.title.Render("kindred init") + "\n\n" + w.form.View())
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
