//go:build tools

// Package tools pins kwok's controller, built by `make kwok` for the
// simulated GPU cluster (make e2e-loop, mlscale-demo --with-keda).
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
