package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/stack"
)

func (a *app) logsCmd() *cobra.Command {
	var f clusterFlags
	var follow bool
	var tail int64
	var namespace string
	cmd := &cobra.Command{
		Use:   "logs STEP|KIND/NAME [-c CLUSTER] [-f]",
		Short: "Print the logs of a step's pods (or a workload's), as kubectl logs does",
		Long: `Print the logs of the pods a step runs: its Deployments, StatefulSets,
DaemonSets and Jobs, or for a chart the pods of its release. KIND/NAME
(deployment/echo, statefulset/orders, pod/x) names a workload instead, in
-n NAMESPACE. Each pod's container is chosen as kubectl chooses it: the one
its kubectl.kubernetes.io/default-container annotation names, else the
first. With more than one pod, each line starts with [pod/container].`,
		Example: `  kindred logs orders
  kindred logs demo -f -c kindred
  kindred logs deployment/echo -n demo --tail 20`,
		Args: cobra.MatchAll(minArgs(1, "a step or KIND/NAME"), maxArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, f.stackArg(), func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				_, _, cs, err := clients(ctx, p, st)
				if err != nil {
					return err
				}
				var sets []podSet
				if kind, name, ok := strings.Cut(args[0], "/"); ok && !strings.Contains(name, "/") && !strings.Contains(kind, ".") {
					ns := namespace
					if ns == "" {
						ns = "default"
					}
					s, err := workloadPods(ctx, cs, kind, ns, name)
					if err != nil {
						return err
					}
					sets = append(sets, s)
				} else {
					rep, err := engine.NewStatus(a.engineConfig(p)).Run(ctx, st)
					if err != nil {
						return err
					}
					if sets, err = stepPods(ctx, cs, rep, args[0]); err != nil {
						return err
					}
				}
				pods, err := listPods(ctx, cs, sets)
				if err != nil {
					return err
				}
				if len(pods) == 0 {
					return fmt.Errorf("%s has no pods", args[0])
				}
				opts := corev1.PodLogOptions{Follow: follow}
				if tail >= 0 {
					opts.TailLines = &tail
				}
				return streamLogs(ctx, cs, pods, opts, a.stdout)
			})
		},
	}
	f.add(cmd)
	cmd.ValidArgsFunction = a.completeFromStack(&f, stepNames)
	cmd.Flags().StringVarP(&f.stack, "cluster", "c", "", "the cluster or stack (default ./kindred.yaml, else the only cluster kindred knows)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming new lines")
	cmd.Flags().Int64Var(&tail, "tail", -1, "only the last N lines of each pod (-1: all)")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "the namespace of KIND/NAME (default: default)")
	return cmd
}

// clients reaches the stack's cluster: how, its client configuration,
// and a clientset.
func clients(ctx context.Context, p cluster.Provider, st *stack.Stack) (cluster.Access, *rest.Config, kubernetes.Interface, error) {
	acc, err := p.Access(ctx, st)
	if err != nil {
		return acc, nil, nil, err
	}
	rc, err := acc.RESTConfig()
	if err != nil {
		return acc, nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	return acc, rc, cs, err
}

// minArgs requires at least n arguments, saying what they are.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Errorf("%s takes %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

// podSet is a namespace and a selector of its pods (or one pod by name).
type podSet struct {
	namespace string
	selector  labels.Selector
	pod       string
}

// stepPods are the pods of the step called id, from what the cluster
// recorded of it: the workloads it applied, or its release's pods.
func stepPods(ctx context.Context, cs kubernetes.Interface, rep *engine.Report, id string) ([]podSet, error) {
	var ids []string
	for _, s := range rep.Steps {
		ids = append(ids, s.ID)
		if s.ID != id {
			continue
		}
		var sets []podSet
		for _, o := range s.Objects {
			if set, err := workloadPods(ctx, cs, o.Kind, o.Namespace, o.Name); err == nil {
				sets = append(sets, set)
			}
		}
		if s.Release != "" {
			sel := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": s.Release})
			sets = append(sets, podSet{namespace: s.Namespace, selector: sel})
		}
		if len(sets) == 0 {
			return nil, fmt.Errorf("step %s runs no pods", id)
		}
		return sets, nil
	}
	return nil, usageError{fmt.Errorf("no step %q in stack %s; it has %s", id, rep.Stack, strings.Join(ids, ", "))}
}

// errNotWorkload means an object runs no pods of its own.
var errNotWorkload = errors.New("not a workload")

// workloadPods is the pod set of a workload: its selector, or the pod.
func workloadPods(ctx context.Context, cs kubernetes.Interface, kind, ns, name string) (podSet, error) {
	var sel *metav1.LabelSelector
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
		return podSet{namespace: ns, pod: name}, nil
	case "deployment", "deployments", "deploy":
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return podSet{}, err
		}
		sel = d.Spec.Selector
	case "statefulset", "statefulsets", "sts":
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return podSet{}, err
		}
		sel = s.Spec.Selector
	case "daemonset", "daemonsets", "ds":
		d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return podSet{}, err
		}
		sel = d.Spec.Selector
	case "job", "jobs":
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return podSet{}, err
		}
		sel = j.Spec.Selector
	default:
		return podSet{}, fmt.Errorf("%s/%s: %w", kind, name, errNotWorkload)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return podSet{}, err
	}
	return podSet{namespace: ns, selector: s}, nil
}

// listPods lists the pods of the sets, each once, by namespace and name.
func listPods(ctx context.Context, cs kubernetes.Interface, sets []podSet) ([]corev1.Pod, error) {
	seen := map[string]bool{}
	var out []corev1.Pod
	add := func(p corev1.Pod) {
		if k := p.Namespace + "/" + p.Name; !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for _, s := range sets {
		if s.pod != "" {
			p, err := cs.CoreV1().Pods(s.namespace).Get(ctx, s.pod, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			add(*p)
			continue
		}
		list, err := cs.CoreV1().Pods(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: s.selector.String()})
		if err != nil {
			return nil, err
		}
		for _, p := range list.Items {
			add(p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out, nil
}

// defaultContainer is the container kubectl logs picks: the one the
// kubectl.kubernetes.io/default-container annotation names, else the first.
func defaultContainer(p corev1.Pod) string {
	if c := p.Annotations["kubectl.kubernetes.io/default-container"]; c != "" {
		for _, k := range p.Spec.Containers {
			if k.Name == c {
				return c
			}
		}
	}
	if len(p.Spec.Containers) == 0 {
		return ""
	}
	return p.Spec.Containers[0].Name
}

// streamLogs copies the pods' logs to w, whole lines at a time, each
// prefixed with its pod and container when there is more than one pod.
func streamLogs(ctx context.Context, cs kubernetes.Interface, pods []corev1.Pod, opts corev1.PodLogOptions, w io.Writer) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		o := opts
		o.Container = defaultContainer(p)
		prefix := ""
		if len(pods) > 1 {
			prefix = fmt.Sprintf("[pod/%s/%s] ", p.Name, o.Container)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &o).Stream(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("logs of pod %s/%s: %w", p.Namespace, p.Name, err)
				return
			}
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(w, "%s%s\n", prefix, sc.Text())
				mu.Unlock()
			}
			if err := sc.Err(); err != nil && ctx.Err() == nil {
				errs[i] = fmt.Errorf("logs of pod %s/%s: %w", p.Namespace, p.Name, err)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil // Ctrl-C ends -f
	}
	return errors.Join(errs...)
}
