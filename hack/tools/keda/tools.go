//go:build tools

// Package tools pins the KEDA commands built by `make keda`: the operator,
// the admission webhooks and the metrics adapter, at the KEDA version of the
// main module's go.mod.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
	_ "github.com/kedacore/keda/v2/cmd/webhooks"
)
