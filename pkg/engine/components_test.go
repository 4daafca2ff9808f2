package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/stack"
)

const routesStack = `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
cluster:
  # Written for an existing cluster (the test's simulated one), so the CNI
  # it names goes in, and it asks for the CoreDNS rewrite.
  provider: existing
  networking: {cni: calico, podSubnet: 192.168.0.0/16}
ingress: {clusterDNS: true}
tls: {issuer: local-ca, localCAOnExisting: true}
components:
  - {name: api, namespace: apps, chart: {path: CHARTS/operator}}
routes:
  - host: api.shop.localhost
    service: {name: api, namespace: apps, port: 80}
    protocol: h2c
    healthCheck: {path: /healthz}
    timeout: 30s
    retries: 2
`

// playUpstream has the simulated cluster play the built-in components'
// controllers (the Tigera operator, cert-manager, the real Contour) for
// the test, as the sim provider does for a run.
func playUpstream(t *testing.T, f *fixture) {
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.sim.SimulateControllers(ctx, component.Simulations()); err != nil {
			t.Errorf("simulating the controllers: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// TestIntegrationRoutesAndLocalCA installs Calico, cert-manager and
// Contour from the real upstream artifacts, the local CA issuer with its
// wildcard certificate, and a route, and checks the objects kindred made.
func TestIntegrationRoutesAndLocalCA(t *testing.T) {
	f := newFixture(t)
	playUpstream(t, f)
	charts, _ := filepath.Abs("../../testdata/charts")
	st, err := stack.Parse("shop.yaml", []byte(strings.ReplaceAll(routesStack, "CHARTS", charts)))
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	cfg := f.config(nil)
	cfg.ChartMirror = testbed.Upstream(t)
	cfg.CADir = caDir
	rec := &event.Recorder{}
	cfg.Sink = rec
	// The simulated cluster runs no DNS; give it kubeadm's CoreDNS
	// configuration, for the ingress step to rewrite.
	corefile, err := os.ReadFile("../component/contour/testdata/Corefile")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.Typed.CoreV1().ConfigMaps("kube-system").Create(f.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"}, Data: map[string]string{"Corefile": string(corefile)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.NewUp(cfg).Run(f.ctx, st); err != nil {
		t.Fatalf("up: %v", err)
	}
	expect(t, rec.Final(), allSteps("changed", "calico", "cert-manager", "contour", "issuer", "api", "route/api.shop.localhost"))
	cm, err := f.kube.Typed.CoreV1().ConfigMaps("kube-system").Get(f.ctx, "coredns", metav1.GetOptions{})
	if err != nil || !strings.Contains(cm.Data["Corefile"], `rewrite stop name regex (^|.*\.)shop\.localhost\.$ envoy.projectcontour.svc.cluster.local. answer auto`) {
		t.Errorf("CoreDNS was not pointed at Envoy: %v\n%s", err, cm.Data["Corefile"])
	}

	// Calico's IP pool is the cluster's pod subnet.
	inst, err := f.kube.Get(f.ctx, schema.GroupVersionKind{Group: "operator.tigera.io", Version: "v1", Kind: "Installation"}, "", "default")
	if err != nil {
		t.Fatal(err)
	}
	pools, _, _ := unstructured.NestedSlice(inst.Object, "spec", "calicoNetwork", "ipPools")
	if len(pools) != 1 || pools[0].(map[string]any)["cidr"] != "192.168.0.0/16" {
		t.Errorf("Calico IP pools %v", pools)
	}

	// The CA: generated once, key 0600 on the host; in the cluster, the
	// cluster's own CA, signed by it, and never the root's key.
	info, err := os.Stat(filepath.Join(caDir, "ca.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("CA key: %v %v", info, err)
	}
	caCert, _ := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	caKey, _ := os.ReadFile(filepath.Join(caDir, "ca.key"))
	sec, err := f.kube.Typed.CoreV1().Secrets("cert-manager").Get(f.ctx, "kindred-ca", metav1.GetOptions{})
	if err != nil || string(sec.Data["ca.crt"]) != string(caCert) || !strings.HasSuffix(string(sec.Data["tls.crt"]), string(caCert)) {
		t.Errorf("the CA Secret does not chain to the machine's CA: %v", err)
	}
	if len(sec.Data["tls.key"]) == 0 || strings.Contains(string(sec.Data["tls.key"]), strings.TrimSpace(string(caKey))) {
		t.Error("the root CA's key is in the cluster")
	}
	cert, err := f.kube.Get(f.ctx, schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}, "kindred-system", "kindred-wildcard")
	if err != nil {
		t.Fatal(err)
	}
	names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if strings.Join(names, ",") != "*.shop.localhost,shop.localhost" {
		t.Errorf("wildcard certificate names %v", names)
	}

	// The HTTPProxy, as Contour's typed API builds it.
	proxy, err := f.kube.Get(f.ctx, schema.GroupVersionKind{Group: "projectcontour.io", Version: "v1", Kind: "HTTPProxy"}, "apps", "api-shop-localhost")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"spec.virtualhost.fqdn":           "api.shop.localhost",
		"spec.virtualhost.tls.secretName": "kindred-system/kindred-wildcard-tls",
	} {
		got, _, _ := unstructured.NestedString(proxy.Object, strings.Split(path, ".")...)
		if got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	routes, _, _ := unstructured.NestedSlice(proxy.Object, "spec", "routes")
	route := routes[0].(map[string]any)
	svc := route["services"].([]any)[0].(map[string]any)
	if svc["protocol"] != "h2c" || route["healthCheckPolicy"].(map[string]any)["path"] != "/healthz" ||
		route["timeoutPolicy"].(map[string]any)["response"] != "30s" || route["retryPolicy"].(map[string]any)["count"] != int64(2) {
		t.Errorf("route %v", route)
	}

	// A second machine-wide run reuses the CA: nothing changes.
	rec = &event.Recorder{}
	cfg.Sink = rec
	if _, err := engine.NewUp(cfg).Run(f.ctx, st); err != nil {
		t.Fatal(err)
	}
	expect(t, rec.Final(), allSteps("unchanged", "calico", "cert-manager", "contour", "issuer", "api", "route/api.shop.localhost"))
	if again, _ := os.ReadFile(filepath.Join(caDir, "ca.crt")); string(again) != string(caCert) {
		t.Error("the CA was generated again")
	}
}

// TestIntegrationInvalidRoute: the real Contour's verdict on an invalid
// HTTPProxy (a Service that does not exist) is the step's error.
func TestIntegrationInvalidRoute(t *testing.T) {
	f := newFixture(t)
	playUpstream(t, f)
	charts, _ := filepath.Abs("../../testdata/charts")
	data := strings.ReplaceAll(strings.ReplaceAll(routesStack, "CHARTS", charts), "host: api.shop.localhost", "host: bad.shop.localhost")
	data = strings.Replace(data, "service: {name: api,", "component: api\n    service: {name: missing,", 1)
	st, err := stack.Parse("shop.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config(nil)
	cfg.CADir = t.TempDir()
	cfg.ChartMirror = testbed.Upstream(t)
	_, err = engine.NewUp(cfg).Run(f.ctx, st)
	var runErr *engine.RunError
	if !errors.As(err, &runErr) || len(runErr.Failed) != 1 || runErr.Failed[0].Step != "route/bad.shop.localhost" ||
		!strings.Contains(runErr.Failed[0].Error(), `service "apps/missing" not found`) {
		t.Fatalf("err = %v", err)
	}
}
