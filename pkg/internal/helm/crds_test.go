package helm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/internal/testbed"
)

// writeChart writes a chart folder of files under dir/name and returns it.
func writeChart(t *testing.T, dir, name string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(dir, name)
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const gadgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.test.kindred.dev}
spec:
  group: test.kindred.dev
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// TestIntegrationUpgradeAddsCRDs upgrades a release from a chart version
// without a CRD to one whose crds/ folder adds it and whose templates use
// it, as a Calico or cert-manager bump does. helm alone installs crds/
// only on first install, so the upgrade failed with "no matches for kind".
func TestIntegrationUpgradeAddsCRDs(t *testing.T) {
	testbed.Integration(t)
	f := newFixture(t)
	dir := t.TempDir()
	v1 := writeChart(t, dir, "v1/gizmo", map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: gizmo\nversion: 1.0.0\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gizmo}\ndata: {v: \"1\"}\n",
	})
	v2 := writeChart(t, dir, "v2/gizmo", map[string]string{
		"Chart.yaml":            "apiVersion: v2\nname: gizmo\nversion: 2.0.0\n",
		"crds/gadgets.yaml":     gadgetCRD,
		"templates/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gizmo}\ndata: {v: \"2\"}\n",
		"templates/gadget.yaml": "apiVersion: test.kindred.dev/v1\nkind: Gadget\nmetadata: {name: first}\nspec: {size: 2}\n",
	})
	f.ensure(Release{Name: "gizmo", Namespace: "gizmo", Chart: ChartRef{Path: v1}}, ActionInstall)
	f.ensure(Release{Name: "gizmo", Namespace: "gizmo", Chart: ChartRef{Path: v2}}, ActionUpgrade)
	if _, err := f.kube.Get(f.ctx, schema.GroupVersionKind{Group: "test.kindred.dev", Version: "v1", Kind: "Gadget"}, "gizmo", "first"); err != nil {
		t.Fatalf("the Gadget of the upgraded chart: %v", err)
	}

	// A later version changes the CRD (a new printer column): the upgrade
	// updates it in place; the CRD is never deleted.
	v3 := writeChart(t, dir, "v3/gizmo", map[string]string{
		"Chart.yaml":            "apiVersion: v2\nname: gizmo\nversion: 3.0.0\n",
		"crds/gadgets.yaml":     strings.Replace(gadgetCRD, "    storage: true\n", "    storage: true\n    additionalPrinterColumns: [{name: Size, type: integer, jsonPath: .spec.size}]\n", 1),
		"templates/gadget.yaml": "apiVersion: test.kindred.dev/v1\nkind: Gadget\nmetadata: {name: first}\nspec: {size: 3}\n",
	})
	f.ensure(Release{Name: "gizmo", Namespace: "gizmo", Chart: ChartRef{Path: v3}}, ActionUpgrade)
	crd, err := f.kube.Dynamic.Resource(crdGVR).Get(f.ctx, "gadgets.test.kindred.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(func() string { b, _ := crd.MarshalJSON(); return string(b) }(), `"jsonPath":".spec.size"`) {
		t.Error("the upgrade did not update the CRD")
	}
	if err := f.client.Uninstall(f.ctx, "gizmo", "gizmo", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.Dynamic.Resource(crdGVR).Get(f.ctx, "gadgets.test.kindred.dev", metav1.GetOptions{}); err != nil {
		t.Errorf("uninstalling deleted the chart's CRD: %v", err)
	}
}
