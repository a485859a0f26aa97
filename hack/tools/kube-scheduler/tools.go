//go:build tools

// Package tools pins kube-scheduler, built by `make kube-scheduler` for the
// simulated-cluster e2e suite (make e2e-loop).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
