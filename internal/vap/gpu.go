package vap

import (
	"fmt"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
)

// This file is gpu_budget in CEL, for ScaledJobs: the GPUs of the job
// template's pods (counted as workload.GPUsPerPod counts them), times
// parallelism (completions when fewer), times the replicas, against the
// configured budget of the request's namespace. The ResourceQuota limits
// of the Rego policy need a lookup and stay with the webhook, as do
// ScaledObjects (their pods are their target's).

// maxInt64 is math.MaxInt64 in CEL.
const maxInt64 = "9223372036854775807"

// gpuBudgetVariables hold the configuration, so that the rest of the
// policy does not depend on it: gpuBudgets maps namespaces to budgets (in
// JSON, as the chart's toJson writes it), defaultGPUBudget is the budget of
// the others (-1: none).
func gpuBudgetVariables(cfg policy.Config) ([]admissionregistrationv1.Variable, error) {
	budgets := cfg.GPUBudgets
	if budgets == nil {
		budgets = map[string]int64{}
	}
	literal, err := jsonLiteral(budgets)
	if err != nil {
		return nil, err
	}
	def := "-1"
	if cfg.DefaultGPUBudget != nil {
		def = strconv.FormatInt(*cfg.DefaultGPUBudget, 10)
	}
	return []admissionregistrationv1.Variable{
		{Name: "gpuBudgets", Expression: literal},
		{Name: "defaultGPUBudget", Expression: def},
	}, nil
}

// gpuBudgetDefinition is gpu_budget with the budgets of cfg.
func gpuBudgetDefinition(cfg policy.Config) (definition, error) {
	podSpec := `object.spec.jobTargetRef.template.spec`
	config, err := gpuBudgetVariables(cfg)
	if err != nil {
		return definition{}, err
	}
	vars := append(config, []admissionregistrationv1.Variable{
		// The budget of the request's namespace (-1: none) and where it
		// comes from, as the Rego names it.
		{Name: "limit", Expression: `request.namespace in variables.gpuBudgets ? variables.gpuBudgets[request.namespace] : variables.defaultGPUBudget`},
		{Name: "source", Expression: `request.namespace in variables.gpuBudgets ? 'the configured GPU budget of namespace ' + request.namespace : 'the configured default GPU budget'`},
		{Name: "podSpec", Expression: `has(object.spec.jobTargetRef) && has(object.spec.jobTargetRef.template) && has(` + podSpec + `) ? ` + podSpec + ` : {}`},
		{Name: "initGPUs", Expression: `(has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []).map(c, ` + containerGPUs("c") + `)`},
		{Name: "initSidecar", Expression: `(has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []).map(c, has(c.restartPolicy) && c.restartPolicy == 'Always')`},
		// A sidecar runs beside everything after it; an init container that
		// runs to completion beside the sidecars started before it.
		{Name: "peakInitGPUs", Expression: `([0] + variables.initGPUs.transformList(i, n, !variables.initSidecar[i], ` +
			saturatingSum(`variables.initGPUs.slice(0, i).transformList(j, m, variables.initSidecar[j], m) + [n]`) + `)).max()`},
		{Name: "runningGPUs", Expression: saturatingSum(`variables.initGPUs.transformList(i, n, variables.initSidecar[i], n) + (has(variables.podSpec.containers) ? variables.podSpec.containers : []).map(c, ` + containerGPUs("c") + `)`)},
		{Name: "gpus", Expression: `variables.runningGPUs > variables.peakInitGPUs ? variables.runningGPUs : variables.peakInitGPUs`},
		// A replica runs parallelism pods at once, or completions when fewer.
		{Name: "parallelism", Expression: `has(object.spec.jobTargetRef) && has(object.spec.jobTargetRef.parallelism) && object.spec.jobTargetRef.parallelism > 0 ? object.spec.jobTargetRef.parallelism : 1`},
		{Name: "pods", Expression: `has(object.spec.jobTargetRef) && has(object.spec.jobTargetRef.completions) && object.spec.jobTargetRef.completions > 0 && object.spec.jobTargetRef.completions < variables.parallelism ? object.spec.jobTargetRef.completions : variables.parallelism`},
		{Name: "maxReplicas", Expression: `has(object.spec.maxReplicaCount) ? object.spec.maxReplicaCount : 100`},
		{Name: "minReplicas", Expression: `has(object.spec.minReplicaCount) ? object.spec.minReplicaCount : 0`},
		{Name: "replicas", Expression: `variables.maxReplicas > variables.minReplicas ? variables.maxReplicas : variables.minReplicas`},
	}...)
	// replicas x gpus x pods > limit, without overflow: for positive
	// factors, a x b > L exactly when a > floor(L / b).
	condition := `variables.limit >= 0 && variables.gpus > 0 && variables.replicas > 0 && variables.gpus > (variables.limit / variables.replicas) / variables.pods`
	perReplica := `(variables.pods > 1 ? string(variables.gpus) + ' GPUs per pod x parallelism ' + string(variables.pods) : string(variables.gpus) + ' GPUs per pod')`
	bound := `(variables.minReplicas <= variables.maxReplicas ? 'maxReplicaCount (mlscale.io/max-replicas)' : 'minReplicaCount and maxReplicaCount')`
	fix := `(variables.gpus <= variables.limit / variables.pods ? 'set ' + ` + bound + ` + ' to ' + string(variables.limit / (variables.gpus * variables.pods)) + ' or less, or raise the budget' : 'not even one replica (' + ` +
		decimalProduct("variables.gpus", "variables.pods") + ` + ' GPUs) fits: request fewer GPUs per pod or a lower parallelism, or raise the budget')`
	message := `'gpu_budget: ' + ` + objectKey + ` + ' may scale to ' + string(variables.replicas) + ' replicas x ' + ` + perReplica + ` + ' = ' + ` +
		decimalProduct("variables.gpus", "variables.replicas", "variables.pods") + ` + ' GPUs, over the ' + string(variables.limit) + ' GPUs of ' + variables.source + '; ' + ` + fix
	return definition{
		name:  "gpu_budget",
		kinds: []string{KindScaledJob},
		// Without params, fail closed as the webhook's entry for new KEDA
		// objects does.
		failurePolicy: admissionregistrationv1.Fail,
		partial:       true,
		variables:     vars,
		condition:     condition,
		message:       message,
	}, nil
}

