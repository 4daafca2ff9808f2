package registry

import "testing"

func TestSplitImage(t *testing.T) {
	for in, want := range map[string][3]string{
		"redis:8.2":                          {"docker.io", "library/redis", "8.2"},
		"hashicorp/http-echo:1.0":            {"docker.io", "hashicorp/http-echo", "1.0"},
		"quay.io/calico/node:v3.31.5":        {"quay.io", "calico/node", "v3.31.5"},
		"localhost:5001/shop/web":            {"localhost:5001", "shop/web", "latest"},
		"registry.example.test:8443/a/b:1.2": {"registry.example.test:8443", "a/b", "1.2"},
	} {
		h, r, tag := splitImage(in)
		if [3]string{h, r, tag} != want {
			t.Errorf("splitImage(%q) = %s %s %s, want %v", in, h, r, tag, want)
		}
	}
}
