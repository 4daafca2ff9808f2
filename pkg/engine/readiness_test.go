package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/sim"
)

// writeStack writes a stack and its files into a temporary folder.
func writeStack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "stack.yaml")
}

// A custom resource whose controller has not written a status is not
// ready: with no controller the step times out naming it, and its
// dependant never starts; once a controller marks it Ready after a delay,
// the dependant starts only after that.
func TestIntegrationCustomResourceWaitsForItsController(t *testing.T) {
	f := newBareFixture(t)
	charts, _ := filepath.Abs("../../testdata/charts")
	path := writeStack(t, map[string]string{
		"stack.yaml": `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: crs}
components:
  - {name: widgets, namespace: widgets, chart: {path: ` + charts + `/widgets}, timeout: 3s}
  - {name: after, namespace: widgets, manifests: [cm.yaml], needs: [widgets]}
`,
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n",
	})
	got, err := f.up(load(t, path, nil))
	var runErr *engine.RunError
	if !errors.As(err, &runErr) || len(runErr.Failed) != 1 || !strings.Contains(runErr.Failed[0].Error(), "Widget widgets/widgets-default (no status yet") {
		t.Fatalf("with no controller: %v", err)
	}
	if got["after"] != "skipped" {
		t.Errorf("the dependant ran: %v", got)
	}

	testbed.PlayWidgets(t, f.sim, 1500*time.Millisecond)
	rec := &event.Recorder{}
	if _, err := engine.NewUp(f.config(rec)).Run(f.ctx, load(t, path, nil)); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range rec.Events() {
		if e.Step == "widgets" || e.Step == "after" {
			order = append(order, fmt.Sprintf("%s %s +%s", e.Type, e.Step, e.Time.Sub(rec.Events()[0].Time).Round(100*time.Millisecond)))
		}
	}
	t.Logf("events: %s", strings.Join(order, ", "))
	succeeded, started := -1, -1
	for i, e := range rec.Events() {
		if e.Type == event.StepSucceeded && e.Step == "widgets" {
			succeeded = i
		}
		if e.Type == event.StepStarted && e.Step == "after" {
			started = i
		}
	}
	if succeeded < 0 || started < succeeded {
		t.Errorf("the dependant started (event %d) before the custom resource was ready (event %d)", started, succeeded)
	}
}

