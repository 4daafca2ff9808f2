package contour

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/internal/kube"
)

// The in-cluster DNS rewrite: CoreDNS answers every name under the stack's
// domain with the Envoy Service, so a pod reaches https://api.shop.localhost
// exactly as the host does (the host resolves *.localhost to loopback, where
// kind maps ports 80 and 443 to Envoy).

const (
	corednsNamespace = "kube-system"
	corednsConfigMap = "coredns"
	rewriteBegin     = "# kindred: begin rewrite"
	rewriteEnd       = "# kindred: end rewrite"
)

// envoyService is the name Contour's Envoy Service has inside the cluster.
func envoyService() string { return "envoy." + Namespace + ".svc.cluster.local" }

// withRewrite returns corefile with kindred's rewrite for domain in its
// root server block (".:53"), replacing one an earlier run put there. The
// answers carry the name that was asked for (answer auto).
func withRewrite(corefile, domain, target string) (string, error) {
	base := withoutRewrite(corefile)
	lines := strings.Split(base, "\n")
	root := regexp.MustCompile(`^\s*\.:[0-9]+\s*\{\s*$`)
	for i, l := range lines {
		if !root.MatchString(l) {
			continue
		}
		indent := "    "
		if i+1 < len(lines) {
			if m := regexp.MustCompile(`^(\s+)\S`).FindStringSubmatch(lines[i+1]); m != nil {
				indent = m[1]
			}
		}
		block := []string{
			indent + rewriteBegin,
			fmt.Sprintf(`%srewrite stop name regex (^|.*\.)%s\.$ %s. answer auto`, indent, regexp.QuoteMeta(domain), target),
			indent + rewriteEnd,
		}
		out := append(append(append([]string{}, lines[:i+1]...), block...), lines[i+1:]...)
		return strings.Join(out, "\n"), nil
	}
	return "", fmt.Errorf("the CoreDNS configuration has no root server block (.:53)")
}

// withoutRewrite removes kindred's rewrite block, if any.
func withoutRewrite(corefile string) string {
	var out []string
	skip := false
	for _, l := range strings.Split(corefile, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case t == rewriteBegin:
			skip = true
		case t == rewriteEnd:
			skip = false
		case !skip:
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// ensureDNSRewrite points *.domain at Envoy in the cluster's CoreDNS, whose
// reload plugin picks the change up. A cluster without CoreDNS's
// ConfigMap (the simulated one runs no DNS) is left alone; ok says whether
// the rewrite is in place.
func ensureDNSRewrite(ctx context.Context, kc *kube.Client, domain string) (ok bool, err error) {
	return patchCorefile(ctx, kc, func(c string) (string, error) { return withRewrite(c, domain, envoyService()) })
}

// removeDNSRewrite undoes ensureDNSRewrite.
func removeDNSRewrite(ctx context.Context, kc *kube.Client) error {
	_, err := patchCorefile(ctx, kc, func(c string) (string, error) { return withoutRewrite(c), nil })
	return err
}

func patchCorefile(ctx context.Context, kc *kube.Client, change func(string) (string, error)) (bool, error) {
	cms := kc.Typed.CoreV1().ConfigMaps(corednsNamespace)
	cm, err := cms.Get(ctx, corednsConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	old, ok := cm.Data["Corefile"]
	if !ok {
		return false, nil
	}
	updated, err := change(old)
	if err != nil {
		return false, err
	}
	if updated == old {
		return true, nil
	}
	cm.Data["Corefile"] = updated
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("updating CoreDNS's configuration: %w", err)
	}
	return true, nil
}
