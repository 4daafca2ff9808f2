package stack

import (
	"os"
	"path/filepath"
	"testing"
)

// YAML merge keys work as yaml.v3 reads them: the merged mapping's keys
// count where the mapping does not set them; an x- key at the top is a
// place for the anchor.
func TestMergeKeys(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "kindred.yaml")
	data := `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
x-base: &base {namespace: apps, manifests: [x.yaml]}
components:
  - {<<: *base, name: web}
  - <<: [*base]
    name: api
    namespace: other
`
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	got := st.Components
	if len(got) != 2 || got[0].Namespace != "apps" || len(got[0].Manifests) != 1 || got[1].Namespace != "other" || len(got[1].Manifests) != 1 {
		t.Errorf("components: %+v", got)
	}
}
