package floorwriter

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlscale/mlscale/internal/intent"
)

// TestFloorsCalibratedToTheWorkloadsTarget runs the predictor every minute
// for a day of crane_input9 on two workloads, one with the predictor's
// default target (2%) and one with mlscale.io/target-under "10%", against
// a real API server. Each explanation names its target; once the first
// floors' windows are over, it reports the share of floors that were under
// the actual peak and their capacity against it, as the metrics do; the
// looser target buys less capacity, and each achieved rate stays within a
// few points of its target.
func TestFloorsCalibratedToTheWorkloadsTarget(t *testing.T) {
	needCluster(t)
	src, end := crane15d(t)
	ns := newNamespace(t)
	ctx := context.Background()
	strict := predictive("demand", 40, 1, 50)
	loose := predictive("demand", 40, 1, 50)
	loose[intent.KeyTargetUnder] = "10%"
	for name, ann := range map[string]map[string]string{"strict": strict, "loose": loose} {
		d := deployment(ns, name, ann)
		if err := k8s.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		// The other tests' writers see every predictive workload of the
		// API server: leave none behind.
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), d) })
	}
	clk := newClock(end.Add(-24 * time.Hour))
	metrics := NewMetrics()
	w := New(k8s, src, DefaultConfig(), Options{Now: clk.now, Metrics: metrics})
	capacity := map[string]float64{}
	for ; !clk.now().After(end); clk.add(time.Minute) {
		res, err := w.Cycle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"strict", "loose"} {
			r, ok := resultFor(t, res, ns, name)
			if !ok || r.Err != nil {
				t.Fatalf("%s at %s: %+v", name, clk.now(), r)
			}
			capacity[name] += float64(r.Explanation.Floor)
		}
	}
	for name, target := range map[string]float64{"strict": 0.02, "loose": 0.10} {
		r, _ := resultFor(t, mustCycle(t, w), ns, name)
		ex := r.Explanation
		if ex.TargetUnder != intent.FormatTargetUnder(target) {
			t.Errorf("%s: targetUnder %q, want %q", name, ex.TargetUnder, intent.FormatTargetUnder(target))
		}
		// A day of cycles, less the windows not over yet.
		if ex.EvaluatedFloors < 1000 || ex.AchievedUnder == nil || ex.FloorVsPeak == nil {
			t.Fatalf("%s: explanation %+v, want the achieved rate over about a day of evaluated floors", name, ex)
		}
		t.Logf("%s: target %s, achieved %.3f over the last %d floors, floor capacity %.2f x the peak, %s margin", name, ex.TargetUnder, *ex.AchievedUnder, ex.EvaluatedFloors, *ex.FloorVsPeak, ex.Margin)
		if ex.Margin != MarginCalibrated && ex.Margin != MarginPlain {
			t.Errorf("%s: margin %q, want %q or %q", name, ex.Margin, MarginCalibrated, MarginPlain)
		}
		if *ex.AchievedUnder > target+0.05 {
			t.Errorf("%s: %.3f of the last floors were under, target %.2f", name, *ex.AchievedUnder, target)
		}
		labels := prometheus.Labels{"namespace": ns, "kind": "Deployment", "workload": name}
		if got := testutil.ToFloat64(metrics.targetUnder.With(labels)); got != target {
			t.Errorf("%s: mlscale_predictor_target_under_ratio %v, want %v", name, got, target)
		}
		if got := testutil.ToFloat64(metrics.under.With(labels)); got != *ex.AchievedUnder {
			t.Errorf("%s: mlscale_predictor_under_ratio %v, want %v", name, got, *ex.AchievedUnder)
		}
	}
	if capacity["loose"] >= capacity["strict"] {
		t.Errorf("replica-minutes of floors: %v with a 10%% target, %v with 2%%; want fewer with the looser target", capacity["loose"], capacity["strict"])
	}
}

func mustCycle(t *testing.T, w *Writer) []Result {
	t.Helper()
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}
