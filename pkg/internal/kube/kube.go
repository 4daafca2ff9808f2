// Package kube is kindred's small client for the Kubernetes API: decoding
// manifests, server-side apply with field manager "kindred", and reading
// objects back by kind.
package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager of everything kindred
// applies.
const FieldManager = "kindred"

// Client talks to one cluster.
type Client struct {
	Config  *rest.Config
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper

	statusKinds sync.Map // schema.GroupVersionKind → StatusKind
}

// New returns a client for cfg.
func New(cfg *rest.Config) (*Client, error) {
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{
		Config:  cfg,
		Typed:   typed,
		Dynamic: dyn,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
	}, nil
}

// Decode reads a stream of YAML or JSON documents into objects, skipping
// empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding manifests: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("decoding manifests: an object without apiVersion and kind")
		}
		if u.IsList() {
			items, err := u.ToList()
			if err != nil {
				return nil, err
			}
			for i := range items.Items {
				out = append(out, &items.Items[i])
			}
			continue
		}
		out = append(out, u)
	}
}

// Resource maps an object's kind to its resource, refreshing discovery once
// when the kind is new (a CRD just installed).
func (c *Client) Resource(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, bool, error) {
	gvr, namespaced, err := c.Mapping(gvk)
	if err != nil {
		return nil, false, err
	}
	if namespaced {
		if namespace == "" {
			namespace = metav1.NamespaceDefault
		}
		return c.Dynamic.Resource(gvr).Namespace(namespace), true, nil
	}
	return c.Dynamic.Resource(gvr), false, nil
}

// Unthrottled lifts client-go's client-side rate limit from rc (5
// requests a second unless set) and returns it. kindred's requests are
// bounded (a stack's objects read, applied and watched, polls a quarter
// of a second apart at the most), and a cluster's API server limits its
// clients itself (API priority and fairness). A client-side limit of 100
// a second made the steps of a 200-component stack queue on the client:
// its no-op re-run took 4.5 s, and 2.2 s without.
func Unthrottled(rc *rest.Config) *rest.Config {
	rc.QPS, rc.Burst, rc.RateLimiter = -1, 0, nil
	return rc
}

// Mapping is the resource that serves gvk, and whether it is namespaced.
func (c *Client) Mapping(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return schema.GroupVersionResource{}, false, fmt.Errorf("mapping %s: %w", gvk, err)
	}
	return m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// Apply applies obj server-side, taking ownership of conflicting fields, and
// returns the object as stored.
func (c *Client) Apply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return c.apply(ctx, obj, nil)
}

// ApplyDryRun is Apply as a server-side dry run: the object as it would be
// stored, with nothing changed.
func (c *Client) ApplyDryRun(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return c.apply(ctx, obj, []string{metav1.DryRunAll})
}

func (c *Client) apply(ctx context.Context, obj *unstructured.Unstructured, dryRun []string) (*unstructured.Unstructured, error) {
	ri, namespaced, err := c.Resource(obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return nil, err
	}
	if !namespaced {
		obj.SetNamespace("")
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return nil, err
	}
	force := true
	out, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force, DryRun: dryRun})
	if err != nil {
		return nil, fmt.Errorf("applying %s %s: %w", obj.GetKind(), Name(obj), err)
	}
	return out, nil
}

// Get reads obj's current state.
func (c *Client) Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	ri, _, err := c.Resource(gvk, namespace)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, name, metav1.GetOptions{})
}

// GetCached reads an object as the API server's watch cache has it: at
// most a moment behind, and without a read of etcd, which a loaded or
// flushing etcd makes slow. For checks that do not follow a write of
// their own.
func (c *Client) GetCached(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	ri, _, err := c.Resource(gvk, namespace)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, name, metav1.GetOptions{ResourceVersion: "0"})
}

// List reads every object of a kind, in namespace or (when empty) in all.
func (c *Client) List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]*unstructured.Unstructured, error) {
	ri, _, err := c.Resource(gvk, namespace)
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, err
		}
		ri = c.Dynamic.Resource(m.Resource) // every namespace
	}
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// Delete deletes an object in the background; a missing object is no error.
func (c *Client) Delete(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) error {
	ri, _, err := c.Resource(gvk, namespace)
	if err != nil {
		if meta.IsNoMatchError(errors.Unwrap(err)) {
			return nil // its CRD is gone, so it is too
		}
		return err
	}
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Name is namespace/name, or name for cluster-scoped objects.
func Name(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// WaitGone waits until the object no longer exists.
func (c *Client) WaitGone(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		_, err := c.Get(ctx, gvk, namespace, name)
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(errors.Unwrap(err)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s %s to be deleted: %w", gvk.Kind, name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Terminating reports whether namespace ns is being deleted.
func (c *Client) Terminating(ctx context.Context, ns string) (bool, error) {
	n, err := c.Typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return n.DeletionTimestamp != nil, nil
}

// ToUnstructured converts typed objects for Apply, dropping the fields a
// server owns (status, creationTimestamp) so that applying them twice is a
// no-op.
func ToUnstructured(objs ...runtime.Object) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
		out = append(out, u)
	}
	return out, nil
}

// Object is an object kindred renders itself, labelled as managed by
// kindred, with fields (spec, data, ...) set at its top level.
func Object(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetName(name)
	if ns != "" {
		u.SetNamespace(ns)
	}
	u.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "kindred"})
	for k, v := range fields {
		u.Object[k] = v
	}
	return u
}

// StatusKind says what a kind's objects report about themselves.
type StatusKind int

const (
	// BuiltIn kinds are Kubernetes' own (or served by an aggregated API).
	BuiltIn StatusKind = iota
	// CustomWithStatus kinds are a CRD's with a status subresource: a
	// controller writes their status.
	CustomWithStatus
	// CustomWithoutStatus kinds are a CRD's without one (a status field in
	// the schema alone is no promise that anything writes it): applied is
	// all there is to wait for.
	CustomWithoutStatus
)

// StatusOf says whether gvk is a custom resource and whether its CRD
// declares a status; answers are cached.
func (c *Client) StatusOf(ctx context.Context, gvk schema.GroupVersionKind) StatusKind {
	if v, ok := c.statusKinds.Load(gvk); ok {
		return v.(StatusKind)
	}
	sk := BuiltIn
	if m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil && gvk.Group != "" {
		crd, err := c.Dynamic.Resource(crdResource).Get(ctx, m.Resource.Resource+"."+gvk.Group, metav1.GetOptions{})
		switch {
		case err == nil:
			sk = CustomWithoutStatus
			versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
			for _, v := range versions {
				vm, _ := v.(map[string]any)
				if vm["name"] != gvk.Version {
					continue
				}
				if _, sub, _ := unstructured.NestedMap(vm, "subresources", "status"); sub {
					sk = CustomWithStatus
				}
			}
		case !apierrors.IsNotFound(err):
			return BuiltIn // unknown for now: not cached
		}
	}
	c.statusKinds.Store(gvk, sk)
	return sk
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Defines reports whether a CRD on the cluster serves gvk. Discovery lags
// behind a CRD just created and behind an API server just restarted: for
// a moment the server says it has no such kind, while its CRD is there.
func (c *Client) Defines(ctx context.Context, gvk schema.GroupVersionKind) (bool, error) {
	crds, err := c.Dynamic.Resource(crdResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	for _, crd := range crds.Items {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		if group != gvk.Group || kind != gvk.Kind {
			continue
		}
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			if vm["name"] == gvk.Version && vm["served"] == true {
				return true, nil
			}
		}
	}
	return false, nil
}
