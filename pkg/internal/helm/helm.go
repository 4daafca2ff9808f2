// Package helm is kindred's adapter to the helm v4 SDK, and the one package
// that imports it. It installs, upgrades, repairs and uninstalls releases,
// and fetches charts from repositories, OCI registries, folders and mirrors.
//
// The SDK is not safe for concurrent use (helm#9366), so every operation
// builds its own action.Configuration.
package helm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/release/common"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/kubectl/pkg/validation"

	kindredkube "kindred.dev/kindred/pkg/internal/kube"
)

// Labels kindred stores on each release, to tell whether anything changed.
const (
	LabelChartDigest = "kindred.dev/chart-digest"
	LabelValuesHash  = "kindred.dev/values-hash"
)

// Actions Ensure can take.
const (
	ActionNone    = "unchanged"
	ActionInstall = "installed"
	ActionUpgrade = "upgraded"
)

// Client runs helm operations against one cluster.
type Client struct {
	Kubeconfig string
	Context    string
	Fetcher    *Fetcher
	Log        *slog.Logger

	shared sharedCluster // see cluster
}

// Release is the desired state of one release.
type Release struct {
	Name      string
	Namespace string
	Chart     ChartRef
	Values    map[string]any
	Timeout   time.Duration
	// Wait makes helm wait for every resource with kstatus. Without it helm
	// waits only for hooks (a migration Job still runs to completion before
	// the release is deployed), for callers that check readiness themselves
	// and should not wait twice.
	Wait bool
	// Adopt lets Ensure upgrade a release of this name that kindred did
	// not install; without it such a release is refused (ErrForeign).
	Adopt bool
}

// strategy is the explicit helm wait strategy for rel; the zero value is an
// error in helm v4.
func (rel Release) strategy() kube.WaitStrategy {
	if rel.Wait {
		return kube.StatusWatcherStrategy
	}
	return kube.HookOnlyStrategy
}

// Result says what Ensure did.
type Result struct {
	Action   string
	Revision int
	// Recovered names the repair of a release an interrupted run left
	// pending, if one was needed.
	Recovered string
	// Manifest is the rendered manifest of the release, for readiness.
	Manifest string
	// ChartVersion is the version of the chart installed.
	ChartVersion string
	// Repaired lists the drift an unchanged release had (objects deleted
	// or changed by hand), which Ensure restored.
	Repaired []string
	// Live holds, for a release left unchanged, its objects as read when
	// checking for drift (in the manifest's order; nil where one is
	// missing), so that the readiness wait need not read them again.
	Live []*unstructured.Unstructured
}

// Changed reports whether Ensure changed the cluster.
func (r Result) Changed() bool { return r.Action != ActionNone || r.Recovered != "" }

func (c *Client) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// config makes the action configuration of one operation in namespace.
func (c *Client) config(namespace string) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.Kubeconfig
	flags.Namespace = &namespace
	flags.WrapConfigFn = kindredkube.Unthrottled
	if c.Context != "" {
		flags.Context = &c.Context
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(c.log().Handler()))
	if err := cfg.Init(flags, namespace, "secret"); err != nil {
		return nil, fmt.Errorf("initialising helm: %w", err)
	}
	if kc, ok := cfg.KubeClient.(*kube.Client); ok {
		kc.Factory = serverValidated{kc.Factory}
	}
	if err := c.shareStorage(cfg, namespace, false); err != nil {
		return nil, err
	}
	return cfg, nil
}

// serverValidated is helm's factory without its client-side validation
// (see serverValidates). helm builds what it creates itself (the release's
// namespace) and its hooks with validation asked for whatever the options
// say; each time, the validator first learns whether the server validates
// by fetching and parsing the group's OpenAPI document, which for the core
// group is megabytes. Every server kindred supports validates (field
// validation is GA since Kubernetes 1.27; kindred needs 1.31), so the
// answer is always that the client need not.
type serverValidated struct{ kube.Factory }

func (serverValidated) Validator(string) (validation.Schema, error) {
	return validation.NullSchema{}, nil
}

