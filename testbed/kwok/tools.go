//go:build tools

// Package kwok pins the kwok command the test bed builds.
package kwok

import _ "sigs.k8s.io/kwok/cmd/kwok"
