//go:build tools

// Package tools pins kube-controller-manager, built by `make
// kube-controller-manager` for the KEDA e2e suite.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
