package recommend

import (
	"context"
	"fmt"
	"math"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mlscale/mlscale/predictor/promsource"
)

// Recorded series of deploy/prometheus/rules/mlscale.rules.yaml that Fetch
// reads.
const (
	UtilizationSeries = "namespace_workload:mlscale_gpu_utilization_percent:avg"
	GPUsSeries        = "namespace_workload:mlscale_gpu_allocated:sum"
	VLLMDemandSeries  = "namespace_workload:vllm_requests:rate5m"
)

// MaxPoints is the most points Fetch reads per series: Prometheus answers a
// range query with at most 11,000 points per series.
const MaxPoints = 11000

// Query says whose history Fetch reads and over which window.
type Query struct {
	// Namespace and Workload select the workload (the rules' namespace and
	// workload labels).
	Namespace, Workload string
	// DemandQuery is a PromQL query of the workload's demand; "" reads the
	// vLLM request rate recorded for the workload.
	DemandQuery string
	// End is the end of the window, Window its length, Step the resolution.
	End    time.Time
	Window time.Duration
	Step   time.Duration
}

// Queries returns the PromQL queries of utilisation, GPUs and demand. Each
// point stands for the step that ends at it: the recorded series are read
// over the step (the GPUs held and the demand at their highest, the
// utilisation on average), so a burst between two points is not lost at a
// coarse --step; a --demand-query is read as written.
func (q Query) Queries() (util, gpus, demand string) {
	sel := fmt.Sprintf("{namespace=%q,workload=%q}", q.Namespace, q.Workload)
	over := func(fn, series string) string {
		if q.Step < time.Second {
			return series + sel
		}
		// A millisecond short of the step: the step's range is then
		// (t-step, t] on every Prometheus (2.x includes the left end), so
		// no sample counts in two steps.
		return fmt.Sprintf("%s(%s%s[%s])", fn, series, sel, model.Duration(q.Step-time.Millisecond))
	}
	demand = q.DemandQuery
	if demand == "" {
		demand = over("max_over_time", VLLMDemandSeries)
	}
	return over("avg_over_time", UtilizationSeries), over("max_over_time", GPUsSeries), demand
}

// Fetch reads a workload's history from Prometheus: Window/Step points, the
// last one at End, so that the history covers Window (each point stands for
// the Step that ends at it). A demand query without data gives a History
// without Demand.
func Fetch(ctx context.Context, api v1.API, q Query) (History, error) {
	if q.Namespace == "" || q.Workload == "" {
		return History{}, fmt.Errorf("namespace %q and workload %q: both are required (-n and --workload)", q.Namespace, q.Workload)
	}
	if q.Step <= 0 || q.Window < q.Step {
		return History{}, fmt.Errorf("--step %v and --window %v: allowed: a step above 0 and a window of at least one step", q.Step, q.Window)
	}
	n := int(q.Window / q.Step)
	if n > MaxPoints {
		return History{}, fmt.Errorf("--window %v at --step %v is %d points; allowed: at most %d (Prometheus' limit per series)", q.Window, q.Step, n, MaxPoints)
	}
	r := v1.Range{Start: q.End.Add(-time.Duration(n-1) * q.Step), End: q.End, Step: q.Step}
	utilQ, gpusQ, demandQ := q.Queries()
	h := History{Step: q.Step}
	var err error
	if h.Utilization, _, err = fetchOne(ctx, api, utilQ, r, n); err != nil {
		return History{}, err
	}
	var found bool
	if h.GPUs, found, err = fetchOne(ctx, api, gpusQ, r, n); err != nil {
		return History{}, err
	}
	if !found {
		return History{}, fmt.Errorf("no GPU history for %s/%s in Prometheus (%s over %v): is the workload's name right, and are mlscale's recording rules loaded?", q.Namespace, q.Workload, gpusQ, q.Window)
	}
	demand, found, err := fetchOne(ctx, api, demandQ, r, n)
	if err != nil {
		return History{}, err
	}
	if found {
		h.Demand = demand
	}
	return h, nil
}

// fetchOne runs a range query expected to give at most one series and
// returns its values on the step grid (NaN where missing), and whether it had
// any data.
func fetchOne(ctx context.Context, api v1.API, query string, r v1.Range, n int) ([]float64, bool, error) {
	val, _, _, err := api.QueryRange(ctx, query, r)
	if err != nil {
		// The HTTP client's error repeats the URL, a token in its query
		// string included.
		return nil, false, fmt.Errorf("querying Prometheus for %s: %w", query, promsource.RedactURLError(err))
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, false, fmt.Errorf("querying Prometheus for %s: got a %s, want a range vector", query, val.Type())
	}
	if len(m) > 1 {
		return nil, false, fmt.Errorf("querying Prometheus for %s: got %d series, want one (aggregate the query, e.g. sum(...))", query, len(m))
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	if len(m) == 0 {
		return out, false, nil
	}
	for _, s := range m[0].Values {
		i := int(s.Timestamp.Time().Sub(r.Start) / r.Step)
		if i >= 0 && i < n {
			out[i] = float64(s.Value)
		}
	}
	return out, len(m[0].Values) > 0, nil
}
