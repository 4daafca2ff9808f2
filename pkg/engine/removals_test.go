package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/engine"
)

// A database dropped from the stack: its data decides what up needs.
// Data kept only in the pod needs --delete-data besides --prune; data in
// a claim lives on (the claim stays) unless --delete-data is given. A
// confirmation stands in for --prune, never for --delete-data.
func TestIntegrationRemovalsConfirmed(t *testing.T) {
	f := newFixture(t)
	full := load(t, writeStack(t, map[string]string{"stack.yaml": `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: removals}
databases:
  - {name: scratch, engine: redis}
  - {name: ledger, engine: postgres, persistence: {enabled: true, size: 1Gi}}
  - {name: kept, engine: redis}
`}), nil)
	if _, err := f.up(full); err != nil {
		t.Fatal(err)
	}
	onlyKept := load(t, writeStack(t, map[string]string{"stack.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: removals}\ndatabases:\n  - {name: kept, engine: redis}\n"}), nil)
	exists := func(name string) bool {
		_, err := f.kube.Typed.AppsV1().StatefulSets("default").Get(f.ctx, name, metav1.GetOptions{})
		return err == nil
	}

	// --prune alone: scratch's data would be lost, so nothing happens.
	_, err := f.upWith(onlyKept, func(u *engine.Up) { u.Prune = true })
	if !errors.Is(err, engine.ErrDataLoss) || !strings.Contains(err.Error(), "scratch") || !strings.Contains(err.Error(), "--delete-data") {
		t.Errorf("dropping a database without --delete-data: %v", err)
	}
	if !exists("scratch") || !exists("ledger") {
		t.Fatal("a refused up removed a database")
	}

	// Asked, and declined: nothing happens either. The question lists
	// what goes and what becomes of the data.
	var asked []engine.Removal
	decline := func(_ context.Context, gone []engine.Removal) (bool, error) { asked = gone; return false, nil }
	_, err = f.upWith(onlyKept, func(u *engine.Up) { u.DeleteData, u.Confirm = true, decline })
	if !errors.Is(err, engine.ErrRemovalNotConfirmed) || len(asked) != 2 {
		t.Fatalf("declined: %v, asked about %v", err, asked)
	}
	for _, m := range asked {
		switch m.Step {
		case "scratch":
			if !m.DataLost || m.Objects == 0 {
				t.Errorf("scratch: %+v", m)
			}
		case "ledger":
			if !m.DataLost || !strings.Contains(m.String(), "PersistentVolumeClaim default/data-ledger-0") {
				t.Errorf("ledger with --delete-data: %s", m)
			}
		default:
			t.Errorf("asked about %s", m.Step)
		}
	}
	if !exists("scratch") || !exists("ledger") {
		t.Fatal("a declined up removed a database")
	}

	// Without --delete-data, ledger's claim would stay: its data lives on.
	onlyLedgerGone := load(t, writeStack(t, map[string]string{"stack.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: removals}\ndatabases:\n  - {name: kept, engine: redis}\n  - {name: scratch, engine: redis}\n"}), nil)
	accept := func(_ context.Context, gone []engine.Removal) (bool, error) { asked = gone; return true, nil }
	got, err := f.upWith(onlyLedgerGone, func(u *engine.Up) { u.Confirm = accept })
	if err != nil || got["prune"] != "removed" || len(asked) != 1 || asked[0].DataLost || !strings.Contains(asked[0].String(), "its data lives on in PersistentVolumeClaim") {
		t.Fatalf("dropping a database whose data is in a claim: %v %v %v", err, got, asked)
	}
	if exists("ledger") {
		t.Error("ledger's StatefulSet is still there")
	}
	if _, err := f.kube.Typed.CoreV1().PersistentVolumeClaims("default").Get(f.ctx, "data-ledger-0", metav1.GetOptions{}); err != nil {
		t.Errorf("ledger's claim went without --delete-data: %v", err)
	}

	// Both flags: scratch goes.
	got, err = f.upWith(onlyKept, func(u *engine.Up) { u.Prune, u.DeleteData = true, true })
	if err != nil || got["prune"] != "removed" || exists("scratch") || !exists("kept") {
		t.Errorf("--prune --delete-data: %v %v", err, got)
	}
	if _, err := f.kube.Typed.CoreV1().Secrets("default").Get(f.ctx, "scratch-credentials", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("scratch's credentials: %v", err)
	}
}
