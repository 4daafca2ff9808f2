package engine_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/internal/trust"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/stack"
)

// TestIntegrationDefaultStackUpstream runs the embedded default stack on
// the simulated cluster with the catalogue's real upstream charts and
// manifests (../shared/upstream), the cluster playing their controllers as
// upstream behaves: cold, then a re-run that changes nothing, status
// healthy, the wildcard certificate verified against the local CA, a
// route to a missing Service judged invalid by the real Contour
// controller, and down leaving nothing but what it announces.
func TestIntegrationDefaultStackUpstream(t *testing.T) {
	r := newSimRun(t)
	r.cfg.ChartMirror = testbed.Upstream(t)
	ctx, caDir := r.ctx, r.cfg.CADir
	config := func(sink event.Sink) engine.Config {
		cfg := r.cfg
		cfg.Sink = sink
		return cfg
	}
	st, err := stack.Load("../../stacks/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := func(what string) map[string]string {
		t.Helper()
		rec := &event.Recorder{}
		got := r.upWith(st, rec)
		t.Logf("%s, per step: %s", what, timings(rec))
		return got
	}
	cold := run("cold up")
	for id, s := range cold {
		if s != "changed" && id != "prune" {
			t.Errorf("cold up: step %s %s", id, s)
		}
	}
	for id, s := range run("re-run") {
		if s != "unchanged" {
			t.Errorf("re-run: step %s %s, want unchanged", id, s)
		}
	}

	rep, err := engine.NewStatus(config(nil)).Run(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != len(cold)-2 { // cluster and prune are not recorded
		t.Errorf("status has %d steps, want %d", len(rep.Steps), len(cold)-2)
	}
	for _, s := range rep.Steps {
		if !s.Healthy {
			t.Errorf("status: %s unhealthy: %s", s.ID, s.Message)
		}
		if s.Kind == "database" && !strings.Contains(s.Message, "skipped: login check") {
			t.Errorf("status of %s does not say its login check was skipped: %s", s.ID, s.Message)
		}
	}

	kc := r.kube(st)
	verifyWildcard(ctx, t, kc, caDir, "echo."+st.Ingress.Domain)

	// cert-manager's webhook answers: what it refuses (a Certificate that
	// names nothing, which the CRD's schema allows) is refused; what it
	// allows goes in.
	nameless := kube.Object("cert-manager.io/v1", "Certificate", "demo", "nameless", map[string]any{"spec": map[string]any{
		"secretName": "nameless-tls", "issuerRef": map[string]any{"name": "kindred", "kind": "ClusterIssuer"}}})
	if _, err := kc.Apply(ctx, nameless); err == nil || !strings.Contains(err.Error(), "at least one of commonName") {
		t.Errorf("a Certificate that names nothing: err = %v, want the webhook's refusal", err)
	}
	named := kube.Object("cert-manager.io/v1", "Certificate", "demo", "named", map[string]any{"spec": map[string]any{
		"secretName": "named-tls", "dnsNames": []any{"named." + st.Ingress.Domain}, "issuerRef": map[string]any{"name": "kindred", "kind": "ClusterIssuer"}}})
	if _, err := kc.Apply(ctx, named); err != nil {
		t.Errorf("a valid Certificate: %v", err)
	}

	// A route to a Service that does not exist: the real Contour says so.
	ghost := *st
	ghost.Routes = append(slices.Clone(st.Routes), api.Route{Host: "ghost." + st.Ingress.Domain, Component: "demo",
		Service: api.ServiceRef{Name: "missing", Namespace: "demo", Port: 80}})
	_, err = engine.NewUp(config(nil)).Run(ctx, &ghost)
	var runErr *engine.RunError
	if !errors.As(err, &runErr) || len(runErr.Failed) != 1 || !strings.Contains(runErr.Failed[0].Error(), `service "demo/missing" not found`) {
		t.Errorf("a route to a missing Service: %v", err)
	}

	// down: nothing left but what it announces.
	rec := &event.Recorder{}
	if _, err := engine.NewDown(config(rec)).Run(ctx, &ghost); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range rec.Events() {
		if e.Type == event.Finished {
			notes = e.Notes
		}
	}
	announced := strings.Join(notes, "\n")
	nss, err := kc.Typed.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		n := ns.Name
		if n == "default" || n == engine.SystemNamespace || strings.HasPrefix(n, "kube-") || ns.DeletionTimestamp != nil {
			continue
		}
		if !strings.Contains(announced, n) {
			t.Errorf("down left namespace %s without saying so", n)
		}
	}
	crds, err := kc.Dynamic.Resource(crdResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crds.Items {
		if !strings.Contains(announced, c.GetName()) {
			t.Errorf("down left CRD %s without saying so", c.GetName())
		}
	}
	if len(crds.Items) == 0 || !strings.Contains(announced, fmt.Sprintf("%d CustomResourceDefinitions", len(crds.Items))) {
		t.Errorf("down's notes do not count the %d CRDs it left: %q", len(crds.Items), announced)
	}
	releases, err := kc.Typed.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil || len(releases.Items) != 0 {
		t.Errorf("down left %d helm releases (%v)", len(releases.Items), err)
	}
}

// verifyWildcard checks the route's certificate with Go's verifier: the
// chain in the Secret cert-manager wrote, up to the machine's local CA.
func verifyWildcard(ctx context.Context, t *testing.T, kc *kube.Client, caDir, host string) {
	t.Helper()
	s, err := kc.Typed.CoreV1().Secrets("kindred-system").Get(ctx, "kindred-wildcard-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the wildcard certificate's Secret: %v", err)
	}
	var chain []*x509.Certificate
	for rest := s.Data["tls.crt"]; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 || len(s.Data["tls.key"]) == 0 {
		t.Fatalf("the Secret holds %d certificates and a %d-byte key", len(chain), len(s.Data["tls.key"]))
	}
	root, err := trust.LoadCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}); err != nil {
		t.Errorf("the wildcard certificate does not verify for %s against the local CA: %v", host, err)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: "accounts.google.com", Roots: roots, Intermediates: inter}); err == nil {
		t.Error("the wildcard certificate verifies for a name outside the stack's domain")
	}
}

