package kindredtest_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/kindredtest"
)

// In a test: a cluster with the stack installed and ready, shared with every
// test that asks for the same stack, and a namespace of the test's own.
func ExampleUp() {
	var t *testing.T // the test's own *testing.T

	env := kindredtest.Up(t, "testdata/stack.yaml", kindredtest.WithProvider(kindredtest.Sim))
	ns := env.Namespace(t)
	pods, err := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pods in %s", len(pods.Items), ns)
}

// On a kind cluster, an image built locally is loaded into every node.
func ExampleEnv_LoadImage() {
	var t *testing.T // the test's own *testing.T

	env := kindredtest.Up(t, "testdata/stack.yaml") // kind is the default provider
	if err := env.LoadImage("example.test/myapp:dev"); err != nil {
		t.Fatal(err)
	}
}
