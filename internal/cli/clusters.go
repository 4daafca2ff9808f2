package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/sim"
)

// clusterEntry is one cluster kindred made on this machine.
type clusterEntry struct {
	Name       string `json:"name"`
	Provider   string `json:"provider"`
	State      string `json:"state"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
}

// listClusters finds the kind and simulated clusters kindred made here.
func listClusters() ([]clusterEntry, error) {
	out := []clusterEntry{} // [] in JSON when there is none, not null
	kinds, _ := filepath.Glob(filepath.Join(cluster.StateDir(), "kind", "*", "kubeconfig"))
	for _, kc := range kinds {
		out = append(out, clusterEntry{Name: filepath.Base(filepath.Dir(kc)), Provider: "kind", State: "created", Kubeconfig: kc})
	}
	sims, _ := filepath.Glob(filepath.Join(cluster.StateDir(), "sim", "*"))
	for _, dir := range sims {
		c, err := sim.Open(dir)
		if err != nil {
			return nil, err
		}
		e := clusterEntry{Name: filepath.Base(dir), Provider: "sim", State: "stopped"}
		if c != nil {
			e.State, e.Kubeconfig = "running", c.Kubeconfig
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (a *app) lsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the clusters kindred made on this machine",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := listClusters()
			if err != nil {
				return err
			}
			if a.json() {
				return a.writeJSON(list)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROVIDER\tSTATE\tKUBECONFIG")
			for _, e := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Provider, e.State, e.Kubeconfig)
			}
			return tw.Flush()
		},
	}
}

func (a *app) kubeconfigCmd() *cobra.Command {
	var f clusterFlags
	var merge bool
	cmd := &cobra.Command{
		Use:   "kubeconfig [STACK]",
		Short: "Print the path of the cluster's private kubeconfig, or merge it into ~/.kube/config",
		Long: `kindred keeps each cluster's kubeconfig private (mode 0600, under the
user's state folder) and never touches ~/.kube/config on its own. This
prints its path, for KUBECONFIG=...; --merge adds its cluster, user and
context to ~/.kube/config (or $KUBECONFIG's first file) and makes it current.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tg, err := a.target(&f, args)
			if err != nil {
				return err
			}
			defer tg.stop()
			st, p, ctx := tg.st, tg.p, tg.ctx
			acc, err := p.Access(ctx, st)
			if err != nil {
				return err
			}
			if !merge {
				fmt.Fprintln(a.stdout, acc.Kubeconfig)
				return nil
			}
			dest := ""
			if v, ok := a.lookupEnv("KUBECONFIG"); ok && v != "" {
				dest = filepath.SplitList(v)[0]
			} else {
				home, err := os.UserHomeDir()
				if err != nil {
					return err
				}
				dest = filepath.Join(home, ".kube", "config")
			}
			name := "kindred-" + st.Cluster.Name
			if err := mergeKubeconfig(acc.Kubeconfig, dest, name); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "merged as context %q into %s\n", name, dest)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&merge, "merge", false, "merge into ~/.kube/config and switch to it")
	return cmd
}

// mergeKubeconfig copies the current context of src, with its cluster and
// user, into dst under name, and makes it dst's current context. dst is
// written 0600.
func mergeKubeconfig(src, dst, name string) error {
	in, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return err
	}
	ctx, ok := in.Contexts[in.CurrentContext]
	if !ok {
		return fmt.Errorf("%s has no current context", src)
	}
	out := clientcmdapi.NewConfig()
	if _, err := os.Stat(dst); err == nil {
		if out, err = clientcmd.LoadFromFile(dst); err != nil {
			return fmt.Errorf("reading %s: %w", dst, err)
		}
	}
	out.Clusters[name] = in.Clusters[ctx.Cluster]
	out.AuthInfos[name] = in.AuthInfos[ctx.AuthInfo]
	out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: ctx.Namespace}
	out.CurrentContext = name
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*out, dst); err != nil {
		return err
	}
	return os.Chmod(dst, 0o600)
}
