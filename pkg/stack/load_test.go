package stack_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/pkg/stack"
)

func env(m map[string]string) stack.Option {
	return stack.WithEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func TestIncludeOverlay(t *testing.T) {
	st, err := stack.Load("testdata/laptop/overlay.yaml", env(map[string]string{"API_NS": "apps"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Cluster.Name; got != "shop-dev" {
		t.Errorf("cluster name %q, want the ${CLUSTER_NAME:-shop-dev} default", got)
	}
	if st.Cluster.KubernetesVersion != "v1.35.4" || st.Cluster.Networking.CNI != "calico" {
		t.Errorf("the base's cluster fields were lost: %+v", st.Cluster)
	}
	// Node groups have no name, so the overlay's list replaces the base's.
	if n := len(st.Cluster.Nodes); n != 1 {
		t.Errorf("%d node groups, want the overlay's 1", n)
	}
	if len(st.Components) != 2 {
		t.Fatalf("components %+v, want mon merged and api added", st.Components)
	}
	mon := st.Components[0]
	if mon.Use != "prometheus" || mon.Values["server"].(map[string]any)["retention"] != "1d" {
		t.Errorf("mon was not merged item by item: %+v", mon)
	}
	// Paths resolve against the file that wrote them.
	if want := filepath.Join("testdata", "include", "values", "mon.yaml"); mon.ValuesFiles[0] != want {
		t.Errorf("values file %q, want %q", mon.ValuesFiles[0], want)
	}
	api := st.Components[1]
	if want := filepath.Join("testdata", "laptop", "chart"); api.Chart.Path != want {
		t.Errorf("chart path %q, want %q", api.Chart.Path, want)
	}
	if api.Namespace != "apps" {
		t.Errorf("namespace %q, want ${API_NS} expanded", api.Namespace)
	}
	// Positions point into the file that wrote each field.
	if p := st.Pos("components[0].use"); !strings.HasSuffix(p.File, "base.yaml") || p.Line != 15 {
		t.Errorf("components[0].use at %v, want base.yaml:15", p)
	}
	if p := st.Pos("components[1].chart.path"); !strings.HasSuffix(p.File, "overlay.yaml") {
		t.Errorf("components[1].chart.path at %v, want overlay.yaml", p)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := stack.Parse("x.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: x}
cluster:
  nodez: []
  networking: {cni: weave, podSubnet: nope}
components:
  - {name: a, use: nothing}
`), env(nil))
	var ps stack.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	// The unknown field, and every value problem of what did decode, at
	// once...
	if len(ps) != 4 || !strings.Contains(ps[0].Error(), "x.yaml:5:3: ") || !strings.Contains(ps.Error(), `invalid value "weave"`) || !strings.Contains(ps.Error(), `"nothing"`) {
		t.Fatalf("problems %v", ps)
	}
	// ...and with it fixed, the same semantic problems.
	_, err = stack.Parse("x.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: x}
cluster:
  networking: {cni: weave, podSubnet: nope}
components:
  - {name: a, use: nothing}
`), env(nil))
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("err = %v, want 3 problems", err)
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}-${B}", want: "a-b"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${UNSET:-}", want: ""},
		{in: "$$", want: "$"},
		{in: "cost: $5", want: "cost: $5"},
		{in: "${UNSET}", err: "variable UNSET is not set"},
		{in: "${A", err: "unterminated"},
		{in: "${1X}", err: "invalid variable name"},
	} {
		data := "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: x, labels: {v: \"" + tc.in + "\"}}\n"
		st, err := stack.Parse("x.yaml", []byte(data), env(map[string]string{"A": "a", "B": "b", "EMPTY": ""}))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
		case err != nil && strings.Contains(err.Error(), "label value"):
			// Some expansions are not valid label values; the expansion
			// itself worked.
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case st.Metadata.Labels["v"] != tc.want:
			t.Errorf("%q expanded to %q, want %q", tc.in, st.Metadata.Labels["v"], tc.want)
		}
	}
}

func TestNumberFromVariable(t *testing.T) {
	st, err := stack.Parse("x.yaml", []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: x}\ningress:\n  hostPorts:\n    http: ${HTTP_PORT}\n"), env(map[string]string{"HTTP_PORT": "8080"}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Ingress.HostPorts.HTTP != 8080 || st.Ingress.HostPorts.HTTPS != 443 {
		t.Errorf("host ports %+v", st.Ingress.HostPorts)
	}
	if st.Ingress.Domain != "x.localhost" {
		t.Errorf("default domain %q, want x.localhost", st.Ingress.Domain)
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	st, err := stack.Builtin("default.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	before := st.Stack
	stack.Default(&st.Stack)
	if before.Cluster.Networking != st.Cluster.Networking || len(before.Routes) != len(st.Routes) {
		t.Error("Default changed a defaulted stack")
	}
	if st.Cluster.Networking.PodSubnet != "192.168.0.0/16" {
		t.Errorf("pod subnet %q", st.Cluster.Networking.PodSubnet)
	}
}