// Ensure makes the release match rel: it installs an absent release,
// upgrades one whose chart or values changed, does nothing to one that is
// unchanged, and first repairs a release an interrupted run left pending.
func (c *Client) Ensure(ctx context.Context, rel Release) (Result, error) {
	fetched, labels, cfg, last, err := c.start(ctx, rel, false)
	if err != nil {
		return Result{}, err
	}
	res := Result{ChartVersion: fetched.Chart.Metadata.Version}

	if last != nil {
		switch last.Info.Status {
		case common.StatusPendingInstall, common.StatusPendingUpgrade, common.StatusPendingRollback, common.StatusFailed, common.StatusUninstalling:
			if last.Version == 1 || last.Info.Status == common.StatusUninstalling || !hasDeployed(cfg, rel.Name) {
				// A first install that never finished: start again.
				c.log().Info("removing a release an interrupted install left behind", "release", rel.Name, "status", last.Info.Status)
				if err := c.uninstall(cfg, rel.Name, rel.Timeout); err != nil {
					return Result{}, fmt.Errorf("repairing release %s (%s): uninstalling: %w", rel.Name, last.Info.Status, err)
				}
				res.Recovered = fmt.Sprintf("reinstalled after %s", last.Info.Status)
				last = nil
			} else if last.Info.Status != common.StatusFailed {
				c.log().Info("rolling back a release an interrupted run left pending", "release", rel.Name, "status", last.Info.Status)
				rb := action.NewRollback(cfg)
				rb.WaitStrategy = rel.strategy()
				rb.Timeout = rel.Timeout
				rb.ServerSideApply = "auto"
				if err := rb.Run(rel.Name); err != nil {
					return Result{}, fmt.Errorf("repairing release %s (%s): rolling back: %w", rel.Name, last.Info.Status, err)
				}
				res.Recovered = fmt.Sprintf("rolled back after %s", last.Info.Status)
				if last, err = lastRelease(cfg, rel.Name); err != nil {
					return Result{}, err
				}
			}
		}
	}

	// Skipped below for an unchanged release: its CRDs went in with it.
	applyCRDs := func() error {
		n, err := c.applyCRDs(ctx, cfg, fetched.Chart, rel.Values, rel.Timeout)
		if n > 0 {
			c.log().Info("applied the chart's CRDs", "release", rel.Name, "count", n)
		}
		return err
	}
	if last == nil {
		if err := applyCRDs(); err != nil {
			return res, fmt.Errorf("installing %s from %s: %w", rel.Name, fetched.From, err)
		}
		in := action.NewInstall(cfg)
		in.SkipCRDs = true
		in.ReleaseName = rel.Name
		in.Namespace = rel.Namespace
		in.CreateNamespace = true
		in.WaitStrategy = rel.strategy()
		in.WaitForJobs = rel.Wait
		in.Timeout = rel.Timeout
		in.Labels = labels
		in.DisableOpenAPIValidation = serverValidates
		out, err := in.RunWithContext(ctx, fetched.Chart, rel.Values)
		if err != nil {
			return res, fmt.Errorf("installing %s from %s: %w", rel.Name, fetched.From, err)
		}
		return finish(res, ActionInstall, out)
	}

	if madeFrom(last, labels) {
		// Unchanged, unless what the release made drifted: then the same
		// chart and values are applied again, taking back fields others
		// changed.
		drift, live, err := c.drift(ctx, cfg, last, false)
		if err != nil {
			c.log().Warn("checking a release for drift", "release", rel.Name, "err", err)
		}
		if len(drift) == 0 {
			res.Action = ActionNone
			res.Revision = last.Version
			res.Manifest = last.Manifest
			res.Live = live
			return res, nil
		}
		res.Repaired = drift
	}
	if err := applyCRDs(); err != nil {
		return res, fmt.Errorf("upgrading %s to %s: %w", rel.Name, fetched.From, err)
	}
	up := action.NewUpgrade(cfg)
	up.Namespace = rel.Namespace
	up.WaitStrategy = rel.strategy()
	up.WaitForJobs = rel.Wait
	up.Timeout = rel.Timeout
	up.Labels = labels
	up.MaxHistory = 10
	up.DisableOpenAPIValidation = serverValidates
	up.ServerSideApply = "auto"
	// The stack's values are the whole truth: helm would otherwise reuse
	// the last release's values whenever none are given.
	up.ResetValues = true
	// A release applied server-side takes back fields others changed;
	// one applied client-side does by its three-way merge with the live
	// objects.
	up.ForceConflicts = len(res.Repaired) > 0 && last.ApplyMethod != "csa"
	out, err := up.RunWithContext(ctx, rel.Name, fetched.Chart, rel.Values)
	if err != nil {
		return res, fmt.Errorf("upgrading %s to %s: %w", rel.Name, fetched.From, err)
	}
	return finish(res, ActionUpgrade, out)
}

