package floorwriter

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/predictor"
)

func TestRolling(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Demand 10, 20, 30, ... every minute.
	vals := make([]float64, 60)
	for i := range vals {
		vals[i] = float64(10 * (i + 1))
	}
	full := predictor.Series{Start: t0, Step: time.Minute, Values: vals}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name      string
		window    int
		forecasts []pendingForecast
		series    predictor.Series
		wantN     int
		wantWAPE  float64
		pending   int
	}{
		{
			name: "exact forecast of the window's peak",
			// Window (0m, 5m] holds samples 1..5, peak vals[5] = 60.
			forecasts: []pendingForecast{{at: at(0), lookahead: 5 * time.Minute, peak: 60, capacity: math.NaN()}},
			series:    full, wantN: 1, wantWAPE: 0,
		},
		{
			name:      "misses are weighted by demand",
			forecasts: []pendingForecast{{at: at(0), lookahead: 5 * time.Minute, peak: 30, capacity: math.NaN()}, {at: at(10), lookahead: 5 * time.Minute, peak: 160 + 40, capacity: math.NaN()}},
			// |30-60| + |200-160| over 60 + 160.
			series: full, wantN: 2, wantWAPE: 70.0 / 220,
		},
		{
			name:      "a window the data does not cover yet waits",
			forecasts: []pendingForecast{{at: at(0), lookahead: 5 * time.Minute, peak: 60, capacity: math.NaN()}, {at: at(57), lookahead: 5 * time.Minute, peak: 1, capacity: math.NaN()}},
			series:    full, wantN: 1, wantWAPE: 0, pending: 1,
		},
		{
			name:      "a window before the data is dropped",
			forecasts: []pendingForecast{{at: at(-10), lookahead: 5 * time.Minute, peak: 60, capacity: math.NaN()}},
			series:    full, wantN: 0, pending: 0,
		},
		{
			name:   "the window keeps the latest",
			window: 1,
			// The older, perfect forecast falls out of the window.
			forecasts: []pendingForecast{{at: at(0), lookahead: 5 * time.Minute, peak: 60, capacity: math.NaN()}, {at: at(10), lookahead: 5 * time.Minute, peak: 80, capacity: math.NaN()}},
			series:    full, wantN: 1, wantWAPE: 80.0 / 160,
		},
		{
			// A scrape that read a million on demand of 10 to 600 is a
			// far run (predictor.GlitchFreePeak): the window (2m, 5m]
			// holds 40, the million and 60, and its actual peak is 60.
			name:      "a far run is not the actual peak",
			forecasts: []pendingForecast{{at: at(2), lookahead: 3 * time.Minute, peak: 60, capacity: math.NaN()}},
			series: func() predictor.Series {
				v := slices.Clone(vals)
				v[4] = 1e6
				return predictor.Series{Start: t0, Step: time.Minute, Values: v}
			}(),
			wantN: 1, wantWAPE: 0,
		},
		{
			name:      "no demand: any miss is a huge error",
			forecasts: []pendingForecast{{at: at(0), lookahead: 5 * time.Minute, peak: 1, capacity: math.NaN()}},
			series:    predictor.Series{Start: t0, Step: time.Minute, Values: make([]float64, 10)},
			wantN:     1, wantWAPE: 1e9,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rolling{Window: tt.window}
			for _, f := range tt.forecasts {
				r.Add(f.at, f.lookahead, f.peak, f.capacity)
			}
			r.Evaluate(tt.series)
			wape, n := r.Error()
			if n != tt.wantN || math.Abs(wape-tt.wantWAPE) > 1e-9*max(1, tt.wantWAPE) {
				t.Errorf("error %v over %d, want %v over %d", wape, n, tt.wantWAPE, tt.wantN)
			}
			if len(r.pending) != tt.pending {
				t.Errorf("%d pending, want %d", len(r.pending), tt.pending)
			}
			r.Reset()
			if _, n := r.Error(); n != 0 || len(r.pending) != 0 {
				t.Error("Reset kept something")
			}
		})
	}
}

