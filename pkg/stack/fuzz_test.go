package stack_test

import (
	"errors"
	"os"
	"path/filepath"
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
