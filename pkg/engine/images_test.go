package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/stack"
)

// Images renders the reference stack's charts and manifests from the
// real upstream artifacts, with no cluster, and lists every image once
// with the steps that use it, the images Calico's operator starts
// included.
func TestImagesOfTheDefaultStack(t *testing.T) {
	st, err := stack.Load("../../stacks/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mirror := testbed.Upstream(t)
	imgs, err := engine.NewImages(engine.Config{ChartMirror: mirror, CacheDir: t.TempDir()}).Run(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range imgs {
		got = append(got, i.Image+" "+strings.Join(i.Steps, ","))
	}
	want := []string{
		"docker.io/envoyproxy/envoy:distroless-v1.38.3 contour",
		"docker.io/hashicorp/http-echo:1.0 demo",
		"docker.io/library/postgres:17 orders",
		"docker.io/library/redis:8.2 sessions",
		"ghcr.io/projectcontour/contour:v1.33.6 contour",
		// What the Tigera operator starts, from the catalogue, per version.
		"quay.io/calico/cni:v3.31.5 calico",
		"quay.io/calico/csi:v3.31.5 calico",
		"quay.io/calico/goldmane:v3.31.5 calico",
		"quay.io/calico/kube-controllers:v3.31.5 calico",
		"quay.io/calico/node-driver-registrar:v3.31.5 calico",
		"quay.io/calico/node:v3.31.5 calico",
		"quay.io/calico/pod2daemon-flexvol:v3.31.5 calico",
		"quay.io/calico/typha:v3.31.5 calico",
		"quay.io/calico/whisker-backend:v3.31.5 calico",
		"quay.io/calico/whisker:v3.31.5 calico",
		"quay.io/jetstack/cert-manager-cainjector:v1.21.2 cert-manager",
		"quay.io/jetstack/cert-manager-controller:v1.21.2 cert-manager",
		"quay.io/jetstack/cert-manager-startupapicheck:v1.21.2 cert-manager",
		"quay.io/jetstack/cert-manager-webhook:v1.21.2 cert-manager",
		"quay.io/tigera/operator:v1.40.8 calico",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("images:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A job's image and a kustomize folder's images are listed too, and an
// image two steps share is listed once.
func TestImagesOfJobsAndKustomize(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := writeFile(filepath.Join(dir, name), data); err != nil {
			t.Fatal(err)
		}
	}
	write("k/kustomization.yaml", "resources: [deploy.yaml]\nimages:\n  - {name: example.test/api, newTag: \"2.0\"}\n")
	write("k/deploy.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      initContainers: [{name: wait, image: example.test/tools:1}]
      containers: [{name: api, image: example.test/api:1.0}]
`)
	write("stack.yaml", `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: imgs}
components:
  - {name: api, kustomize: k}
jobs:
  - {name: migrate, image: example.test/tools:1, needs: [api]}
`)
	st, err := stack.Load(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := engine.NewImages(engine.Config{CacheDir: t.TempDir()}).Run(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range imgs {
		got = append(got, i.Image+" "+strings.Join(i.Steps, ","))
	}
	want := "example.test/api:2.0 api\nexample.test/tools:1 api,migrate"
	if strings.Join(got, "\n") != want {
		t.Errorf("images:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func writeFile(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(data), 0o644)
}
