package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/mirror"
	"kindred.dev/kindred/pkg/sim"
)

func (a *app) mirrorCmd() *cobra.Command {
	var o mirror.Options
	var kubeconfig, kubeContext string
	var diff, force bool
	cmd := &cobra.Command{
		Use:   "mirror --context PROD [-o FILE|json] | mirror --diff --context PROD [STACK]",
		Short: "Write the stack that mirrors a live cluster, or show how far a stack has drifted from it",
		Long: `Read a live cluster through a kubeconfig context, read-only (gets and lists,
nothing else), and write the stack that mirrors it: the Kubernetes version
(mapped to one the provider runs), the node shape scaled down to a laptop
(zones, the labels workloads select on, taints), the CNI and subnets, the
ingress and its routes, the certificate manager (its issuers become the local CA), helm
releases as components with their user-supplied values, namespaces with
policies, quotas or role bindings as tenants, and CronJobs as jobs.

Every inferred line has a comment saying where it came from. Values that look
like secrets are never copied: they become ${VAR} placeholders listed at the
top, as does a chart repository the cluster does not record. What is left out
on purpose (cloud controllers, CSI drivers, node agents, anything using cloud
credentials) and what could not be read (Secrets, for a reader bound to view)
are listed there too.

-o FILE writes the stack to a file (refusing to replace one without --force);
-o json prints the stack and a report of every inference and omission.

With --diff, compare a stack file (or ./kindred.yaml) with the cluster and
print the drift: versions, the CNI, node shapes, components, tenants and
jobs. It exits 1 when they differ, so a CI job can fail when the dev
environment no longer mirrors production.`,
		Example: `  kindred mirror --context prod -o kindred.yaml
  kindred mirror --context prod --exclude 'kube-*' --max-nodes 3 -o json
  kindred mirror --diff --context prod kindred.yaml`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && !diff {
				return usageError{errors.New("mirror takes a stack only with --diff; to write one, use -o FILE")}
			}
			cfg, source, err := a.restConfig(kubeconfig, kubeContext)
			if err != nil {
				return err
			}
			ctx, stop := interruptible()
			defer stop()
			cat, err := catalog.Builtin()
			if err != nil {
				return err
			}
			o.Catalog = cat
			if o.Provider != "" && o.Provider != cluster.Kind && o.Provider != cluster.Sim && o.Provider != cluster.Existing {
				return usageError{fmt.Errorf("invalid --provider %q: want kind, sim or existing", o.Provider)}
			}
			switch o.Provider {
			case "", cluster.Kind:
				o.Versions = cluster.KubernetesVersions()
			case cluster.Sim:
				o.Versions = []string{sim.KubernetesVersion}
			}
			var st *api.Stack
			if diff {
				loaded, err := a.loadStack(args)
				if err != nil {
					return err
				}
				st = &loaded.Stack
				o.Name = st.Metadata.Name
			}
			res, err := mirror.Read(ctx, cfg, o)
			if err != nil {
				if ctx.Err() != nil {
					return cancelledError{ctx.Err()}
				}
				return err
			}
			if diff {
				return a.writeDrift(mirror.Diff(st, res), res, source)
			}
			if a.json() {
				return a.writeJSON(res)
			}
			data, err := res.YAML(source)
			if err != nil {
				return err
			}
			if a.outPath == "" || a.outPath == "-" {
				_, err = a.stdout.Write(data)
				return err
			}
			if err := writeNew(a.outPath, data, force); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s from %s: %d node group%s, %d component%s, %d route%s, %d tenant%s, %d job%s; %d thing%s left out, %d not readable (listed in its header)\n",
				a.outPath, source, len(res.Stack.Cluster.Nodes), plural(len(res.Stack.Cluster.Nodes)), len(res.Stack.Components), plural(len(res.Stack.Components)),
				len(res.Stack.Routes), plural(len(res.Stack.Routes)), len(res.Stack.Tenants), plural(len(res.Stack.Tenants)), len(res.Stack.Jobs), plural(len(res.Stack.Jobs)),
				len(res.Omissions), plural(len(res.Omissions)), len(res.Unread))
			if len(res.Variables) > 0 {
				var names []string
				for _, v := range res.Variables {
					names = append(names, v.Name)
				}
				fmt.Fprintf(a.stdout, "set %s before kindred validate %s\n", strings.Join(names, ", "), a.outPath)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeContext, "context", "", "kubeconfig context of the cluster to read (default: the current one)")
	fl.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig to read it through (default $KUBECONFIG or ~/.kube/config)")
	fl.BoolVar(&diff, "diff", false, "compare a stack with the cluster; exit 1 when they differ")
	fl.StringVar(&o.Name, "name", "", "the mirrored stack's name (default mirror)")
	fl.StringVar(&o.Provider, "provider", "", "the provider the stack is for: kind (default), sim or existing; the Kubernetes version is mapped to one it runs")
	fl.IntVar(&o.MaxNodes, "max-nodes", 4, "at most this many nodes, control plane included (every zone and taint keeps one)")
	fl.StringSliceVar(&o.Include, "include", nil, "only these namespaces or releases (shell patterns)")
	fl.StringSliceVar(&o.Exclude, "exclude", nil, "leave out these namespaces or releases (shell patterns)")
	fl.BoolVar(&force, "force", false, "replace the -o file if it exists")
	return cmd
}

