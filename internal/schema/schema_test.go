package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// The built-in stacks' modeline points at stacks/stack.schema.json, so
// editors in this repository complete them: it must be the schema kindred
// prints (regenerate it with `go run . schema > stacks/stack.schema.json`).
func TestCheckedInSchemaIsCurrent(t *testing.T) {
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	if err := enc.Encode(Stack()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../stacks/stack.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("stacks/stack.schema.json is stale: go run . schema > stacks/stack.schema.json")
	}
	for _, f := range []string{"../../stacks/default.yaml", "../../stacks/minimal.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("# yaml-language-server: $schema=./stack.schema.json\n")) {
			t.Errorf("%s does not point at ./stack.schema.json", f)
		}
	}
}

// Every field of the schema has a description, from the Go types' doc
// comments (pkg/api/v1alpha1/docs.go is generated from them; it must be
// current).
func TestEveryFieldDescribed(t *testing.T) {
	out := t.TempDir() + "/docs.go"
	cmd := exec.Command("go", "run", "./gendocs", "../../pkg/api/v1alpha1/types.go", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gendocs: %v\n%s", err, b)
	}
	got, _ := os.ReadFile("../../pkg/api/v1alpha1/docs.go")
	want, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Error("pkg/api/v1alpha1/docs.go is stale: go generate ./internal/schema")
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if props, ok := m["properties"].(map[string]any); ok {
			for name, p := range props {
				if d, _ := p.(map[string]any)["description"].(string); d == "" {
					t.Errorf("%s.%s has no description", path, name)
				}
			}
		}
		if defs, ok := m["$defs"].(map[string]any); ok {
			for name, d := range defs {
				walk(name, d)
			}
		}
	}
	walk("Stack", Stack())
}
