package cli

import (
	"context"
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
	"kindred.dev/kindred/pkg/stack"
)

// clusterEntry is one cluster kindred made or brought a stack up on.
type clusterEntry struct {
	// Name is what commands take to act on it (kindred status NAME).
	Name       string `json:"name"`
	Cluster    string `json:"cluster"`
	Stack      string `json:"stack,omitempty"`
	Provider   string `json:"provider"`
	State      string `json:"state"`
	Source     string `json:"source,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
}

// listClusters lists the clusters kindred remembers, each with its state
// as its provider sees it now (a cluster deleted behind kindred's back is
// "gone"), then the kind and simulated clusters it finds without a record
// (made by kindredtest, or by an older kindred).
func (a *app) listClusters(ctx context.Context) ([]clusterEntry, error) {
	out := []clusterEntry{} // [] in JSON when there is none, not null
	records, err := a.registry().Records()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range a.recorded(ctx, records) {
		seen[e.Provider+"/"+e.Cluster] = true
		out = append(out, e)
	}
	kinds, _ := filepath.Glob(filepath.Join(cluster.StateDir(), "kind", "*", "kubeconfig"))
	for _, kc := range kinds {
		name := filepath.Base(filepath.Dir(kc))
		if !seen["kind/"+name] {
			out = append(out, clusterEntry{Name: name, Cluster: name, Provider: cluster.Kind, State: "created", Kubeconfig: kc})
		}
	}
	sims, _ := filepath.Glob(filepath.Join(cluster.StateDir(), "sim", "*"))
	for _, dir := range sims {
		name := filepath.Base(dir)
		if seen["sim/"+name] {
			continue
		}
		c, err := sim.Open(dir)
		if err != nil {
			return nil, err
		}
		e := clusterEntry{Name: name, Cluster: name, Provider: cluster.Sim, State: cluster.StateStopped}
		if c != nil {
			e.State, e.Kubeconfig = cluster.StateRunning, c.Kubeconfig
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// recorded are the remembered clusters, one entry per record, each with
// its state as its provider sees it now.
func (a *app) recorded(ctx context.Context, records []cluster.Record) []clusterEntry {
	out := make([]clusterEntry, len(records))
	for i, r := range records {
		e := clusterEntry{Name: shortName(r, records), Cluster: r.Cluster, Stack: r.Stack, Provider: r.Provider, Source: r.Source, Kubeconfig: r.Kubeconfig, State: cluster.StateUnknown}
		if st, err := r.Load(stack.WithEnv(a.lookupEnv)); err == nil {
			if p, err := a.provider(&clusterFlags{record: &r}, st); err == nil {
				e.State, _ = cluster.State(ctx, p, st)
			}
		}
		out[i] = e
	}
	return out
}

func (a *app) lsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the clusters kindred made or brought a stack up on, by the names other commands take",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := a.listClusters(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.writeJSON(list)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROVIDER\tSTATE\tSTACK\tKUBECONFIG")
			for _, e := range list {
				src := e.Source
				if src == "" {
					src = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Provider, e.State, src, e.Kubeconfig)
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
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
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
			})
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
