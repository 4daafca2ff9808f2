package catalog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/catalog"
)

// Every manifest the built-in catalogue fetches by URL is pinned by
// digest, over https, to a release tag; and the pin is the digest of the
// real upstream file the tests use (the mirror file of the same name), so
// the pin is checked, not just declared.
func TestManifestsArePinned(t *testing.T) {
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	upstream := testbed.Upstream(t)
	pinned := 0
	for _, name := range c.Names() {
		e, _ := c.Get(name)
		for _, m := range e.Manifests {
			if !strings.HasPrefix(m.URL, "https://") {
				t.Errorf("%s: %s is not https", name, m.URL)
			}
			if len(m.SHA256) != 64 {
				t.Errorf("%s: %s has no sha256 pin", name, m.URL)
				continue
			}
			if e.Version != "" && !strings.Contains(m.URL, "/"+e.Version+"/") {
				t.Errorf("%s: %s is not the release %s the entry names", name, m.URL, e.Version)
			}
			data, err := os.ReadFile(filepath.Join(upstream, path.Base(m.URL)))
			if err != nil {
				t.Errorf("%s: the real upstream file: %v", name, err)
				continue
			}
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
				t.Errorf("%s: the real upstream %s has sha256 %s, the catalogue pins %s", name, path.Base(m.URL), got, m.SHA256)
			}
			pinned++
		}
	}
	if pinned == 0 {
		t.Error("no manifest in the catalogue was checked")
	}
}
