package engine

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The formats kindred render writes.
const (
	FormatManifests = "manifests"
	FormatHelmfile  = "helmfile"
	FormatFlux      = "flux"
	FormatArgoCD    = "argocd"
)

// Formats are the formats Files writes.
var Formats = []string{FormatManifests, FormatHelmfile, FormatFlux, FormatArgoCD}

// GitPlaceholder stands, in the flux and argocd formats, for the Git
// repository their user commits the output to.
const GitPlaceholder = "https://git.example.invalid/REPLACE-ME.git"

// Files writes the export in a format: file paths (slash-separated,
// relative to the output folder) and their contents, a README.md among
// them saying how to apply it and what was left out.
func (e *Export) Files(format string) (map[string][]byte, error) {
	out := map[string][]byte{}
	var how string
	switch format {
	case FormatManifests:
		e.stepFolders(out, true, true)
		how = "Apply the folders in order, each file once the previous one is ready:\n\n```\nfor d in */; do for f in crds objects after; do [ -f \"$d$f.yaml\" ] && kubectl apply --server-side -f \"$d$f.yaml\"; done; done\n```\n\nFolders are numbered in dependency order (a step's level, then its name); in each, `crds.yaml` (CRDs and namespaces) comes before `objects.yaml`, and `after.yaml` (what a chart's operator needs, of kinds its CRDs define) last. Charts are rendered as `helm template` does, their hooks included as plain objects."
	case FormatHelmfile:
		if err := e.helmfile(out); err != nil {
			return nil, err
		}
		how = "Run `helmfile sync` here (helm must be on PATH). Every step is a release: charts as they are, other steps as the folders under `steps/`, which helmfile turns into charts; `needs:` reproduces the stack's graph."
	case FormatFlux:
		if err := e.flux(out); err != nil {
			return nil, err
		}
		how = fmt.Sprint("Commit this folder to a Git repository, create a GitRepository named `kindred` in `flux-system` pointing at it (the Kustomizations' `sourceRef`), and apply `flux/`. Every step is a Kustomization of its folder under `steps/` (a chart step's folder holds its HelmRelease), with `dependsOn` following the stack's graph and `wait: true`, so a step starts only once what it needs is ready.")
	case FormatArgoCD:
		if err := e.argocd(out); err != nil {
			return nil, err
		}
		how = fmt.Sprintf("Commit this folder to a Git repository, replace `%s` in `applications.yaml` with its URL, and apply `applications.yaml` as an app of apps in the `argocd` namespace. Each step is an Application whose sync wave is twice its level in the stack's graph (what a chart's operator needs after it, one more), so Argo CD syncs a level only once the previous one is healthy. Argo CD judges an Application's health only with the health check for `argoproj.io/Application` configured (`resource.customizations.health.argoproj.io_Application` in `argocd-cm`; see Argo CD's \"app of apps\" documentation); without it the waves order the sync but do not wait.", GitPlaceholder)
	default:
		return nil, fmt.Errorf("unknown format %q: want %s", format, strings.Join(Formats, ", "))
	}
	out["README.md"] = e.readme(format, how)
	return out, nil
}

// stepDir is a step's folder name: its order, then its ID made a path.
func stepDir(i int, s ExportStep) string {
	return fmt.Sprintf("%02d-%s", i+1, strings.NewReplacer("/", "-", ":", "-").Replace(s.ID))
}

