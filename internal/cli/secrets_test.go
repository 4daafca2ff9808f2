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
	for _, file := range []string{"key.pem", "include.yaml", "variable.yaml", "values.yaml", "literal.yaml"} {
		for _, cmd := range []string{"validate", "plan", "images"} {
			for _, out := range []string{"text", "json", "github"} {
				var stdout, stderr bytes.Buffer
				code := Run([]string{cmd, "-o", out, filepath.Join(dir, file)}, strings.NewReader(""), &stdout, &stderr, env)
				all := stdout.String() + stderr.String()
				if code == ExitOK {
					t.Errorf("kindred %s %s passed:\n%s", cmd, file, all)
				}
				for _, secret := range []string{keyBody[:20], token[:16]} {
					if strings.Contains(all, secret) {
						t.Errorf("kindred %s -o %s %s prints a secret:\n%s", cmd, out, file, all)
					}
				}
			}
		}
	}
}
