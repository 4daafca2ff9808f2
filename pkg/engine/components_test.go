package engine_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/stack"
)

// testCatalog is the built-in catalogue with cert-manager and Contour
// replaced by their real APIs without controllers: the project's
// stand-in cert-manager and tigera-operator charts, and Contour's own CRDs
// from its Go module.
func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/projectcontour/contour").Output()
	if err != nil {
		t.Fatalf("locating the contour module: %v", err)
	}
	crds := filepath.Join(strings.TrimSpace(string(out)), "examples", "contour", "01-crds.yaml")
	charts, _ := filepath.Abs("../../testdata/charts")
	dir := t.TempDir()
	files := map[string]string{
		"cert-manager.yaml": "name: cert-manager\nrole: certificates\nnamespace: cert-manager\nchart: {path: " + charts + "/cert-manager}\nchecks:\n  - {type: crd, name: certificates.cert-manager.io}\n",
		"calico.yaml":       "name: calico\nrole: cni\nnamespace: tigera-operator\nchart: {path: " + charts + "/tigera-operator}\n",
		"contour.yaml":      "name: contour\nrole: ingress\nnamespace: projectcontour\nmanifests:\n  - url: " + crds + "\nchecks:\n  - {type: crd, name: httpproxies.projectcontour.io}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := catalog.Read(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// playControllers stands in for cert-manager and Contour, which cannot run
// on the simulated cluster: it marks Certificates and ClusterIssuers Ready,
// and judges HTTPProxies, refusing hosts that start with "bad.".
func playControllers(ctx context.Context, t *testing.T, kc *kube.Client) {
	gvr := func(g, v, r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: g, Version: v, Resource: r}
	}
	ready := map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Simulated", "message": "played by the test"}}}
	for ctx.Err() == nil {
		for _, res := range []schema.GroupVersionResource{gvr("cert-manager.io", "v1", "certificates"), gvr("cert-manager.io", "v1", "clusterissuers")} {
			list, err := kc.Dynamic.Resource(res).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, item := range list.Items {
				if _, ok := item.Object["status"]; ok {
					continue
				}
				item.Object["status"] = ready
				ri := kc.Dynamic.Resource(res)
				if item.GetNamespace() != "" {
					_, _ = ri.Namespace(item.GetNamespace()).UpdateStatus(ctx, &item, metav1.UpdateOptions{})
				} else {
					_, _ = ri.UpdateStatus(ctx, &item, metav1.UpdateOptions{})
				}
			}
		}
		// The Tigera operator reports Calico Available.
		if list, err := kc.Dynamic.Resource(gvr("operator.tigera.io", "v1", "tigerastatuses")).List(ctx, metav1.ListOptions{}); err == nil {
			for _, item := range list.Items {
				if _, ok := item.Object["status"]; ok {
					continue
				}
				item.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": "True"}}}
				_, _ = kc.Dynamic.Resource(gvr("operator.tigera.io", "v1", "tigerastatuses")).UpdateStatus(ctx, &item, metav1.UpdateOptions{})
			}
		}
		proxies, err := kc.Dynamic.Resource(gvr("projectcontour.io", "v1", "httpproxies")).List(ctx, metav1.ListOptions{})
		if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
			t.Logf("playing Contour: listing: %v", err)
		}
		if err == nil {
			for _, p := range proxies.Items {
				// Contour's CRD defaults the status to NotReconciled.
				if cs, _, _ := unstructured.NestedString(p.Object, "status", "currentStatus"); cs == "valid" || cs == "invalid" {
					continue
				}
				fqdn, _, _ := unstructured.NestedString(p.Object, "spec", "virtualhost", "fqdn")
				status := map[string]any{"currentStatus": "valid", "description": "Valid HTTPProxy"}
				if strings.HasPrefix(fqdn, "bad.") {
					status = map[string]any{"currentStatus": "invalid", "description": "Service [missing:80] is invalid or missing"}
				}
				p.Object["status"] = status
				if _, err := kc.Dynamic.Resource(gvr("projectcontour.io", "v1", "httpproxies")).Namespace(p.GetNamespace()).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
					t.Logf("playing Contour: %v", err)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

const routesStack = `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
cluster:
  networking: {cni: calico, podSubnet: 192.168.0.0/16}
ingress: {}
tls: {issuer: local-ca}
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

// TestIntegrationRoutesAndLocalCA installs cert-manager's and Contour's
// APIs, the local CA issuer with its wildcard certificate, and a route, and
// checks the objects kindred made.
func TestIntegrationRoutesAndLocalCA(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	go playControllers(ctx, t, f.kube)
	charts, _ := filepath.Abs("../../testdata/charts")
	st, err := stack.Parse("shop.yaml", []byte(strings.ReplaceAll(routesStack, "CHARTS", charts)), stack.WithCatalog(testCatalog(t)))
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	cfg := f.config(nil)
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

// TestIntegrationInvalidRoute: Contour's verdict on an invalid HTTPProxy is
// the step's error.
func TestIntegrationInvalidRoute(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	go playControllers(ctx, t, f.kube)
	charts, _ := filepath.Abs("../../testdata/charts")
	data := strings.ReplaceAll(strings.ReplaceAll(routesStack, "CHARTS", charts), "host: api.shop.localhost", "host: bad.shop.localhost")
	st, err := stack.Parse("shop.yaml", []byte(data), stack.WithCatalog(testCatalog(t)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config(nil)
	cfg.CADir = t.TempDir()
	_, err = engine.NewUp(cfg).Run(f.ctx, st)
	var runErr *engine.RunError
	if !errors.As(err, &runErr) || len(runErr.Failed) != 1 || runErr.Failed[0].Step != "route/bad.shop.localhost" ||
		!strings.Contains(runErr.Failed[0].Error(), "invalid: Service [missing:80] is invalid or missing") {
		t.Fatalf("err = %v", err)
	}
}
