//go:build tools

// Package helm pins the helm CLI the benchmark compares kindred with.
package helm

import _ "helm.sh/helm/v4/cmd/helm"
