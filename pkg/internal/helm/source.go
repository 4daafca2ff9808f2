package helm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"sigs.k8s.io/yaml"
)

// ChartRef says where a chart comes from: Repo and Name, an OCI reference,
// or a local Path. Version is a version or a constraint.
type ChartRef struct {
	Repo, Name, OCI, Path, Version string
	// Digest, when set (sha256:HEX, from a lock), is the digest the
	// fetched chart must have, wherever it came from.
	Digest string
}

func (r ChartRef) String() string {
	switch {
	case r.Path != "":
		return r.Path
	case r.OCI != "":
		return r.OCI + "@" + r.Version
	}
	return r.Repo + " " + r.Name + "@" + r.Version
}

// ErrNotInMirror is wrapped when a chart mirror lacks a chart.
var ErrNotInMirror = errors.New("chart not in mirror")

// errNoChart is wrapped when a repository or registry answered, and has no
// chart of that name or no version of it that matches.
var errNoChart = errors.New("no such chart")

// Fetched is a loaded chart and the digest that identifies its content.
type Fetched struct {
	Chart  *chart.Chart
	Digest string // sha256 hex of the archive, or of a folder's files
	From   string // where it came from, for messages
}

// Fetcher loads charts, caching remote ones by digest so re-runs work
// offline.
type Fetcher struct {
	// CacheDir holds archives as DIGEST.tgz and resolved references.
	CacheDir string
	// Mirror, if set, redirects every remote chart: a folder, an oci://
	// prefix or an http(s) repository.
	Mirror string
	HTTP   *http.Client
}

// Fetch loads the chart ref points at.
func (f *Fetcher) Fetch(ctx context.Context, ref ChartRef) (*Fetched, error) {
	fetched, err := f.fetchAny(ctx, ref)
	if err != nil || ref.Digest == "" {
		return fetched, err
	}
	if got := "sha256:" + fetched.Digest; got != ref.Digest {
		return nil, fmt.Errorf("%w: chart %s %s from %s has digest %s, the lock says %s (if the change is meant, run kindred lock again)",
			ErrDigestMismatch, ref.chartName(), ref.Version, fetched.From, got, ref.Digest)
	}
	return fetched, nil
}

func (f *Fetcher) fetchAny(ctx context.Context, ref ChartRef) (*Fetched, error) {
	if f.Mirror != "" && ref.Path == "" {
		mirrored, err := f.redirect(ref)
		if err != nil {
			return nil, err
		}
		fetched, err := f.fetch(ctx, mirrored)
		if errors.Is(err, errNoChart) {
			return nil, fmt.Errorf("%w: chart %q version %q is not in the mirror %s: %v", ErrNotInMirror, ref.chartName(), ref.Version, f.Mirror, err)
		}
		return fetched, err
	}
	return f.fetch(ctx, ref)
}

func (f *Fetcher) fetch(ctx context.Context, ref ChartRef) (*Fetched, error) {
	switch {
	case ref.Path != "":
		return loadLocal(ref.Path)
	case ref.OCI != "":
		return f.fetchOCI(ctx, ref)
	case ref.Repo != "":
		return f.fetchRepo(ctx, ref)
	}
	return nil, fmt.Errorf("chart reference %+v names no source", ref)
}

// chartName is the chart's own name, whatever the source.
func (r ChartRef) chartName() string {
	switch {
	case r.Name != "":
		return r.Name
	case r.OCI != "":
		return path.Base(r.OCI)
	}
	base := filepath.Base(r.Path)
	return strings.TrimSuffix(base, ".tgz")
}

