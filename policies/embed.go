// Package policies holds mlscale's built-in Rego policies, embedded in the
// binary. Each policy lives in its own folder (policy.rego and, beside it,
// policy_test.rego) as package mlscale.policies.<folder>, and reports its
// denials as the set of strings `violation`; lib/ holds helpers they share.
//
// The input every policy sees is documented in docs/policies.md and in
// internal/policy.
package policies

import "embed"

// FS holds every .rego file of the built-in policies, tests included, at
// their paths below this folder (e.g. "gpu_budget/policy.rego").
//
//go:embed */*.rego
var FS embed.FS
