//go:build tools

// Package tools pins the helm command built by `make helm`.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
