package engine

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
)

// health tells whether a recorded step is healthy now.
func health(ctx context.Context, kc *kube.Client, hc *helm.Client, rec *StepRecord) (bool, string) {
	ok, msg := liveHealth(ctx, kc, hc, rec)
	if len(rec.Skipped) > 0 {
		msg += "; skipped: " + strings.Join(rec.Skipped, ", ")
	}
	return ok, msg
}

func liveHealth(ctx context.Context, kc *kube.Client, hc *helm.Client, rec *StepRecord) (bool, string) {
	if rec.Failed != "" {
		return false, "failed: " + rec.Failed
	}
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
		// The release record says what was applied; the live objects say
		// whether it still stands.
		objs, err := releaseObjects(st.Manifest, rec.Namespace)
		if err != nil {
			return false, err.Error()
		}
		sts, err := ready.Poll(ctx, kc, objs)
		if err != nil {
			return false, err.Error()
		}
		if msg := ready.Describe(sts); msg != "" {
			return false, fmt.Sprintf("release %s revision %d deployed, but not ready: %s", rec.Release, st.Revision, msg)
		}
		if drift, err := hc.Drift(ctx, rec.Release, rec.Namespace); err == nil && len(drift) > 0 {
			return false, fmt.Sprintf("release %s revision %d deployed, but drifted: %s (kindred up restores it)", rec.Release, st.Revision, strings.Join(drift, "; "))
		}
		return true, fmt.Sprintf("release %s revision %d (chart %s) deployed, %d objects ready", rec.Release, st.Revision, st.ChartVersion, len(objs))
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
// components tell (a certificate's expiry, a route's verdict). Only the
// objects of kinds some component details are read.
func details(ctx context.Context, kc *kube.Client, rec *StepRecord) []string {
	detailers := map[string][]component.Detailer{}
	for _, c := range component.All() {
		if d, ok := c.(component.Detailer); ok {
			detailers[d.DetailKind()] = append(detailers[d.DetailKind()], d)
		}
	}
	var out []string
	for _, o := range rec.Inventory {
		ds := detailers[o.Kind]
		if len(ds) == 0 {
			continue
		}
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		u, err := kc.Get(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name)
		if err != nil {
			continue
		}
		for _, d := range ds {
			if msg, ok := d.Detail(u); ok {
				out = append(out, msg)
			}
		}
	}
	return out
}
