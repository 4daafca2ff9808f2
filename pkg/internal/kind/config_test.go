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