// redirect points a remote reference at the mirror, keeping its version
// constraint.
func (f *Fetcher) redirect(ref ChartRef) (ChartRef, error) {
	name := ref.chartName()
	switch {
	case strings.HasPrefix(f.Mirror, "oci://"):
		return ChartRef{OCI: strings.TrimSuffix(f.Mirror, "/") + "/" + name, Version: ref.Version}, nil
	case strings.HasPrefix(f.Mirror, "https://"), strings.HasPrefix(f.Mirror, "http://"):
		return ChartRef{Repo: f.Mirror, Name: name, Version: ref.Version}, nil
	}
	// A folder of charts by name: NAME/ (a chart folder) or NAME-VERSION.tgz.
	constraint, err := constraintOf(ref.Version)
	if err != nil {
		return ChartRef{}, err
	}
	dir := filepath.Join(f.Mirror, name)
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err == nil {
		c, err := loader.LoadDir(dir)
		if err != nil {
			return ChartRef{}, fmt.Errorf("chart %q in the mirror folder %s: %w", name, f.Mirror, err)
		}
		if constraint.check(c.Metadata.Version) {
			return ChartRef{Path: dir}, nil
		}
	}
	archives, _ := filepath.Glob(filepath.Join(f.Mirror, name+"-*.tgz"))
	var best *semver.Version
	bestPath := ""
	for _, a := range archives {
		v, err := semver.NewVersion(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(a), name+"-"), ".tgz"))
		if err != nil || !constraint.check(v.Original()) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestPath = v, a
		}
	}
	if bestPath == "" {
		return ChartRef{}, fmt.Errorf("%w: chart %q version %q is not in the mirror folder %s (want %s/ or %s-VERSION.tgz)",
			ErrNotInMirror, name, ref.Version, f.Mirror, dir, dir)
	}
	return ChartRef{Path: bestPath}, nil
}

// versionConstraint matches versions; an empty one matches any.
type versionConstraint struct{ c *semver.Constraints }

func constraintOf(s string) (versionConstraint, error) {
	if s == "" {
		return versionConstraint{}, nil
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return versionConstraint{}, fmt.Errorf("invalid chart version %q: %w", s, err)
	}
	return versionConstraint{c}, nil
}

func (v versionConstraint) check(version string) bool {
	if v.c == nil {
		return true
	}
	sv, err := semver.NewVersion(version)
	return err == nil && v.c.Check(sv)
}

// loadLocal loads a chart folder or archive; the digest covers its files.
func loadLocal(p string) (*Fetched, error) {
	c, err := loader.Load(p)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", p, err)
	}
	digest, err := hashPath(p)
	if err != nil {
		return nil, err
	}
	return &Fetched{Chart: c, Digest: digest, From: p}, nil
}

// hashPath hashes a file, or a folder's file names and contents in order.
func hashPath(p string) (string, error) {
	h := sha256.New()
	info, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		h.Write(data)
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	// WalkDir does not follow a root that is a symbolic link (a mirror
	// folder of links to charts), so walk where it points.
	if p, err = filepath.EvalSymlinks(p); err != nil {
		return "", err
	}
	var files []string
	err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, fp)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, fp := range files {
		data, err := os.ReadFile(fp)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(p, fp)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (f *Fetcher) fetchRepo(ctx context.Context, ref ChartRef) (*Fetched, error) {
	refKey := "repo\x00" + ref.Repo + "\x00" + ref.Name + "\x00" + ref.Version
	index, err := f.getSecure(ctx, strings.TrimSuffix(ref.Repo, "/")+"/index.yaml")
	if err != nil {
		// Offline: the last resolution of this exact reference still holds.
		if cached, cerr := f.fromCachedRef(refKey); cerr == nil {
			return cached, nil
		}
		return nil, fmt.Errorf("fetching the index of %s: %w", ref.Repo, err)
	}
	var idx repo.IndexFile
	if err := yaml.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("reading the index of %s: %w", ref.Repo, err)
	}
	idx.SortEntries()
	cv, err := idx.Get(ref.Name, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("chart %q version %q in %s: %w (%w)", ref.Name, ref.Version, ref.Repo, err, errNoChart)
	}
	if cv.Digest != "" {
		if cached, err := f.fromCache(cv.Digest); err == nil {
			_ = f.saveRef(refKey, cv.Digest)
			return cached, nil
		}
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("chart %q %s in %s has no download URL", ref.Name, cv.Version, ref.Repo)
	}
	u, err := resolveURL(ref.Repo, cv.URLs[0])
	if err != nil {
		return nil, err
	}
	data, err := f.getSecure(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("downloading chart %q %s: %w", ref.Name, cv.Version, err)
	}
	digest := sha256Hex(data)
	if cv.Digest != "" && cv.Digest != digest {
		return nil, fmt.Errorf("chart %q %s from %s: digest %s does not match the index's %s", ref.Name, cv.Version, u, digest, cv.Digest)
	}
	fetched, err := f.store(data, u)
	if err != nil {
		return nil, err
	}
	_ = f.saveRef(refKey, digest)
	return fetched, nil
}