// A custom resource whose CRD has no status subresource is ready once
// applied, and progress says there is no status to wait for.
func TestIntegrationCustomResourceWithoutStatus(t *testing.T) {
	f := newBareFixture(t)
	path := writeStack(t, map[string]string{
		"stack.yaml": `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: nostatus}
components:
  - {name: crd, manifests: [crd.yaml]}
  - {name: cr, namespace: notes, manifests: [cr.yaml], needs: [crd], timeout: 20s}
`,
		"crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: notes.test.kindred.dev}
spec:
  group: test.kindred.dev
  scope: Namespaced
  names: {kind: Note, plural: notes, singular: note, listKind: NoteList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
		"cr.yaml": "apiVersion: test.kindred.dev/v1\nkind: Note\nmetadata: {name: hello}\nspec: {text: hi}\n",
	})
	rec := &event.Recorder{}
	if _, err := engine.NewUp(f.config(rec)).Run(f.ctx, load(t, path, nil)); err != nil {
		t.Fatal(err)
	}
	said := false
	for _, e := range rec.Events() {
		said = said || (e.Step == "cr" && e.Type == event.StepProgress && strings.Contains(e.Message, "no status to wait for"))
	}
	if !said {
		t.Error("progress did not say the Note has no status to wait for")
	}
}

// An APIService is ready only when Available: one whose backend never
// answers is not, one whose backend answers is.
func TestIntegrationAPIServiceAvailable(t *testing.T) {
	f := newBareFixture(t)
	path := writeStack(t, map[string]string{
		"stack.yaml": `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: apis}
components:
  - {name: metrics, namespace: metrics, manifests: [metrics.yaml], timeout: 8s}
`,
		"metrics.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics, namespace: metrics}
spec:
  selector: {matchLabels: {app: metrics-test}}
  template:
    metadata: {labels: {app: metrics-test}}
    spec: {containers: [{name: server, image: example.test/metrics:1, ports: [{containerPort: 8443}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: metrics, namespace: metrics}
spec:
  selector: {app: metrics-test}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.test.kindred.dev}
spec:
  group: metrics.test.kindred.dev
  version: v1beta1
  service: {name: metrics, namespace: metrics, port: 443}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
`,
	})
	_, err := f.up(load(t, path, nil))
	if err == nil || !strings.Contains(err.Error(), "APIService v1beta1.metrics.test.kindred.dev (Available=False") {
		t.Fatalf("an APIService whose backend does not answer: err = %v", err)
	}

	// Now something answers in the pod: the API server finds it Available.
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.sim.SimulateControllers(ctx, []sim.Controller{{Name: "metrics-test", Run: func(ctx context.Context, h *sim.Host) error {
			h.ServePods(metricsServer(t))
			<-ctx.Done()
			return nil
		}}})
	}()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := f.up(load(t, path, nil)); err != nil {
		t.Fatalf("an APIService whose backend answers: %v", err)
	}
}

// metricsServer answers the API server's discovery of the test API from
// the metrics-test pods, over TLS.
func metricsServer(t *testing.T) sim.PodServer {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "metrics.metrics.svc"},
		DNSNames: []string{"metrics.metrics.svc"}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/apis/metrics.test.kindred.dev/v1beta1", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"metrics.test.kindred.dev/v1beta1","resources":[]}`)
	})
	return sim.PodServer{
		Name:    "metrics test server",
		Accepts: func(pod *corev1.Pod, port int) bool { return pod.Labels["app"] == "metrics-test" && port == 8443 },
		Serve: func(_ *corev1.Pod, conn net.Conn) {
			sim.ServeHTTP(conn, &tls.Config{Certificates: []tls.Certificate{cert}}, mux)
		},
	}
}

// Drift is repaired: a Deployment of an installed chart deleted by hand,
// or scaled by hand, is unhealthy in status; up restores it and reports
// "repaired"; a further up does nothing.
func TestIntegrationChartDriftRepaired(t *testing.T) {
	f := newFixture(t)
	charts, _ := filepath.Abs("../../testdata/charts")
	path := writeStack(t, map[string]string{"stack.yaml": `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: drift}
components:
  - {name: op, namespace: ops, chart: {path: ` + charts + `/operator}, values: {replicas: 2}}
`})
	st := load(t, path, nil)
	if _, err := f.up(st); err != nil {
		t.Fatal(err)
	}
	deployments := f.kube.Typed.AppsV1().Deployments("ops")
	for _, tamper := range []struct {
		what string
		do   func() error
	}{
		{"deleted", func() error { return deployments.Delete(f.ctx, "op", metav1.DeleteOptions{}) }},
		{"changed", func() error {
			_, err := deployments.Patch(f.ctx, "op", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
			return err
		}},
	} {
		if err := tamper.do(); err != nil {
			t.Fatal(err)
		}
		rep, err := engine.NewStatus(f.config(nil)).Run(f.ctx, st)
		if err != nil || len(rep.Steps) != 1 || rep.Steps[0].Healthy || !strings.Contains(rep.Steps[0].Message, "Deployment ops/op") {
			t.Errorf("status after the Deployment was %s: %v %+v", tamper.what, err, rep)
		}
		began := time.Now()
		got, err := f.up(st)
		if err != nil || got["op"] != "repaired" {
			t.Fatalf("up after the Deployment was %s: %v, %v", tamper.what, got, err)
		}
		t.Logf("up repaired a Deployment %s by hand in %s", tamper.what, time.Since(began).Round(time.Millisecond))
		d, err := deployments.Get(f.ctx, "op", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 2 {
			t.Errorf("after the repair: %v, replicas %v", err, d)
		}
		if got, err := f.up(st); err != nil || got["op"] != "unchanged" {
			t.Errorf("the run after the repair: %v, %v", got, err)
		}
	}
}
