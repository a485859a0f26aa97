package floorwriter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
)

// seriesSource is an in-process Source: every query reads the same series,
// cut at the range asked for. Tests use it where the point is the
// predictor's behaviour over many cycles or workloads, not Prometheus.
type seriesSource struct{ s predictor.Series }

func (m seriesSource) Range(_ context.Context, query string, start, end time.Time, step time.Duration) (predictor.Series, error) {
	s := m.s
	if step != s.Step {
		return predictor.Series{}, fmt.Errorf("query %q: step %s, the series has %s", query, step, s.Step)
	}
	i := max(0, int((start.Sub(s.Start)+step-1)/step))
	j := min(s.Len(), int(end.Sub(s.Start)/step)+1)
	if j <= i {
		return predictor.Series{}, fmt.Errorf("query %q: no data", query)
	}
	return s.Slice(i, j), nil
}

// eventRecorder records the reasons of the Events on objects of one
// namespace (the writer sees every predictive workload of the API server,
// other tests' too).
type eventRecorder struct {
	namespace string
	mu        sync.Mutex
	reasons   []string
}

func (r *eventRecorder) Eventf(regarding runtime.Object, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	if o, ok := regarding.(client.Object); !ok || o.GetNamespace() != r.namespace {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, reason)
}

// TestRollingErrorFallback predicts crane_input9 for 40 minutes (the rolling
// error stays low), then feeds a demand that no longer follows the daily
// cycle (random bursts of three times the level): the rolling error passes the threshold, the workload falls back
// to reactive scaling (the floor is never raised again), and a Warning
// Event, the explanation and the metric say so.
func TestRollingErrorFallback(t *testing.T) {
	needCluster(t)
	trace := loadTrace(t, "crane_input9.csv")
	t0 := trace.Start.Add(15 * 24 * time.Hour)
	k := int(t0.Sub(trace.Start) / trace.Step)
	vals := append([]float64(nil), trace.Values[:k+1]...)
	// Bursts of 900 at random minutes, about one in 22, so that the peak
	// of a 15-minute window is 900 or 0 about as often: a coin toss no
	// forecaster can call. (A regular square wave would not do: the peak
	// of every window of it is its top, which the recent-peak envelope
	// forecasts.)
	r := rand.New(rand.NewPCG(11, 12))
	for i := 1; i <= 120; i++ {
		v := 0.0
		if r.Float64() < 0.045 {
			v = 900
		}
		vals = append(vals, v)
	}
	src := seriesSource{predictor.Series{Start: trace.Start, Step: trace.Step, Values: vals}}

	ns := newNamespace(t)
	d := deployment(ns, "api", predictive(`demand`, 40, 1, 50))
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	clk := newClock(t0.Add(-40 * time.Minute))
	rec := &eventRecorder{namespace: ns}
	w := New(k8s, src, configWith(func(c *Config) { c.ErrorThreshold, c.ErrorWindow = 0.3, 30 }), Options{Now: clk.now, Metrics: NewMetrics(), Recorder: rec})
	var last Explanation
	cycle := func() Explanation { return cycleOf(t, w, clk, "Deployment "+ns+"/api") }
	for ; !clk.now().After(t0); clk.add(time.Minute) {
		last = cycle()
		if last.Mode != ModePredicting {
			t.Fatalf("at %s on the regular trace: mode %s (rolling error %v), want %s", clk.now(), last.Mode, *last.RollingError, ModePredicting)
		}
	}
	regularErr := *last.RollingError
	fellBack := time.Time{}
	for ; !clk.now().After(t0.Add(120 * time.Minute)); clk.add(time.Minute) {
		prev := last
		last = cycle()
		if last.Mode == ModeErrorFallback && fellBack.IsZero() {
			fellBack = clk.now()
		}
		if !fellBack.IsZero() {
			if last.Mode != ModeErrorFallback {
				t.Fatalf("at %s: mode %s after the fallback, with the demand still irregular", clk.now(), last.Mode)
			}
			if last.Floor > prev.Floor {
				t.Fatalf("at %s: floor rose from %d to %d in %s", clk.now(), prev.Floor, last.Floor, ModeErrorFallback)
			}
		}
	}
	if fellBack.IsZero() {
		t.Fatalf("never fell back; rolling error at the end %v (threshold 0.3)", *last.RollingError)
	}
	t.Logf("rolling error %.3f on the regular trace; fell back %s into the irregular demand; floor %d at the end", regularErr, fellBack.Sub(t0), last.Floor)
	if last.Floor != 1 {
		t.Errorf("floor %d at the end of the fallback, want the minimum 1 (falling slowly)", last.Floor)
	}
	ex := explanation(t, annotations(t, d))
	if ex.Mode != ModeErrorFallback {
		t.Errorf("annotation mode %s, want %s", ex.Mode, ModeErrorFallback)
	}
	// A restart (a crash, a rolling update, a new leader) keeps the
	// fallback: the new process reads it from the explanation and resumes
	// only once its own forecasts bring the rolling error down. Before, it
	// started predicting at once.
	w = New(k8s, src, configWith(func(c *Config) { c.ErrorThreshold, c.ErrorWindow = 0.3, 30 }), Options{Now: clk.now, Metrics: NewMetrics(), Recorder: rec})
	for range 3 {
		clk.add(time.Minute)
		if last = cycle(); last.Mode != ModeErrorFallback {
			t.Errorf("at %s after a restart: mode %s, want %s", clk.now(), last.Mode, ModeErrorFallback)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reasons) != 1 || rec.reasons[0] != ReasonErrorFallback {
		t.Errorf("events %v, want one %s", rec.reasons, ReasonErrorFallback)
	}
}

// TestStaleDataHoldsThenFallsBack: data that stops (the newest sample older
// than MaxStaleness) counts as no data: the floor is held for Hold, from the
// last good forecast, and then falls back to the minimum.
func TestStaleDataHoldsThenFallsBack(t *testing.T) {
	needCluster(t)
	trace := loadTrace(t, "crane_input9.csv")
	end := trace.Start.Add(15 * 24 * time.Hour)
	src := seriesSource{trace.Slice(0, int(end.Sub(trace.Start)/trace.Step)+1)}
	ns := newNamespace(t)
	d := deployment(ns, "api", predictive(`demand`, 40, 2, 50))
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	clk := newClock(end)
	w := New(k8s, src, configWith(func(c *Config) { c.MaxStaleness, c.Hold = 10*time.Minute, 30*time.Minute }), Options{Now: clk.now})
	var floor int32
	for _, step := range []struct {
		after time.Duration
		mode  string
	}{
		{0, ModePredicting},
		{9 * time.Minute, ModePredicting}, // newest sample 9m old: still fresh
		{20 * time.Minute, ModeHolding},   // stale; 20m since the last good forecast
		{39 * time.Minute, ModeHolding},   // 30m since the last good one (at 9m)
		{40 * time.Minute, ModeNoDataFallback},
	} {
		clk.set(end.Add(step.after))
		res, err := w.Cycle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ex Explanation
		for _, r := range res {
			if r.Workload == "Deployment "+ns+"/api" {
				ex = r.Explanation
			}
		}
		if ex.Mode != step.mode {
			t.Fatalf("%s after the data ends: mode %s (%s), want %s", step.after, ex.Mode, ex.Error, step.mode)
		}
		switch step.mode {
		case ModePredicting:
			floor = ex.Floor
		case ModeHolding:
			if ex.Floor != floor || !strings.Contains(ex.Error, "stale data") {
				t.Errorf("%s: floor %d error %q, want the held floor %d and a stale-data error", step.after, ex.Floor, ex.Error, floor)
			}
		case ModeNoDataFallback:
			if ex.Floor != 2 {
				t.Errorf("%s: floor %d, want the minimum 2", step.after, ex.Floor)
			}
		}
	}
	if floor <= 2 {
		t.Fatalf("test setup: the predicted floor %d does not differ from the minimum", floor)
	}
}

// blockingSource is a Source whose queries wait until their context ends,
// as a query in flight when the predictor stops; started is closed when
// the first one starts.
type blockingSource struct {
	once    *sync.Once
	started chan struct{}
}

func (b blockingSource) Range(ctx context.Context, query string, _, _ time.Time, _ time.Duration) (predictor.Series, error) {
	b.once.Do(func() { close(b.started) })
	<-ctx.Done()
	return predictor.Series{}, fmt.Errorf("query %q: %w", query, ctx.Err())
}

// TestStopMidCycleIsNotNoData: a predictor stopped while a query is in
// flight announces nothing and writes nothing (before, the cut query read
// as missing data: a PredictorNoData Warning and a "holding" floor).
func TestStopMidCycleIsNotNoData(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t)
	ann := predictive(`demand`, 40, 1, 50)
	ann[intent.KeyPredictedFloor] = "3"
	ann[intent.KeyPrediction] = `{"mode":"predicting","floor":3,"lastGood":"2026-12-04T11:55:00Z"}`
	d := deployment(ns, "api", ann)
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	src := blockingSource{once: &sync.Once{}, started: make(chan struct{})}
	rec := &eventRecorder{namespace: ns}
	clk := newClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	w := New(k8s, src, DefaultConfig(), Options{Now: clk.now, Metrics: NewMetrics(), Recorder: rec})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-src.started
		cancel()
	}()
	_, _ = w.Cycle(ctx)
	got := annotations(t, d)
	if got[intent.KeyPredictedFloor] != "3" || got[intent.KeyPrediction] != ann[intent.KeyPrediction] {
		t.Errorf("annotations after a stop mid-cycle: floor %q, explanation %s", got[intent.KeyPredictedFloor], got[intent.KeyPrediction])
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reasons) != 0 {
		t.Errorf("events %v after a stop mid-cycle, want none", rec.reasons)
	}
}

