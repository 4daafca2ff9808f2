package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A private key or a token that reaches an error message by mistake (a
// stack path pointing at a key, an include of one, a token in a variable
// where a number belongs, a values file that is not a mapping) never
// appears in what kindred prints, in any output face: at most a short
// prefix.
func TestSecretsNeverQuoted(t *testing.T) {
	const keyBody = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4"
	const token = "ghp_FAKEtokenFAKEtokenFAKEtoken1234567890"
	dir := t.TempDir()
	key := "-----BEGIN PRIVATE KEY-----\n" + keyBody + "\n-----END PRIVATE KEY-----\n"
	files := map[string]string{
		"key.pem":       key,
		"include.yaml":  "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ninclude: [key.pem]\n",
		"variable.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ncluster:\n  registry: {hostPort: ${TOKEN}}\n",
		"values.yaml":   "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ncomponents:\n  - {name: api, chart: {path: ./chart}, valuesFiles: [key.pem]}\n",
		"version.yaml":  "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ncluster: {kubernetesVersion: \"${TOKEN}\"}\n",
		"name.yaml":     "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: \"shop-${TOKEN}\"}\n",
		"literal.yaml":  "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ncomponents:\n  - {name: api, chart: {path: ./chart}, values: {password: \"${" + token + "\"}}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "chart"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "TOKEN" {
			return token, true
		}
		return "", false
	}
	for _, file := range []string{"key.pem", "include.yaml", "variable.yaml", "version.yaml", "name.yaml", "values.yaml", "literal.yaml"} {
		for _, cmd := range []string{"validate", "plan", "images", "up", "diff", "status", "down", "env", "diagnose", "creds"} {
			for _, out := range []string{"text", "json", "github"} {
				args := []string{cmd, "-o", out, "--provider", "sim", filepath.Join(dir, file)}
				switch cmd {
				case "validate", "plan", "images", "env":
					args = []string{cmd, "-o", out, filepath.Join(dir, file)}
				case "creds":
					args = []string{cmd, "-o", out, "--stack", filepath.Join(dir, file)}
				}
				var stdout, stderr bytes.Buffer
				code := Run(args, strings.NewReader(""), &stdout, &stderr, env)
				all := stdout.String() + stderr.String()
				// A values file is read by the plan: the commands that do
				// not plan load the stack and go on to the (missing) cluster.
				if code != ExitBadInput && file != "values.yaml" {
					t.Errorf("kindred %s %s: exit %d, want %d:\n%s", cmd, file, code, ExitBadInput, all)
				}
				// A file's text is quoted at most by a short prefix; a
				// variable's value not at all.
				for _, secret := range []string{keyBody[:20], token[:16], token[4:14]} {
					if strings.Contains(all, secret) && (secret != token[4:14] || file != "literal.yaml") {
						t.Errorf("kindred %s -o %s %s prints a secret:\n%s", cmd, out, file, all)
					}
				}
			}
		}
	}
}