// stepFolders writes steps' objects, a folder each, CRDs and namespaces
// first. With all, every step's objects are written, a chart step's After
// in its folder's after.yaml; without, under steps/: the steps that are
// not charts, and a chart step's After in a folder of its own (NN-ID-after).
//
// With namespaces, a step's folder creates the namespaces its objects use
// that no earlier step did; helmfile creates them itself.
func (e *Export) stepFolders(out map[string][]byte, all, namespaces bool) {
	made := map[string]bool{"default": true}
	if !namespaces {
		for _, s := range e.Steps {
			made[s.Namespace] = true
			for _, o := range append(append([]*unstructured.Unstructured(nil), s.Objects...), s.After...) {
				made[o.GetNamespace()] = true
			}
		}
	}
	prefix := "steps/"
	if all {
		prefix = ""
	}
	for i, s := range e.Steps {
		dir := prefix + stepDir(i, s)
		if !all && s.Chart != nil {
			if len(s.After) > 0 {
				out[dir+"-after/objects.yaml"] = documents(e.placed(s, s.After, made))
			}
			continue
		}
		if len(s.After) > 0 {
			out[dir+"/after.yaml"] = documents(e.placed(s, s.After, made))
		}
		var first, rest []*unstructured.Unstructured
		for _, o := range s.Objects {
			if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
				made[o.GetName()] = true // the step makes it itself (a tenant)
			}
		}
		if s.Namespace != "" && !made[s.Namespace] {
			made[s.Namespace] = true
			first = append(first, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": s.Namespace}}})
		}
		for _, o := range s.Objects {
			o = o.DeepCopy()
			if e.namespaced(o) {
				if o.GetNamespace() == "" {
					o.SetNamespace(s.Namespace)
				}
				if ns := o.GetNamespace(); !made[ns] {
					made[ns] = true
					first = append(first, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}})
				}
			} else {
				o.SetNamespace("")
			}
			if crdFirst(o) {
				first = append(first, o)
			} else {
				rest = append(rest, o)
			}
		}
		if len(first) > 0 {
			out[dir+"/crds.yaml"] = documents(first)
		}
		if len(rest) > 0 {
			out[dir+"/objects.yaml"] = documents(rest)
		}
	}
}

// placed are objects with their namespaces set as the step's.
func (e *Export) placed(s ExportStep, objs []*unstructured.Unstructured, made map[string]bool) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		o = o.DeepCopy()
		if !e.namespaced(o) {
			o.SetNamespace("")
		} else if o.GetNamespace() == "" {
			o.SetNamespace(s.Namespace)
		}
		out = append(out, o)
	}
	return out
}

func documents(objs []*unstructured.Unstructured) []byte {
	var b bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			continue
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes()
}

func marshalAll(docs ...any) ([]byte, error) {
	var b bytes.Buffer
	for _, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes(), nil
}

// repoName names a chart repository for helmfile and Flux: its host and
// path as a DNS label.
func repoName(repo string) string {
	u, err := url.Parse(repo)
	name := repo
	if err == nil {
		name = u.Host + u.Path
	}
	name = strings.Trim(strings.NewReplacer(".", "-", "/", "-", ":", "-", "_", "-").Replace(strings.ToLower(name)), "-")
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	return name
}

// byID maps step IDs to their steps, for needs.
func (e *Export) byID() map[string]ExportStep {
	m := map[string]ExportStep{}
	for _, s := range e.Steps {
		m[s.ID] = s
	}
	return m
}