// TestGlitchKeepsPredicting predicts crane_input9, in which one scrape
// reads ten million: the forecast made at it is made without it (the
// explanation says farRun), the floor does not rise for it, and the
// windows that held it are not scored as misses of ten million. Before,
// the floor went to the workload's maximum at the glitch and the rolling
// error passed the threshold: the workload fell back to reactive scaling.
func TestGlitchKeepsPredicting(t *testing.T) {
	needCluster(t)
	trace := loadTrace(t, "crane_input9.csv")
	t0 := trace.Start.Add(15 * 24 * time.Hour)
	k := int(t0.Sub(trace.Start) / trace.Step)
	vals := slices.Clone(trace.Values[:k+61])
	vals[k] = 1e7
	src := seriesSource{predictor.Series{Start: trace.Start, Step: trace.Step, Values: vals}}

	ns := newNamespace(t)
	d := deployment(ns, "api", predictive(`demand`, 40, 1, 50))
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	clk := newClock(t0.Add(-30 * time.Minute))
	w := New(k8s, src, configWith(func(c *Config) { c.ErrorThreshold, c.ErrorWindow = 0.3, 30 }), Options{Now: clk.now, Metrics: NewMetrics()})
	cycle := func() Explanation { return cycleOf(t, w, clk, "Deployment "+ns+"/api") }
	highest := int32(0)
	for ; clk.now().Before(t0); clk.add(time.Minute) {
		highest = max(highest, cycle().Floor)
	}
	for ; !clk.now().After(t0.Add(60 * time.Minute)); clk.add(time.Minute) {
		ex := cycle()
		if at := clk.now().Equal(t0); ex.FarRun != at {
			t.Errorf("at %s: farRun %v", clk.now(), ex.FarRun)
		}
		if ex.Mode != ModePredicting {
			rolling := "none"
			if ex.RollingError != nil {
				rolling = fmt.Sprint(*ex.RollingError)
			}
			t.Fatalf("at %s: mode %s (rolling error %s), want %s", clk.now(), ex.Mode, rolling, ModePredicting)
		}
		// The demand rises over the hour: a few replicas more than before.
		if ex.Floor > highest+3 {
			t.Errorf("at %s: floor %d, at most %d in the half hour before the glitch", clk.now(), ex.Floor, highest)
		}
	}
}

