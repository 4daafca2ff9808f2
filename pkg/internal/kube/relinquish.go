package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Relinquish gives back an object kindred adopted (it was there before
// kindred applied it): the labels and annotations only kindred set are
// taken off, and kindred's field ownership is dropped, so that kindred
// leaves no claim on it. Every other value stays as it is; an object that
// is gone is no error.
func (c *Client) Relinquish(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) error {
	ri, _, err := c.Resource(gvk, namespace)
	if err != nil {
		return err
	}
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep []metav1.ManagedFieldsEntry
	mine, others := map[string]bool{}, map[string]bool{}
	for _, m := range u.GetManagedFields() {
		owned := metadataKeys(m.FieldsV1)
		if m.Manager == FieldManager {
			for k := range owned {
				mine[k] = true
			}
			continue
		}
		for k := range owned {
			others[k] = true
		}
		keep = append(keep, m)
	}
	if len(keep) == len(u.GetManagedFields()) {
		return nil // kindred holds nothing of it
	}
	labels, annotations := map[string]any{}, map[string]any{}
	for k := range mine {
		if others[k] {
			continue
		}
		if key, ok := strings.CutPrefix(k, "labels/"); ok {
			labels[key] = nil
		} else if key, ok := strings.CutPrefix(k, "annotations/"); ok {
			annotations[key] = nil
		}
	}
	if len(keep) == 0 {
		keep = []metav1.ManagedFieldsEntry{{}} // clears the list
	}
	meta := map[string]any{"managedFields": keep, "resourceVersion": u.GetResourceVersion()}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	if _, err := ri.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("giving back %s %s: %w", gvk.Kind, name, err)
	}
	return nil
}

// metadataKeys lists the labels and annotations a managed-fields entry
// owns, as "labels/KEY" and "annotations/KEY".
func metadataKeys(f *metav1.FieldsV1) map[string]bool {
	out := map[string]bool{}
	if f == nil {
		return out
	}
	var set map[string]map[string]map[string]any
	var tree map[string]json.RawMessage
	if json.Unmarshal(f.Raw, &tree) != nil {
		return out
	}
	raw, ok := tree["f:metadata"]
	if !ok || json.Unmarshal(raw, &set) != nil {
		return out
	}
	for _, kind := range []string{"labels", "annotations"} {
		for k := range set["f:"+kind] {
			if key, ok := strings.CutPrefix(k, "f:"); ok {
				out[kind+"/"+key] = true
			}
		}
	}
	return out
}
