package floorwriter

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
	"github.com/mlscale/mlscale/predictor/promsource"
)

// TestDecide: the pure decision step, without a cluster or a Prometheus:
// degrade and recover on the rolling error, hold and fall back without a
// forecast, never raise a degraded workload's floor.
func TestDecide(t *testing.T) {
	cfg := DefaultConfig() // threshold 0.5, recovery at 0.4, 10 evaluations
	t0 := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	policy := cfg.floorPolicy(1, 20)
	at := func(floor int32, lastGood time.Time) predictor.FloorState {
		return predictor.FloorState{Floor: floor, Valid: true, LastGood: lastGood}
	}
	fc := func(upper float64) *predictor.Forecast { return &predictor.Forecast{Peak: upper * 0.8, Upper: upper} }
	tests := []struct {
		name         string
		s            step
		floor        int32
		mode, reason string
		degraded     bool
	}{
		{"first forecast: floor = ceil(upper / capacity)", step{forecast: fc(45), capacity: 10}, 5, ModePredicting, predictor.ReasonRise, false},
		{"clamped to max", step{forecast: fc(1000), capacity: 10}, 20, ModePredicting, predictor.ReasonRise, false},
		{"clamped to min", step{forecast: fc(0), capacity: 10}, 1, ModePredicting, predictor.ReasonRise, false},
		{"error above the threshold: degraded, no rise", step{prev: at(3, t0), forecast: fc(100), capacity: 10, wape: 0.6, evaluated: 10}, 3, ModeErrorFallback, predictor.ReasonWaitDown, true},
		{"too few evaluations to degrade", step{prev: at(3, t0), forecast: fc(100), capacity: 10, wape: 0.9, evaluated: 9}, 10, ModePredicting, predictor.ReasonRise, false},
		{"degraded stays degraded between 0.8 and 1 times the threshold", step{prev: at(3, t0), degraded: true, forecast: fc(100), capacity: 10, wape: 0.45, evaluated: 10}, 3, ModeErrorFallback, predictor.ReasonWaitDown, true},
		{"recovers at 0.8 times the threshold", step{prev: at(3, t0), degraded: true, forecast: fc(100), capacity: 10, wape: 0.4, evaluated: 10}, 10, ModePredicting, predictor.ReasonRise, false},
		{"no forecast within the hold: floor kept", step{prev: at(7, t0.Add(-10*time.Minute))}, 7, ModeHolding, predictor.ReasonHold, false},
		{"no forecast past the hold: the minimum", step{prev: at(7, t0.Add(-31*time.Minute))}, 1, ModeNoDataFallback, predictor.ReasonFallback, false},
		{"no forecast ever: the minimum", step{}, 1, ModeNoDataFallback, predictor.ReasonFallback, false},
		// Below ten replicas the 10% band is empty; the forecast's recent
		// error, in replicas, is the band.
		{"precise forecast: one replica below waits to fall", step{prev: at(5, t0), forecast: fc(35), capacity: 10, recentError: 2}, 5, ModePredicting, predictor.ReasonWaitDown, false},
		{"error of 1.5 replicas: two below is inside the band", step{prev: at(5, t0), forecast: fc(25), capacity: 10, recentError: 15}, 5, ModePredicting, predictor.ReasonSteady, false},
		{"error of 1.5 replicas: three below waits to fall", step{prev: at(5, t0), forecast: fc(15), capacity: 10, recentError: 15}, 5, ModePredicting, predictor.ReasonWaitDown, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.now, tt.s.policy = t0, policy
			d := cfg.decide(tt.s)
			// 10% of the floor, rounded down, at least the error in
			// replicas, rounded.
			if band := max(d.floor.Floor/10, int32(math.Round(tt.s.recentError/max(1, tt.s.capacity)))); tt.s.capacity > 0 && d.band != band {
				t.Errorf("band %d below floor %d, want %d", d.band, d.floor.Floor, band)
			}
			if d.floor.Floor != tt.floor || d.mode != tt.mode || d.reason != tt.reason || d.degraded != tt.degraded {
				t.Errorf("floor %d mode %s reason %q degraded %v; want %d %s %q %v", d.floor.Floor, d.mode, d.reason, d.degraded, tt.floor, tt.mode, tt.reason, tt.degraded)
			}
		})
	}
}

