// Package ready decides whether objects in a cluster are really ready, and
// waits until they are, with a deadline and a message that names what is
// still missing.
package ready

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/pkg/internal/kube"
)

// ErrNotReady is wrapped by Wait when the deadline passes.
var ErrNotReady = errors.New("not ready")

// Status is the readiness of one object.
type Status struct {
	Object  string // Kind namespace/name
	Ready   bool
	Failed  bool
	Message string
	// Trouble is what keeps a workload's pods from running when a person
	// must fix it: an image that cannot be pulled, a container that keeps
	// crashing or cannot be made, a pod that no node can take.
	Trouble string
	// NoStatus: a custom resource whose CRD declares no status, ready once
	// applied.
	NoStatus bool
}

// Messages of custom resources' readiness.
const (
	MsgNoStatusYet = "no status yet: its controller has not reported on it"
	MsgNoStatus    = "applied; its CRD declares no status to wait for"
)

// Object computes the readiness of obj as stored, with kstatus: Current is
// ready, Failed is failed, anything else is in progress.
func Object(obj *unstructured.Unstructured) Status {
	st := Status{Object: obj.GetKind() + " " + kube.Name(obj)}
	res, err := status.Compute(obj)
	if err != nil {
		st.Message = err.Error()
		return st
	}
	st.Ready = res.Status == status.CurrentStatus
	st.Failed = res.Status == status.FailedStatus
	st.Message = res.Message
	if st.Message == "" {
		st.Message = string(res.Status)
	}
	if obj.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "batch", Kind: "Job"}) && !st.Failed {
		// kstatus calls a Job that has started Current; a Job kindred waits
		// for must have finished.
		st.Ready = condition(obj, "Complete") == "True"
		if !st.Ready {
			st.Message = "job has not completed: " + st.Message
		}
	}
	return st
}

// judgeCustom corrects kstatus where it is too kind: an APIService is
// ready only when Available; a custom resource whose controller has
// written no status yet is not ready (kstatus calls it Current), and one
// whose CRD declares no status is ready once applied.
func judgeCustom(ctx context.Context, c *kube.Client, obj *unstructured.Unstructured, st *Status) {
	gvk := obj.GroupVersionKind()
	if gvk.GroupKind() == (schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}) {
		if a, msg := conditionOf(obj, "Available"); a != "True" {
			st.Ready, st.Message = false, "Available="+or(a, "Unknown")+": "+or(msg, "no condition reported")
		}
		return
	}
	if st.Failed {
		return
	}
	if why, ok := appliedOnly.Load(gvk.GroupKind()); ok {
		st.Ready, st.NoStatus, st.Message = true, true, "applied; "+why.(string)
		return
	}
	switch c.StatusOf(ctx, gvk) {
	case kube.CustomWithoutStatus:
		st.Ready, st.NoStatus, st.Message = true, true, MsgNoStatus
	case kube.CustomWithStatus:
		if s, _, _ := unstructured.NestedMap(obj.Object, "status"); len(s) == 0 {
			st.Ready, st.Message = false, MsgNoStatusYet
		}
	}
}

// appliedOnly are custom kinds whose CRD has a status subresource that no
// controller writes: ready once applied (see ReadyWhenApplied).
var appliedOnly sync.Map // schema.GroupKind → why

// ReadyWhenApplied declares, for a built-in component, a custom kind its
// controller never reports on, and why: objects of it are ready once
// applied, rather than waiting for a status that never comes.
func ReadyWhenApplied(gk schema.GroupKind, why string) { appliedOnly.Store(gk, why) }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// condition returns the status of obj's condition typ, or "".
func condition(obj *unstructured.Unstructured, typ string) string {
	st, _ := conditionOf(obj, typ)
	return st
}

// conditionOf returns the status and message of obj's condition typ.
func conditionOf(obj *unstructured.Unstructured, typ string) (status, message string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			status, _ = m["status"].(string)
			message, _ = m["message"].(string)
			return status, message
		}
	}
	return "", ""
}

// Poll reads each object and reports their readiness, with what troubles
// the pods of a workload that is not ready.
func Poll(ctx context.Context, c *kube.Client, objs []*unstructured.Unstructured) ([]Status, error) {
	return poll(ctx, c, objs, nil)
}

// poll is Poll; with prev (the statuses of an earlier poll) it does not
// read pods again, and keeps what prev found for workloads still not ready.
func poll(ctx context.Context, c *kube.Client, objs []*unstructured.Unstructured, prev []Status) ([]Status, error) {
	out, found, err := look(ctx, c, objs, nil)
	if err != nil {
		return nil, err
	}
	for i := range out {
		switch st := &out[i]; {
		case st.Ready || st.Failed || found[i] == nil:
		case prev != nil:
			st.Trouble = prev[i].Trouble
		default:
			st.Trouble = workloadTrouble(ctx, c, found[i])
		}
	}
	return out, nil
}

