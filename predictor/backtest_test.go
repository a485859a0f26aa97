package predictor

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestBaselines(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	if got := persistence(v)(5); got != 6 {
		t.Errorf("persistence %g, want 6", got)
	}
	// Period 4, horizon 2, at i=5: max(v[5+1-4], v[5+2-4]) = max(3, 4).
	if got := seasonalNaive(v, 4, 2)(5); got != 4 {
		t.Errorf("seasonal naive %g, want 4", got)
	}
}

func TestHoltWintersLearnsASeason(t *testing.T) {
	season := []float64{10, 20, 30, 20}
	v := make([]float64, 80)
	for i := range v {
		v[i] = season[i%4] + 0.5*float64(i)
	}
	peaks := fitHoltWinters(v, 4, 1, 60)
	for i := 40; i+1 < len(v); i++ {
		if math.Abs(peaks[i]-v[i+1]) > 0.05 {
			t.Fatalf("step %d: forecast %g, actual %g", i, peaks[i], v[i+1])
		}
	}
	if !math.IsNaN(peaks[3]) {
		t.Errorf("forecast before two seasons %g, want NaN", peaks[3])
	}
}

func TestMetrics(t *testing.T) {
	mae, smape := accuracy([]float64{10, 0, 30}, []float64{20, 0, 30})
	if math.Abs(mae-10.0/3) > 1e-12 || math.Abs(smape-200*10.0/30/3) > 1e-9 {
		t.Errorf("MAE %g sMAPE %g", mae, smape)
	}
	// Capacity 10: floors 1, 3, 2 against peaks 15 (needs 2), 20 (2), 5 (1).
	under, over := provisioning([]int{1, 3, 2}, []float64{15, 20, 5}, 10)
	if math.Abs(under-100.0/3) > 1e-9 || math.Abs(over-2.0/3) > 1e-12 {
		t.Errorf("under %g%% over %g", under, over)
	}
	for _, tt := range []struct {
		demand float64
		want   int
	}{{0, 0}, {-1, 0}, {0.1, 1}, {10, 1}, {10.5, 2}, {30, 3}} {
		if got := replicasFor(tt.demand, 10); got != tt.want {
			t.Errorf("replicasFor(%g) = %d, want %d", tt.demand, got, tt.want)
		}
	}
}

func TestSimulateColdStart(t *testing.T) {
	// Demand 5 for 10 minutes, 25 for 10 minutes, at 1 minute steps;
	// capacity 10; cold start 3 minutes.
	s := Series{Start: monday, Step: time.Minute}
	for i := range 20 {
		s.Values = append(s.Values, map[bool]float64{true: 5, false: 25}[i < 10])
	}
	reactive := simulate(s, 0, 10, 3*time.Minute, func(i int) int { return replicasFor(s.Values[i], 10) }, false)
	// The controller sees 25 at sample 10; until the new replicas are
	// ready (3 minutes later) one replica serves 25: minutes 10, 11, 12,
	// plus minute 9 (sample 10's demand arrives before it is seen).
	if reactive.UnderMinutes != 4 {
		t.Errorf("reactive under-provisioned %g minutes, want 4", reactive.UnderMinutes)
	}
	// A floor of 3 from the start: never under.
	predictive := simulate(s, 0, 10, 3*time.Minute, func(int) int { return 3 }, false)
	if predictive.UnderMinutes != 0 || math.Abs(predictive.ReplicaHours-3*19.0/60) > 1e-9 {
		t.Errorf("predictive %+v, want no under-provisioning and 3 replicas for 19 minutes", predictive)
	}
	static := simulate(s, 0, 10, 3*time.Minute, func(int) int { return 2 }, true)
	if static.UnderMinutes != 10 {
		t.Errorf("static at 2 replicas under-provisioned %g minutes, want 10", static.UnderMinutes)
	}
}

func TestBacktestErrors(t *testing.T) {
	s := synth(3*288, 5*time.Minute, 1, daily)
	if _, err := Backtest(s, trainOn(10)); err == nil || !strings.Contains(err.Error(), "training part") {
		t.Errorf("error %v for a too short training part", err)
	}
	if _, err := Backtest(s, trainOn(s.Len()-1)); err == nil {
		t.Error("no error for nothing left to evaluate")
	}
	zero := synth(3*288, 5*time.Minute, 0, func(time.Time) float64 { return 0 })
	if _, err := Backtest(zero, DefaultBacktestConfig()); err == nil || !strings.Contains(err.Error(), "capacity") {
		t.Errorf("error %v for an all-zero history without capacity", err)
	}
}

// TestBacktestQualityBars checks issue 5's bars on the real traces: on
// nyc_taxi and crane_input9 mlscale's MASE beats every baseline, and on
// crane_input5 no cycle is found.
func TestBacktestQualityBars(t *testing.T) {
	for _, name := range []string{"nyc_taxi.csv", "crane_input9.csv"} {
		t.Run(name, func(t *testing.T) {
			r, err := Backtest(loadTrace(t, name), DefaultBacktestConfig())
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Baselines) != 4 {
				t.Fatalf("baselines %v, want all four", r.Baselines)
			}
			for b, m := range r.Baselines {
				if r.MLScale.MASE >= m.MASE {
					t.Errorf("mlscale MASE %.3f does not beat %s's %.3f", r.MLScale.MASE, b, m.MASE)
				}
			}
			if len(r.Forecasts) != r.TestPoints {
				t.Errorf("%d forecasts for %d steps", len(r.Forecasts), r.TestPoints)
			}
			sim := r.Simulation
			if sim[SimPredictive].UnderMinutes >= sim[SimReactive].UnderMinutes {
				t.Errorf("predictive floors under-provisioned %g minutes, reactive alone %g", sim[SimPredictive].UnderMinutes, sim[SimReactive].UnderMinutes)
			}
			if sim[SimPredictive].ReplicaHours >= sim[SimStatic].ReplicaHours {
				t.Errorf("predictive used %g replica-hours, static peak %g", sim[SimPredictive].ReplicaHours, sim[SimStatic].ReplicaHours)
			}
		})
	}
	t.Run("crane_input5.csv", func(t *testing.T) {
		r, err := Backtest(loadTrace(t, "crane_input5.csv"), DefaultBacktestConfig())
		if err != nil {
			t.Fatal(err)
		}
		if r.Cycle != "no cycle" {
			t.Fatalf("cycle %q on the control trace, want no cycle", r.Cycle)
		}
	})
}

// trainOn is the default configuration with n samples of history.
func trainOn(n int) BacktestConfig {
	cfg := DefaultBacktestConfig()
	cfg.Train = n
	return cfg
}