func (f *Fetcher) fetchOCI(ctx context.Context, ref ChartRef) (*Fetched, error) {
	refKey := "oci\x00" + ref.OCI + "\x00" + ref.Version
	host := strings.TrimPrefix(ref.OCI, "oci://")
	opts := []registry.ClientOption{registry.ClientOptEnableCache(false)}
	if loopbackHost(host) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	rc, err := registry.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	tag := ref.Version
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v")); err != nil || tag == "" {
		tags, err := rc.Tags(host)
		if err != nil {
			if cached, cerr := f.fromCachedRef(refKey); cerr == nil {
				return cached, nil
			}
			if notFound(err) {
				err = fmt.Errorf("%w (%w)", err, errNoChart)
			}
			return nil, fmt.Errorf("listing versions of %s: %w", ref.OCI, err)
		}
		constraint, err := constraintOf(ref.Version)
		if err != nil {
			return nil, err
		}
		tag = ""
		for _, t := range tags { // helm returns tags newest first
			if constraint.check(t) {
				tag = t
				break
			}
		}
		if tag == "" {
			return nil, fmt.Errorf("%w: no version of %s matches %q (has %s)", errNoChart, ref.OCI, ref.Version, strings.Join(tags, ", "))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := rc.Pull(host + ":" + tag)
	if err != nil {
		if cached, cerr := f.fromCachedRef(refKey); cerr == nil {
			return cached, nil
		}
		if notFound(err) {
			err = fmt.Errorf("%w (%w)", err, errNoChart)
		}
		return nil, fmt.Errorf("pulling %s:%s: %w", ref.OCI, tag, err)
	}
	fetched, err := f.store(res.Chart.Data, ref.OCI+":"+tag)
	if err != nil {
		return nil, err
	}
	_ = f.saveRef(refKey, fetched.Digest)
	return fetched, nil
}

// store caches an archive under its digest and loads it.
func (f *Fetcher) store(data []byte, from string) (*Fetched, error) {
	c, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("loading chart from %s: %w", from, err)
	}
	digest := sha256Hex(data)
	if f.CacheDir != "" {
		if err := writeAtomic(filepath.Join(f.CacheDir, digest+".tgz"), data); err != nil {
			return nil, fmt.Errorf("caching chart: %w", err)
		}
	}
	return &Fetched{Chart: c, Digest: digest, From: from}, nil
}

func (f *Fetcher) fromCache(digest string) (*Fetched, error) {
	if f.CacheDir == "" {
		return nil, fs.ErrNotExist
	}
	p := filepath.Join(f.CacheDir, digest+".tgz")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if sha256Hex(data) != digest {
		_ = os.Remove(p)
		return nil, fmt.Errorf("cached chart %s is corrupt", p)
	}
	c, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return &Fetched{Chart: c, Digest: digest, From: p}, nil
}

func (f *Fetcher) refPath(key string) string {
	return filepath.Join(f.CacheDir, "refs", sha256Hex([]byte(key)))
}

func (f *Fetcher) saveRef(key, digest string) error {
	if f.CacheDir == "" {
		return nil
	}
	return writeAtomic(f.refPath(key), []byte(digest))
}

func (f *Fetcher) fromCachedRef(key string) (*Fetched, error) {
	if f.CacheDir == "" {
		return nil, fs.ErrNotExist
	}
	digest, err := os.ReadFile(f.refPath(key))
	if err != nil {
		return nil, err
	}
	return f.fromCache(strings.TrimSpace(string(digest)))
}

// writeAtomic writes through a temporary file and a rename, so parallel
// runs sharing the cache never see half a file.
func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func resolveURL(base, ref string) (string, error) {
	b, err := url.Parse(strings.TrimSuffix(base, "/") + "/")
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

func loopbackHost(ref string) bool {
	host := ref
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// notFound tells whether a registry said that a repository or a tag does
// not exist.
func notFound(err error) bool {
	var resp *errcode.ErrorResponse
	return errors.Is(err, errdef.ErrNotFound) || errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound
}