// TestAnnouncement: which mode changes an Event announces, and how.
func TestAnnouncement(t *testing.T) {
	cfg := DefaultConfig()
	down := errors.New("connection refused")
	bad := fmt.Errorf("reading demand: %w", promsource.ErrBadQuery)
	tests := []struct {
		name         string
		prev         string
		ex           Explanation
		ferr         error
		typ, reason  string
		noteContains string
	}{
		{"unchanged: none", ModePredicting, Explanation{Mode: ModePredicting}, nil, "", "", ""},
		{"first prediction: none", "", Explanation{Mode: ModePredicting}, nil, "", "", ""},
		{"error fallback", ModePredicting, Explanation{Mode: ModeErrorFallback, RollingError: ptr.To(0.61), Evaluated: 12}, nil, corev1.EventTypeWarning, ReasonErrorFallback, "rolling forecast error 0.61 is above the threshold 0.50 over 12 forecasts"},
		{"resumed", ModeErrorFallback, Explanation{Mode: ModePredicting, Cycle: "daily", Floor: 4}, nil, corev1.EventTypeNormal, ReasonResumed, "predicting again (daily); predicted floor 4"},
		{"holding", ModePredicting, Explanation{Mode: ModeHolding, Floor: 6}, down, corev1.EventTypeWarning, ReasonNoData, "holding the last good floor 6 for up to 30m0s: connection refused"},
		{"no data", ModeHolding, Explanation{Mode: ModeNoDataFallback, Floor: 1}, down, corev1.EventTypeWarning, ReasonNoData, "fell back to the minimum, 1"},
		{"bad query", "", Explanation{Mode: ModeNoDataFallback, Floor: 1}, bad, corev1.EventTypeWarning, ReasonBadQuery, "bad PromQL query"},
		{"no data from the first cycle: nothing fell back", "", Explanation{Mode: ModeNoDataFallback, Floor: 1}, down, corev1.EventTypeWarning, ReasonNoData, "no forecast yet: the predicted floor is the minimum, 1, until there is one: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := cfg.announcement(tt.prev, tt.ex, tt.ferr)
			if ok != (tt.typ != "") {
				t.Fatalf("announced %v (%+v), want %v", ok, e, tt.typ != "")
			}
			if ok && (e.typ != tt.typ || e.reason != tt.reason || !strings.Contains(e.note, tt.noteContains)) {
				t.Errorf("event %+v; want %s %s with %q", e, tt.typ, tt.reason, tt.noteContains)
			}
		})
	}
}

// TestConfigCheck: Check names the field out of range.
func TestConfigCheck(t *testing.T) {
	if err := DefaultConfig().Check(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for _, tt := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Interval = 0 }, "Interval must be above 0"},
		{func(c *Config) { c.RefitEvery = -time.Second }, "RefitEvery must be 0 or more"},
		{func(c *Config) { c.Step = 1500 * time.Millisecond }, "Step must be a whole number of seconds, at least 1s, not 1.5s"},
		{func(c *Config) { c.TargetUnder = 0.6 }, "TargetUnder must be a share of steps above 0 and at most 0.5"},
		{func(c *Config) { c.ErrorThreshold = 0 }, "ErrorThreshold must be above 0"},
		{func(c *Config) { c.Concurrency = 0 }, "Concurrency (0) must be at least 1"},
		{func(c *Config) { c.Hysteresis = 1 }, "hysteresis must be in [0, 1)"},
	} {
		if err := configWith(tt.edit).Check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
	zero := configWith(func(c *Config) { c.RefitEvery, c.Hysteresis, c.DownDelay, c.DownInterval = 0, 0, 0, 0 })
	if err := zero.Check(); err != nil {
		t.Errorf("zero refit, hysteresis and fall timing are allowed: %v", err)
	}
}

