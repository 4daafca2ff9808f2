// Package golden is for tests: it compares output with files under a package's testdata
// folder. Run tests with -update to rewrite the files.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// The -update flag. teatest's golden package defines one of the same name,
// and packages initialise in import-path order, so where both are linked
// theirs comes first and this one shares it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// Check compares got with testdata/NAME, or rewrites it under -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the output (run with -update if the change is intended)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// CheckYAML compares v, marshalled as YAML, with the golden file name.
func CheckYAML(t testing.TB, name string, v any) {
	t.Helper()
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	Check(t, name, out)
}
