package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
)

// objects applies objects server-side with an inventory: unchanged objects
// are left alone, removed ones are pruned, and all are waited for.
func (r *runner) objects(ctx context.Context, id, ns string, prev *StepRecord, progress func(string), render func() ([]*unstructured.Unstructured, error), timeout time.Duration) (*StepRecord, bool, error) {
	objs, rec, err := r.inventory(ctx, id, ns, prev, render)
	if err != nil {
		return nil, false, err
	}
	changed := prev == nil || prev.Hash != rec.Hash
	var seen []*unstructured.Unstructured
	if !changed {
		// The same objects as last time: put back any deleted by hand.
		var gone []string
		if gone, seen = r.missing(ctx, objs, false); len(gone) > 0 {
			changed = true
			progress("restoring what drifted: " + strings.Join(gone, "; "))
			r.noteRepair(id, gone)
		}
	}
	if changed {
		if err := r.ensureNamespaces(ctx, objs, progress); err != nil {
			return nil, false, err
		}
		progress(fmt.Sprintf("applying %d objects", len(objs)))
		for _, o := range objs {
			if _, err := r.kube.Apply(ctx, o); err != nil {
				// Some may be in the cluster now: the record keeps them,
				// with what the step had before, so down removes them.
				return withPrevious(rec, prev), true, err
			}
		}
		if prev != nil {
			for _, old := range prev.Inventory {
				if !containsRef(rec.Inventory, old) {
					gv, _ := schema.ParseGroupVersion(old.APIVersion)
					if old.Adopted {
						progress("leaving " + old.Kind + " " + old.Name + ": it was there before kindred")
						if err := r.kube.Relinquish(ctx, gv.WithKind(old.Kind), old.Namespace, old.Name); err != nil {
							return withPrevious(rec, prev), true, err
						}
						continue
					}
					progress("pruning " + old.Kind + " " + old.Name)
					if err := r.kube.Delete(ctx, gv.WithKind(old.Kind), old.Namespace, old.Name); err != nil {
						return withPrevious(rec, prev), true, fmt.Errorf("pruning %s %s: %w", old.Kind, old.Name, err)
					}
				}
			}
		}
	}
	if changed {
		seen = nil // applied since: read again
	}
	if err := r.waitReady(ctx, objs, seen, timeout, progress); err != nil {
		return rec, changed, err
	}
	return rec, changed, nil
}

// inventory renders a step's objects, in ns where they name none, and
// makes the record of them: their hash and references. It refuses objects
// another stack created.
func (r *runner) inventory(ctx context.Context, id, ns string, prev *StepRecord, render func() ([]*unstructured.Unstructured, error)) ([]*unstructured.Unstructured, *StepRecord, error) {
	objs, err := render()
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		if o.GetNamespace() == "" && ns != "" {
			if _, namespaced, err := r.kube.Resource(o.GroupVersionKind(), ns); err == nil && namespaced {
				o.SetNamespace(ns)
			}
		}
	}
	hash, err := hashObjects(objs)
	if err != nil {
		return nil, nil, err
	}
	rec := &StepRecord{Hash: hash}
	for _, o := range objs {
		ref := ObjectRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
		if owner, ok := r.claims[ref]; ok {
			return nil, nil, fmt.Errorf("%w: step %s would apply %s %s, which %s created; two stacks cannot share an object: rename it in one of them, or run `kindred down` for that stack first",
				ErrClaimed, id, ref.Kind, kube.Name(o), owner)
		}
		ref.Adopted = r.adopted(ctx, prev, ref)
		rec.Inventory = append(rec.Inventory, ref)
	}
	return objs, rec, nil
}

// withPrevious adds to rec what prev recorded and rec lacks.
func withPrevious(rec, prev *StepRecord) *StepRecord {
	if prev == nil {
		return rec
	}
	for _, old := range prev.Inventory {
		if !containsRef(rec.Inventory, old) {
			rec.Inventory = append(rec.Inventory, old)
		}
	}
	return rec
}

