package kindredtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/internal/proc"
	"kindred.dev/kindred/pkg/stack"
)

// sharedCluster coordinates test processes that share one cluster: a file
// lock serialises changes, and each process holds a lease file while it
// uses the cluster.
type sharedCluster struct {
	dir   string
	lease string
	lk    *flock.Flock
}

// join registers this process with the cluster for hash, first removing
// clusters whose every user died more than ttl ago.
func join(root, hash string, ttl time.Duration, rc reapedCluster) (*sharedCluster, error) {
	if err := gc(root, ttl); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "leases", hash)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &sharedCluster{dir: dir, lease: filepath.Join(dir, fmt.Sprintf("%d.lease", os.Getpid()))}
	if err := os.WriteFile(s.lease, []byte("{}"), 0o600); err != nil {
		return nil, err
	}
	reapers.Lock()
	defer reapers.Unlock()
	if !reapers.started[dir] && os.Getenv("KINDRED_REUSE") != "1" {
		if err := writeCluster(dir, rc); err != nil {
			return nil, err
		}
		if err := startReaper(dir, rc); err != nil {
			return nil, err
		}
		reapers.started[dir] = true
	}
	return s, nil
}

func (s *sharedCluster) lock() error {
	lk := flock.New(filepath.Join(s.dir, "lock"), flock.SetPermissions(0o600))
	if err := lk.Lock(); err != nil {
		return err
	}
	s.lk = lk
	return nil
}

func (s *sharedCluster) unlock() {
	if s.lk != nil {
		_ = s.lk.Unlock()
		s.lk = nil
	}
}

// leaseUses is what a lease file holds: the steps this process's stacks
// use, by stack name.
type leaseUses map[string][]string

// use records that this process uses steps of stack, and returns the steps
// of that stack every other live process (and this one, earlier) uses, so
// that this process's up removes none of them. The caller holds the lock.
func (s *sharedCluster) use(stackName string, steps []string) []string {
	var keep []string
	for _, f := range liveLeases(s.dir) {
		var u leaseUses
		b, _ := os.ReadFile(f)
		if json.Unmarshal(b, &u) == nil {
			keep = append(keep, u[stackName]...)
		}
	}
	var mine leaseUses
	if b, err := os.ReadFile(s.lease); err != nil || json.Unmarshal(b, &mine) != nil || mine == nil {
		mine = leaseUses{}
	}
	for _, id := range steps {
		if !slices.Contains(mine[stackName], id) {
			mine[stackName] = append(mine[stackName], id)
		}
	}
	if b, err := json.Marshal(mine); err == nil {
		_ = os.WriteFile(s.lease, b, 0o600)
	}
	return keep
}

// liveLeases lists the lease files of processes still running.
func liveLeases(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.lease"))
	var live []string
	for _, f := range files {
		pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(f), ".lease"))
		if err == nil && proc.Alive(pid) {
			live = append(live, f)
		}
	}
	return live
}

// gc stops clusters left by killed runs (a go test -timeout panic skips
// t.Cleanup) once every lease is dead and the folder idled for ttl.
func gc(root string, ttl time.Duration) error {
	dirs, _ := filepath.Glob(filepath.Join(root, "leases", "*"))
	for _, dir := range dirs {
		info, err := os.Stat(dir)
		if err != nil || time.Since(info.ModTime()) < ttl || len(liveLeases(dir)) > 0 {
			continue
		}
		hash := filepath.Base(dir)
		st := &stack.Stack{}
		st.Cluster.Name = "kt-" + hash[:min(10, len(hash))]
		name, o := cluster.Sim, cluster.Options{Root: filepath.Join(root, "clusters")}
		var rc map[string]string
		if b, err := os.ReadFile(filepath.Join(dir, "cluster.json")); err == nil && json.Unmarshal(b, &rc) == nil && rc["kind"] != "" {
			st.Cluster.Name = rc["kind"]
			name, o = cluster.Kind, cluster.Options{Runtime: rc["runtime"]}
		}
		p, err := cluster.New(name, o)
		if err != nil {
			return err
		}
		if _, err := p.(cluster.Deleter).Delete(context.Background(), st); err != nil {
			return fmt.Errorf("removing the idle cluster %s: %w", hash, err)
		}
		_ = os.RemoveAll(dir)
	}
	return nil
}
