package cli

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"kindred.dev/kindred/pkg/component/database"
)

func (a *app) connectCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "connect DATABASE [-c CLUSTER] [-- CLIENT ARGS...]",
		Short: "Run the database engine's own client in its pod, logged in",
		Long: `Run the engine's own client inside the database's pod, logged in as the
stack's user: the command-line client the engine's image ships, for a
machine without one.
On a terminal it is interactive; otherwise it reads standard input.
Arguments after -- go to the client.`,
		Example: `  kindred connect orders
  kindred connect orders -c shop -- -tAc 'SELECT count(*) FROM visits'
  echo 'KEYS *' | kindred connect sessions`,
		Args: minArgs(1, "the database to connect to"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, f.stackArg(), func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				var names []string
				for _, db := range st.Databases {
					names = append(names, db.Name)
					if db.Name != args[0] {
						continue
					}
					argv, err := database.ClientCommand(db, args[1:]...)
					if err != nil {
						return err
					}
					acc, rc, cs, err := clients(ctx, p, st)
					if err != nil {
						return err
					}
					if acc.Simulated {
						return errors.New("the simulated cluster runs no database servers to connect to; use --provider kind")
					}
					in, isFile := a.stdin.(*os.File)
					tty := isFile && term.IsTerminal(int(in.Fd()))
					req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(db.Namespace).Name(db.Name+"-0").SubResource("exec").
						VersionedParams(&corev1.PodExecOptions{Container: db.Engine, Command: argv, Stdin: true, Stdout: true, Stderr: !tty, TTY: tty}, scheme.ParameterCodec)
					exec, err := remotecommand.NewSPDYExecutor(rc, http.MethodPost, req.URL())
					if err != nil {
						return err
					}
					opts := remotecommand.StreamOptions{Stdin: a.stdin, Stdout: a.stdout, Tty: tty}
					if !tty {
						opts.Stderr = a.stderr
					} else {
						old, err := term.MakeRaw(int(in.Fd()))
						if err != nil {
							return err
						}
						defer func() { _ = term.Restore(int(in.Fd()), old) }()
					}
					return exec.StreamWithContext(ctx, opts)
				}
				return usageError{fmt.Errorf("no database %q in stack %s; it has %v", args[0], st.Metadata.Name, names)}
			})
		},
	}
	f.add(cmd)
	cmd.ValidArgsFunction = a.completeFromStack(&f, databaseNames)
	cmd.Flags().StringVarP(&f.stack, "cluster", "c", "", "the cluster or stack (default ./kindred.yaml, else the only cluster kindred knows)")
	return cmd
}
