package engine

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
)

// removeStep undoes one recorded step; with deleteData, the claims that
// hold a database's data go too.
func removeStep(ctx context.Context, kc *kube.Client, hc *helm.Client, rec *StepRecord, deleteData bool) error {
	for _, c := range component.All() {
		if rm, ok := c.(component.Remover); ok {
			if err := rm.Remove(ctx, kc, component.Result{DNSRewrite: rec.DNSRewrite}); err != nil {
				return err
			}
		}
	}
	for i := len(rec.Inventory) - 1; i >= 0; i-- {
		o := rec.Inventory[i]
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		if o.Adopted {
			// It was there before kindred: it stays, without kindred's
			// labels and field ownership.
			if err := kc.Relinquish(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name); err != nil {
				return err
			}
			continue
		}
		if err := kc.Delete(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name); err != nil {
			return fmt.Errorf("deleting %s %s: %w", o.Kind, o.Name, err)
		}
	}
	// Wait until they are really gone, namespaces included, so that a run
	// that follows does not write into a namespace being terminated.
	for _, o := range rec.Inventory {
		if o.Adopted {
			continue
		}
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		if err := kc.WaitGone(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name, DefaultTimeout); err != nil {
			return err
		}
	}
	if deleteData && rec.Data != nil {
		for _, c := range rec.Data.Claims {
			gvk := schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
			if err := kc.Delete(ctx, gvk, c.Namespace, c.Name); err != nil {
				return fmt.Errorf("deleting claim %s: %w", c.Name, err)
			}
		}
	}
	// The release goes last: what a component added to a chart (an
	// operator's custom resource) is undone by the chart's own controller,
	// which must still run to release its finalizer.
	if rec.Release != "" {
		if err := hc.Uninstall(ctx, rec.Release, rec.Namespace, DefaultTimeout); err != nil {
			return err
		}
	}
	return nil
}