// restConfig reaches a kubeconfig context; source names it for messages.
func (a *app) restConfig(kubeconfig, kubeContext string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.Precedence = nil
	switch {
	case kubeconfig != "":
		rules.ExplicitPath = kubeconfig
	default:
		if v, ok := a.lookupEnv("KUBECONFIG"); ok && v != "" {
			rules.Precedence = filepath.SplitList(v)
		} else if home, err := os.UserHomeDir(); err == nil {
			rules.Precedence = []string{filepath.Join(home, ".kube", "config")}
		}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", usageError{fmt.Errorf("reading the kubeconfig: %w", err)}
	}
	name := kubeContext
	if name == "" {
		name = raw.CurrentContext
	}
	if _, ok := raw.Contexts[name]; !ok {
		var names []string
		for n := range raw.Contexts {
			names = append(names, n)
		}
		return nil, "", usageError{fmt.Errorf("no kubeconfig context %q (there are: %s)", name, strings.Join(names, ", "))}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", usageError{fmt.Errorf("kubeconfig context %q: %w", name, err)}
	}
	return cfg, "context " + name, nil
}

// writeNew writes a file that must not exist yet, unless force.
func writeNew(name string, data []byte, force bool) error {
	if _, err := os.Stat(name); err == nil && !force {
		return usageError{fmt.Errorf("%s exists: choose another -o file, or --force to replace it", name)}
	}
	return writeFile(name, data)
}

// writeDrift prints the drift between a stack and its cluster; drift is
// exit 1.
func (a *app) writeDrift(drift []mirror.Drift, res *mirror.Result, source string) error {
	if a.json() {
		if drift == nil {
			drift = []mirror.Drift{}
		}
		if err := a.writeJSON(map[string]any{"source": source, "serverVersion": res.Server, "drift": drift, "unread": res.Unread}); err != nil {
			return err
		}
	} else {
		if len(drift) == 0 {
			fmt.Fprintf(a.stdout, "the stack mirrors %s (Kubernetes %s)\n", source, res.Server)
		} else {
			fmt.Fprintf(a.stdout, "the stack has drifted from %s (Kubernetes %s):\n", source, res.Server)
			for _, d := range drift {
				fmt.Fprintf(a.stdout, "  %s\n", d)
			}
		}
		for _, u := range res.Unread {
			fmt.Fprintf(a.stdout, "  (could not read %s: %s)\n", u.What, u.Why)
		}
	}
	if len(drift) > 0 {
		return shownError{fmt.Errorf("%d difference%s from %s", len(drift), plural(len(drift)), source)}
	}
	return nil
}
