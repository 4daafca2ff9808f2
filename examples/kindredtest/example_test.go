// Package kindredtest_example shows a project's tests using kindredtest: one
// call brings up a cluster with the stack installed and really ready, and
// every test of the package shares it.
package kindredtest_example

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/kindredtest"
)

func TestOperatorIsReady(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a simulated cluster")
	}
	env := kindredtest.Up(t, "testdata/stack.yaml", kindredtest.WithProvider(kindredtest.Sim))
	dep, err := env.Client.AppsV1().Deployments("ops").Get(context.Background(), "operator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.AvailableReplicas != 2 {
		t.Errorf("%d replicas available, want 2", dep.Status.AvailableReplicas)
	}
}

func TestDatabaseCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a simulated cluster")
	}
	env := kindredtest.Up(t, "testdata/stack.yaml", kindredtest.WithProvider(kindredtest.Sim))
	dsn, err := env.DSN("orders")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dsn, "postgres://kindred:") {
		t.Errorf("DSN %q", dsn)
	}
	// A namespace of its own, deleted when the test ends.
	ns := env.Namespace(t)
	if _, err := env.Client.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}
