package ready_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/internal/testbed"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
)

// The webhook check is ready only when a real webhook answers a dry-run
// create. The webhook is served by the test on loopback and registered with
// the simulated cluster's API server by url.
func TestIntegrationWebhookCheck(t *testing.T) {
	c := testbed.Sim(t)
	kc, err := kube.New(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var allow atomic.Bool
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: allow.Load()}
		if !resp.Allowed {
			resp.Result = &metav1.Status{Message: "the test webhook says no"}
		}
		review.Response = resp
		review.Request = nil
		_ = json.NewEncoder(w).Encode(review)
	}))
	defer srv.Close()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe", Labels: map[string]string{"kindred.dev/webhook-test": "yes"}}}
	if _, err := kc.Typed.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url := srv.URL + "/validate"
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kindred-test"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "probe.kindred.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: ns.Labels},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeout,
		}},
	}
	if _, err := kc.Typed.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kc.Typed.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), vwc.Name, metav1.DeleteOptions{})
	})
	probe := api.Check{Type: api.CheckWebhook, Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "kindred-webhook-probe", "namespace": ns.Name},
	}}

	// A webhook that refuses: not ready, and the reason is the webhook's.
	// check runs the probe once, for about a second: ready, or why not.
	check := func(ctx context.Context, kc *kube.Client, c api.Check) (bool, string) {
		err := ready.RunChecks(ctx, kc, []api.Check{c}, time.Second, func(string) {})
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	}
	var ok bool
	var msg string
	for ctx.Err() == nil {
		if ok, msg = check(ctx, kc, probe); strings.Contains(msg, "the test webhook says no") {
			break
		}
		time.Sleep(200 * time.Millisecond) // the API server picks the configuration up
	}
	if ok || !strings.Contains(msg, "the test webhook says no") {
		t.Fatalf("a refusing webhook: ok=%v %q", ok, msg)
	}
	// One that answers: ready. The dry run created nothing.
	allow.Store(true)
	if ok, msg = check(ctx, kc, probe); !ok {
		t.Fatalf("an answering webhook: %q", msg)
	}
	if _, err := kc.Typed.CoreV1().ConfigMaps(ns.Name).Get(ctx, "kindred-webhook-probe", metav1.GetOptions{}); err == nil {
		t.Error("the dry run created the probe object")
	}
	// One that is down: not ready.
	srv.Close()
	if ok, msg = check(ctx, kc, probe); ok || !strings.Contains(msg, "webhook") {
		t.Fatalf("a webhook that is down: ok=%v %q", ok, msg)
	}
	if calls.Load() < 2 {
		t.Errorf("the webhook was called %d times", calls.Load())
	}
}