func TestRollingProvisioning(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vals := make([]float64, 60)
	for i := range vals {
		vals[i] = float64(10 * (i + 1))
	}
	s := predictor.Series{Start: t0, Step: time.Minute, Values: vals}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var r Rolling
	if _, over, n := r.Provisioning(); n != 0 || over != nil {
		t.Fatalf("empty: %v over %d", over, n)
	}
	// Windows (0,5], (10,15], (20,25]: actual peaks 60, 160, 260.
	r.Add(at(0), 5*time.Minute, 60, 50)           // under
	r.Add(at(10), 5*time.Minute, 160, 200)        // covered
	r.Add(at(20), 5*time.Minute, 260, math.NaN()) // no floor from it: not counted
	evals := r.Evaluate(s)
	five := 5 * time.Minute
	want := []Evaluation{{Peak: 60, Actual: 60, Under: true, Lookahead: five}, {Peak: 160, Actual: 160, Lookahead: five}, {Peak: 260, Actual: 260, Lookahead: five}}
	if len(evals) != len(want) {
		t.Fatalf("evaluations %+v, want %+v", evals, want)
	}
	for i := range want {
		if evals[i] != want[i] {
			t.Errorf("evaluation %d: %+v, want %+v", i, evals[i], want[i])
		}
	}
	under, over, n := r.Provisioning()
	if n != 2 || under != 0.5 || over == nil || math.Abs(*over-250.0/220) > 1e-12 {
		t.Errorf("provisioning %v under, %v over, %d floors; want 0.5, %v, 2", under, over, n, 250.0/220)
	}
}

// TestRollingKeepsTheForecast: a forecast added with AddForecast comes back
// whole in its Evaluation (the Selector scores its baselines), one added
// with Add as a zero Forecast.
func TestRollingKeepsTheForecast(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := predictor.Series{Start: t0, Step: time.Minute, Values: []float64{1, 2, 3, 4, 5, 6, 7, 8}}
	f := predictor.Forecast{Time: t0.Add(time.Minute), Peak: 5, Mixture: 4, Baselines: [predictor.NumBaselines]float64{2, 3, math.NaN(), math.NaN()}}
	var r Rolling
	r.AddForecast(f, 3*time.Minute, math.NaN())
	r.Add(t0.Add(2*time.Minute), 3*time.Minute, 6, math.NaN())
	evals := r.Evaluate(s)
	if len(evals) != 2 {
		t.Fatalf("%d evaluations, want 2", len(evals))
	}
	got := evals[0].Forecast
	if got.Time != f.Time || got.Mixture != 4 || got.Baselines[0] != 2 || got.Baselines[1] != 3 || !math.IsNaN(got.Baselines[2]) || evals[0].Peak != 5 || evals[0].Actual != 5 {
		t.Errorf("evaluation %+v, want forecast %+v and actual 5", evals[0], f)
	}
	if !evals[1].Forecast.Time.IsZero() {
		t.Errorf("a forecast added with Add came back as %+v", evals[1].Forecast)
	}
}

