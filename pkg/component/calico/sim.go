package calico

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"kindred.dev/kindred/pkg/sim"
)

// The Tigera operator, played on the simulated cluster as the real one
// behaves (tigera/operator v1.40): once it sees the Installation "default"
// it creates the calico-system namespace with calico-node (a DaemonSet on
// every node), calico-kube-controllers and calico-typha, and a Deployment
// for each of the Goldmane and Whisker resources the chart created. It
// creates the TigeraStatus objects itself (calico, ippools, goldmane,
// whisker) and reports each Available once its workloads are. When the
// Installation goes, it removes what it made.

const (
	systemNS     = "calico-system"
	operatorNS   = "tigera-operator"
	fieldManager = "tigera-operator"
	finalizer    = "tigera.io/operator-cleanup"
	// managedBy marks what the played operator made, so it removes only that.
	managedBy = "kindred.dev/simulated-by"
)

var (
	installations = schema.GroupVersionResource{Group: "operator.tigera.io", Version: "v1", Resource: "installations"}
	statuses      = schema.GroupVersionResource{Group: "operator.tigera.io", Version: "v1", Resource: "tigerastatuses"}
	goldmanes     = schema.GroupVersionResource{Group: "operator.tigera.io", Version: "v1", Resource: "goldmanes"}
	whiskers      = schema.GroupVersionResource{Group: "operator.tigera.io", Version: "v1", Resource: "whiskers"}
	daemonSets    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	deployments   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	namespaces    = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// workload is one DaemonSet or Deployment the operator runs.
type workload struct {
	gvr   schema.GroupVersionResource
	name  string
	image string // the image's name under quay.io/calico
}

// part is what one TigeraStatus reports on.
type part struct {
	status    string
	cr        *schema.GroupVersionResource // the resource that asks for it; nil: the Installation
	workloads []workload
}

var parts = []part{
	{status: "calico", workloads: []workload{
		{daemonSets, "calico-node", "node"},
		{deployments, "calico-kube-controllers", "kube-controllers"},
		{deployments, "calico-typha", "typha"},
	}},
	{status: "ippools"},
	{status: "goldmane", cr: &goldmanes, workloads: []workload{{deployments, "goldmane", "goldmane"}}},
	{status: "whisker", cr: &whiskers, workloads: []workload{{deployments, "whisker", "whisker"}}},
}

// operate reconciles every second until ctx ends.
func operate(ctx context.Context, h *sim.Host) error {
	for {
		if err := reconcile(ctx, h.Dynamic); err != nil && ctx.Err() == nil {
			h.Log.Debug("simulated tigera-operator", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func reconcile(ctx context.Context, dc dynamic.Interface) error {
	if !operatorRuns(ctx, dc) {
		return nil // as upstream: nothing happens without the operator's pod
	}
	inst, err := dc.Resource(installations).Get(ctx, "default", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return teardown(ctx, dc)
	}
	if err != nil {
		return err
	}
	// As the real operator, it holds the Installation with a finalizer
	// until it has removed what it made.
	if inst.GetDeletionTimestamp() != nil {
		if err := teardown(ctx, dc); err != nil {
			return err
		}
		inst.SetFinalizers(slices.DeleteFunc(inst.GetFinalizers(), func(f string) bool { return f == finalizer }))
		_, err := dc.Resource(installations).Update(ctx, inst, metav1.UpdateOptions{FieldManager: fieldManager})
		return err
	}
	if !slices.Contains(inst.GetFinalizers(), finalizer) {
		inst.SetFinalizers(append(inst.GetFinalizers(), finalizer))
		if inst, err = dc.Resource(installations).Update(ctx, inst, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return err
		}
	}
	version := calicoVersion(ctx, dc)
	if err := apply(ctx, dc, namespaces, "", map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": systemNS, "labels": map[string]any{"name": systemNS, managedBy: fieldManager}},
	}); err != nil {
		return err
	}
	allAvailable := true
	for _, p := range parts {
		var cr *unstructured.Unstructured
		if p.cr != nil {
			if cr, err = dc.Resource(*p.cr).Get(ctx, "default", metav1.GetOptions{}); err != nil {
				continue
			}
		}
		ready, why := true, ""
		for _, w := range p.workloads {
			if err := apply(ctx, dc, w.gvr, systemNS, workloadObject(w, version)); err != nil {
				return err
			}
			if ok, msg := workloadReady(ctx, dc, w); !ok {
				ready, why = false, msg
			}
		}
		if p.status == "ippools" && !hasPools(inst) {
			ready, why = false, "the Installation has no IP pools"
		}
		allAvailable = allAvailable && ready
		if err := report(ctx, dc, p.status, ready, why); err != nil {
			return err
		}
		if cr != nil {
			// The operator reports on the resource that asked, too, in
			// Ready/Progressing/Degraded conditions.
			conds := conditions(ready, why, cr.GetGeneration())
			conds[0].(map[string]any)["type"] = "Ready"
			old, _, _ := unstructured.NestedSlice(cr.Object, "status", "conditions")
			if !sameConditions(old, conds) {
				cr.Object["status"] = map[string]any{"conditions": conds}
				if _, err := dc.Resource(*p.cr).UpdateStatus(ctx, cr, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
					return err
				}
			}
		}
	}
	conds := conditions(allAvailable, "", inst.GetGeneration())
	old, _, _ := unstructured.NestedSlice(inst.Object, "status", "conditions")
	if v, _, _ := unstructured.NestedString(inst.Object, "status", "calicoVersion"); v == version && sameConditions(old, conds) {
		return nil
	}
	inst.Object["status"] = map[string]any{"variant": "Calico", "calicoVersion": version, "conditions": conds}
	_, err = dc.Resource(installations).UpdateStatus(ctx, inst, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

// operatorRuns reports whether the chart's operator pod runs.
func operatorRuns(ctx context.Context, dc dynamic.Interface) bool {
	pods, err := dc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=tigera-operator"})
	if err != nil {
		return false
	}
	for _, p := range pods.Items {
		if phase, _, _ := unstructured.NestedString(p.Object, "status", "phase"); phase == "Running" && p.GetDeletionTimestamp() == nil {
			return true
		}
	}
	return false
}

// calicoVersion is the Calico version the chart's operator runs: the tag
// of its calicoctl init container, which the chart sets to the release's
// Calico version.
func calicoVersion(ctx context.Context, dc dynamic.Interface) string {
	d, err := dc.Resource(deployments).Namespace(operatorNS).Get(ctx, "tigera-operator", metav1.GetOptions{})
	if err != nil {
		return "unknown"
	}
	inits, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "initContainers")
	for _, c := range inits {
		img, _ := c.(map[string]any)["image"].(string)
		if i := strings.LastIndexByte(img, ':'); i > 0 && strings.Contains(img, "/ctl:") {
			return img[i+1:]
		}
	}
	return "unknown"
}

func hasPools(inst *unstructured.Unstructured) bool {
	pools, _, _ := unstructured.NestedSlice(inst.Object, "spec", "calicoNetwork", "ipPools")
	return len(pools) > 0
}

func workloadObject(w workload, version string) map[string]any {
	labels := map[string]any{"k8s-app": w.name, "app.kubernetes.io/name": w.name, managedBy: fieldManager}
	pod := map[string]any{
		"metadata": map[string]any{"labels": labels},
		"spec": map[string]any{
			"tolerations": []any{map[string]any{"operator": "Exists"}},
			"containers": []any{map[string]any{
				"name":  w.name,
				"image": fmt.Sprintf("quay.io/calico/%s:%s", w.image, version),
			}},
		},
	}
	spec := map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"k8s-app": w.name}}, "template": pod}
	kind := "Deployment"
	if w.gvr == daemonSets {
		kind = "DaemonSet"
		pod["spec"].(map[string]any)["hostNetwork"] = true
	} else {
		spec["replicas"] = int64(1)
	}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": kind,
		"metadata": map[string]any{"name": w.name, "namespace": systemNS, "labels": labels},
		"spec":     spec,
	}
}

func workloadReady(ctx context.Context, dc dynamic.Interface, w workload) (bool, string) {
	u, err := dc.Resource(w.gvr).Namespace(systemNS).Get(ctx, w.name, metav1.GetOptions{})
	if err != nil {
		return false, err.Error()
	}
	num := func(f string) int64 { n, _, _ := unstructured.NestedInt64(u.Object, "status", f); return n }
	if w.gvr == daemonSets {
		want := num("desiredNumberScheduled")
		if want == 0 || num("numberReady") < want {
			return false, fmt.Sprintf("DaemonSet %s: %d of %d ready", w.name, num("numberReady"), want)
		}
		return true, ""
	}
	if num("availableReplicas") < 1 {
		return false, fmt.Sprintf("Deployment %s is not available", w.name)
	}
	return true, ""
}

// report writes the TigeraStatus object as the operator does.
func report(ctx context.Context, dc dynamic.Interface, name string, available bool, why string) error {
	obj := map[string]any{
		"apiVersion": "operator.tigera.io/v1", "kind": "TigeraStatus",
		"metadata": map[string]any{"name": name, "labels": map[string]any{managedBy: fieldManager}},
		"spec":     map[string]any{},
	}
	if err := apply(ctx, dc, statuses, "", obj); err != nil {
		return err
	}
	u, err := dc.Resource(statuses).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	old, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	conds := conditions(available, why, u.GetGeneration())
	if sameConditions(old, conds) {
		return nil
	}
	u.Object["status"] = map[string]any{"conditions": conds}
	_, err = dc.Resource(statuses).UpdateStatus(ctx, u, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

func conditions(available bool, why string, gen int64) []any {
	now := time.Now().UTC().Format(time.RFC3339)
	c := func(t string, on bool, reason, msg string) any {
		s := "False"
		if on {
			s = "True"
		}
		return map[string]any{"type": t, "status": s, "reason": reason, "message": msg, "lastTransitionTime": now, "observedGeneration": gen}
	}
	if available {
		return []any{c("Available", true, "AllObjectsAvailable", "All objects are available"), c("Progressing", false, "AllObjectsAvailable", ""), c("Degraded", false, "AllObjectsAvailable", "")}
	}
	return []any{c("Available", false, "ResourceNotReady", why), c("Progressing", true, "ResourceNotReady", why), c("Degraded", false, "ResourceNotReady", "")}
}

func sameConditions(old, cur []any) bool {
	if len(old) != len(cur) {
		return false
	}
	for i := range old {
		o, _ := old[i].(map[string]any)
		c := cur[i].(map[string]any)
		if o["type"] != c["type"] || o["status"] != c["status"] || o["message"] != c["message"] {
			return false
		}
	}
	return true
}

// teardown removes what the operator made, as the real one does when its
// Installation is deleted.
func teardown(ctx context.Context, dc dynamic.Interface) error {
	list, err := dc.Resource(statuses).List(ctx, metav1.ListOptions{LabelSelector: managedBy + "=" + fieldManager})
	if err != nil {
		return nil // the CRD went first: nothing left to report on
	}
	for _, u := range list.Items {
		_ = dc.Resource(statuses).Delete(ctx, u.GetName(), metav1.DeleteOptions{})
	}
	ns, err := dc.Resource(namespaces).Get(ctx, systemNS, metav1.GetOptions{})
	if err == nil && ns.GetLabels()[managedBy] == fieldManager && ns.GetDeletionTimestamp() == nil {
		return dc.Resource(namespaces).Delete(ctx, systemNS, metav1.DeleteOptions{})
	}
	return nil
}

func apply(ctx context.Context, dc dynamic.Interface, gvr schema.GroupVersionResource, ns string, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	var ri dynamic.ResourceInterface = dc.Resource(gvr)
	if ns != "" {
		ri = dc.Resource(gvr).Namespace(ns)
	}
	_, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return err
}
