package cli

import (
	"context"
	"os"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/ui"
)

// useTUI decides whether a run gets the interactive page: always with
// --output tui; with auto, only when stdin and stdout are terminals and
// neither CI, NO_COLOR nor TERM=dumb rules it out.
func (a *app) useTUI() bool {
	switch a.output {
	case OutputTUI:
		return true
	case OutputAuto:
	default:
		return false
	}
	for _, k := range []string{"CI", "NO_COLOR"} {
		if v, ok := a.lookupEnv(k); ok && v != "" && v != "false" && v != "0" {
			return false
		}
	}
	if v, _ := a.lookupEnv("TERM"); v == "dumb" {
		return false
	}
	in, ok1 := a.stdin.(*os.File)
	out, ok2 := a.stdout.(*os.File)
	return ok1 && ok2 && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd()))
}

// runTUI runs fn with the progress page: events go to the page, Ctrl-C in
// the page cancels fn's context, and the page prints the summary.
func (a *app) runTUI(ctx context.Context, title string, fn func(ctx context.Context, sink event.Sink) (event.Summary, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, noColor := a.lookupEnv("NO_COLOR")
	page := ui.NewProgress(title, cancel, nil, !noColor)
	p := tea.NewProgram(page, tea.WithInput(a.stdin), tea.WithOutput(a.stdout))
	go func() {
		sum, err := fn(ctx, event.SinkFunc(func(e event.Event) { p.Send(ui.EventMsg{Event: e}) }))
		p.Send(ui.DoneMsg{Summary: sum, Err: err})
	}()
	if _, err := p.Run(); err != nil {
		cancel()
		return err
	}
	return page.Err()
}
