package engine

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/component"
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

// details are what a status page shows of a step's objects, as their
// components tell (a certificate's expiry, a route's verdict).
func details(ctx context.Context, kc *kube.Client, rec *StepRecord) []string {
	var out []string
	for _, o := range rec.Inventory {
		for _, c := range component.All() {
			if d, ok := c.(component.Detailer); ok {
				if msg, ok := d.Detail(ctx, kc, o); ok {
					out = append(out, msg)
				}
			}
		}
	}
	return out
}
