package kind

import (
	"strings"
	"testing"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/pkg/stack"
)

func TestRenderGolden(t *testing.T) {
	for _, name := range []string{"single", "zones", "calico", "registry", "ports", "patch"} {
		t.Run(name, func(t *testing.T) {
			st, err := stack.Load("testdata/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Render(st, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, name+".golden.yaml", out)
		})
	}
}

func TestNodeImageUnknownVersion(t *testing.T) {
	_, err := NodeImage("v1.29.3")
	if err == nil || !strings.Contains(err.Error(), "v1.29.3") || !strings.Contains(err.Error(), "v1.35 (v1.35.8)") {
		t.Errorf("err = %v, want one that lists the versions there are", err)
	}
	img, err := NodeImage("v1.35.4")
	if err != nil || !strings.Contains(img, "@sha256:") {
		t.Errorf("NodeImage(v1.35.4) = %q, %v; want an image pinned by digest", img, err)
	}
}

// Every node mounts a folder of the data folder of its own, named as kind
// names the node; control planes of an HA cluster too (they all mounted
// <cluster>-control-plane, so their volumes mixed in one folder).
func TestEachNodeHasItsOwnDataFolder(t *testing.T) {
	st, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: ha}
cluster:
  dataDir: /var/lib/kindred-data
  nodes: [{role: control-plane, count: 3}, {role: worker, count: 2}]
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Render(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range cfg.Nodes {
		got = append(got, n.ExtraMounts[0].HostPath)
	}
	want := []string{"ha-control-plane", "ha-control-plane2", "ha-control-plane3", "ha-worker", "ha-worker2"}
	for i, w := range want {
		if got[i] != "/var/lib/kindred-data/"+w {
			t.Errorf("node %d mounts %s, want /var/lib/kindred-data/%s", i, got[i], w)
		}
	}
}

// kind's status lines become a run's progress, without their emoji.
func TestPhases(t *testing.T) {
	var got []string
	p := &phases{fn: func(s string) { got = append(got, s) }}
	for _, l := range []string{" • Ensuring node image (kindest/node:v1.35.4) 🖼  ...", " ✓ Ensuring node image (kindest/node:v1.35.4) 🖼", " • Preparing nodes 📦 📦   ...", "Creating cluster \"x\" ..."} {
		p.say(l)
	}
	want := []string{"kind: Ensuring node image (kindest/node:v1.35.4)", "kind: Preparing nodes"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("phases %q, want %q", got, want)
	}
}
