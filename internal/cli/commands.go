package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/internal/schema"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/plan"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [STACK]",
		Short: "Check a stack file and report every problem at once",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.loadStack(args)
			if err != nil {
				return err
			}
			p, err := plan.Build(st)
			if err != nil {
				return err
			}
			// What the stack's provider can run: the Kubernetes versions
			// it has nodes for.
			if prov, err := cluster.New(st.Cluster.Provider, cluster.Options{}); err == nil {
				if c, ok := prov.(cluster.Checker); ok {
					if ps := c.Check(st); len(ps) > 0 {
						return ps
					}
				}
			}
			if a.json() {
				return a.writeJSON(map[string]any{"file": st.File, "stack": st.Metadata.Name, "valid": true, "steps": len(p.Steps)})
			}
			fmt.Fprintf(a.stdout, "%s: valid (stack %q, %d step%s)\n", st.File, st.Metadata.Name, len(p.Steps), plural(len(p.Steps)))
			return nil
		},
	}
}

func (a *app) planCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plan [STACK]",
		Short: "Print the steps kindred would run, grouped by level",
		Long: `Print the steps kindred would run. Steps on one level have everything they
need on earlier levels, so they may run in parallel. -o json gives the plan
as JSON, with its steps and levels.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.loadStack(args)
			if err != nil {
				return err
			}
			p, err := plan.Build(st)
			if err != nil {
				return err
			}
			if a.json() {
				return a.writeJSON(p)
			}
			fmt.Fprintf(a.stdout, "Plan for stack %q: %d steps in %d levels\n", p.Stack, len(p.Steps), len(p.Levels))
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for lv, ids := range p.Levels {
				fmt.Fprintf(tw, "level %d\n", lv)
				for _, id := range ids {
					s, _ := p.Step(id)
					needs := "-"
					if len(s.Needs) > 0 {
						needs = strings.Join(s.Needs, ", ")
					}
					fmt.Fprintf(tw, "  %s\t%s\tneeds %s\n", s.ID, s.Kind, needs)
				}
			}
			return tw.Flush()
		},
	}
}

func (a *app) schemaCmd() *cobra.Command {
	var events bool
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of stack files, for editors (--events: of the JSON event stream)",
		Long: `Print the JSON Schema of stack files. Save it and point yaml-language-server
at it with a modeline at the top of a stack file:

  # yaml-language-server: $schema=./stack.schema.json

With --events, print the JSON Schema of the lines up and down print with
-o json (schema kindred.dev/events/v1), for programs that read them.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if events {
				_, err := a.stdout.Write(event.JSONSchema)
				return err
			}
			return a.writeJSON(schema.Stack())
		},
	}
	cmd.Flags().BoolVar(&events, "events", false, "the schema of the JSON event stream instead")
	return cmd
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kindred's version",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.json() {
				v, goVersion := versions()
				return a.writeJSON(map[string]string{"version": v, "go": goVersion})
			}
			fmt.Fprintf(a.stdout, "kindred %s\n", version())
			return nil
		},
	}
}

func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONLine writes v as one line, so that it also fits a stream of
// JSON events.
func (a *app) writeJSONLine(v any) error { return json.NewEncoder(a.stdout).Encode(v) }

func (a *app) imagesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "images [STACK]",
		Short: "List every container image the stack runs",
		Long: `Render the stack's charts (as helm template does), kustomize folders and
manifests, and list every container image they name, with the images of
databases and jobs. Needs no cluster. -o json gives one object per image
with the steps that use it. Images that operators start at run time (a
CNI operator's, for one) are not in the charts and so not in the list.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.loadStack(args)
			if err != nil {
				return err
			}
			ctx, stop := interruptible()
			defer stop()
			imgs, err := engine.NewImages(a.engineConfig(nil)).Run(ctx, st)
			if err != nil {
				return err
			}
			if a.json() {
				return a.writeJSON(imgs)
			}
			for _, i := range imgs {
				if a.verbose > 0 {
					fmt.Fprintf(a.stdout, "%s\t%s\n", i.Image, strings.Join(i.Steps, ", "))
					continue
				}
				fmt.Fprintln(a.stdout, i.Image)
			}
			return nil
		},
	}
}

// note tells the user what a command did when no run's events say it:
// a line of text, or a JSON object with the message.
func (a *app) note(msg string) {
	if a.json() {
		_ = a.writeJSONLine(map[string]string{"schema": event.SchemaVersion, "type": "note", "message": msg})
		return
	}
	fmt.Fprintln(a.stdout, msg)
}
