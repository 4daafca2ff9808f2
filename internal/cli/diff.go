package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/engine"
)

func (a *app) diffCmd() *cobra.Command {
	var f clusterFlags
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff [STACK]",
		Short: "Show what up would do, step by step, changing nothing",
		Long: `Compare the stack with what its cluster runs and show what up would do
with each step: create, upgrade, repair (put back what was deleted or changed
by hand), leave unchanged, or remove (a step the stack dropped). For a change it shows the objects: a chart's through helm's
dry-run render against the live release, other objects through a
server-side dry-run apply against the live ones. Secrets' values are never
shown, only whether they change. -o json gives the whole report; -v also
shows the objects a created step would add in full.

With a kindred.lock beside the stack, diff compares what up would install
from it, and refuses a stack changed since it was locked, as up does.

It exits 0 whether or not anything would change; with --exit-code, 1 when
something would.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, args, func(t *target) error {
				d := engine.NewDiff(a.engineConfig(t.p))
				d.Adopt = f.adopt
				lock, err := lockFor(t.st, t.p, false)
				if err != nil {
					return err
				}
				d.Lock = lock
				rep, err := d.Run(t.ctx, t.st)
				if err != nil {
					return err
				}
				if a.json() {
					err = a.writeJSON(rep)
				} else {
					writeDiff(a.stdout, rep, a.verbose > 0)
				}
				if err == nil && exitCode && rep.Changes() > 0 {
					return shownError{fmt.Errorf("%d step%s would change", rep.Changes(), plural(rep.Changes()))}
				}
				return err
			})
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when up would change something")
	cmd.Flags().StringSliceVar(&f.adopt, "adopt", nil, "as for up: helm releases kindred did not install that it may take over")
	return cmd
}

// writeDiff prints a diff report: one line per step, marked + create,
// ~ upgrade, - remove, = unchanged, and under each change its objects.
func writeDiff(w io.Writer, rep *engine.DiffReport, verbose bool) {
	total := len(rep.Steps)
	fmt.Fprintf(w, "stack %q: %d of %d steps would change", rep.Stack, rep.Changes(), total)
	if !rep.Cluster {
		fmt.Fprint(w, " (its cluster does not exist yet: up creates everything)")
	}
	fmt.Fprintln(w)
	marks := map[string]string{engine.DiffCreate: "+", engine.DiffUpgrade: "~", engine.DiffRepair: "~", engine.DiffRemove: "-", engine.DiffUnchanged: "=",
		engine.DiffChange: "~", engine.DiffDelete: "-"}
	width := 0
	for _, s := range rep.Steps {
		width = max(width, len(s.Step))
	}
	for _, s := range rep.Steps {
		line := fmt.Sprintf("%s %-*s  %s", marks[s.Action], width, s.Step, s.Action)
		switch {
		case s.Removal != nil:
			_, what, _ := strings.Cut(s.Removal.String(), ": ")
			line += ": " + what
		case s.Release != "" && s.Action != engine.DiffUnchanged:
			line += " (helm release " + s.Release + ")"
		}
		if s.Note != "" && s.Action == engine.DiffRepair {
			line += ": " + s.Note
		}
		fmt.Fprintln(w, line)
		for _, o := range s.Objects {
			fmt.Fprintf(w, "    %s %s\n", marks[o.Action], o.Object)
			if o.Diff == "" || (o.Action == engine.DiffCreate && !verbose) {
				continue
			}
			for _, l := range strings.Split(strings.TrimRight(o.Diff, "\n"), "\n") {
				fmt.Fprintf(w, "        %s\n", l)
			}
		}
	}
	if rep.Changes() > 0 {
		for _, s := range rep.Steps {
			if s.Action == engine.DiffRemove {
				fmt.Fprintln(w, "up removes the steps marked - only with --prune, or when you confirm on a terminal")
				break
			}
		}
	}
}