// serverValidates turns off helm's client-side OpenAPI pass: the API
// server validates every object helm creates or applies, strictly
// (fieldValidation=Strict, helm's default; an unknown field fails the
// install or upgrade). The client-side pass only asks each resource's
// OpenAPI document whether the server supports that, fetching and parsing
// the document for every release: at 200 releases, gigabytes of
// allocations and a third of a cold run's CPU.
const serverValidates = true

func finish(res Result, act string, out ri.Releaser) (Result, error) {
	r, err := toV1(out)
	if err != nil {
		return res, err
	}
	res.Action = act
	res.Revision = r.Version
	res.Manifest = r.Manifest
	return res, nil
}

// Uninstall removes a release; an absent one is no error.
func (c *Client) Uninstall(ctx context.Context, name, namespace string, timeout time.Duration) error {
	cfg, err := c.config(namespace)
	if err != nil {
		return err
	}
	return c.uninstall(cfg, name, timeout)
}

func (c *Client) uninstall(cfg *action.Configuration, name string, timeout time.Duration) error {
	un := action.NewUninstall(cfg)
	un.IgnoreNotFound = true
	un.WaitStrategy = kube.StatusWatcherStrategy
	un.Timeout = timeout
	_, err := un.Run(name)
	return err
}

// Status is what the cluster records of a release.
type Status struct {
	Name, Namespace string
	Status          string // deployed, pending-install, failed, ...
	Revision        int
	ChartVersion    string
	Labels          map[string]string
	// Manifest is what the release rendered, for a health check of its
	// live objects.
	Manifest string `json:"-"`
}

// Get returns the latest record of a release, or nil when there is none.
func (c *Client) Get(ctx context.Context, name, namespace string) (*Status, error) {
	cfg, err := c.config(namespace)
	if err != nil {
		return nil, err
	}
	r, err := lastRelease(cfg, name)
	if err != nil || r == nil {
		return nil, err
	}
	st := &Status{Name: r.Name, Namespace: r.Namespace, Status: string(r.Info.Status), Revision: r.Version, Labels: r.Labels, Manifest: r.Manifest}
	if r.Chart != nil && r.Chart.Metadata != nil {
		st.ChartVersion = r.Chart.Metadata.Version
	}
	return st, nil
}

func lastRelease(cfg *action.Configuration, name string) (*rspb.Release, error) {
	r, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %s: %w", name, err)
	}
	return toV1(r)
}

func hasDeployed(cfg *action.Configuration, name string) bool {
	hist, err := cfg.Releases.History(name)
	if err != nil {
		return false
	}
	for _, h := range hist {
		if r, err := toV1(h); err == nil && (r.Info.Status == common.StatusDeployed || r.Info.Status == common.StatusSuperseded) {
			return true
		}
	}
	return false
}

func toV1(r ri.Releaser) (*rspb.Release, error) {
	switch v := r.(type) {
	case *rspb.Release:
		return v, nil
	case rspb.Release:
		return &v, nil
	}
	return nil, fmt.Errorf("unexpected release type %T", r)
}

// hashValues is a stable hash of values: encoding/json sorts map keys.
func hashValues(v map[string]any) (string, error) {
	if v == nil {
		v = map[string]any{}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hashing values: %w", err)
	}
	return sha256Hex(data)[:32], nil
}

// Render renders rel's chart as `helm template` does, with no cluster: the
// manifest of every object, CRDs included, for Kubernetes kubeVersion
// (like v1.35.4; empty uses helm's default).
func (c *Client) Render(ctx context.Context, rel Release, kubeVersion string) (string, error) {
	fetched, err := c.Fetcher.Fetch(ctx, rel.Chart)
	if err != nil {
		return "", err
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(c.log().Handler()))
	in := action.NewInstall(cfg)
	in.ReleaseName = rel.Name
	in.Namespace = rel.Namespace
	in.DryRunStrategy = action.DryRunClient
	in.Replace = true
	in.IncludeCRDs = true
	in.WaitStrategy = kube.HookOnlyStrategy
	if kubeVersion != "" {
		kv, err := chartcommon.ParseKubeVersion(kubeVersion)
		if err != nil {
			return "", err
		}
		in.KubeVersion = kv
	}
	out, err := in.RunWithContext(ctx, fetched.Chart, rel.Values)
	if err != nil {
		return "", fmt.Errorf("rendering %s from %s: %w", rel.Name, fetched.From, err)
	}
	r, err := toV1(out)
	if err != nil {
		return "", err
	}
	manifest := r.Manifest
	for _, h := range r.Hooks {
		manifest += "\n---\n" + h.Manifest
	}
	return manifest, nil
}
