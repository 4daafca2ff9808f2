//go:build tools

// Package helmfile pins the helmfile the benchmark compares kindred with.
package helmfile

import _ "github.com/helmfile/helmfile"
