package engine

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"kindred.dev/kindred/pkg/internal/ready"
)

// outages remembers that a run saw the API server away. Just after it
// restarts, the kinds its CRDs serve are missing from discovery for a
// moment, and a step that starts then saw no outage of its own: so a kind
// not found is waited out in every step of a run that saw one.
type outages struct{ seen atomic.Bool }

// retryTransient runs fn again, with backoff, while it fails because the
// API server is briefly away (a restart, an overload), so a run rides out
// an outage instead of failing. After an outage (in o, the run's), a kind
// not found is waited out too. Other errors return at once.
func retryTransient(ctx context.Context, progress func(string), o *outages, fn func() (bool, error)) (bool, error) {
	delay := time.Second
	changedAny := false
	for attempt := 1; ; attempt++ {
		changed, err := fn()
		changedAny = changedAny || changed
		if err == nil || attempt == 6 || ctx.Err() != nil {
			return changedAny, err
		}
		if transient(err) {
			o.seen.Store(true)
		} else if !o.seen.Load() || !missingKind(err) {
			return changedAny, err
		}
		progress("the API server did not answer (" + firstLine(err.Error()) + "); retrying")
		select {
		case <-ctx.Done():
			return changedAny, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 8*time.Second)
	}
}

// missingKind reports whether err is a kind the API server does not serve.
func missingKind(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no matches for kind") || strings.Contains(msg, "resource mapping not found")
}

// transient reports whether err means the API server was briefly away. A
// step that was not ready in time is never transient, whatever its reason
// says (a database's "connection refused" is the database's, not the API
// server's): retrying it would only wait out its timeout again.
func transient(err error) bool {
	if errors.Is(err, ready.ErrNotReady) {
		return false
	}
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	// helm and client-go sometimes flatten errors into text. A webhook that
	// does not answer is the webhook's fault, not the API server's: the
	// API server answered, with that refusal.
	msg := err.Error()
	if strings.Contains(msg, "failed calling webhook") || strings.Contains(msg, "failed to call webhook") {
		return false
	}
	for _, s := range []string{"connection refused", "connection reset", "http2: client connection lost",
		"the server is currently unable to handle the request", "unexpected EOF", "TLS handshake timeout",
		"i/o timeout", "etcdserver: leader changed", "the server has received too many requests"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
