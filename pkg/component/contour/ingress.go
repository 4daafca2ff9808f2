// Package contour is the Contour ingress built-in: its release manifests
// come from the catalogue (stacks/catalog/contour.yaml); this package pins
// Envoy to the node kind maps the host's ports to, points CoreDNS's
// *.<domain> at Envoy, turns a stack's routes into HTTPProxy objects built
// with Contour's typed API, and waits for Contour's verdict on each.
package contour

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
)

// placeIngress puts the ingress controller's proxy (Contour's Envoy
// DaemonSet, with host ports 80 and 443) on the node kind maps the host's
// ports to, the one labelled ingress-ready=true, and lets it run there when
// that node is a tainted control plane (clusters with workers).
func placeIngress(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" || o.GetName() != "envoy" {
			continue
		}
		if err := unstructured.SetNestedField(o.Object, "true", "spec", "template", "spec", "nodeSelector", api.IngressReadyLabel); err != nil {
			return err
		}
		tols, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "tolerations")
		for _, key := range []string{"node-role.kubernetes.io/control-plane"} {
			have := false
			for _, t := range tols {
				if m, ok := t.(map[string]any); ok && m["key"] == key {
					have = true
				}
			}
			if !have {
				tols = append(tols, map[string]any{"key": key, "operator": "Exists", "effect": "NoSchedule"})
			}
		}
		if err := unstructured.SetNestedSlice(o.Object, tols, "spec", "template", "spec", "tolerations"); err != nil {
			return err
		}
	}
	return nil
}

// withoutHostPorts takes the host ports off Envoy's containers.
func withoutHostPorts(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" || o.GetName() != "envoy" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			ports, _ := m["ports"].([]any)
			for _, p := range ports {
				if pm, ok := p.(map[string]any); ok {
					delete(pm, "hostPort")
				}
			}
		}
		if err := unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			return err
		}
	}
	return nil
}

// Namespace is where Contour's Envoy runs.
const Namespace = "projectcontour"

// routeObjects renders a route's HTTPProxy, and the delegation that lets
// it use the wildcard certificate.
func routeObjects(rt *api.Route) ([]*unstructured.Unstructured, error) {
	p, err := Proxy(*rt)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	// The delegation first: a proxy Contour sees before it is judged
	// invalid ("certificate delegation not permitted") until it is.
	if rt.TLS != nil && *rt.TLS {
		d, err := Delegation()
		if err != nil {
			return nil, err
		}
		objs = append(objs, d)
	}
	return append(objs, p), nil
}

// verdictHolds is how long an "invalid" verdict must stand before it is
// final: Contour judges each change as it sees it (after a hold-off of up
// to half a second), so a proxy seen just before the Service or the
// delegation it needs is invalid for a moment, then valid.
const verdictHolds = 2 * time.Second

// waitProxy waits until Contour has judged the HTTPProxy, and fails the
// step with Contour's reason when it stays invalid.
func waitProxy(ctx context.Context, kc *kube.Client, proxy *unstructured.Unstructured, timeout time.Duration, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	told := false
	var invalidSince time.Time
	for {
		cur, err := kc.Get(ctx, proxy.GroupVersionKind(), proxy.GetNamespace(), proxy.GetName())
		if err == nil {
			valid, done, why := Status(cur)
			if !done || valid {
				invalidSince = time.Time{}
			} else if invalidSince.IsZero() {
				invalidSince = time.Now()
			}
			switch {
			case valid:
				return nil
			case done && time.Since(invalidSince) >= verdictHolds:
				return fmt.Errorf("HTTPProxy %s/%s is %s", proxy.GetNamespace(), proxy.GetName(), why)
			case !told:
				progress("waiting for Contour to accept HTTPProxy " + proxy.GetName())
				told = true
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for Contour to accept HTTPProxy %s/%s: %w", ready.ErrNotReady, proxy.GetNamespace(), proxy.GetName(), ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
