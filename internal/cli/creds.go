package cli

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"kindred.dev/kindred/pkg/component/database"
)

func (a *app) credsCmd() *cobra.Command {
	var f clusterFlags
	var show, inCluster bool
	cmd := &cobra.Command{
		Use:   "creds [DATABASE] [-c CLUSTER]",
		Short: "Print the databases' connection URLs (passwords masked unless --show)",
		Long: `Print the databases' connection URLs, with passwords masked unless --show.
The URLs reach the databases from this machine, on 127.0.0.1 at the ports
kindred forward listens on; --in-cluster prints the addresses pods use.`,
		Example: `  kindred creds
  kindred creds orders -c shop --show
  kindred creds --in-cluster -o json`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, f.stackArg(), func(t *target) error {
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
				if !inCluster {
					if list, err = a.onHost(st, list); err != nil {
						return err
					}
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
			})
		},
	}
	f.add(cmd)
	cmd.ValidArgsFunction = a.completeFromStack(&f, databaseNames)
	cmd.Flags().StringVarP(&f.stack, "cluster", "c", "", "the cluster or stack (default ./kindred.yaml, else the only cluster kindred knows)")
	cmd.Flags().StringVar(&f.stack, "stack", "", "the stack file or cluster (as -c)")
	cmd.Flags().BoolVar(&show, "show", false, "print passwords instead of ****")
	cmd.Flags().BoolVar(&inCluster, "in-cluster", false, "the addresses pods use, not the host's")
	return cmd
}

func (a *app) envCmd() *cobra.Command {
	var f clusterFlags
	var inCluster bool
	cmd := &cobra.Command{
		Use:   "env [CLUSTER|STACK]",
		Short: "Print shell exports for the stack: KUBECONFIG and each database's URL",
		Long: `Print shell exports: KUBECONFIG, and NAME_URL for each database (with its
password, for eval in a shell; the output is meant for eval, not for logs).
The URLs reach the databases from this machine on 127.0.0.1, at the ports
kindred forward listens on (run it beside); --in-cluster prints the
addresses pods use.`,
		Example: `  eval "$(kindred env)"
  kindred env shop --in-cluster`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				acc, err := p.Access(ctx, st)
				if err != nil {
					return err
				}
				list, err := database.Credentials(ctx, p, st, true)
				if err != nil {
					return err
				}
				if !inCluster && len(list) > 0 {
					if list, err = a.onHost(st, list); err != nil {
						return err
					}
				}
				vars := [][2]string{{"KUBECONFIG", acc.Kubeconfig}}
				for _, c := range list {
					vars = append(vars, [2]string{strings.ToUpper(strings.ReplaceAll(c.Database, "-", "_")) + "_URL", c.URL})
				}
				if a.output == OutputGitHub && !a.githubAuto {
					return a.githubEnv(vars, list)
				}
				if !inCluster && len(list) > 0 {
					fmt.Fprintf(a.stdout, "# the databases are on 127.0.0.1 while `kindred forward %s` runs\n", a.nameFor(st))
				}
				for _, v := range vars {
					fmt.Fprintf(a.stdout, "export %s=%s\n", v[0], shellQuote(v[1]))
				}
				return nil
			})
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&inCluster, "in-cluster", false, "the addresses pods use, not the host's")
	return cmd
}

// githubEnv exports vars to the next steps of a GitHub Actions job, by
// appending them to $GITHUB_ENV, after asking the runner to mask every
// password and URL that holds one in the job's logs.
func (a *app) githubEnv(vars [][2]string, creds []database.Credential) error {
	path, ok := a.lookupEnv("GITHUB_ENV")
	if !ok || path == "" {
		return usageError{errors.New("-o github writes the exports to $GITHUB_ENV, which is not set: run it in a GitHub Actions job, or leave -o github out for shell exports")}
	}
	for _, c := range creds {
		if u, err := url.Parse(c.URL); err == nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				fmt.Fprintf(a.stdout, "::add-mask::%s\n", pw)
			}
		}
		fmt.Fprintf(a.stdout, "::add-mask::%s\n", c.URL)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	var names []string
	for _, v := range vars {
		if strings.ContainsAny(v[1], "\r\n") {
			_ = f.Close()
			return fmt.Errorf("%s holds a line break, which $GITHUB_ENV cannot take this way", v[0])
		}
		if _, err := fmt.Fprintf(f, "%s=%s\n", v[0], v[1]); err != nil {
			_ = f.Close()
			return err
		}
		names = append(names, v[0])
	}
	if err := f.Close(); err != nil {
		return err
	}
	a.note("exported " + strings.Join(names, ", ") + " to $GITHUB_ENV (passwords masked in the job's logs)")
	return nil
}

// shellQuote quotes s for a POSIX shell: in single quotes, where nothing
// is special, with each single quote written as '\”. (Go's %q is not
// shell quoting: "$(...)" and backticks would run under eval.)
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
