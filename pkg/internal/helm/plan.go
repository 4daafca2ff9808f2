package helm

import (
	"context"
	"errors"
	"fmt"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release/common"
	rspb "helm.sh/helm/v4/pkg/release/v1"
)

// ErrForeign is wrapped when a release of the same name exists in the
// namespace and kindred did not install it.
var ErrForeign = errors.New("a helm release kindred did not install")

// foreign reports whether kindred did not install release r: every
// release it installs or upgrades carries its chart-digest label.
func foreign(r *rspb.Release) bool { return r != nil && r.Labels[LabelChartDigest] == "" }

// refuseForeign is the error for a release kindred did not install, unless
// rel adopts it.
func refuseForeign(rel Release, last *rspb.Release) error {
	if !foreign(last) || rel.Adopt {
		return nil
	}
	chart := "?"
	if last.Chart != nil && last.Chart.Metadata != nil {
		chart = last.Chart.Metadata.Name + " " + last.Chart.Metadata.Version
	}
	return fmt.Errorf("%w: release %s in namespace %s (chart %s, revision %d) was installed by someone else, and kindred will not overwrite it; to let kindred take it over (its next upgrade replaces that chart and values with the stack's), run up with --adopt %s, or rename the component",
		ErrForeign, rel.Name, rel.Namespace, chart, last.Version, rel.Name)
}

// Planned is what Ensure would do to a release, found without changing
// anything: its action, and the release's manifest now and after.
type Planned struct {
	Action           string
	Current, Desired string
	// Drift is what an unchanged release's objects lost or had changed by
	// hand, which Ensure restores.
	Drift []string
}

// Plan says what Ensure would do to rel: install (the desired manifest
// rendered as a server-side dry run), upgrade (the same, against the live
// release), or nothing (the chart and values are the ones deployed).
func (c *Client) Plan(ctx context.Context, rel Release) (Planned, error) {
	fetched, labels, cfg, last, err := c.start(ctx, rel, false)
	if err != nil {
		return Planned{}, err
	}
	if madeFrom(last, labels) {
		drift, _, err := c.drift(ctx, cfg, last, false)
		if err != nil {
			return Planned{}, err
		}
		return Planned{Action: ActionNone, Current: last.Manifest, Desired: last.Manifest, Drift: drift}, nil
	}
	if last == nil || last.Info.Status != common.StatusDeployed && !hasDeployed(cfg, rel.Name) {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = rel.Name, rel.Namespace
		in.DryRunStrategy = action.DryRunServer
		in.SkipCRDs = true
		in.WaitStrategy = kube.HookOnlyStrategy
		out, err := in.RunWithContext(ctx, fetched.Chart, rel.Values)
		if err != nil {
			return Planned{}, fmt.Errorf("rendering %s from %s: %w", rel.Name, fetched.From, err)
		}
		r, err := toV1(out)
		if err != nil {
			return Planned{}, err
		}
		p := Planned{Action: ActionInstall, Desired: r.Manifest}
		if last != nil {
			p.Current = last.Manifest
		}
		return p, nil
	}
	up := action.NewUpgrade(cfg)
	up.Namespace = rel.Namespace
	up.DryRunStrategy = action.DryRunServer
	up.WaitStrategy = kube.HookOnlyStrategy
	up.ResetValues = true // as Ensure
	out, err := up.RunWithContext(ctx, rel.Name, fetched.Chart, rel.Values)
	if err != nil {
		return Planned{}, fmt.Errorf("rendering the upgrade of %s from %s: %w", rel.Name, fetched.From, err)
	}
	r, err := toV1(out)
	if err != nil {
		return Planned{}, err
	}
	return Planned{Action: ActionUpgrade, Current: last.Manifest, Desired: r.Manifest}, nil
}

// start is where Ensure and Plan begin: the chart, the labels that say
// which chart and values a release is made from, the action
// configuration, and the release in the cluster (nil when there is none).
// A release kindred did not install is refused unless rel adopts it.
func (c *Client) start(ctx context.Context, rel Release, cached bool) (*Fetched, map[string]string, *action.Configuration, *rspb.Release, error) {
	fetched, err := c.Fetcher.Fetch(ctx, rel.Chart)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	valuesHash, err := hashValues(rel.Values)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	labels := map[string]string{LabelChartDigest: fetched.Digest[:32], LabelValuesHash: valuesHash}
	cfg, err := c.config(rel.Namespace)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if cached {
		if err := c.shareStorage(cfg, rel.Namespace, true); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	last, err := lastRelease(cfg, rel.Name)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return fetched, labels, cfg, last, refuseForeign(rel, last)
}

// ErrWouldChange is Verify's answer for a release Ensure would change.
var ErrWouldChange = errors.New("the release would change")

// Verify is Ensure for a release that should need nothing, reading only:
// the release is deployed from rel's chart and values and none of its
// objects drifted. It returns what Ensure would return then, or
// ErrWouldChange.
//
// Verify reads the release record and the objects from the API server's
// watch cache (see kube.Client.GetCached): a moment behind at most, which
// a check made before its step's turn may be.
func (c *Client) Verify(ctx context.Context, rel Release) (Result, error) {
	fetched, labels, cfg, last, err := c.start(ctx, rel, true)
	if err != nil {
		return Result{}, err
	}
	if !madeFrom(last, labels) {
		return Result{}, ErrWouldChange
	}
	drift, live, err := c.drift(ctx, cfg, last, true)
	if err != nil {
		return Result{}, err
	}
	if len(drift) > 0 {
		return Result{}, ErrWouldChange
	}
	return Result{Action: ActionNone, Revision: last.Version, Manifest: last.Manifest, ChartVersion: fetched.Chart.Metadata.Version, Live: live}, nil
}

// madeFrom reports whether release r is deployed and was made from the
// chart and values labels name.
func madeFrom(r *rspb.Release, labels map[string]string) bool {
	return r != nil && r.Info.Status == common.StatusDeployed &&
		r.Labels[LabelChartDigest] == labels[LabelChartDigest] && r.Labels[LabelValuesHash] == labels[LabelValuesHash]
}