// cycleOf runs one cycle of w at clk's time and returns the explanation of
// workload (as "Deployment NAMESPACE/NAME"), failing the test on an error.
func cycleOf(t *testing.T, w *Writer, clk *clock, workload string) Explanation {
	t.Helper()
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Workload == workload {
			if r.Err != nil {
				t.Fatalf("at %s: %v", clk.now(), r.Err)
			}
			return r.Explanation
		}
	}
	t.Fatalf("no result for %s at %s", workload, clk.now())
	return Explanation{}
}

// TestNewestSampleMinutesOldForecastsFromNow: where the newest sample is
// minutes old (within MaxStaleness), the floor is for the window after
// now, not after that sample. Demand steps from 10 to 100 at 08:00 every
// day; the data ends at 07:42 and now is 07:50: the window after now holds
// the step, the window after the newest sample does not.
func TestNewestSampleMinutesOldForecastsFromNow(t *testing.T) {
	needCluster(t)
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	vals := make([]float64, 15*1440)
	for i := range vals {
		vals[i] = 10
		if h := (i / 60) % 24; h >= 8 && h < 18 {
			vals[i] = 100
		}
		vals[i] += float64(i%7) - 3
	}
	end := start.Add(14*24*time.Hour + 7*time.Hour + 42*time.Minute)
	src := seriesSource{predictor.Series{Start: start, Step: time.Minute, Values: vals[:int(end.Sub(start)/time.Minute)+1]}}
	ns := newNamespace(t)
	if err := k8s.Create(context.Background(), deployment(ns, "shifts", predictive(`demand`, 10, 1, 50))); err != nil {
		t.Fatal(err)
	}
	clk := newClock(end.Add(8 * time.Minute))
	w := New(k8s, src, configWith(func(c *Config) { c.MaxStaleness = 10 * time.Minute }), Options{Now: clk.now})
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Workload != "Deployment "+ns+"/shifts" {
			continue
		}
		ex := r.Explanation
		if ex.Mode != ModePredicting || ex.ForecastPeak == nil {
			t.Fatalf("mode %s (%s), want %s with a forecast", ex.Mode, ex.Error, ModePredicting)
		}
		if *ex.ForecastPeak < 80 || ex.Floor < 8 {
			t.Errorf("forecast peak %.1f, floor %d at 07:50 with data up to 07:42: want the step to 100 at 08:00 (a floor of about 10)", *ex.ForecastPeak, ex.Floor)
		}
		return
	}
	t.Fatal("no result for the workload")
}
