package engine

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

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

// A kind the API server does not serve is waited out only after an outage
// the run saw (its CRDs come back a moment after it restarts), in the step
// that saw it or in another; otherwise it fails at once.
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