// TestRollingRestore: a Rolling restored from another's State reports the
// same rolling error and provisioning; new evaluations push the carried
// ones out first, at their mean, as the oldest of the window.
func TestRollingRestore(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vals := make([]float64, 200)
	for i := range vals {
		vals[i] = 100
	}
	s := predictor.Series{Start: t0, Step: time.Minute, Values: vals}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	orig := Rolling{Window: 10, FloorWindow: 20}
	// 20 evaluations: peak 90 (error 10); every fourth floor under (capacity
	// 80), every fifth without a floor.
	for m := range 20 {
		capacity := 120.0
		switch {
		case m%5 == 4:
			capacity = math.NaN()
		case m%4 == 0:
			capacity = 80
		}
		orig.Add(at(m), 5*time.Minute, 90, capacity)
	}
	orig.Evaluate(s.Slice(0, 30))
	wantWAPE, wantN := orig.Error()
	wantUnder, wantOver, wantFloors := orig.Provisioning()
	if wantN != 10 || wantFloors != 16 {
		t.Fatalf("test setup: %d errors, %d floors; want 10 and 16", wantN, wantFloors)
	}

	// Into larger windows than they were saved from (as the predictor's
	// floor window of a day is, until it has a day of evaluations).
	restored := Rolling{Window: 10, FloorWindow: 1440}
	if err := restored.Restore(orig.State()); err != nil {
		t.Fatal(err)
	}
	if wape, n := restored.Error(); n != wantN || math.Abs(wape-wantWAPE) > 1e-12 {
		t.Errorf("restored error %v over %d, want %v over %d", wape, n, wantWAPE, wantN)
	}
	under, over, floors := restored.Provisioning()
	if floors != wantFloors || math.Abs(under-wantUnder) > 1e-12 || over == nil || math.Abs(*over-*wantOver) > 1e-12 {
		t.Errorf("restored provisioning %v under, %v over, %d floors; want %v, %v, %d", under, over, floors, wantUnder, *wantOver, wantFloors)
	}

	// Five perfect forecasts with covering floors: half the error window
	// is theirs, a quarter of the floor window.
	restored.FloorWindow = 20
	for m := 40; m < 45; m++ {
		restored.Add(at(m), 5*time.Minute, 100, 120)
	}
	restored.Evaluate(s.Slice(0, 60))
	if wape, n := restored.Error(); n != 10 || math.Abs(wape-wantWAPE/2) > 1e-12 {
		t.Errorf("after 5 exact forecasts: error %v over %d, want %v over 10", wape, n, wantWAPE/2)
	}
	// The carried 20 evaluations (16 floors, 4 under) are shed to 15.
	under, _, floors = restored.Provisioning()
	if wantSet := 16*0.75 + 5; floors != int(math.Round(wantSet)) || math.Abs(under-4*0.75/wantSet) > 1e-12 {
		t.Errorf("after 5 covering floors: %v under over %d floors, want %v over %v", under, floors, 4*0.75/wantSet, wantSet)
	}

	// A smaller window sheds the carried sums at once.
	small := Rolling{Window: 5, FloorWindow: 5}
	if err := small.Restore(orig.State()); err != nil {
		t.Fatal(err)
	}
	if wape, n := small.Error(); n != 5 || math.Abs(wape-wantWAPE) > 1e-12 {
		t.Errorf("into a window of 5: error %v over %d, want %v over 5", wape, n, wantWAPE)
	}
	if _, _, floors := small.Provisioning(); floors != 4 {
		t.Errorf("into a floor window of 5: %d floors, want 4 (16 of 20 set a floor)", floors)
	}
	small.Reset()
	if st := small.State(); st.Errors != nil || st.Floors != nil {
		t.Errorf("Reset kept the carried sums: %+v", st)
	}
}

// TestRollingRestoreRefuses: a malformed state names its field and leaves
// the Rolling as it was.
func TestRollingRestoreRefuses(t *testing.T) {
	ok := func() RollingState {
		return RollingState{Errors: &errorSums{N: 10, AbsErr: 5, Actual: 100}, Floors: &floorSums{N: 10, Set: 8, Under: 1, Capacity: 90, Actual: 80}}
	}
	tests := []struct {
		name   string
		mutate func(*RollingState)
		want   string
	}{
		{"negative count", func(s *RollingState) { s.Errors.N = -1 }, "errors.n: -1"},
		{"NaN error", func(s *RollingState) { s.Errors.AbsErr = math.NaN() }, "errors.absErr: NaN"},
		{"infinite capacity", func(s *RollingState) { s.Floors.Capacity = math.Inf(1) }, "floors.capacity: +Inf"},
		{"more floors than evaluations", func(s *RollingState) { s.Floors.Set = 11 }, "floors.set: 11, want at most n (10)"},
		{"more misses than floors", func(s *RollingState) { s.Floors.Under = 9 }, "floors.under: 9, want at most set (8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rolling{Window: 60}
			if err := r.Restore(ok()); err != nil {
				t.Fatal(err)
			}
			before := r.State()
			st := ok()
			tt.mutate(&st)
			err := r.Restore(st)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if after := r.State(); *after.Errors != *before.Errors || *after.Floors != *before.Floors {
				t.Errorf("a refused state changed the Rolling: %+v, was %+v", after, before)
			}
		})
	}
}
