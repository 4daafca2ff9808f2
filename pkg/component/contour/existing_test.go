package contour

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// On a cluster kindred did not create, Envoy is not pinned to an
// ingress-ready node (there is none) and takes no host ports, and CoreDNS, which serves every pod
// of the cluster, is left alone unless the stack asks with
// ingress.clusterDNS; a rewrite an earlier run made is taken out.
func TestExistingClusterIsNotKindredsToChange(t *testing.T) {
	orig, err := os.ReadFile("testdata/Corefile")
	if err != nil {
		t.Fatal(err)
	}
	envoy := func() *unstructured.Unstructured {
		return kube.Object("apps/v1", "DaemonSet", Namespace, "envoy", map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "envoy", "ports": []any{map[string]any{"containerPort": int64(8080), "hostPort": int64(80)}}}}}}}})
	}
	yes := true
	for _, c := range []struct {
		name       string
		existing   bool
		clusterDNS *bool
		pinned     bool
		rewrite    bool
	}{
		{"kind", false, nil, true, true},
		{"existing", true, nil, false, false},
		{"existing, asked", true, &yes, false, true},
	} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: corednsConfigMap, Namespace: corednsNamespace}, Data: map[string]string{"Corefile": string(orig)}}
		kc := &kube.Client{Typed: fake.NewSimpleClientset(cm)}
		ctx := context.Background()
		if _, err := ensureDNSRewrite(ctx, kc, "old.localhost"); err != nil { // an earlier run's
			t.Fatal(err)
		}
		st := &stack.Stack{}
		st.Ingress = &api.Ingress{Controller: ID, Domain: "shop.localhost", ClusterDNS: c.clusterDNS}
		var said []string
		env := &component.Env{Stack: st, Step: &plan.Step{ID: ID, Kind: plan.KindComponent}, Kube: kc,
			Access: cluster.Access{Existing: c.existing}, Progress: func(s string) { said = append(said, s) }}
		obj := envoy()
		if err := (Contour{}).Patch(env, []*unstructured.Unstructured{obj}); err != nil {
			t.Fatal(err)
		}
		_, pinned, _ := unstructured.NestedString(obj.Object, "spec", "template", "spec", "nodeSelector", api.IngressReadyLabel)
		if pinned != c.pinned {
			t.Errorf("%s: Envoy pinned %v, want %v", c.name, pinned, c.pinned)
		}
		containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		_, hostPort := containers[0].(map[string]any)["ports"].([]any)[0].(map[string]any)["hostPort"]
		if hostPort == c.existing {
			t.Errorf("%s: Envoy keeps host port %v, want %v", c.name, hostPort, !c.existing)
		}
		res, err := (Contour{}).Finish(ctx, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := kc.Typed.CoreV1().ConfigMaps(corednsNamespace).Get(ctx, corednsConfigMap, metav1.GetOptions{})
		rewritten := strings.Contains(got.Data["Corefile"], `shop\.localhost`)
		if rewritten != c.rewrite || (res.DNSRewrite != "") != c.rewrite {
			t.Errorf("%s: CoreDNS rewritten %v (recorded %q), want %v; said %v", c.name, rewritten, res.DNSRewrite, c.rewrite, said)
		}
		if !c.rewrite && got.Data["Corefile"] != string(orig) {
			t.Errorf("%s: the earlier run's rewrite stayed:\n%s", c.name, got.Data["Corefile"])
		}
	}
}