// needs are a step's needs that the export holds.
func (e *Export) needs(s ExportStep) []string {
	ids := e.byID()
	var out []string
	for _, n := range s.Needs {
		if _, ok := ids[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// depName is what depends on a step waits for: the step, or its After
// when it has one.
func (e *Export) depName(id string) string {
	if len(e.byID()[id].After) > 0 {
		return releaseName(id) + "-after"
	}
	return releaseName(id)
}

// releaseName is a step's release name: its ID made a DNS label.
func releaseName(id string) string {
	return strings.Trim(strings.NewReplacer("/", "-", ".", "-", ":", "-").Replace(id), "-")
}

func (e *Export) helmfile(out map[string][]byte) error {
	repos := map[string]map[string]any{}
	var releases []map[string]any
	ids := e.byID()
	// A namespace a step makes itself (a tenant's) is that step's: the
	// releases in it wait for it instead of creating it.
	owner := map[string]string{}
	for _, s := range e.Steps {
		for _, o := range s.Objects {
			if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
				owner[o.GetName()] = s.ID
			}
		}
	}
	for i, s := range e.Steps {
		ns := nsOr(s.Namespace)
		rel := map[string]any{"name": releaseName(s.ID), "namespace": ns, "createNamespace": true}
		needs := e.needs(s)
		if o, ok := owner[ns]; ok && o != s.ID {
			rel["createNamespace"] = false
			if !slices.Contains(needs, o) {
				needs = append(needs, o)
			}
		}
		if c := s.Chart; c != nil {
			switch {
			case c.OCI != "":
				rel["chart"] = c.OCI
			case c.Repo != "":
				name := repoName(c.Repo)
				repos[name] = map[string]any{"name": name, "url": c.Repo}
				rel["chart"] = name + "/" + c.Name
			}
			rel["version"] = c.Version
			if len(c.Values) > 0 {
				file := "values/" + releaseName(s.ID) + ".yaml"
				data, err := yaml.Marshal(c.Values)
				if err != nil {
					return err
				}
				out[file] = data
				rel["values"] = []string{file}
			}
		} else {
			rel["chart"] = "./steps/" + stepDir(i, s)
		}
		var want []string
		for _, n := range needs {
			want = append(want, nsOr(ids[n].Namespace)+"/"+e.depName(n))
		}
		if len(want) > 0 {
			rel["needs"] = want
		}
		releases = append(releases, rel)
		if len(s.After) > 0 {
			releases = append(releases, map[string]any{"name": releaseName(s.ID) + "-after", "namespace": nsOr(s.Namespace),
				"chart": "./steps/" + stepDir(i, s) + "-after", "needs": []string{nsOr(s.Namespace) + "/" + releaseName(s.ID)}})
		}
	}
	e.stepFolders(out, false, false)
	var repoList []map[string]any
	for _, k := range slices.Sorted(maps.Keys(repos)) {
		repoList = append(repoList, repos[k])
	}
	doc := map[string]any{"releases": releases}
	if len(repoList) > 0 {
		doc["repositories"] = repoList
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	out["helmfile.yaml"] = data
	return nil
}

func nsOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

const fluxNamespace = "flux-system"

func (e *Export) flux(out map[string][]byte) error {
	repos := map[string]any{}
	var kustomizations []any
	for i, s := range e.Steps {
		dir := "steps/" + stepDir(i, s)
		if c := s.Chart; c != nil {
			source := repoName(c.Repo)
			spec := map[string]any{"interval": "1h", "url": c.Repo}
			if c.OCI != "" {
				base := c.OCI[:strings.LastIndex(c.OCI, "/")]
				source = repoName(base)
				spec = map[string]any{"interval": "1h", "url": base, "type": "oci"}
			}
			repos[source] = map[string]any{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
				"metadata": map[string]any{"name": source, "namespace": fluxNamespace}, "spec": spec}
			hr := map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
				"metadata": map[string]any{"name": releaseName(s.ID), "namespace": fluxNamespace},
				"spec": map[string]any{
					"interval": "1h", "releaseName": releaseName(s.ID), "targetNamespace": nsOr(s.Namespace),
					"install": map[string]any{"createNamespace": true, "crds": "CreateReplace"},
					"upgrade": map[string]any{"crds": "CreateReplace"},
					"chart": map[string]any{"spec": map[string]any{"chart": c.Name, "version": c.Version,
						"sourceRef": map[string]any{"kind": "HelmRepository", "name": source, "namespace": fluxNamespace}}},
				}}
			if len(c.Values) > 0 {
				hr["spec"].(map[string]any)["values"] = c.Values
			}
			data, err := marshalAll(hr)
			if err != nil {
				return err
			}
			out[dir+"/helmrelease.yaml"] = data
		}
		k := map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": releaseName(s.ID), "namespace": fluxNamespace},
			"spec": map[string]any{"interval": "10m", "path": "./" + dir, "prune": true, "wait": true,
				"sourceRef": map[string]any{"kind": "GitRepository", "name": "kindred"}}}
		var deps []any
		for _, n := range e.needs(s) {
			deps = append(deps, map[string]any{"name": e.depName(n)})
		}
		if len(deps) > 0 {
			k["spec"].(map[string]any)["dependsOn"] = deps
		}
		kustomizations = append(kustomizations, k)
		if len(s.After) > 0 {
			kustomizations = append(kustomizations, map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
				"metadata": map[string]any{"name": releaseName(s.ID) + "-after", "namespace": fluxNamespace},
				"spec": map[string]any{"interval": "10m", "path": "./" + dir + "-after", "prune": true, "wait": true,
					"sourceRef": map[string]any{"kind": "GitRepository", "name": "kindred"},
					"dependsOn": []any{map[string]any{"name": releaseName(s.ID)}}}})
		}
	}
	e.stepFolders(out, false, true)
	var sources []any
	for _, k := range slices.Sorted(maps.Keys(repos)) {
		sources = append(sources, repos[k])
	}
	if len(sources) > 0 {
		data, err := marshalAll(sources...)
		if err != nil {
			return err
		}
		out["flux/sources.yaml"] = data
	}
	data, err := marshalAll(kustomizations...)
	if err != nil {
		return err
	}
	out["flux/kustomizations.yaml"] = data
	return nil
}

