package mirror

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// Environment variables and annotations that carry cloud credentials or
// a cloud identity.
var (
	cloudEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_CERTIFICATE_PATH"}
	cloudIdentity = []string{"eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account", "azure.workload.identity/client-id"}
)

// podSpecPath is where a workload kind keeps its pod spec.
func podSpecPath(kind string) []string {
	if kind == "CronJob" {
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	return []string{"spec", "template", "spec"}
}

// cloudCredentials finds workloads (and so releases) that use cloud
// credentials, by the environment they get or the identity their service
// account is bound to. It returns why, by "Kind namespace/name" and by
// release namespace/name.
func (m *mirrorer) cloudCredentials(ctx context.Context) map[string]string {
	if m.creds != nil {
		return m.creds
	}
	out := map[string]string{}
	defer func() { m.creds = out }()
	identities := map[string]string{}
	for _, sa := range m.l.List(ctx, "v1", "ServiceAccount", "") {
		for _, a := range cloudIdentity {
			if _, ok := sa.GetAnnotations()[a]; ok {
				identities[sa.GetNamespace()+"/"+sa.GetName()] = "service account " + sa.GetName() + " is bound to " + a
			}
		}
	}
	for _, k := range workloadKinds {
		for _, w := range m.l.List(ctx, k.apiVersion, k.kind, "") {
			spec, _, _ := unstructured.NestedMap(w.Object, podSpecPath(k.kind)...)
			why := ""
			sa, _ := spec["serviceAccountName"].(string)
			if sa == "" {
				sa = "default"
			}
			if id, ok := identities[w.GetNamespace()+"/"+sa]; ok {
				why = id
			}
			containers, _, _ := unstructured.NestedSlice(spec, "containers")
			for _, c := range containers {
				cm, _ := c.(map[string]any)
				env, _, _ := unstructured.NestedSlice(cm, "env")
				for _, e := range env {
					em, _ := e.(map[string]any)
					name, _ := em["name"].(string)
					for _, ce := range cloudEnv {
						if name == ce {
							why = "environment " + name
						}
					}
				}
			}
			if why == "" {
				continue
			}
			out[k.kind+" "+w.GetNamespace()+"/"+w.GetName()] = why
			if rel, ns, ok := releaseOf(w); ok {
				if ns == "" {
					ns = w.GetNamespace()
				}
				out[ns+"/"+rel] = k.kind + " " + w.GetName() + ": " + why
			}
		}
	}
	return out
}

// jobs turns CronJobs that no release installed into scheduled jobs.
func (m *mirrorer) jobs(ctx context.Context) {
	creds := m.cloudCredentials(ctx)
	for _, cj := range m.l.List(ctx, "batch/v1", "CronJob", "") {
		ns, name := cj.GetNamespace(), cj.GetName()
		what := "CronJob " + ns + "/" + name
		if _, claimed := m.claimed[ns]; claimed || helmOwned(cj) {
			continue // part of a component or a release
		}
		if systemNamespace(ns) && ns != "default" {
			m.r.omit(what, "it runs in "+ns+", which the local cluster has of its own")
			continue
		}
		if !m.selected(ns, name) {
			m.r.omit(what, "excluded by --include/--exclude")
			continue
		}
		if why, ok := creds["CronJob "+ns+"/"+name]; ok {
			m.r.omit(what, "it uses cloud credentials ("+why+")")
			continue
		}
		spec, _, _ := unstructured.NestedMap(cj.Object, podSpecPath("CronJob")...)
		containers, _, _ := unstructured.NestedSlice(spec, "containers")
		if len(containers) == 0 {
			continue
		}
		c, _ := containers[0].(map[string]any)
		path := fmt.Sprintf("jobs[%d]", len(m.r.Stack.Jobs))
		j := api.Job{Name: name}
		if ns != "default" {
			j.Namespace = ns
		}
		j.Schedule, _, _ = unstructured.NestedString(cj.Object, "spec", "schedule")
		j.Image, _ = c["image"].(string)
		j.Command, _, _ = unstructured.NestedStringSlice(c, "command")
		j.Args, _, _ = unstructured.NestedStringSlice(c, "args")
		for _, argv := range [][]string{j.Command, j.Args} {
			for i, a := range argv {
				// --password=…, or a value that looks like a key.
				if k, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok && v != "" && (secretKey.MatchString(k) && !secretName.MatchString(k) || looksSecret(v)) {
					argv[i] = a[:len(a)-len(v)] + m.r.variable(envName(name, k), fmt.Sprintf("%s: the value of %s (a secret: not copied)", path, k))
					m.r.placeholders[argv[i]] = true
				} else if !ok && looksSecret(a) {
					argv[i] = m.r.variable(envName(name, "arg", fmt.Sprint(i)), fmt.Sprintf("%s: an argument (a secret: not copied)", path))
				}
			}
		}
		if b, ok, _ := unstructured.NestedInt64(cj.Object, "spec", "jobTemplate", "spec", "backoffLimit"); ok {
			j.BackoffLimit = int(b)
		}
		from := what
		if len(containers) > 1 {
			from += fmt.Sprintf("; its first container of %d", len(containers))
		}
		env, _, _ := unstructured.NestedSlice(c, "env")
		var fromRefs []string
		for _, e := range env {
			em, _ := e.(map[string]any)
			k, _ := em["name"].(string)
			v, hasValue := em["value"].(string)
			if _, ref := em["valueFrom"]; ref || !hasValue && em["value"] != nil {
				fromRefs = append(fromRefs, k)
				continue
			}
			if j.Env == nil {
				j.Env = map[string]string{}
			}
			if v != "" && (secretKey.MatchString(k) && !secretName.MatchString(k) || looksSecret(v)) {
				v = m.r.variable(envName(name, k), fmt.Sprintf("%s.env.%s (a secret: not copied)", path, k))
			}
			j.Env[k] = v
		}
		if len(fromRefs) > 0 {
			sort.Strings(fromRefs)
			from += "; env " + strings.Join(fromRefs, ", ") + " come from Secrets or ConfigMaps: left out"
		}
		m.r.Stack.Jobs = append(m.r.Stack.Jobs, j)
		m.r.note(path, from)
	}
}

// leftOut lists what runs in the cluster and is not in the stack, and why,
// so that nothing is dropped silently.
func (m *mirrorer) leftOut(ctx context.Context) {
	creds := m.cloudCredentials(ctx)
	for _, k := range workloadKinds {
		if k.kind == "CronJob" {
			continue // jobs has seen them
		}
		for _, w := range m.l.List(ctx, k.apiVersion, k.kind, "") {
			ns, name := w.GetNamespace(), w.GetName()
			what := k.kind + " " + ns + "/" + name
			if _, claimed := m.claimed[ns]; claimed {
				continue
			}
			if rel, rns, ok := releaseOf(w); ok {
				if rns == "" {
					rns = ns
				}
				if r := m.releases[rns+"/"+rel]; r != nil {
					continue // the release is mirrored or omitted as a whole
				}
			}
			if w.GetLabels()["app.kubernetes.io/managed-by"] == "kindred" {
				continue // kindred's own, from the stack that made this cluster
			}
			m.r.omit(what, m.whyLeftOut(k.kind, w, creds[what]))
		}
	}
	for _, d := range m.l.List(ctx, "storage.k8s.io/v1", "CSIDriver", "") {
		m.r.omit("CSIDriver "+d.GetName(), "a CSI driver: the local cluster keeps volumes on its own storage")
	}
	for _, g := range []struct{ apiVersion, kind string }{
		{"gateway.networking.k8s.io/v1", "Gateway"}, {"gateway.networking.k8s.io/v1", "HTTPRoute"}, {"networking.k8s.io/v1", "Ingress"},
	} {
		for _, u := range m.l.List(ctx, g.apiVersion, g.kind, "") {
			if !m.selected(u.GetNamespace()) {
				continue
			}
			m.r.omit(g.kind+" "+u.GetNamespace()+"/"+u.GetName(), "the stack's routes go through the ingress controller it installs: add it as a route")
		}
	}
	for _, ic := range m.l.List(ctx, "networking.k8s.io/v1", "IngressClass", "") {
		ctl, _, _ := unstructured.NestedString(ic.Object, "spec", "controller")
		m.r.omit("IngressClass "+ic.GetName(), "controller "+ctl+": the stack installs its own ingress controller")
	}
}

// whyLeftOut says why a workload is not in the stack.
func (m *mirrorer) whyLeftOut(kind string, w *unstructured.Unstructured, cloud string) string {
	name := strings.ToLower(w.GetName())
	spec, _, _ := unstructured.NestedMap(w.Object, podSpecPath(kind)...)
	text := name
	containers, _, _ := unstructured.NestedSlice(spec, "containers")
	for _, c := range containers {
		cm, _ := c.(map[string]any)
		img, _ := cm["image"].(string)
		args, _, _ := unstructured.NestedStringSlice(cm, "args")
		cmd, _, _ := unstructured.NestedStringSlice(cm, "command")
		text += " " + img + " " + strings.Join(args, " ") + " " + strings.Join(cmd, " ")
	}
	switch {
	case strings.Contains(text, "cloud-controller") || strings.Contains(text, "--cloud-provider"):
		return "a cloud controller: there is no cloud locally"
	case strings.Contains(text, "csi"):
		return "a CSI driver: the local cluster keeps volumes on its own storage"
	case cloud != "":
		return "it uses cloud credentials (" + cloud + ")"
	case systemNamespace(w.GetNamespace()) && w.GetNamespace() != "default":
		return "part of the cluster itself; the local cluster runs its own"
	case kind == "DaemonSet":
		return "a node-local agent"
	case !m.selected(w.GetNamespace(), w.GetName()):
		return "excluded by --include/--exclude"
	}
	return "not from a helm release: add it to the stack as a chart, kustomize folder or manifests"
}
