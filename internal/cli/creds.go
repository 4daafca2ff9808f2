package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"kindred.dev/kindred/pkg/component/database"
)

func (a *app) credsCmd() *cobra.Command {
	var f clusterFlags
	var show bool
	cmd := &cobra.Command{
		Use:   "creds [DATABASE] [--stack STACK]",
		Short: "Print the databases' connection URLs (passwords masked unless --show)",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.target(&f, f.stackArg())
			if err != nil {
				return err
			}
			defer t.stop()
			st, p, ctx := t.st, t.p, t.ctx
			only := ""
			if len(args) == 1 {
				only = args[0]
			}
			var names []string
			if only != "" {
				names = []string{only}
			}
			list, err := database.Credentials(ctx, p, st, show, names...)
			if errors.Is(err, database.ErrNoDatabase) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if a.json() {
				urls := map[string]string{}
				for _, c := range list {
					urls[c.Database] = c.URL
				}
				return a.writeJSON(urls)
			}
			for _, c := range list {
				fmt.Fprintf(a.stdout, "%-12s %s\n", c.Database, c.URL)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&f.stack, "stack", "", "stack file (default ./kindred.yaml, else the embedded default)")
	cmd.Flags().BoolVar(&show, "show", false, "print passwords instead of ****")
	return cmd
}

func (a *app) envCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "env [STACK]",
		Short: "Print shell exports for the stack: KUBECONFIG and each database's URL",
		Long: `Print shell exports: KUBECONFIG, and NAME_URL for each database (with its
password, for eval in a shell; the output is meant for eval, not for logs):

  eval "$(kindred env)"`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.target(&f, args)
			if err != nil {
				return err
			}
			defer t.stop()
			st, p, ctx := t.st, t.p, t.ctx
			acc, err := p.Access(ctx, st)
			if err != nil {
				return err
			}
			list, err := database.Credentials(ctx, p, st, true)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "export KUBECONFIG=%s\n", shellQuote(acc.Kubeconfig))
			for _, c := range list {
				name := strings.ToUpper(strings.ReplaceAll(c.Database, "-", "_")) + "_URL"
				fmt.Fprintf(a.stdout, "export %s=%s\n", name, shellQuote(c.URL))
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

// shellQuote quotes s for a POSIX shell: in single quotes, where nothing
// is special, with each single quote written as '\”. (Go's %q is not
// shell quoting: "$(...)" and backticks would run under eval.)
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
