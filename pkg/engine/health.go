package engine

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
)

// health tells whether a recorded step is healthy now.
func health(ctx context.Context, kc *kube.Client, hc *helm.Client, rec *StepRecord) (bool, string) {
	if rec.Release != "" {
		st, err := hc.Get(ctx, rec.Release, rec.Namespace)
		switch {
		case err != nil:
			return false, err.Error()
		case st == nil:
			return false, "release " + rec.Release + " is missing"
		case st.Status != "deployed":
			return false, "release " + rec.Release + " is " + st.Status
		}
		return true, fmt.Sprintf("release %s revision %d (chart %s) deployed", rec.Release, st.Revision, st.ChartVersion)
	}
	var objs []*unstructured.Unstructured
	for _, o := range rec.Inventory {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(o.APIVersion)
		u.SetKind(o.Kind)
		u.SetNamespace(o.Namespace)
		u.SetName(o.Name)
		objs = append(objs, u)
	}
	sts, err := ready.Poll(ctx, kc, objs)
	if err != nil {
		return false, err.Error()
	}
	if msg := ready.Describe(sts); msg != "" {
		return false, "not ready: " + msg
	}
	msg := fmt.Sprintf("%d objects ready", len(objs))
	for _, d := range details(ctx, kc, rec) {
		msg += "; " + d
	}
	return true, msg
}

// details are what a status page shows of a step's certificates (their
// expiry) and HTTPProxies (Contour's verdict).
func details(ctx context.Context, kc *kube.Client, rec *StepRecord) []string {
	var out []string
	for _, o := range rec.Inventory {
		switch o.Kind {
		case "Certificate", "HTTPProxy":
		default:
			continue
		}
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		u, err := kc.Get(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name)
		if err != nil {
			continue
		}
		if o.Kind == "Certificate" {
			if after, ok, _ := unstructured.NestedString(u.Object, "status", "notAfter"); ok {
				if t, err := time.Parse(time.RFC3339, after); err == nil {
					out = append(out, fmt.Sprintf("certificate %s expires %s", o.Name, t.UTC().Format("2006-01-02")))
				}
			}
			continue
		}
		if cs, ok, _ := unstructured.NestedString(u.Object, "status", "currentStatus"); ok {
			out = append(out, "HTTPProxy "+cs)
		}
	}
	return out
}
