package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/stack"
)

func (a *app) diagnoseCmd() *cobra.Command {
	var f clusterFlags
	var file string
	cmd := &cobra.Command{
		Use:   "diagnose [STACK]",
		Short: "Write a diagnostics bundle (tar.gz) of the stack's cluster",
		Long: `Write what explains a failure as one tar.gz: the steps and their health,
every event, each object that is not ready with its events, container logs,
helm releases, the nodes and, on a kind cluster, every node's logs. Secrets
are never included. up writes one by itself when it fails.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				if file == "" {
					file = diagnosticsPath(a.lookupEnv, st)
				}
				if err := a.writeDiagnostics(ctx, p, st, nil, nil, file); err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, file)
				return nil
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&file, "file", "", "where to write the bundle (default: $KINDRED_DIAGNOSTICS or the state folder)")
	return cmd
}

// diagnosticsPath is where a bundle goes: in $KINDRED_DIAGNOSTICS (a
// folder a CI job uploads), else in the state folder.
func diagnosticsPath(lookup func(string) (string, bool), st *stack.Stack) string {
	dir, ok := lookup("KINDRED_DIAGNOSTICS")
	if !ok || dir == "" {
		dir = filepath.Join(cluster.StateDir(), "diagnostics")
	}
	return filepath.Join(dir, fmt.Sprintf("%s-%s.tar.gz", st.Metadata.Name, time.Now().UTC().Format("20060102T150405Z")))
}

// writeDiagnostics writes the bundle to file (0600: logs may be private),
// replacing it only once it is complete.
func (a *app) writeDiagnostics(ctx context.Context, p cluster.Provider, st *stack.Stack, failure error, files map[string][]byte, file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".diagnostics-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	d := engine.NewDiagnose(a.engineConfig(p))
	d.Failure, d.Files = failure, files
	werr := d.Run(ctx, st, tmp)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("writing diagnostics: %w", werr)
	}
	return os.Rename(tmp.Name(), file)
}

// diagnoseFailure writes a bundle after a failed run, when the failure is
// the steps' and the cluster can be reached, and says where it is.
func (a *app) diagnoseFailure(p cluster.Provider, st *stack.Stack, failure error, files map[string][]byte) {
	var runErr *engine.RunError
	if !errors.As(failure, &runErr) || errors.Is(failure, engine.ErrRemovalNotConfirmed) || errors.Is(failure, engine.ErrDataLoss) {
		return // nothing went wrong in the cluster: up refused
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.Access(ctx, st); err != nil {
		return // no cluster to diagnose: the failure came before it
	}
	file := diagnosticsPath(a.lookupEnv, st)
	if err := a.writeDiagnostics(ctx, p, st, failure, files, file); err != nil {
		fmt.Fprintf(a.stderr, "kindred: no diagnostics bundle: %v\n", err)
		return
	}
	fmt.Fprintf(a.stderr, "kindred: diagnostics bundle: %s\n", file)
}
