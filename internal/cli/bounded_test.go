//go:build unix

package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"kindred.dev/kindred/internal/cli"
)

// TestBoundedInput: hostile stack files fail fast, as bad input, and the
// process's peak memory stays small: a never-ending stream (a device, a
// FIFO nobody closes), a 50 MB file, and 100 000 levels of nesting, as a
// stack and as an include.
func TestBoundedInput(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), 50<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(dir, "deep.yaml")
	if err := os.WriteFile(deep, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: x}\nextra: "+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	include := filepath.Join(dir, "include.yaml")
	if err := os.WriteFile(include, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: x}\ninclude: [/dev/zero, big.yaml, deep.yaml, fifo]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, want string }{
		{"/dev/zero", "not a regular file"},
		{fifo, "not a regular file"},
		{big, "larger than 4 MiB"},
		{deep, "nested more than 64 levels deep"},
		{include, "include \"big.yaml\""},
	} {
		// Everything the run allocates, which bounds its peak heap.
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var out bytes.Buffer
		code := cli.Run([]string{"validate", c.file}, strings.NewReader(""), &out, &out, func(string) (string, bool) { return "", false })
		runtime.ReadMemStats(&after)
		if code != cli.ExitBadInput || !strings.Contains(out.String(), c.want) {
			t.Errorf("validate %s: exit %d, want 2 saying %q:\n%s", c.file, code, c.want, out.String())
		}
		allocated := (after.TotalAlloc - before.TotalAlloc) >> 20
		t.Logf("validate %s: %d MiB allocated", filepath.Base(c.file), allocated)
		if allocated > 200 {
			t.Errorf("validate %s: allocated %d MiB, want under 200", c.file, allocated)
		}
	}
}
