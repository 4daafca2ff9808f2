package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/stack"
)

// credentials reads each database's Secret from the cluster acc reaches.
func credentials(ctx context.Context, st *stack.Stack, acc cluster.Access, only string) (map[string]map[string][]byte, error) {
	cfg, err := acc.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string][]byte{}
	for _, db := range st.Databases {
		if only != "" && db.Name != only {
			continue
		}
		s, err := cs.CoreV1().Secrets(db.Namespace).Get(ctx, db.Name+"-credentials", metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the credentials of %s: %w", db.Name, err)
		}
		out[db.Name] = s.Data
	}
	if only != "" && len(out) == 0 {
		return nil, usageError{fmt.Errorf("the stack has no database %q", only)}
	}
	return out, nil
}

func (a *app) credsCmd() *cobra.Command {
	var f clusterFlags
	var show bool
	cmd := &cobra.Command{
		Use:   "creds [DATABASE] [--stack STACK]",
		Short: "Print the databases' connection URLs (passwords masked unless --show)",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, p, err := a.stackAndProvider(&f, f.stackArg())
			if err != nil {
				return err
			}
			only := ""
			if len(args) == 1 {
				only = args[0]
			}
			acc, err := p.Access(cmd.Context(), st)
			if err != nil {
				return err
			}
			creds, err := credentials(cmd.Context(), st, acc, only)
			if err != nil {
				return err
			}
			urls := map[string]string{}
			for _, db := range st.Databases {
				if data, ok := creds[db.Name]; ok {
					urls[db.Name] = database.URL(db, data, show)
				}
			}
			if a.json() {
				return a.writeJSON(urls)
			}
			for _, db := range st.Databases {
				if u, ok := urls[db.Name]; ok {
					fmt.Fprintf(a.stdout, "%-12s %s\n", db.Name, u)
				}
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
			st, p, err := a.stackAndProvider(&f, args)
			if err != nil {
				return err
			}
			acc, err := p.Access(cmd.Context(), st)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "export KUBECONFIG=%q\n", acc.Kubeconfig)
			creds, err := credentials(cmd.Context(), st, acc, "")
			if err != nil {
				return err
			}
			for _, db := range st.Databases {
				name := strings.ToUpper(strings.ReplaceAll(db.Name, "-", "_")) + "_URL"
				fmt.Fprintf(a.stdout, "export %s=%q\n", name, database.URL(db, creds[db.Name], true))
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}