// waitReady waits for objs to be ready; seen are those of them just read,
// which it need not read again.
func (r *runner) waitReady(ctx context.Context, objs, seen []*unstructured.Unstructured, timeout time.Duration, progress func(string)) error {
	if len(objs) == 0 {
		return nil
	}
	return ready.WaitSeen(ctx, r.kube, objs, seen, timeout, readyProgress(progress))
}

// readyProgress turns the statuses of a readiness wait into progress lines.
func readyProgress(progress func(string)) func(all, pending []ready.Status) {
	last := ""
	return func(all, pending []ready.Status) {
		n, total := len(all)-len(pending), len(all)
		msg := fmt.Sprintf("%d/%d objects ready", n, total)
		if len(pending) > 0 {
			msg += ", waiting for " + pending[0].Object
		}
		// What a person must fix comes first, and alone: progress lines
		// are cut to the terminal's width.
		for _, s := range pending {
			if s.Trouble != "" {
				msg = fmt.Sprintf("%d/%d ready; %s, for %s", n, total, s.Trouble, s.Object)
				break
			}
		}
		if msg != last {
			last = msg
			progress(msg)
		}
		if len(pending) == 0 {
			for _, s := range all {
				if s.NoStatus {
					progress(s.Object + ": " + s.Message)
				}
			}
		}
	}
}

// missing lists the objects that are not in the cluster (deleted by
// hand), and returns those that are, as read; cached reads them from the
// API server's watch cache.
func (r *runner) missing(ctx context.Context, objs []*unstructured.Unstructured, cached bool) (gone []string, found []*unstructured.Unstructured) {
	get := r.kube.Get
	if cached {
		get = r.kube.GetCached
	}
	for _, o := range objs {
		cur, err := get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
		if err != nil {
			gone = append(gone, o.GetKind()+" "+kube.Name(o)+" was deleted")
			continue
		}
		found = append(found, cur)
	}
	return gone, found
}

// ensureNamespaces creates the namespaces objects live in, first waiting
// out any that are still being deleted.
func (r *runner) ensureNamespaces(ctx context.Context, objs []*unstructured.Unstructured, progress func(string)) error {
	seen := map[string]bool{}
	for _, o := range objs {
		ns := o.GetNamespace()
		if o.GetKind() == "Namespace" {
			ns = o.GetName()
		}
		if ns == "" || seen["wait/"+ns] {
			continue
		}
		seen["wait/"+ns] = true
		if terminating, err := r.kube.Terminating(ctx, ns); err != nil {
			return err
		} else if terminating {
			progress("waiting for namespace " + ns + " to finish terminating")
			if err := r.kube.WaitGone(ctx, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "", ns, DefaultTimeout); err != nil {
				return err
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			seen[o.GetName()] = true
		}
	}
	for _, o := range objs {
		ns := o.GetNamespace()
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if _, err := r.kube.Typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			if _, err := r.kube.Apply(ctx, nsObj); err != nil {
				return err
			}
		}
	}
	return nil
}

func hashObjects(objs []*unstructured.Unstructured) (string, error) {
	h := sha256.New()
	for _, o := range objs {
		data, err := json.Marshal(o.Object)
		if err != nil {
			return "", err
		}
		h.Write(data)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func containsRef(list []ObjectRef, r ObjectRef) bool {
	for _, x := range list {
		if x.Same(r) {
			return true
		}
	}
	return false
}

// adopted tells whether an object existed before kindred first applied
// it: what the step's record says, or, for an object new to the step,
// whether the cluster has it already. kindred never deletes what it did
// not create.
func (r *runner) adopted(ctx context.Context, prev *StepRecord, ref ObjectRef) bool {
	if prev != nil {
		for _, old := range prev.Inventory {
			if old.Same(ref) {
				return old.Adopted
			}
		}
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	u, err := r.kube.Get(ctx, gv.WithKind(ref.Kind), ref.Namespace, ref.Name)
	if err != nil {
		return false
	}
	// One kindred applied already (a run that failed before it recorded
	// the step) is kindred's own.
	for _, m := range u.GetManagedFields() {
		if m.Manager == kube.FieldManager {
			return false
		}
	}
	return true
}
