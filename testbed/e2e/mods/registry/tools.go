//go:build tools

// Package registry pins github.com/distribution/distribution/v3/cmd/registry for the e2e kind node image.
package registry

import _ "github.com/distribution/distribution/v3/cmd/registry"
