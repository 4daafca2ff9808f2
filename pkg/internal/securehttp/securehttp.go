// Package securehttp downloads over https only (plain http to this
// machine excepted), holding every redirect to the same rule, and bounded
// in size. Charts, manifests and the simulated cluster's release binaries
// all come through it.
package securehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// ErrInsecure means a URL, or a redirect, would be fetched over plain http
// from a host that is not this machine.
var ErrInsecure = errors.New("not fetched over https")

// Check allows https, and http to this machine only.
func Check(raw string) error {
	if api.SecureURL(raw) {
		return nil
	}
	return fmt.Errorf("%w: %s (use https)", ErrInsecure, raw)
}

// Get fetches u with client (nil: http.DefaultClient), refusing an
// insecure URL or redirect, a status other than 200, and a body larger
// than limit bytes.
func Get(ctx context.Context, client *http.Client, u string, limit int64) ([]byte, error) {
	if err := Check(u); err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	held := *client
	held.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return Check(req.URL.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := held.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: larger than %d MiB", u, limit>>20)
	}
	return data, nil
}