// look reads each object once and judges it, without looking at pods; it
// also returns each object as read (nil when not found). An object in seen
// (the same kind, namespace and name) is taken as read.
func look(ctx context.Context, c *kube.Client, objs, seen []*unstructured.Unstructured) ([]Status, []*unstructured.Unstructured, error) {
	out := make([]Status, len(objs))
	found := make([]*unstructured.Unstructured, len(objs))
	read := map[string]*unstructured.Unstructured{}
	for _, o := range seen {
		if o != nil {
			read[identity(o, o.GetNamespace())] = o
		}
	}
	for i, o := range objs {
		cur, ok := read[identity(o, o.GetNamespace())]
		if !ok {
			// A cluster-scoped object is read without the namespace a
			// manifest may give it.
			cur, ok = read[identity(o, "")]
		}
		if ok {
			out[i], found[i] = judge(ctx, c, cur), cur
			continue
		}
		cur, err := c.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
		if apierrors.IsNotFound(err) {
			out[i] = Status{Object: o.GetKind() + " " + kube.Name(o), Message: "not found"}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		out[i], found[i] = judge(ctx, c, cur), cur
	}
	return out, found, nil
}

// identity names an object by API group, kind, namespace and name.
func identity(o *unstructured.Unstructured, namespace string) string {
	gvk := o.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + "/" + namespace + "/" + o.GetName()
}

// judge is the readiness of cur as stored, custom resources included.
func judge(ctx context.Context, c *kube.Client, cur *unstructured.Unstructured) Status {
	st := Object(cur)
	judgeCustom(ctx, c, cur, &st)
	return st
}

// workloads are the kinds whose pods workloadTrouble looks at.
var workloads = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:  true,
	{Group: "apps", Kind: "StatefulSet"}: true,
	{Group: "apps", Kind: "DaemonSet"}:   true,
	{Group: "apps", Kind: "ReplicaSet"}:  true,
	{Group: "batch", Kind: "Job"}:        true,
}

// workloadTrouble finds the first of obj's pods in trouble, for a workload
// or a pod, and says what is wrong with it. It is a hint: when the pods
// cannot be read (a shared cluster may forbid listing them), it says
// nothing, and readiness goes on by the workload's own status.
func workloadTrouble(ctx context.Context, c *kube.Client, obj *unstructured.Unstructured) string {
	gk := obj.GroupVersionKind().GroupKind()
	if gk == (schema.GroupKind{Kind: "Pod"}) {
		var pod corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &pod); err != nil {
			return ""
		}
		return PodTrouble(&pod)
	}
	sel := podSelector(obj)
	if sel == "" {
		return ""
	}
	pods, err := c.Typed.CoreV1().Pods(obj.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return ""
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for i := range pods.Items {
		if t := PodTrouble(&pods.Items[i]); t != "" {
			return t
		}
	}
	return ""
}

// podSelector is the label selector of a workload's pods, or "" for an
// object that is not one of the workloads or selects nothing.
func podSelector(obj *unstructured.Unstructured) string {
	if !workloads[obj.GroupVersionKind().GroupKind()] {
		return ""
	}
	raw, ok, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	if !ok {
		return ""
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil || sel.Empty() {
		return ""
	}
	return sel.String()
}

// stuck are the reasons a container waits for that will not pass by
// themselves, or pass only to come back.
var stuck = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CrashLoopBackOff":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// PodTrouble says what keeps pod from running, when it is stuck rather than
// on its way: "" while it is scheduled and its containers start.
func PodTrouble(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return ""
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return fmt.Sprintf("Unschedulable (pod %s): %s", pod.Name, shorten(c.Message))
		}
	}
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		w := cs.State.Waiting
		if w == nil || !stuck[w.Reason] {
			continue
		}
		// The reason first: progress lines are cut to the terminal's width.
		msg := fmt.Sprintf("%s (pod %s, container %s", w.Reason, pod.Name, cs.Name)
		if t := cs.LastTerminationState.Terminated; t != nil && w.Reason == "CrashLoopBackOff" {
			msg += fmt.Sprintf(", exit code %d", t.ExitCode)
			if t.Reason != "" {
				msg += " " + t.Reason
			}
			msg += fmt.Sprintf(", %d restarts", cs.RestartCount)
		}
		msg += ")"
		if w.Message != "" {
			msg += ": " + shorten(w.Message)
		}
		return msg
	}
	return ""
}

