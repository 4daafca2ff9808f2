package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Versions of the test-bed binaries. They match the modules under testbed/,
// which build them; a test keeps the two in step.
const (
	KubernetesVersion = "v1.35.4"
	EtcdVersion       = "v3.6.16"
	KwokVersion       = "v0.8.0"
)

// ErrNoBinaries means the simulated cluster's binaries are not built.
var ErrNoBinaries = errors.New("simulated cluster binaries not found")

// BinariesEnv names a folder holding the binaries, overriding the cache.
const BinariesEnv = "KINDRED_TESTBED_DIR"

var binaryNames = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

type binaries struct {
	dir        string
	Kubernetes string
}

func (b binaries) path(name string) string { return filepath.Join(b.dir, name) }

// BinariesDir is where `make testbed` puts the binaries of these versions:
// a folder of the user's cache keyed by version.
func BinariesDir() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "kindred", "testbed",
		fmt.Sprintf("k8s-%s_etcd-%s_kwok-%s", KubernetesVersion, EtcdVersion, KwokVersion))
}

// EnsureBinaries makes sure the control plane's binaries are there: in
// dir, or $KINDRED_TESTBED_DIR, as they are; otherwise in BinariesDir,
// built there on first use (see Build), say reporting each step.
// The controllers' own binaries are built with them.
func EnsureBinaries(ctx context.Context, dir string, say func(string), controllers ...Controller) error {
	var extra []GoBinary
	for _, c := range controllers {
		extra = append(extra, c.Binaries...)
	}
	_, err := ensureBinaries(ctx, dir, say, extra...)
	return err
}

func ensureBinaries(ctx context.Context, dir string, say func(string), extra ...GoBinary) (binaries, error) {
	if dir == "" && os.Getenv(BinariesEnv) == "" {
		if err := Build(ctx, BinariesDir(), append(coreBinaries(), extra...), say); err != nil {
			return binaries{}, err
		}
	}
	return findBinaries(dir)
}

// findBinaries checks that every binary is in dir, or in $KINDRED_TESTBED_DIR,
// or in BinariesDir, in that order.
func findBinaries(dir string) (binaries, error) {
	if dir == "" {
		dir = os.Getenv(BinariesEnv)
	}
	if dir == "" {
		dir = BinariesDir()
	}
	var missing []string
	for _, n := range binaryNames {
		info, err := os.Stat(filepath.Join(dir, n))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return binaries{}, fmt.Errorf("%w in %s (missing %s): unset %s to have kindred build them into its cache "+
			"(15-30 minutes the first time, with Go installed), or point it at a folder that has them",
			ErrNoBinaries, dir, strings.Join(missing, ", "), BinariesEnv)
	}
	return binaries{dir: dir, Kubernetes: KubernetesVersion}, nil
}
