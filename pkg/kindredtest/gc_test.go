package kindredtest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/sim"
)

// TestIntegrationGarbageCollect plants what a killed test run leaves (a
// kept simulated cluster and the lease of a dead process, idle past the
// TTL) and checks that the next run's gc stops and removes it.
func TestIntegrationGarbageCollect(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	root := t.TempDir()
	hash := "0123456789abcdef0123456789abcdef"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := sim.Start(ctx, sim.WithRoot(filepath.Join(root, "clusters", "kt-"+hash[:10])), sim.WithKeep())
	if err != nil {
		testbed.Missing(t, "%v", err)
	}
	leases := filepath.Join(root, "leases", hash)
	if err := os.MkdirAll(leases, 0o700); err != nil {
		t.Fatal(err)
	}
	// A pid that no longer runs: this test's own child, after it exited.
	dead := deadPID(t)
	if err := os.WriteFile(filepath.Join(leases, strconv.Itoa(dead)+".lease"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(leases, old, old); err != nil {
		t.Fatal(err)
	}
	if err := gc(root, time.Hour); err != nil {
		t.Fatal(err)
	}
	if open, _ := sim.Open(filepath.Join(root, "clusters", "kt-"+hash[:10])); open != nil {
		_ = c.Stop()
		t.Fatal("the idle cluster still runs after gc")
	}
	if _, err := os.Stat(leases); !os.IsNotExist(err) {
		t.Errorf("the lease folder is still there: %v", err)
	}
}

func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}
