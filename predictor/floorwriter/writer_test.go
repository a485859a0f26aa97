package floorwriter

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
	"github.com/mlscale/mlscale/predictor/promsource"
	"github.com/mlscale/mlscale/test/promtest"
)

// backfillTrace starts a real Prometheus holding the trace as
// demand{trace=NAME} and returns it with the trace.
func backfillTrace(t *testing.T, name string) (*promtest.Server, predictor.Series) {
	t.Helper()
	s := loadTrace(t, name)
	srv := promtest.Start(t, promtest.Regular("demand", map[string]string{"trace": name}, s.Start, s.Step, s.Values))
	return srv, s
}

func source(t *testing.T, url string) *promsource.Source {
	t.Helper()
	cfg := promsource.DefaultConfig()
	cfg.URL, cfg.Timeout, cfg.Retries, cfg.Backoff = url, 10*time.Second, 1, 10*time.Millisecond
	src, err := promsource.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// expectedFloor forecasts the trace independently of Prometheus: the
// samples in [now-history, now], fitted and forecast by the core, turned
// into replicas and clamped.
func expectedFloor(t *testing.T, s predictor.Series, now time.Time, history time.Duration, capacity float64, minR, maxR int32) (int32, predictor.Forecast) {
	t.Helper()
	from := now.Add(-history)
	i := max(0, int((from.Sub(s.Start)+s.Step-1)/s.Step))
	j := min(s.Len(), int(now.Sub(s.Start)/s.Step)+1)
	// A first cycle: the model's forecast, its margin calibrated on the
	// fit's own errors (no forecast of the workload evaluated yet).
	h := s.Slice(i, j)
	m, err := predictor.Fit(h, predictor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := m.Forecast(h)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := predictor.NewCalibrator(predictor.DefaultTargetUnder, s.Step, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cal.Seed(m.Residuals())
	fc.Upper = cal.Upper(fc)
	return min(max(int32(math.Ceil(fc.Upper/capacity)), minR), maxR), fc
}

func explanation(t *testing.T, ann map[string]string) Explanation {
	t.Helper()
	var ex Explanation
	if err := json.Unmarshal([]byte(ann[intent.KeyPrediction]), &ex); err != nil {
		t.Fatalf("%s is not an explanation: %v: %q", intent.KeyPrediction, err, ann[intent.KeyPrediction])
	}
	return ex
}

// TestCycleWritesFloorFromPrometheus backfills crane_input9 (16 days at one
// minute) into a real Prometheus, runs one predictor cycle at the end of the
// data against it and a real API server, and checks the floor and its
// explanation on the Deployment, against a forecast computed from the trace
// file directly.
func TestCycleWritesFloorFromPrometheus(t *testing.T) {
	needCluster(t)
	srv, trace := backfillTrace(t, "crane_input9.csv")
	ns := newNamespace(t)
	capacity := 40.0
	d := deployment(ns, "api", predictive(`demand{trace="crane_input9.csv"}`, capacity, 1, 50))
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	// A workload whose demand query Prometheus rejects: no forecast, so
	// the floor is the minimum, and the explanation names the query. A
	// quoted metric name is Prometheus 3 syntax, which mlscale's parser
	// (Prometheus 3's) accepts and the Prometheus 2 server here does not,
	// as a user's Prometheus may not; a query that no Prometheus accepts
	// (a range vector, bad syntax) is refused at admission.
	bad := deployment(ns, "bad", predictive(`sum({"demand"})`, capacity, 3, 50))
	if err := k8s.Create(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	// A workload the predictor must leave alone: opted in, not predictive.
	plain := deployment(ns, "plain", map[string]string{intent.KeyAutoscale: "true", intent.KeyCPUTarget: "70"})
	if err := k8s.Create(context.Background(), plain); err != nil {
		t.Fatal(err)
	}

	now := trace.End()
	reg := prometheus.NewRegistry()
	metrics := NewMetrics()
	if err := metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	w := New(k8s, source(t, srv.URL), DefaultConfig(), Options{Now: func() time.Time { return now }, Metrics: metrics})
	results, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var mine []Result
	for _, r := range results {
		switch r.Workload {
		case "Deployment " + ns + "/api", "Deployment " + ns + "/plain":
			mine = append(mine, r)
		case "Deployment " + ns + "/bad":
			if !errors.Is(r.Err, promsource.ErrBadQuery) || !r.Patched {
				t.Errorf("bad query: result %+v, want ErrBadQuery and a patch", r)
			}
		}
	}
	if ex := explanation(t, annotations(t, bad)); ex.Mode != ModeNoDataFallback || ex.Floor != 3 || !strings.Contains(ex.Error, `sum({\"demand\"})`) || ex.FallBand != nil {
		t.Errorf("bad query: explanation %+v, want %s, floor 3 (the minimum), an error naming the query and no fall band", ex, ModeNoDataFallback)
	}
	if len(mine) != 1 || mine[0].Err != nil || !mine[0].Patched {
		t.Fatalf("results for this namespace: %+v, want one patched result for api", mine)
	}

	want, fc := expectedFloor(t, trace, now, DefaultHistory, capacity, 1, 50)
	if want <= 1 || want >= 50 {
		t.Fatalf("test setup: expected floor %d is not strictly inside [1, 50]; pick another capacity", want)
	}
	ann := annotations(t, d)
	if got := ann[intent.KeyPredictedFloor]; got != strconv.Itoa(int(want)) {
		t.Errorf("%s = %q, want %d (forecast upper %.1f / capacity %.0f)", intent.KeyPredictedFloor, got, want, fc.Upper, capacity)
	}
	ex := explanation(t, ann)
	if ex.Mode != ModePredicting || ex.Reason != predictor.ReasonRise || !ex.Time.Equal(now) || ex.Floor != want {
		t.Errorf("explanation %+v, want mode %s, reason %s, time %s, floor %d", ex, ModePredicting, predictor.ReasonRise, now, want)
	}
	if ex.Cycle == "" || ex.Cycle[:5] != "daily" || ex.Confidence == nil || *ex.Confidence <= 0 || *ex.Confidence > 1 {
		t.Errorf("explanation %+v, want a daily cycle and a confidence in (0, 1]", ex)
	}
	if ex.ForecastUpper == nil || math.Abs(*ex.ForecastUpper-fc.Upper) > 0.001 {
		t.Errorf("explanation's forecastUpper %v, want %.3f", ptr.Deref(ex.ForecastUpper, math.NaN()), fc.Upper)
	}
	// No forecast evaluated yet, so no error band: 10% of the floor.
	if ex.FallBand == nil || *ex.FallBand != want/10 {
		t.Errorf("explanation's fallBand %v, want %d", ptr.Deref(ex.FallBand, -1), want/10)
	}
	if ex.TargetUnder != "2%" || ex.AchievedUnder != nil {
		t.Errorf("explanation's targetUnder %q, achievedUnder %v; want 2%% and none before any floor is evaluated", ex.TargetUnder, ex.AchievedUnder)
	}
	if _, ok := annotations(t, plain)[intent.KeyPredictedFloor]; ok {
		t.Error("a workload without mlscale.io/predictive got a floor")
	}
	labels := prometheus.Labels{"namespace": ns, "kind": "Deployment", "workload": "api"}
	if got := testutil.ToFloat64(metrics.floor.With(labels)); got != float64(want) {
		t.Errorf("mlscale_predictor_floor_replicas = %v, want %d", got, want)
	}
	if got := testutil.ToFloat64(metrics.targetUnder.With(labels)); got != predictor.DefaultTargetUnder {
		t.Errorf("mlscale_predictor_target_under_ratio = %v, want %v", got, predictor.DefaultTargetUnder)
	}
	if got := testutil.ToFloat64(metrics.actual.With(labels)); got != trace.Values[trace.Len()-1] {
		t.Errorf("mlscale_predictor_actual_demand = %v, want the last sample %v", got, trace.Values[trace.Len()-1])
	}

	// A second cycle at the same time changes nothing and patches nothing.
	results, err = w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Workload == "Deployment "+ns+"/api" && r.Patched {
			t.Error("an unchanged floor was patched again")
		}
	}
}

// TestHoldThenFallback runs a cycle with Prometheus up, stops Prometheus,
// and checks that the floor is held while the hold lasts and then falls
// back to the workload's minimum, saying so in the explanation and metrics.
func TestHoldThenFallback(t *testing.T) {
	needCluster(t)
	srv, trace := backfillTrace(t, "crane_input9.csv")
	ns := newNamespace(t)
	capacity := 40.0
	d := deployment(ns, "api", predictive(`demand{trace="crane_input9.csv"}`, capacity, 2, 50))
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	clk := newClock(trace.End())
	metrics := NewMetrics()
	w := New(k8s, source(t, srv.URL), configWith(func(c *Config) { c.Hold = 30 * time.Minute }), Options{Now: clk.now, Metrics: metrics})
	cycle := func() Explanation {
		t.Helper()
		if _, err := w.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		return explanation(t, annotations(t, d))
	}
	first := cycle()
	want, _ := expectedFloor(t, trace, clk.now(), DefaultHistory, capacity, 2, 50)
	if first.Mode != ModePredicting || first.Floor != want || want <= 2 {
		t.Fatalf("before the outage: %+v, want predicting with floor %d > 2", first, want)
	}

	srv.Stop()
	labels := prometheus.Labels{"namespace": ns, "kind": "Deployment", "workload": "api", "reason": fallbackNoData}
	for _, step := range []struct {
		after     time.Duration
		mode      string
		floor     int32
		fallbackM float64
	}{
		{5 * time.Minute, ModeHolding, want, 1},
		{29 * time.Minute, ModeHolding, want, 1},
		{31 * time.Minute, ModeNoDataFallback, 2, 1},
	} {
		clk.set(trace.End().Add(step.after))
		ex := cycle()
		ann := annotations(t, d)
		if ex.Mode != step.mode || ex.Floor != step.floor || ann[intent.KeyPredictedFloor] != strconv.Itoa(int(step.floor)) {
			t.Errorf("%s into the outage: mode %s floor %d (annotation %s), want %s and %d", step.after, ex.Mode, ex.Floor, ann[intent.KeyPredictedFloor], step.mode, step.floor)
		}
		if ex.Error == "" {
			t.Errorf("%s into the outage: the explanation gives no error", step.after)
		}
		if got := testutil.ToFloat64(metrics.fallback.With(labels)); got != step.fallbackM {
			t.Errorf("%s into the outage: mlscale_predictor_fallback{reason=no-data} = %v, want %v", step.after, got, step.fallbackM)
		}
	}
}
