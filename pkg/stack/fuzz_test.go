package stack_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// FuzzLoad feeds arbitrary bytes to the loader and the planner. Neither may
// panic, and every problem must carry a position inside the input.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../../testdata/bad/*.yaml", "../../stacks/*.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	fsys := fstest.MapFS{"values.yaml": {Data: []byte("a: 1\n")}}
	noEnv := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := stack.Parse("fuzz.yaml", data, stack.WithFS(fsys), stack.WithEnv(noEnv))
		if err == nil {
			if _, err = plan.Build(st); err == nil {
				return
			}
		}
		var ps stack.Problems
		if !errors.As(err, &ps) {
			return // not bad input, such as a failure to read: allowed
		}
		if len(ps) == 0 {
			t.Fatal("an empty Problems error")
		}
		for _, p := range ps {
			if p.Pos.File == "" || p.Pos.Line < 1 || p.Pos.Column < 1 {
				t.Fatalf("problem without a position: %#v", p)
			}
		}
	})
}

// FuzzIncludes fuzzes a stack and the file it includes (with a variable
// the fuzzer also chooses): loading never panics, every problem has a
// position, and a variable's value never reaches a message.
func FuzzIncludes(f *testing.F) {
	f.Add([]byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ninclude: [part.yaml]\n"),
		[]byte("components:\n  - {name: a, manifests: [\"${X}.yaml\"]}\n"), "secret-value-1234")
	f.Add([]byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: ${X}}\ninclude: [part.yaml, part.yaml]\n"),
		[]byte("include: [kindred.yaml]\n"), "x")
	f.Add([]byte("include: [part.yaml]\n"), []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: \"${X:-d}\"}\ncluster: {kubernetesVersion: \"${X}\"}\n"), "ghp_abcdefghijklmnop")
	f.Fuzz(func(t *testing.T, stackFile, part []byte, value string) {
		fsys := fstest.MapFS{"kindred.yaml": {Data: stackFile}, "part.yaml": {Data: part}}
		env := func(k string) (string, bool) { return value, k == "X" }
		_, err := stack.Load("kindred.yaml", stack.WithFS(fsys), stack.WithEnv(env))
		var ps stack.Problems
		if !errors.As(err, &ps) {
			return
		}
		for _, p := range ps {
			if p.Pos.File == "" || p.Pos.Line < 1 || p.Pos.Column < 1 {
				t.Fatalf("problem without a position: %#v", p)
			}
			// A value of six or more characters that is not in the files
			// themselves must not reach a message.
			if len(value) >= 6 && strings.Contains(p.Msg, value) && !bytes.Contains(stackFile, []byte(value)) && !bytes.Contains(part, []byte(value)) && !strings.Contains("${X}", value) {
				t.Fatalf("the variable's value %q reached a message: %s", value, p.Msg)
			}
		}
	})
}