func (e *Export) argocd(out map[string][]byte) error {
	var apps []any
	for i, s := range e.Steps {
		app := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": releaseName(s.ID), "namespace": "argocd",
				"annotations": map[string]any{"argocd.argoproj.io/sync-wave": fmt.Sprint(2 * s.Level)}},
			"spec": map[string]any{
				"project":     "default",
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": nsOr(s.Namespace)},
				"syncPolicy": map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true},
					"syncOptions": []any{"CreateNamespace=true", "ServerSideApply=true"}},
			}}
		spec := app["spec"].(map[string]any)
		if c := s.Chart; c != nil {
			src := map[string]any{"chart": c.Name, "targetRevision": c.Version, "repoURL": c.Repo,
				"helm": map[string]any{"releaseName": releaseName(s.ID)}}
			if c.OCI != "" {
				src["repoURL"] = strings.TrimPrefix(c.OCI[:strings.LastIndex(c.OCI, "/")], "oci://")
			}
			if len(c.Values) > 0 {
				src["helm"].(map[string]any)["valuesObject"] = c.Values
			}
			spec["source"] = src
		} else {
			spec["source"] = map[string]any{"repoURL": GitPlaceholder, "targetRevision": "HEAD", "path": "steps/" + stepDir(i, s)}
		}
		apps = append(apps, app)
		if len(s.After) > 0 {
			after := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
				"metadata": map[string]any{"name": releaseName(s.ID) + "-after", "namespace": "argocd",
					"annotations": map[string]any{"argocd.argoproj.io/sync-wave": fmt.Sprint(2*s.Level + 1)}},
				"spec": map[string]any{"project": "default",
					"destination": spec["destination"], "syncPolicy": spec["syncPolicy"],
					"source": map[string]any{"repoURL": GitPlaceholder, "targetRevision": "HEAD", "path": "steps/" + stepDir(i, s) + "-after"}}}
			apps = append(apps, after)
		}
	}
	e.stepFolders(out, false, true)
	data, err := marshalAll(apps...)
	if err != nil {
		return err
	}
	out["applications.yaml"] = data
	return nil
}

// readme says how to apply the output and what was left out.
func (e *Export) readme(format, how string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Stack %s, rendered by kindred render --format %s\n\n%s\n\n", e.Stack, format, how)
	b.WriteString("## The steps\n\n| order | step | kind | level | needs |\n|---|---|---|---|---|\n")
	for i, s := range e.Steps {
		fmt.Fprintf(&b, "| %02d | `%s` | %s | %d | %s |\n", i+1, s.ID, s.Kind, s.Level, strings.Join(e.needs(s), ", "))
	}
	b.WriteString("\n## Secrets to create first\n\nkindred generates these on a local cluster; here they are left out, never written with values. Create each before the step that uses it:\n\n")
	if len(e.Secrets) == 0 {
		b.WriteString("None.\n")
	}
	sort.Slice(e.Secrets, func(i, j int) bool {
		return e.Secrets[i].Namespace+"/"+e.Secrets[i].Name < e.Secrets[j].Namespace+"/"+e.Secrets[j].Name
	})
	for _, s := range e.Secrets {
		var lits []string
		for _, k := range s.Keys {
			lits = append(lits, "--from-literal="+k+"=…")
		}
		fmt.Fprintf(&b, "- `%s/%s` (step %s): `kubectl create secret generic %s -n %s %s`\n", s.Namespace, s.Name, s.Step, s.Name, s.Namespace, strings.Join(lits, " "))
	}
	b.WriteString("\n## Left out, or replaced by a placeholder\n\nOnly what makes sense on a local cluster: the cluster itself (kind, its node labels and host ports), this machine's local CA, and the CoreDNS rewrite of the stack's domain.\n\n")
	for _, l := range e.LeftOut {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	return b.Bytes()
}
