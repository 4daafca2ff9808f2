package engine

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"kindred.dev/kindred/pkg/internal/ready"
)

// outages is what a run knows when it decides whether to wait out a kind
// the API server says it does not serve. Discovery lags behind a CRD just
// created and behind an API server just restarted, so for a moment a kind
// its CRD defines is not found.
type outages struct {
	// seen: the run saw the API server away. After it, a kind not found
	// is waited out in every step, even one that saw no outage of its own
	// (and even where the run may not list CRDs).
	seen atomic.Bool
	// defines reports whether a CRD on the cluster serves a kind; nil
	// where the run has no cluster to ask.
	defines func(context.Context, schema.GroupVersionKind) (bool, error)
}

// waitsOut reports whether a missing kind in err is worth waiting for:
// after an outage, or while a CRD on the cluster defines it.
func (o *outages) waitsOut(ctx context.Context, err error) bool {
	gvk, ok := missingKind(err)
	switch {
	case !ok:
		return false
	case o.seen.Load():
		return true
	case o.defines == nil || gvk.Kind == "":
		return false
	}
	defined, derr := o.defines(ctx, gvk)
	if derr != nil && transient(derr) {
		o.seen.Store(true)
		return true
	}
	return defined
}

// retryTransient runs fn again, with backoff, while it fails because the
// API server is briefly away (a restart, an overload), so a run rides out
// an outage instead of failing; and while it fails on a kind discovery
// does not serve yet (o.waitsOut). Other errors return at once.
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
			progress("the API server did not answer (" + firstLine(err.Error()) + "); retrying")
		} else if o.waitsOut(ctx, err) {
			progress("the API server does not serve the kind yet (" + firstLine(err.Error()) + "); retrying")
		} else {
			return changedAny, err
		}
		select {
		case <-ctx.Done():
			return changedAny, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 8*time.Second)
	}
}

// noMatch is how client-go words a kind it cannot map, wherever helm or
// kubectl flattened the error into text.
var noMatch = regexp.MustCompile(`no matches for kind "([^"]+)" in version "([^"]*)"`)

// missingKind reports whether err is a kind the API server does not
// serve, and which (its Kind empty where the error does not say).
func missingKind(err error) (schema.GroupVersionKind, bool) {
	var nm *meta.NoKindMatchError
	if errors.As(err, &nm) {
		return nm.GroupKind.WithVersion(firstOr(nm.SearchedVersions)), true
	}
	msg := err.Error()
	if m := noMatch.FindStringSubmatch(msg); m != nil {
		gv, perr := schema.ParseGroupVersion(m[2])
		if perr != nil {
			return schema.GroupVersionKind{}, true
		}
		return gv.WithKind(m[1]), true
	}
	return schema.GroupVersionKind{}, strings.Contains(msg, "resource mapping not found")
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
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
