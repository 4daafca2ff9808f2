package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

func TestLockInputsAndApply(t *testing.T) {
	parse := func(version string) (*stack.Stack, *plan.Plan) {
		t.Helper()
		st, err := stack.Parse("s.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: s}
components:
  - name: web
    chart: {repo: https://charts.example.test, name: web, version: "`+version+`"}
`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Build(st)
		if err != nil {
			t.Fatal(err)
		}
		return st, p
	}
	st, p := parse("~1.2")
	inputs, err := lockInputs(st)
	if err != nil {
		t.Fatal(err)
	}
	l := &Lock{Version: LockVersion, Inputs: inputs,
		Charts: []LockedChart{{Step: "web", Chart: "web", Source: "https://charts.example.test", Version: "1.2.7", Digest: "sha256:abc"}}}
	if err := l.apply(st, p); err != nil {
		t.Fatal(err)
	}
	web, _ := p.Step("web")
	if web.Inputs.Chart.Version != "1.2.7" || web.Inputs.ChartDigest != "sha256:abc" {
		t.Errorf("pinned chart %+v digest %s", web.Inputs.Chart, web.Inputs.ChartDigest)
	}
	if st.Components[0].Chart.Version != "~1.2" {
		t.Error("applying a lock changed the stack itself")
	}
	st2, p2 := parse("~1.3")
	if err := l.apply(st2, p2); !errors.Is(err, ErrLockStale) || !strings.Contains(err.Error(), "run kindred lock again") {
		t.Errorf("a changed constraint: %v", err)
	}

	// The file: versioned, and read back as written.
	data, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), LockFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLock(path)
	if err != nil || !back.Equal(l) {
		t.Fatalf("read back: %v %+v", err, back)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), LockVersion, "kindred.dev/lock/v0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLock(path); err == nil || !strings.Contains(err.Error(), "run kindred lock again") {
		t.Errorf("an old format: %v", err)
	}
}
