//go:build tools

// Package crictl pins sigs.k8s.io/cri-tools/cmd/crictl for the e2e kind node image.
package crictl

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
