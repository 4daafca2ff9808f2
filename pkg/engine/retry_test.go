package engine

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"kindred.dev/kindred/pkg/internal/ready"
)

// Only the API server being away is retried; a step that was not ready in
// time is not, even when its reason reads "connection refused".
func TestRetryOnlyAPIOutages(t *testing.T) {
	outage := fmt.Errorf("Get https://127.0.0.1:6443/api: dial tcp: %w", syscall.ECONNREFUSED)
	if !transient(outage) {
		t.Errorf("an API server that refuses connections is transient: %v", outage)
	}
	late := fmt.Errorf("%w: database orders does not answer: dial tcp 127.0.0.1:5432: connect: connection refused", ready.ErrNotReady)
	if transient(late) {
		t.Errorf("a readiness timeout was taken for an outage: %v", late)
	}
	webhook := errors.New(`installing issuer: Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call webhook: Post "https://cert-manager-webhook.cert-manager.svc:443/validate": dial tcp 10.0.0.7:10250: connect: connection refused`)
	if transient(webhook) {
		t.Errorf("a webhook that refuses connections was taken for an API outage: %v", webhook)
	}
	calls := 0
	_, err := retryTransient(context.Background(), func(string) {}, &outages{}, func() (bool, error) {
		calls++
		return false, late
	})
	if calls != 1 || !errors.Is(err, ready.ErrNotReady) {
		t.Errorf("a readiness timeout ran %d times (%v); once is enough", calls, err)
	}
}

// A kind the API server does not serve, and no CRD is known to define, is
// waited out only after an outage the run saw (its CRDs come back a moment
// after it restarts), in the step that saw it or in another; otherwise it
// fails at once.
func TestRetryMissingKindOnlyAfterAnOutage(t *testing.T) {
	outage := fmt.Errorf("Get https://127.0.0.1:6443/api: dial tcp: %w", syscall.ECONNREFUSED)
	missing := errors.New(`unable to build kubernetes objects from release manifest: resource mapping not found for name: "user" namespace: "" from "": no matches for kind "Widget" in version "test.kindred.dev/v1"`)
	calls := 0
	_, err := retryTransient(context.Background(), func(string) {}, &outages{}, func() (bool, error) {
		calls++
		return false, missing
	})
	if err == nil || calls != 1 {
		t.Errorf("a missing kind with no outage: %d calls, %v", calls, err)
	}
	run := &outages{}
	calls = 0
	_, err = retryTransient(context.Background(), func(string) {}, run, func() (bool, error) {
		calls++
		switch calls {
		case 1:
			return false, outage
		case 2:
			return false, missing
		}
		return true, nil
	})
	if err != nil || calls != 3 {
		t.Errorf("a missing kind after an outage: %d calls, %v", calls, err)
	}
	// Another step of the same run, started after the outage.
	calls = 0
	_, err = retryTransient(context.Background(), func(string) {}, run, func() (bool, error) {
		calls++
		if calls == 1 {
			return false, missing
		}
		return true, nil
	})
	if err != nil || calls != 2 {
		t.Errorf("a missing kind in a step that started after the run's outage: %d calls, %v", calls, err)
	}
}

// A kind its CRD defines is waited out, outage or none: discovery lags
// behind the CRD. One nothing defines fails at once.
func TestRetryMissingKindItsCRDDefines(t *testing.T) {
	missing := errors.New(`unable to build kubernetes objects from release manifest: resource mapping not found for name: "user" namespace: "" from "": no matches for kind "Widget" in version "test.kindred.dev/v1"`)
	for _, tc := range []struct {
		name    string
		defined bool
		err     error
		calls   int
	}{
		{"defined", true, nil, 3},
		{"not defined", false, nil, 1},
		{"the CRDs could not be listed, the API server away", false, fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED), 3},
		{"the CRDs may not be listed", false, errors.New(`customresourcedefinitions.apiextensions.k8s.io is forbidden`), 1},
	} {
		var asked []schema.GroupVersionKind
		o := &outages{defines: func(_ context.Context, gvk schema.GroupVersionKind) (bool, error) {
			asked = append(asked, gvk)
			return tc.defined, tc.err
		}}
		calls := 0
		_, err := retryTransient(context.Background(), func(string) {}, o, func() (bool, error) {
			if calls++; calls < 3 {
				return false, missing
			}
			return true, nil
		})
		if calls != tc.calls || (err == nil) != (tc.calls == 3) {
			t.Errorf("%s: %d calls, %v; want %d", tc.name, calls, err, tc.calls)
		}
		want := schema.GroupVersionKind{Group: "test.kindred.dev", Version: "v1", Kind: "Widget"}
		if len(asked) == 0 || asked[0] != want {
			t.Errorf("%s: asked about %v, want %v", tc.name, asked, want)
		}
	}
}

func TestMissingKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want schema.GroupVersionKind
		ok   bool
	}{
		{errors.New(`no matches for kind "Deployment" in version "v1"`), schema.GroupVersionKind{Version: "v1", Kind: "Deployment"}, true},
		{fmt.Errorf("applying: %w", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "projectcontour.io", Kind: "HTTPProxy"}, SearchedVersions: []string{"v1"}}),
			schema.GroupVersionKind{Group: "projectcontour.io", Version: "v1", Kind: "HTTPProxy"}, true},
		{errors.New(`resource mapping not found for name: "x"`), schema.GroupVersionKind{}, true},
		{errors.New(`deployments.apps "x" not found`), schema.GroupVersionKind{}, false},
	} {
		got, ok := missingKind(tc.err)
		if got != tc.want || ok != tc.ok {
			t.Errorf("missingKind(%q) = %v, %v; want %v, %v", tc.err, got, ok, tc.want, tc.ok)
		}
	}
}
