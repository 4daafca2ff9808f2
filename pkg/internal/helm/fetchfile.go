package helm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kindred.dev/kindred/pkg/internal/securehttp"
)

// ErrDigestMismatch means fetched content is not what its pin says.
var ErrDigestMismatch = errors.New("sha256 mismatch")

// ErrInsecureURL means a URL would be fetched over plain http from a host
// that is not this machine.
var ErrInsecureURL = securehttp.ErrInsecure

// FetchFile returns the file at an https URL (a release's manifests),
// through the same mirror and cache as charts: with a folder mirror, the
// file of the same name there; else the cached copy of a pinned file, or a
// download. With pin (a sha256 in hex) set, content that does not match is
// refused, wherever it came from; a match is cached, so a re-run works
// offline. Plain http is refused but for loopback, and so is a redirect
// from https to http.
func (f *Fetcher) FetchFile(ctx context.Context, u, pin string) ([]byte, error) {
	if f.Mirror != "" && !strings.Contains(f.Mirror, "://") {
		data, err := os.ReadFile(filepath.Join(f.Mirror, filepath.Base(u)))
		if err != nil {
			return nil, err
		}
		return data, Verify(data, pin, filepath.Join(f.Mirror, filepath.Base(u)))
	}
	if err := securehttp.Check(u); err != nil {
		return nil, err
	}
	pin = normalPin(pin)
	if pin != "" && f.CacheDir != "" {
		if data, err := os.ReadFile(f.filePath(pin)); err == nil && sha256Hex(data) == pin {
			return data, nil
		}
	}
	data, err := f.getSecure(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := Verify(data, pin, u); err != nil {
		return nil, err
	}
	if pin != "" && f.CacheDir != "" {
		_ = writeAtomic(f.filePath(pin), data)
	}
	return data, nil
}

func (f *Fetcher) filePath(digest string) string {
	return filepath.Join(f.CacheDir, "files", digest)
}

// Verify checks data against a sha256 pin (hex, "sha256:" optional); an
// empty pin checks nothing. from names the data in the error.
func Verify(data []byte, pin, from string) error {
	pin = normalPin(pin)
	if pin == "" {
		return nil
	}
	if got := sha256Hex(data); got != pin {
		return fmt.Errorf("%w: %s has sha256 %s, the pin says %s", ErrDigestMismatch, from, got, pin)
	}
	return nil
}

// getSecure downloads u over https (see securehttp), at most 256 MiB.
func (f *Fetcher) getSecure(ctx context.Context, u string) ([]byte, error) {
	return securehttp.Get(ctx, f.HTTP, u, 256<<20)
}

func normalPin(pin string) string { return strings.ToLower(strings.TrimPrefix(pin, "sha256:")) }
