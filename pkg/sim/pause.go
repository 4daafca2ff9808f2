package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
)

// commandsFile records, in a cluster's folder, the command line of each
// process the cluster started, so that a stopped cluster can be resumed by
// a later process.
const commandsFile = "commands.json"

// stoppedFile marks a cluster stopped on purpose: its processes are gone,
// its folder (etcd's data, its certificates) is kept for Resume.
const stoppedFile = "stopped"

// resumed are the processes Resume starts again, in order; the controllers
// a run plays are started again by the next SimulateControllers.
var resumed = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// recordCommand adds a process's command line to the cluster's record.
// The caller holds g.mu.
func (g *group) recordCommand(name string, argv []string) error {
	path := filepath.Join(g.dir, commandsFile)
	all := map[string][]string{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &all)
	}
	all[name] = argv
	b, err := json.Marshal(all)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Pause ends every process of the cluster and keeps its folder, so that
// Resume brings the same cluster back: its objects, certificates and ports.
func (c *Cluster) Pause() error {
	if c == nil || c.group == nil {
		return nil
	}
	if err := os.WriteFile(filepath.Join(c.Dir, stoppedFile), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return err
	}
	if err := c.group.stop(5 * time.Second); err != nil {
		return err
	}
	c.group = nil
	// The controllers a run played are started again by the next run;
	// their pid files would name processes that are gone.
	pids, _ := filepath.Glob(filepath.Join(c.Dir, "*.pid"))
	for _, p := range pids {
		_ = os.Remove(p)
	}
	return nil
}

// Paused returns the folder of the cluster Pause stopped under root, or ""
// when there is none.
func Paused(root string) string {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, stoppedFile)); err == nil {
			return dir
		}
	}
	return ""
}

// Resume starts again the cluster Pause stopped in dir, with its processes'
// command lines as they were, and returns when it is ready for pods. The
// cluster is kept (as WithKeep): it outlives this process. A Resume that
// fails stops what it started and leaves the cluster stopped, so it can be
// tried again.
func Resume(ctx context.Context, dir string, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b, err := os.ReadFile(filepath.Join(dir, commandsFile))
	if err != nil {
		return nil, fmt.Errorf("resuming the simulated cluster in %s: %w", dir, err)
	}
	var cmds map[string][]string
	if err := json.Unmarshal(b, &cmds); err != nil {
		return nil, fmt.Errorf("resuming the simulated cluster in %s: %w", dir, err)
	}
	c, err := kept(dir, &group{dir: dir, keep: true}, log)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	for _, name := range resumed {
		argv, ok := cmds[name]
		if !ok || len(argv) == 0 {
			return nil, errors.Join(fmt.Errorf("resuming the simulated cluster in %s: no command line recorded for %s", dir, name), c.group.stop(2*time.Second))
		}
		if err := c.group.start(name, argv[0], argv[1:]...); err != nil {
			return nil, errors.Join(err, c.group.stop(2*time.Second))
		}
		if name == "kube-apiserver" {
			if err := c.waitResumed(ctx); err != nil {
				return nil, errors.Join(err, c.group.stop(2*time.Second))
			}
		}
	}
	cs, err := kubernetes.NewForConfig(c.rest)
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 90*time.Second, "nodes Ready", func(ctx context.Context) (bool, error) { return nodesReady(ctx, cs) }); err != nil {
		return nil, errors.Join(c.withLogs(err), c.group.stop(2*time.Second))
	}
	if err := os.Remove(filepath.Join(dir, stoppedFile)); err != nil {
		return nil, err
	}
	c.ReadyAfter = time.Since(started)
	log.Info("simulated cluster resumed", "after", c.ReadyAfter, "dir", dir)
	return c, nil
}

// waitResumed waits until the resumed API server is ready. A process that
// exits on the way (its port still held by the old one's connections, say,
// as after RestartAPIServer) is started again.
func (c *Cluster) waitResumed(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := c.waitReadyz(ctx, 5*time.Second)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		for _, name := range []string{"etcd", "kube-apiserver"} {
			if !c.group.alive(name) {
				c.log.Info("a resumed process exited; starting it again", "process", name)
				if err := c.group.again(name); err != nil {
					return err
				}
			}
		}
	}
}
