package schema

import (
	"bytes"
	"encoding/json"
	"os"
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
