package native

import (
	"fmt"
	"math/big"

	"gopkg.in/inf.v0"
)

func init() { register("gpu_budget", compileGPUBudget) }

// compileGPUBudget is policies/gpu_budget for a configuration.
func compileGPUBudget(cfg Config) Func {
	return func(in *Input) []string { return gpuBudget(in, cfg) }
}

// budget is one of gpu_budget's budgets: a limit in GPU devices and where
// it comes from.
type budget struct {
	limit  *big.Int
	source string
}

// budgets is gpu_budget's budgets: the GPU keys of the namespace's
// ResourceQuotas (floored), its configured budget, else the default one.
func (in *Input) budgets(cfg Config) []budget {
	var out []budget
	for i := range in.ResourceQuotas {
		q := &in.ResourceQuotas[i]
		key, ok := objectKey("ResourceQuota", q)
		if !ok {
			continue
		}
		for name, limit := range q.Spec.Hard {
			if !in.gpuQuotaKey(string(name)) {
				continue
			}
			out = append(out, budget{limit: new(inf.Dec).Round(limit.AsDec(), 0, inf.RoundFloor).UnscaledBig(), source: key})
		}
	}
	if b, ok := cfg.GPUBudgets[in.Namespace]; ok {
		out = append(out, budget{limit: big.NewInt(b), source: "the configured GPU budget of namespace " + in.Namespace})
	} else if cfg.DefaultGPUBudget != nil {
		out = append(out, budget{limit: big.NewInt(*cfg.DefaultGPUBudget), source: "the configured default GPU budget"})
	}
	return out
}

// gpuBudget is policies/gpu_budget.
func gpuBudget(in *Input, cfg Config) []string {
	gpus := in.GPUsPerPod
	if gpus <= 0 {
		return nil
	}
	pods := max(in.PodsPerReplica, 1)
	objs := in.reviewKEDAObjects()
	if len(objs) == 0 {
		return nil
	}
	subject, ok := in.subject()
	if !ok {
		return nil
	}
	budgets := in.budgets(cfg)
	var out []string
	for _, o := range objs {
		maxR, minR := int64(100), int64(0)
		if o.max != nil {
			maxR = int64(*o.max)
		}
		if o.min != nil {
			minR = int64(*o.min)
		}
		replicas := max(maxR, minR)
		// The products are Rego's numbers: exact, however large.
		perPod := new(big.Int).Mul(big.NewInt(gpus), big.NewInt(pods))
		need := new(big.Int).Mul(big.NewInt(replicas), perPod)
		perReplica := fmt.Sprintf("%d GPUs per pod", gpus)
		if pods > 1 {
			perReplica = fmt.Sprintf("%d GPUs per pod x parallelism %d", gpus, pods)
		}
		for _, b := range budgets {
			if need.Cmp(b.limit) <= 0 {
				continue
			}
			out = append(out, fmt.Sprintf("gpu_budget: %s may scale to %d replicas x %s = %v GPUs, over the %v GPUs of %s; %s",
				subject, replicas, perReplica, need, b.limit, b.source, budgetFix(minR, maxR, perPod, b.limit)))
		}
	}
	return out
}

// budgetFix is gpu_budget's fix: the highest bound that fits the budget,
// or that not even one replica fits.
func budgetFix(minR, maxR int64, perReplica, limit *big.Int) string {
	if perReplica.Cmp(limit) > 0 {
		return fmt.Sprintf("not even one replica (%v GPUs) fits: request fewer GPUs per pod or a lower parallelism, or raise the budget", perReplica)
	}
	bound := "maxReplicaCount (mlscale.io/max-replicas)"
	if minR > maxR {
		bound = "minReplicaCount and maxReplicaCount"
	}
	return fmt.Sprintf("set %s to %d or less, or raise the budget", bound, new(big.Int).Div(limit, perReplica))
}