// gpuResource is workload.GPUResource(n).
func gpuResource(n string) string {
	parts := []string{n + " in " + list(workload.GPUResourceNames)}
	for _, p := range workload.GPUResourcePrefixes {
		parts = append(parts, n+".startsWith("+quote(p)+")")
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

// devices is a GPU quantity (an int or a string, as the CRD's
// int-or-string keeps it) as workload's devices() counts it: rounded up,
// never negative, math.MaxInt64 above it. Kubernetes' quantity() holds a
// value of 19 digits or more, or a fraction, as a decimal that asInteger
// refuses: its ceiling is found from its float value, corrected twice by
// the exact difference (sub), so that it is exact however large. Each
// operation reads the string anew: the quantity library's comparisons and
// sub may change the quantity they are called on.
func devices(v string) string {
	const q = "quantity(s)"
	ceil := fmt.Sprintf(`[int(%[2]s.asApproximateFloat() < 4.0e18 ? %[2]s.asApproximateFloat() : 4.0e18)].map(n0, [int(%[2]s.sub(n0).asApproximateFloat())].map(m, [m > %[1]s - n0 ? %[1]s : n0 + m].map(c, [int(%[2]s.sub(c).asApproximateFloat())].map(m2, [m2 > %[1]s - c ? %[1]s : c + m2].map(c2, c2 < %[1]s && quantity(string(c2)).isLessThan(%[2]s) ? c2 + 1 : c2)[0])[0])[0])[0])[0]`, maxInt64, q)
	return fmt.Sprintf(`[string(%[1]s)].map(s, !isQuantity(s) ? 0 : (%[3]s.isGreaterThan(quantity('%[2]s')) ? %[2]s : (!%[3]s.isGreaterThan(quantity('0')) ? 0 : (%[3]s.isInteger() ? %[3]s.asInteger() : %[4]s))))[0]`,
		v, maxInt64, q, ceil)
}

// containerGPUs is what container c holds in GPUs: its GPU resources (a
// limit, else the request), added up with saturation.
func containerGPUs(c string) string {
	lim := fmt.Sprintf(`(has(%[1]s.resources) && has(%[1]s.resources.limits) ? %[1]s.resources.limits : {})`, c)
	req := fmt.Sprintf(`(has(%[1]s.resources) && has(%[1]s.resources.requests) ? %[1]s.resources.requests : {})`, c)
	return saturatingSum(fmt.Sprintf(`%[1]s.filter(r, %[3]s).map(r, %[4]s) + %[2]s.filter(r, %[3]s && !(r in %[1]s)).map(r, %[5]s)`,
		lim, req, gpuResource("r"), devices(lim+"[r]"), devices(req+"[r]")))
}

// saturatingSum is the sum of a list of non-negative ints, math.MaxInt64
// when it would overflow: the high and low 32 bits are added apart, which
// cannot overflow for fewer than 2^31 elements.
func saturatingSum(xs string) string {
	const b = "4294967296"
	return fmt.Sprintf(`[%[1]s].map(l, [l.map(x, x / %[2]s).sum() + l.map(x, x %% %[2]s).sum() / %[2]s].map(h, h >= 2147483648 ? %[3]s : h * %[2]s + l.map(x, x %% %[2]s).sum() %% %[2]s)[0])[0]`,
		xs, b, maxInt64)
}

// decimalProduct is the decimal digits of the product of a and the small
// factors (each below 2^32), exact where int arithmetic would overflow,
// as Rego's numbers print it: the product is carried in limbs of nine
// digits.
func decimalProduct(a string, factors ...string) string {
	const base = "1000000000"
	// limbs, least significant first, each a CEL int expression of the
	// names bound so far.
	expr := fmt.Sprintf(`[[%[1]s %% %[2]s, %[1]s / %[2]s %% %[2]s, %[1]s / %[2]s / %[2]s]]`, a, base)
	n := 3
	for _, f := range factors {
		// p_i = l_i x f + carry_{i-1}; the new limbs are p_i mod base, and
		// the last carry split in two limbs.
		var limbs []string
		carry := "0"
		for i := range n {
			p := fmt.Sprintf(`(l[%d] * %s + %s)`, i, f, carry)
			limbs = append(limbs, p+" % "+base)
			carry = p + " / " + base
		}
		limbs = append(limbs, carry+" % "+base, carry+" / "+base)
		n += 2
		expr = fmt.Sprintf(`%s.map(l, [%s])`, expr, strings.Join(limbs, ", "))
	}
	digits := make([]string, n)
	for i := range n {
		digits[n-1-i] = fmt.Sprintf(`[string(l[%d])].map(s, '000000000'.substring(0, 9 - size(s)) + s)[0]`, i)
	}
	return fmt.Sprintf(`%s.map(l, [%s].map(s, s == '' ? '0' : s)[0])[0]`, expr,
		"("+strings.Join(digits, " + ")+").find('[1-9][0-9]*$')")
}
