package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
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
	return a.onTerminal()
}

// onTerminal reports whether both standard input and output are a
// terminal.
func (a *app) onTerminal() bool {
	in, ok1 := a.stdin.(*os.File)
	out, ok2 := a.stdout.(*os.File)
	return ok1 && ok2 && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd()))
}

// terminalAsker asks on the terminal, one line of stdin for the answer;
// nil when stdin is not a terminal, so nothing is ever assumed.
func (a *app) terminalAsker() asker {
	in, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	return func(ctx context.Context, question string, lines []string) (bool, error) {
		fmt.Fprintln(a.stderr, question)
		for _, l := range lines {
			fmt.Fprintln(a.stderr, "  "+l)
		}
		fmt.Fprint(a.stderr, "[y/N] ")
		answer := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(in).ReadString('\n')
			answer <- line
		}()
		select {
		case s := <-answer:
			return saidYes(s), nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// asker puts a yes/no question to the user and waits for the answer.
type asker func(ctx context.Context, question string, lines []string) (bool, error)

// runTUI runs fn with the progress page: events go to the page, questions
// are asked on it, Ctrl-C in the page cancels fn's context, and the page
// prints the summary.
func (a *app) runTUI(ctx context.Context, title, header string, fn func(ctx context.Context, sink event.Sink, ask asker) (event.Summary, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, noColor := a.lookupEnv("NO_COLOR")
	// -v's log lines would garble the live page: they go to a file,
	// named when the page ends.
	if a.verbose > 0 {
		if path, restore, err := a.logToFile(title); err == nil {
			defer func() {
				restore()
				fmt.Fprintf(a.stdout, "log       %s\n", path)
			}()
		}
	}
	page := ui.NewProgress(title, cancel, nil, !noColor).WithHeader(header)
	p := tea.NewProgram(page, tea.WithInput(a.stdin), tea.WithOutput(a.stdout))
	ask := func(ctx context.Context, question string, lines []string) (bool, error) {
		answer := make(chan bool, 1)
		p.Send(ui.ConfirmMsg{Question: question, Lines: lines, Answer: answer})
		select {
		case ok := <-answer:
			return ok, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	go func() {
		sum, err := fn(ctx, event.SinkFunc(func(e event.Event) { p.Send(ui.EventMsg{Event: e}) }), ask)
		p.Send(ui.DoneMsg{Summary: sum, Err: err})
	}()
	if _, err := p.Run(); err != nil {
		cancel()
		return err
	}
	if page.Cancelled() {
		err := page.Err()
		if err == nil {
			err = context.Canceled
		}
		return cancelledError{err}
	}
	return page.Err()
}

// logToFile sends the log to a new file (0600) under the state folder, and
// returns its path and how to send it back.
func (a *app) logToFile(title string) (string, func(), error) {
	dir := filepath.Join(cluster.StateDir(), "logs")
	if d, ok := a.lookupEnv("XDG_STATE_HOME"); ok && d != "" {
		dir = filepath.Join(d, "kindred", "logs")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	name := strings.ReplaceAll(title, " ", "-") + "-" + time.Now().UTC().Format("20060102T150405Z") + ".log"
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", nil, err
	}
	if a.logTo == nil {
		_ = f.Close()
		return "", nil, errors.New("no log to send")
	}
	old := a.logTo.set(f)
	return f.Name(), func() { a.logTo.set(old); _ = f.Close() }, nil
}

// runStatusTUI shows the live status dashboard until the user quits.
func (a *app) runStatusTUI(ctx context.Context, p cluster.Provider, st *stack.Stack) error {
	_, noColor := a.lookupEnv("NO_COLOR")
	fetch := func(ctx context.Context) ui.StatusSnapshot {
		rep, err := engine.NewStatus(a.engineConfig(p)).Run(ctx, st)
		return statusSnapshot(st, rep, err)
	}
	page := ui.NewStatus(fetch, 2*time.Second, nil, !noColor).WithActions(ui.StatusActions{
		Open: openBrowser,
		Copy: func(r ui.StatusRow) string {
			switch r.Group {
			case "Routes":
				return r.URL
			case "Databases":
				list, err := database.Credentials(ctx, p, st, true, r.Name)
				if err != nil || len(list) == 0 {
					return ""
				}
				if list, err = a.onHost(st, list); err != nil {
					return ""
				}
				return list[0].URL
			}
			return ""
		},
	})
	prog := tea.NewProgram(page, tea.WithInput(a.stdin), tea.WithOutput(a.stdout), tea.WithContext(ctx))
	_, err := prog.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // Ctrl-C outside the program
	}
	if err != nil {
		return err
	}
	// Logs and forward leave the page and run as their commands.
	if c := page.Choice(); c != nil {
		name := c.Row.Name
		for _, r := range st.Routes {
			if c.Row.Group == "Routes" && r.Host == name {
				// A route's logs are its component's.
				if name = r.Component; name == "" {
					name = r.Service.Name
				}
			}
		}
		args := []string{c.Verb, name, "-c", a.nameFor(st)}
		if c.Verb == "logs" {
			args = append(args, "-f")
		}
		fmt.Fprintf(a.stdout, "kindred %s\n", strings.Join(args, " "))
		root := a.root()
		root.SetArgs(args)
		return root.Execute()
	}
	return nil
}

// statusSnapshot turns a status report into the dashboard's rows, grouped
// by what each step is, with routes' URLs and databases' endpoints.
func statusSnapshot(st *stack.Stack, rep *engine.Report, err error) ui.StatusSnapshot {
	snap := ui.StatusSnapshot{Stack: st.Metadata.Name, Err: err, At: time.Now()}
	if rep == nil {
		return snap
	}
	snap.Kubeconfig = rep.Kubeconfig
	groups := map[string]string{
		plan.KindCluster: "Cluster", plan.KindComponent: "Components", plan.KindRoute: "Routes", plan.KindIssuer: "Certificates",
		plan.KindDatabase: "Databases", plan.KindTenant: "Tenants", plan.KindJob: "Jobs",
	}
	for _, s := range rep.Steps {
		row := ui.StatusRow{Group: groups[s.Kind], Name: s.ID, Healthy: s.Healthy, Detail: s.Message, URL: s.Endpoint}
		if row.Group == "" {
			row.Group = "Components"
		}
		if s.Kind == plan.KindRoute {
			host := strings.TrimPrefix(s.ID, "route/")
			row.Name = host
			for _, r := range st.Routes {
				if r.Host == host {
					row.URL = st.RouteURL(r)
				}
			}
		}
		snap.Rows = append(snap.Rows, row)
	}
	return snap
}