// TestStateForRestoresDecisions: a new process (a restart, a new leader)
// takes over the previous one's decisions from the workload's annotations:
// an error fallback stays on, the last good forecast's time is kept, and a
// workload that never had a forecast has none to hold (before, a restart
// made one up at the restart's time and held the floor for --hold).
func TestStateForRestoresDecisions(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	good := now.Add(-10 * time.Minute)
	tests := []struct {
		name         string
		explanation  string
		wantMode     string
		wantDegraded bool
		wantLastGood time.Time
	}{
		{"error fallback", `{"mode":"error-fallback","lastGood":"` + good.Format(time.RFC3339) + `"}`, ModeErrorFallback, true, good},
		{"predicting", `{"mode":"predicting","lastGood":"` + good.Format(time.RFC3339) + `"}`, ModePredicting, false, good},
		{"never a forecast", `{"mode":"no-data-fallback"}`, ModeNoDataFallback, false, time.Time{}},
		{"no explanation (a floor written by hand)", ``, "", false, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ann := map[string]string{intent.KeyPredictedFloor: "3"}
			if tt.explanation != "" {
				ann[intent.KeyPrediction] = tt.explanation
			}
			obj := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "api", Annotations: ann}}
			w := New(nil, nil, Config{ErrorWindow: 10, Interval: time.Minute}, Options{})
			st := w.stateFor("Deployment/ml/api", obj, now)
			if st.mode != tt.wantMode || st.degraded != tt.wantDegraded || !st.floor.LastGood.Equal(tt.wantLastGood) || st.floor.Floor != 3 {
				t.Errorf("mode %q degraded %v lastGood %s floor %d; want %q %v %s 3", st.mode, st.degraded, st.floor.LastGood, st.floor.Floor, tt.wantMode, tt.wantDegraded, tt.wantLastGood)
			}
		})
	}
}

// TestObserveRemovesFiguresItHasNot: a cycle without a forecast (or after
// a new query reset the rolling error and the floors' record) removes the
// forecast's, the rolling error's and the floors' series instead of
// leaving their last values, which read as current.
func TestObserveRemovesFiguresItHasNot(t *testing.T) {
	w := New(nil, nil, DefaultConfig(), Options{Metrics: NewMetrics()})
	labels := prometheus.Labels{"namespace": "ml", "kind": "Deployment", "workload": "api"}
	m := w.metrics
	w.observe(labels, Explanation{Floor: 3, TargetUnder: "2%", AchievedUnder: ptr.To(0.01), FloorVsPeak: ptr.To(1.2)}, predictor.Forecast{Peak: 40, Upper: 50}, true, 0.2, 12)
	for _, g := range []*prometheus.GaugeVec{m.forecast, m.upper, m.rollingError, m.under, m.overRatio} {
		if n := testutil.CollectAndCount(g); n != 1 {
			t.Fatalf("%d series after a forecast, want 1", n)
		}
	}
	w.observe(labels, Explanation{Floor: 3, TargetUnder: "2%"}, predictor.Forecast{}, false, 0, 0)
	for _, g := range []*prometheus.GaugeVec{m.forecast, m.upper, m.rollingError, m.under, m.overRatio} {
		if n := testutil.CollectAndCount(g); n != 0 {
			t.Errorf("%d series left after a cycle without the figure, want 0", n)
		}
	}
	if got := testutil.ToFloat64(m.floor.With(labels)); got != 3 {
		t.Errorf("floor %v, want 3", got)
	}
}

// TestExplanationNamesTheMargin: the explanation says which margin made
// the forecast's upper bound: the calibrated one, or the plain one where
// the calibrator took it (a state restored with it on, at 5%); none
// without a forecast.
func TestExplanationNamesTheMargin(t *testing.T) {
	w := New(nil, nil, DefaultConfig(), Options{})
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	opts := predictor.Options{Lookahead: 15 * time.Minute, TargetUnder: 0.05}
	fc := predictor.Forecast{Time: now, Peak: 40, Upper: 50}
	calibrator := func(plain bool) *predictor.Calibrator {
		c, err := predictor.NewCalibrator(0.05, time.Minute, 15*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		res := make([]float64, 500)
		for i := range res {
			res[i] = float64(i%20) - 10
		}
		c.Seed(res)
		st := c.State()
		st.Plain = &predictor.PlainState{Level: 0.05, On: plain}
		if err := c.Restore(st); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tt := range []struct {
		name string
		cal  *predictor.Calibrator
		ferr error
		want string
	}{
		{"calibrated", calibrator(false), nil, MarginCalibrated},
		{"plain", calibrator(true), nil, MarginPlain},
		{"no forecast", calibrator(true), errors.New("no data"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &state{cal: tt.cal}
			ex := w.decideAndExplain(st, now, opts, 10, fc, nil, tt.ferr, w.cfg.floorPolicy(1, 10))
			if ex.Margin != tt.want {
				t.Errorf("margin %q, want %q", ex.Margin, tt.want)
			}
		})
	}
}
