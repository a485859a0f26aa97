package recommend_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/mlscale/mlscale/internal/recommend"
	"github.com/mlscale/mlscale/test/promtest"
)

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// dayHistory is one day at 5 minutes of the recorded series of the vLLM
// workload ml/llm: 4 GPUs held all day, busy at 35% with 10 requests/s for
// 12 hours, idle for 12; and of another workload that must not be read.
func dayHistory(start time.Time) []promtest.Series {
	step := 5 * time.Minute
	llm := map[string]string{"namespace": "ml", "workload": "llm"}
	other := map[string]string{"namespace": "ml", "workload": "other"}
	return []promtest.Series{
		promtest.Regular(recommend.GPUsSeries, llm, start, step, repeat(4, 288)),
		promtest.Regular(recommend.UtilizationSeries, llm, start, step, append(repeat(35, 144), repeat(0, 144)...)),
		promtest.Regular(recommend.VLLMDemandSeries, llm, start, step, append(repeat(10, 144), repeat(0, 144)...)),
		promtest.Regular(recommend.GPUsSeries, other, start, step, repeat(8, 288)),
		promtest.Regular(recommend.UtilizationSeries, other, start, step, repeat(99, 288)),
	}
}

// TestFetchAndRecommend reads the history from a real Prometheus
// (test/promtest) over backfilled recorded series.
func TestFetchAndRecommend(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	srv := promtest.Start(t, dayHistory(start)...)
	client, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	promAPI := v1.NewAPI(client)
	ctx := context.Background()
	// A day of history ends at the day's last point: 288 points of 5 minutes.
	q := recommend.Query{Namespace: "ml", Workload: "llm", End: start.Add(287 * 5 * time.Minute), Window: 24 * time.Hour, Step: 5 * time.Minute}
	h, err := recommend.Fetch(ctx, promAPI, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.GPUs) != 288 || h.Demand == nil || h.GPUs[0] != 4 || h.Utilization[0] != 35 || h.Utilization[287] != 0 {
		t.Fatalf("history: %d points, demand %v, first %v/%v", len(h.GPUs), h.Demand != nil, h.GPUs[0], h.Utilization[0])
	}
	r, err := recommend.Recommend(h, recommend.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !r.ScaleToZero || r.MinReplicas != 0 || r.MaxReplicas != 3 || math.Abs(r.GPUHoursSaved-72) > 1e-6 {
		t.Errorf("recommendation = %+v, want scale to zero, 0..3, 72 GPU-hours saved", r)
	}
	// The history covers the window asked for, not one step more.
	if r.Window != q.Window || math.Abs(r.GPUHoursObserved-96) > 1e-6 || math.Abs(r.GPUHoursSavedPerWeek()-504) > 1e-6 {
		t.Errorf("window %v, %v GPU-hours held, %v saved per week; want 24h, 96, 504", r.Window, r.GPUHoursObserved, r.GPUHoursSavedPerWeek())
	}

	q.Workload = "missing"
	if _, err := recommend.Fetch(ctx, promAPI, q); err == nil || !strings.Contains(err.Error(), "no GPU history for ml/missing") {
		t.Errorf("Fetch(missing) error = %v", err)
	}
	q.Workload, q.DemandQuery = "llm", `namespace_workload:mlscale_gpu_allocated:sum{namespace="ml"}`
	if _, err := recommend.Fetch(ctx, promAPI, q); err == nil || !strings.Contains(err.Error(), "got 2 series, want one") {
		t.Errorf("Fetch(two-series demand) error = %v", err)
	}
}

// TestQueriesReadOverTheStep: each point stands for the step that ends at
// it, so the recorded series are read over the step (a burst between two
// points of a coarse --step was lost), a millisecond short so that no
// sample counts in two steps; a --demand-query is read as written.
func TestQueriesReadOverTheStep(t *testing.T) {
	q := recommend.Query{Namespace: "ml", Workload: "llm", Step: time.Hour}
	util, gpus, demand := q.Queries()
	sel := `{namespace="ml",workload="llm"}`
	for got, want := range map[string]string{
		util:   "avg_over_time(" + recommend.UtilizationSeries + sel + "[59m59s999ms])",
		gpus:   "max_over_time(" + recommend.GPUsSeries + sel + "[59m59s999ms])",
		demand: "max_over_time(" + recommend.VLLMDemandSeries + sel + "[59m59s999ms])",
	} {
		if got != want {
			t.Errorf("query %q, want %q", got, want)
		}
	}
	q.DemandQuery = "sum(rate(requests_total[5m]))"
	if _, _, d := q.Queries(); d != q.DemandQuery {
		t.Errorf("demand query %q, want it as written", d)
	}
}
