package ready

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/kube"
)

// RunChecks polls readiness checks until all pass or timeout passes; the
// error names every check still failing and why.
func RunChecks(ctx context.Context, kc *kube.Client, checks []api.Check, timeout time.Duration, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	lastMsg := ""
	for {
		var failing []string
		for _, c := range checks {
			if ok, why := runCheck(ctx, kc, c); !ok {
				failing = append(failing, why)
			}
		}
		if len(failing) == 0 {
			return nil
		}
		if msg := "waiting for " + failing[0]; msg != lastMsg {
			progress(msg)
			lastMsg = msg
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w after %s: %s", ErrNotReady, timeout, strings.Join(failing, "; "))
			}
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// runCheck runs one check and says what is missing when it fails.
func runCheck(ctx context.Context, kc *kube.Client, c api.Check) (bool, string) {
	switch c.Type {
	case api.CheckCRD:
		return hasCondition(ctx, kc, schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, "", c.Name, "Established", "True")
	case api.CheckAPIService:
		return hasCondition(ctx, kc, schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}, "", c.Name, "Available", "True")
	case api.CheckCondition:
		gv, err := schema.ParseGroupVersion(c.APIVersion)
		if err != nil {
			return false, err.Error()
		}
		return hasCondition(ctx, kc, gv.WithKind(c.Kind), c.Namespace, c.Name, c.Condition, c.Status)
	case api.CheckRollout:
		gv, err := schema.ParseGroupVersion(c.APIVersion)
		if err != nil || c.APIVersion == "" {
			gv = schema.GroupVersion{Group: "apps", Version: "v1"}
		}
		u, err := kc.Get(ctx, gv.WithKind(c.Kind), c.Namespace, c.Name)
		if err != nil {
			return false, fmt.Sprintf("%s %s: %v", c.Kind, c.Name, err)
		}
		st := Object(u)
		return st.Ready, fmt.Sprintf("%s (%s)", st.Object, st.Message)
	case api.CheckWebhook:
		obj := &unstructured.Unstructured{Object: c.Object}
		ri, _, err := kc.Resource(obj.GroupVersionKind(), obj.GetNamespace())
		if err != nil {
			return false, fmt.Sprintf("webhook for %s: %v", obj.GetKind(), err)
		}
		_, err = ri.Create(ctx, obj.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: kube.FieldManager})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return false, fmt.Sprintf("webhook to answer a dry-run create of %s: %v", obj.GetKind(), err)
		}
		return true, ""
	case CheckNodesReady:
		notReady, err := NodesNotReady(ctx, kc.Typed)
		if err != nil {
			return false, "nodes: " + err.Error()
		}
		return len(notReady) == 0, "nodes to be Ready: " + strings.Join(notReady, ", ")
	}
	return false, "unknown check type " + c.Type
}

// CheckNodesReady is a check kindred itself asks for: every node is Ready.
const CheckNodesReady = "nodesReady"

func hasCondition(ctx context.Context, kc *kube.Client, gvk schema.GroupVersionKind, ns, name, typ, want string) (bool, string) {
	u, err := kc.Get(ctx, gvk, ns, name)
	if err != nil {
		return false, fmt.Sprintf("%s %s: %v", gvk.Kind, name, err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			if m["status"] == want {
				return true, ""
			}
			return false, fmt.Sprintf("%s %s condition %s=%v (%v)", gvk.Kind, name, typ, m["status"], m["message"])
		}
	}
	return false, fmt.Sprintf("%s %s has no %s condition yet", gvk.Kind, name, typ)
}
