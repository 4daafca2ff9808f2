package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/discovery"

	"kindred.dev/kindred/pkg/internal/proc"
)

// SimulateControllers plays, until ctx ends, the controllers of components
// that cannot run on the simulated cluster: as each controller's CRDs
// appear, it starts a kwok process with the stages that set the statuses
// that controller would. The processes join the cluster's process group,
// so they live and die with it.
func (c *Cluster) SimulateControllers(ctx context.Context, controllers []Controller) error {
	if c.group == nil {
		return fmt.Errorf("sim: the cluster is stopped")
	}
	bins, err := findBinaries(c.binDir())
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.rest)
	if err != nil {
		return err
	}
	// Each controller's kwok starts once its kinds are served and published
	// in OpenAPI (kwok reads their schema), and starts again if it died.
	for {
		for _, ctl := range controllers {
			if c.playing(ctl.Name) || !served(dc, ctl.Kinds) {
				continue
			}
			if err := c.play(bins, ctl); err != nil {
				c.log.Warn("simulating a controller", "controller", ctl.Name, "err", err)
				continue
			}
			c.log.Info("simulating a controller", "controller", ctl.Name)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// served reports whether the API server serves every group/version/Kind,
// and publishes its group's OpenAPI v3 document.
func served(dc discovery.DiscoveryInterface, kinds []string) bool {
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		return false
	}
	for _, k := range kinds {
		if _, ok := paths["apis/"+k[:strings.LastIndexByte(k, '/')]]; !ok {
			return false
		}
		i := strings.LastIndexByte(k, '/')
		list, err := dc.ServerResourcesForGroupVersion(k[:i])
		if err != nil {
			return false
		}
		found := false
		for _, r := range list.APIResources {
			found = found || r.Kind == k[i+1:]
		}
		if !found {
			return false
		}
	}
	return true
}

func (c *Cluster) pidFile(name string) string { return filepath.Join(c.Dir, "kwok-"+name+".pid") }

// playing reports whether a kwok process already plays the controller.
func (c *Cluster) playing(name string) bool {
	b, err := os.ReadFile(c.pidFile(name))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return false
	}
	in, ok := proc.Stat(pid)
	return ok && !in.Zombie && proc.Alive(pid)
}

// play starts a kwok process with the controller's stages. It manages no
// nodes: the main kwok process does.
func (c *Cluster) play(bins binaries, ctl Controller) error {
	stagesFile := filepath.Join(c.Dir, "stages-"+ctl.Name+".yaml")
	if err := os.WriteFile(stagesFile, []byte(ctl.Stages), 0o600); err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	name := "kwok-" + ctl.Name
	if err := c.group.start(name, bins.path("kwok"),
		"--kubeconfig="+c.Kubeconfig,
		"--config="+stagesFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-label-selector=kindred.dev/simulated-controller=none",
		fmt.Sprintf("--server-address=127.0.0.1:%d", ports[0]),
	); err != nil {
		return err
	}
	return os.WriteFile(c.pidFile(ctl.Name), []byte(strconv.Itoa(c.group.procs[name].Process.Pid)), 0o600)
}

// binDir is where Start found the binaries, recorded for Open.
func (c *Cluster) binDir() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "bindir"))
	return strings.TrimSpace(string(b))
}
