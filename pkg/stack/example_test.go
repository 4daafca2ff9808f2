package stack_test

import (
	"errors"
	"fmt"

	"kindred.dev/kindred/pkg/stack"
)

// Loading fills in defaults, such as the cluster's name and subnets.
func ExampleParse() {
	st, err := stack.Parse("stack.yaml", []byte(`
apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
cluster:
  nodes:
    - role: control-plane
    - role: worker
      count: 2
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.Cluster.Name, st.Cluster.Networking.PodSubnet, len(st.Cluster.Nodes))
	// Output: shop 10.244.0.0/16 2
}

// A problem names the file, line and column, and suggests a fix.
func ExampleParse_problems() {
	_, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
cluster:
  nodez: []
`))
	var problems stack.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Println(p)
		}
	}
	// Output:
	// stack.yaml:5:3: cluster.nodez: unknown field "nodez" (did you mean "nodes"?)
}