// shorten keeps the first line of s, at most 200 characters of it.
func shorten(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

// Wait waits until every one of objs is ready, one has failed, or timeout
// passes. It reads each object once, then watches those not yet ready (and
// the pods of pending workloads, for what troubles them); where the cluster
// refuses watches it polls instead. progress, if not nil, gets every
// object's status and those still pending whenever they change. The error
// names every object still not ready.
func Wait(parent context.Context, c *kube.Client, objs []*unstructured.Unstructured, timeout time.Duration, progress func(all, pending []Status)) error {
	return WaitSeen(parent, c, objs, nil, timeout, progress)
}

// Now judges each object as it is now, without waiting: objects in seen
// are taken as read, the others read once.
func Now(ctx context.Context, c *kube.Client, objs, seen []*unstructured.Unstructured) ([]Status, error) {
	sts, _, err := look(ctx, c, objs, seen)
	return sts, err
}

// WaitSeen is Wait for objects some of which were just read (seen): those
// are judged as read instead of read again, which on a re-run that changes
// nothing spares a request per object.
func WaitSeen(parent context.Context, c *kube.Client, objs, seen []*unstructured.Unstructured, timeout time.Duration, progress func(all, pending []Status)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	for {
		sts, found, err := look(ctx, c, objs, seen)
		seen = nil // read again after an error
		if err == nil {
			if done, err := report(sts, progress); done || err != nil {
				return err
			}
			err = watchUntilReady(ctx, c, objs, found, sts, progress)
			switch {
			case errors.Is(err, errWatchRefused):
				return pollUntilReady(ctx, parent, c, objs, timeout, progress)
			case err != nil && ctx.Err() != nil:
				return expired(parent, timeout, sts, err)
			}
			return err
		}
		// The API server may be restarting: read again soon.
		select {
		case <-ctx.Done():
			return expired(parent, timeout, nil, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// PollWait is Wait by polling alone: every object read four times a
// second, the pods of pending workloads once a second. Wait falls back to
// it where watches are refused; benchmarks compare the two.
func PollWait(parent context.Context, c *kube.Client, objs []*unstructured.Unstructured, timeout time.Duration, progress func(all, pending []Status)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	return pollUntilReady(ctx, parent, c, objs, timeout, progress)
}

func pollUntilReady(ctx, parent context.Context, c *kube.Client, objs []*unstructured.Unstructured, timeout time.Duration, progress func(all, pending []Status)) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last []Status
	for i := 0; ; i++ {
		// Objects are read every poll; the pods of workloads not yet
		// ready, a hint for people, every fourth (once a second).
		prev := last
		if i%4 == 0 {
			prev = nil
		}
		sts, err := poll(ctx, c, objs, prev)
		if err == nil {
			last = sts
			if done, err := report(sts, progress); done || err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return expired(parent, timeout, last, err)
		case <-tick.C:
		}
	}
}

// expired is the error of a wait whose context ended: the caller's own
// error when it was the caller's, else ErrNotReady with what last saw
// (or, when nothing was ever read, with why).
func expired(parent context.Context, timeout time.Duration, last []Status, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	// The deadline may fall in the middle of a read; what the last whole
	// one saw is the answer.
	if last == nil {
		return fmt.Errorf("%w after %s: %w", ErrNotReady, timeout, err)
	}
	return fmt.Errorf("%w after %s: %s", ErrNotReady, timeout, Describe(last))
}

// Describe lists the objects that are not ready, with why.
func Describe(sts []Status) string {
	var parts []string
	for _, s := range sts {
		switch {
		case s.Ready:
		case s.Trouble != "":
			parts = append(parts, fmt.Sprintf("%s (%s; %s)", s.Object, s.Message, s.Trouble))
		default:
			parts = append(parts, fmt.Sprintf("%s (%s)", s.Object, s.Message))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// NodesNotReady lists the nodes whose Ready condition is not True; with no
// nodes at all it returns ["(no nodes)"].
func NodesNotReady(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	return NodesNotReadySince(ctx, cs, time.Time{})
}

// NodesNotReadySince is NodesNotReady, also counting as not ready a node
// whose kubelet has not reported since t: after its container restarts, a
// node's Ready condition is stale until the kubelet speaks again.
func NodesNotReadySince(ctx context.Context, cs kubernetes.Interface, t time.Time) ([]string, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(nodes.Items) == 0 {
		return []string{"(no nodes)"}, nil
	}
	var out []string
	for _, n := range nodes.Items {
		ok := false
		for _, c := range n.Status.Conditions {
			ok = ok || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Time.Before(t.Truncate(time.Second)))
		}
		if !ok {
			out = append(out, n.Name)
		}
	}
	return out, nil
}