// timings lists each step's time, slowest first.
func timings(rec *event.Recorder) string {
	type st struct {
		id string
		d  time.Duration
	}
	var all []st
	for _, e := range rec.Events() {
		if e.Type == event.StepSucceeded || e.Type == event.StepFailed {
			all = append(all, st{e.Step, e.Elapsed})
		}
		if e.Type == event.Finished {
			all = append(all, st{"(total)", e.Elapsed})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].d > all[j].d })
	var b strings.Builder
	for i, s := range all {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", s.id, s.d.Round(time.Millisecond))
	}
	return b.String()
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// TestIntegrationPrometheusAnyName installs the real prometheus chart as
// the README's example names it ({name: monitoring, use: prometheus}):
// the chart calls its server monitoring-prometheus-server, which the
// catalogue's check finds through the release, and the server's 8Gi
// volume is bound by the simulated cluster's local-path provisioner.
func TestIntegrationPrometheusAnyName(t *testing.T) {
	r := newSimRun(t)
	r.cfg.ChartMirror = testbed.Upstream(t)
	st, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: metrics}
components:
  - {name: monitoring, use: prometheus}
`))
	if err != nil {
		t.Fatal(err)
	}
	r.up(st)
	kc := r.kube(st)
	ctx := r.ctx
	if _, err := kc.Typed.AppsV1().Deployments("monitoring").Get(ctx, "monitoring-prometheus-server", metav1.GetOptions{}); err != nil {
		t.Errorf("the chart's server: %v", err)
	}
	pvc, err := kc.Typed.CoreV1().PersistentVolumeClaims("monitoring").Get(ctx, "monitoring-prometheus-server", metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != "Bound" {
		t.Errorf("the server's volume claim: %v, phase %v", err, pvc.Status.Phase)
	}
}
