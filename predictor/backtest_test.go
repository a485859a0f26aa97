package predictor

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBaselines(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	if got := persistence(v, func(i int) int { return i })(5); got != 6 {
		t.Errorf("persistence %g, want 6", got)
	}
	// In a gap after sample 3: the last observed sample.
	if got := persistence(v, func(int) int { return 3 })(5); got != 4 {
		t.Errorf("persistence in a gap %g, want 4", got)
	}
	// Period 4, horizon 2, at i=5: max(v[5+1-4], v[5+2-4]) = max(3, 4).
	if got := seasonalNaive(v, 4, 2)(5); got != 4 {
		t.Errorf("seasonal naive %g, want 4", got)
	}
}

// TestSeasonalNaiveWeek: the week-ago window, or the day-ago one where the
// week-ago one would start before the series.
func TestSeasonalNaiveWeek(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// Week 6, day 2, horizon 2.
	f := seasonalNaiveWeek(v, 6, 2, 2)
	tests := []struct {
		i    int
		want float64
	}{
		{3, 4}, // 3+1 < 6: max(v[2], v[3]), the day-ago window
		{4, 5}, // max(v[3], v[4]), the day-ago window
		{5, 2}, // max(v[0], v[1]), the week-ago window
		{7, 4}, // max(v[2], v[3])
	}
	for _, tt := range tests {
		if got := f(tt.i); got != tt.want {
			t.Errorf("at %d: %g, want %g", tt.i, got, tt.want)
		}
	}
}

// TestBacktestWeekBaselineShortOfAWeek: a two-week trace a few samples
// short splits into a training part a little under a week. The week
// baseline stays in the comparison, taking the day-ago window on the
// steps whose week-ago one starts before the trace, and the report counts
// them; a day or more short, it is left out.
func TestBacktestWeekBaselineShortOfAWeek(t *testing.T) {
	const week = 7 * 288
	s := synth(2*week, 5*time.Minute, 5, weekly)
	tests := []struct {
		name     string
		train    int
		want     bool
		daySteps int
	}{
		{"a week", week, true, 0},
		{"a sample short", week - 1, true, 1},
		{"an hour short", week - 12, true, 12},
		{"a day short", week - 288, true, 288},
		{"more than a day short", week - 289, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Backtest(s, trainOn(tt.train))
			if err != nil {
				t.Fatal(err)
			}
			m, ok := r.Baselines[BaselineSeasonalNaiveWeek]
			if ok != tt.want {
				t.Fatalf("week baseline present %v, want %v", ok, tt.want)
			}
			if r.WeekBaselineDaySteps != tt.daySteps {
				t.Errorf("week baseline took the day-ago window on %d steps, want %d", r.WeekBaselineDaySteps, tt.daySteps)
			}
			if ok && !(m.MAE < r.Baselines[BaselineSeasonalNaiveDay].MAE) {
				t.Errorf("week baseline MAE %g not below the day's %g on a weekly trace", m.MAE, r.Baselines[BaselineSeasonalNaiveDay].MAE)
			}
		})
	}
}

func TestHoltWintersLearnsASeason(t *testing.T) {
	season := []float64{10, 20, 30, 20}
	v := make([]float64, 80)
	for i := range v {
		v[i] = season[i%4] + 0.5*float64(i)
	}
	peaks := fitHoltWinters(v, nil, 4, 1, 60)
	for i := 40; i+1 < len(v); i++ {
		if math.Abs(peaks[i]-v[i+1]) > 0.05 {
			t.Fatalf("step %d: forecast %g, actual %g", i, peaks[i], v[i+1])
		}
	}
	if !math.IsNaN(peaks[3]) {
		t.Errorf("forecast before two seasons %g, want NaN", peaks[3])
	}
}

// TestGridSSEOneAtATime: the grid search's sums (gridSSE: one start for
// every parameter set, the filter's state in locals, each set bounded by
// the best sum before it) are those of each set's own filter
// (holtWinters.start and update), bit for bit where a set runs to the
// end, and pick the same set: on smooth and noisy daily series (most sets
// stopped early), on a trend, on a series of one value (every sum 0: the
// first set wins the tie), on bursts and on part-day tails.
func TestGridSSEOneAtATime(t *testing.T) {
	const p = 48
	r := rand.New(rand.NewPCG(11, 12))
	series := map[string]func(i int) float64{
		"smooth":   func(i int) float64 { return 100 + 30*math.Sin(2*math.Pi*float64(i)/p) },
		"noisy":    func(i int) float64 { return 100 + 30*math.Sin(2*math.Pi*float64(i)/p) + 20*r.NormFloat64() },
		"trend":    func(i int) float64 { return float64(i) + 5*r.NormFloat64() },
		"constant": func(int) float64 { return 7 },
		"bursts": func(i int) float64 {
			if r.IntN(30) == 0 {
				return 500
			}
			return 10
		},
	}
	for name, f := range series {
		for _, n := range []int{2 * p, 2*p + 5, 9 * p, 9*p + 17} {
			v := make([]float64, n)
			for i := range v {
				v[i] = f(i)
			}
			// One at a time.
			wantK, best := -1, math.Inf(1)
			full := map[int]float64{}
			for k, hw := range hwGrid {
				hw.period = p
				st := hw.start(v)
				sse, stopped := 0.0, false
				for i := 2 * p; i < len(v) && !stopped; i++ {
					e := v[i] - hw.update(&st, v[i], i%p)
					sse += e * e
					stopped = (i-2*p+1)%p == 0 && i+1 < len(v) && sse > best
				}
				if !stopped {
					full[k] = sse
				}
				if sse < best || wantK < 0 {
					wantK, best = k, sse
				}
			}
			gotK, gotBest := -1, math.Inf(1)
			gridSSE(v, p, func(k int, sse float64) float64 {
				if want, ok := full[k]; ok && math.Float64bits(sse) != math.Float64bits(want) {
					t.Errorf("%s, %d samples, set %d: sum %v, %v alone", name, n, k, sse, want)
				}
				if sse < gotBest || gotK < 0 {
					gotK, gotBest = k, sse
				}
				return gotBest
			})
			if gotK != wantK || gotBest != best {
				t.Errorf("%s, %d samples: picked set %d (sum %v), one at a time %d (%v)", name, n, gotK, gotBest, wantK, best)
			}
			if len(full) == len(hwGrid) && name != "constant" && n > 3*p {
				t.Errorf("%s, %d samples: no set stopped early one at a time; the case tests no bound", name, n)
			}
		}
	}
}

// TestHoltWintersInAGap: a forecast made at a sample filled in a gap is
// the one made from a series that repeats the last observed sample over
// the gap so far, whatever the filled values; observed samples forecast
// as without a mask.
func TestHoltWintersInAGap(t *testing.T) {
	season := []float64{10, 20, 30, 20}
	v := make([]float64, 60)
	for i := range v {
		v[i] = season[i%4] + 0.5*float64(i) + float64(i%7)
	}
	observed := make([]bool, len(v))
	for i := range observed {
		observed[i] = i < 30 || i > 33
	}
	hw := holtWinters{alpha: 0.5, beta: 0.1, gamma: 0.2, period: 4}
	masked, _ := hw.run(v, observed, 2, 0)
	plain, _ := hw.run(v, nil, 2, 0)
	for i := 8; i < len(v); i++ {
		want := plain[i]
		if !observed[i] {
			locf := slices.Clone(v)
			for j := 30; j <= i; j++ {
				locf[j] = v[29]
			}
			p, _ := hw.run(locf, nil, 2, 0)
			want = p[i]
		}
		if masked[i] != want {
			t.Errorf("sample %d (observed %v): forecast %g, want %g", i, observed[i], masked[i], want)
		}
	}
	if masked[31] == plain[31] {
		t.Error("the forecast in the gap is the one that saw the filled values")
	}
}

// TestBacktestDoesNotSeeAcrossAGap: a sample filled in a gap is
// interpolated towards the next observed sample, a value from the future.
// With Observed, the forecasts made up to the end of a gap are the same
// whatever the filled values are; once the gap is over they count. Without
// it, they leak into the forecasts made in the gap.
// TestBacktestScoresObservedOnly: the filled samples of a gap are no
// demand anyone saw. Whatever values fill a gap, the scores (every
// forecaster's) are the same, and a step whose window lies inside the gap
// is not scored.
func TestBacktestScoresObservedOnly(t *testing.T) {
	base := periodicDemand(6)
	cfg := DefaultBacktestConfig()
	cfg.Train = base.Len() / 2
	first := cfg.Train - 1
	gapFrom, gapTo := first+100, first+400 // a day and more, filled
	observed := make([]bool, base.Len())
	for i := range observed {
		observed[i] = i < gapFrom || i > gapTo
	}
	run := func(filled float64) Report {
		s := Series{Start: base.Start, Step: base.Step, Values: slices.Clone(base.Values), Observed: observed}
		for i := gapFrom; i <= gapTo; i++ {
			s.Values[i] = filled
		}
		r, err := Backtest(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	low, high := run(0), run(1e4)
	// The windows (i, i+h] inside the gap start at gapFrom-1 ... gapTo-h.
	if inGap := gapTo - low.HorizonSteps - gapFrom + 2; low.ScoredPoints != low.TestPoints-inGap {
		t.Errorf("%d of %d steps scored, want all but the %d whose windows lie in the gap", low.ScoredPoints, low.TestPoints, inGap)
	}
	// Persistence forecasts the last observed sample, in the gap and
	// after it: what fills the gap changes none of its forecasts, so only
	// scoring against the filled samples could change its scores. (The
	// other forecasters take the filled samples as history once the gap is
	// over, as mlscale does live.)
	p, q := low.Baselines["persistence"], high.Baselines["persistence"]
	if p.MAE != q.MAE || p.UnderPct != q.UnderPct {
		t.Errorf("persistence: MAE %g / %g and under %g / %g with the gap filled with 0 / 1e4: scored against the filled samples", p.MAE, q.MAE, p.UnderPct, q.UnderPct)
	}
	observed = nil
	if unmasked := run(1e4); unmasked.Baselines["persistence"].MAE == p.MAE {
		t.Error("without Observed the filled samples score the same: the test cannot tell")
	}
}

func TestBacktestDoesNotSeeAcrossAGap(t *testing.T) {
	base := periodicDemand(6)
	cfg := DefaultBacktestConfig()
	cfg.Train = base.Len() / 2
	first := cfg.Train - 1
	gapFrom, gapTo := first+50, first+55 // filled samples, inclusive
	observed := make([]bool, base.Len())
	for i := range observed {
		observed[i] = i < gapFrom || i > gapTo
	}
	variant := func(filled float64) Series {
		s := Series{Start: base.Start, Step: base.Step, Values: slices.Clone(base.Values)}
		for i := gapFrom; i <= gapTo; i++ {
			s.Values[i] = filled
		}
		return s
	}
	run := func(s Series, observed []bool) []ForecastRow {
		s.Observed = observed
		r, err := Backtest(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r.Forecasts
	}
	low, high := variant(0), variant(1e4)
	a, b := run(low, observed), run(high, observed)
	for k := 0; first+k <= gapTo; k++ {
		if a[k] != b[k] {
			t.Fatalf("forecast at sample %d (gap %d-%d) depends on the filled values: %+v and %+v", first+k, gapFrom, gapTo, a[k], b[k])
		}
	}
	if a[gapTo-first+1] == b[gapTo-first+1] {
		t.Error("the forecast after the gap does not see the filled values")
	}
	if !slices.Equal(low.Values, variant(0).Values) {
		t.Error("Backtest changed the caller's series")
	}
	a, b = run(low, nil), run(high, nil)
	if a[gapFrom-first] == b[gapFrom-first] {
		t.Error("without Observed the forecast in the gap does not see the filled value: the test cannot tell a leak")
	}
	low.Observed = observed[1:]
	if _, err := Backtest(low, BacktestConfig{Refit: DefaultRefit}); err == nil || !strings.Contains(err.Error(), "observed flags") {
		t.Errorf("error %v for a mask of the wrong length", err)
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

// TestSimulateOutlier: one sample asking for a billion replicas (an
// outlier row at the default capacity) kept one entry per starting
// replica, 16 GB before the process ran out of memory, and a demand past
// int's range made a negative slice bound. Starting replicas come in
// batches now, and the replicas a demand asks for are held at
// MaxSimReplicas.
func TestSimulateOutlier(t *testing.T) {
	s := Series{Start: monday, Step: time.Minute, Values: []float64{5, 5, 1e9, 5, 5, 1e300, 5, 5}}
	res := simulate(s, 0, 1, 3*time.Minute, func(i int) int { return replicasFor(s.Values[i], 1) }, false)
	// The 1e9 replicas start at minute 2 and are never ready before the
	// stabilisation window lets them go; MaxSimReplicas start at minute 5.
	if want := (5 + 5 + 1e9 + 1e9 + 1e9 + float64(MaxSimReplicas) + float64(MaxSimReplicas)) / 60; res.ReplicaHours < 1e9/60 || res.ReplicaHours > 10*want {
		t.Errorf("replica-hours %g, want about %g", res.ReplicaHours, want)
	}
	if got := replicasFor(1e300, 1e-300); got != MaxSimReplicas {
		t.Errorf("replicasFor(1e300, 1e-300) = %d, want MaxSimReplicas", got)
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

// TestBacktestFloorFalls: the floor policy's hysteresis and fall timing
// are the backtest's to set, as the predictor's flags set them live. On a
// queue that an hourly cron fills, the default slow falls hold the batch's
// replicas long after the workers drained it; floors that fall without
// waiting (a step at every decision) cost less, still at the target.
func TestBacktestFloorFalls(t *testing.T) {
	s := cronQueue(1, 10)
	def, err := Backtest(s, DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if want := (FloorFalls{Hysteresis: 0.1, DownDelay: "10m0s", DownInterval: "5m0s"}); def.FloorFalls != want {
		t.Errorf("default floor falls %+v, want %+v", def.FloorFalls, want)
	}
	cfg := DefaultBacktestConfig()
	cfg.DownDelay, cfg.DownInterval = 0, 0
	fast, err := Backtest(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := (FloorFalls{Hysteresis: 0.1, DownDelay: "0s", DownInterval: "0s"}); fast.FloorFalls != want {
		t.Errorf("floor falls %+v, want %+v", fast.FloorFalls, want)
	}
	dc, fc := *def.Headline.FloorVsPeak, *fast.Headline.FloorVsPeak
	t.Logf("floors: default %.3f x the peak at %.2f%% under; without waiting %.3f at %.2f%%", dc, def.MLScale.UnderPct, fc, fast.MLScale.UnderPct)
	if !(fc < 0.9*dc) {
		t.Errorf("floors falling without waiting cost %.3f x the peak, the default %.3f; want at least a tenth less", fc, dc)
	}
	if fast.MLScale.UnderPct > 2.5 {
		t.Errorf("floors falling without waiting under in %.2f%% of steps; want the 2%% target within half a point", fast.MLScale.UnderPct)
	}
	for _, bad := range []struct {
		name string
		set  func(*BacktestConfig)
		want string
	}{
		{"hysteresis of 1", func(c *BacktestConfig) { c.Hysteresis = 1 }, "the hysteresis must be in [0, 1), not 1"},
		{"NaN hysteresis", func(c *BacktestConfig) { c.Hysteresis = math.NaN() }, "the hysteresis must be in [0, 1), not NaN"},
		{"negative delay", func(c *BacktestConfig) { c.DownDelay = -time.Minute }, "must be 0 or more, not -1m0s and 5m0s"},
		{"negative interval", func(c *BacktestConfig) { c.DownInterval = -time.Minute }, "must be 0 or more, not 10m0s and -1m0s"},
	} {
		cfg := DefaultBacktestConfig()
		bad.set(&cfg)
		if _, err := Backtest(s, cfg); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.name, err, bad.want)
		}
	}
}

// TestBacktestHeadline recomputes the headline's figures from the rest of
// the report.
func TestBacktestHeadline(t *testing.T) {
	s := synth(4*288, 5*time.Minute, 3, daily)
	r, err := Backtest(s, DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	h := r.Headline
	best := ""
	for name, m := range r.Baselines {
		if best == "" || m.MAE < r.Baselines[best].MAE {
			best = name
		}
	}
	if h.BestBaseline != best {
		t.Errorf("best baseline %q, want %q (lowest MAE of %v)", h.BestBaseline, best, r.Baselines)
	}
	var capacity, peak float64
	for _, f := range r.Forecasts {
		i := int(f.Time.Sub(s.Start) / s.Step)
		p := math.Inf(-1)
		for k := 1; k <= r.HorizonSteps; k++ {
			p = max(p, s.Values[i+k])
		}
		capacity += float64(f.Floor) * r.CapacityPerReplica
		peak += p
	}
	sim := r.Simulation
	for _, c := range []struct {
		name      string
		got       *float64
		want      float64
		lowerThan float64 // a bar the synthetic trace clears
	}{
		{"MAE vs best", h.MAEVsBest, r.MLScale.MAE / r.Baselines[best].MAE, 1},
		{"floor capacity vs peak", h.FloorVsPeak, capacity / peak, 2},
		{"replica-hours vs static", h.ReplicaHoursVsStatic, sim[SimPredictive].ReplicaHours / sim[SimStatic].ReplicaHours, 1},
		{"replica-hours vs reactive", h.ReplicaHoursVsReactive, sim[SimPredictive].ReplicaHours / sim[SimReactive].ReplicaHours, 2},
	} {
		if c.got == nil || math.Abs(*c.got-c.want) > 1e-9*c.want || !(*c.got < c.lowerThan) {
			t.Errorf("%s %v, want %g (below %g)", c.name, c.got, c.want, c.lowerThan)
		}
	}
	if h.UnderPct != r.MLScale.UnderPct {
		t.Errorf("under %% %g, want mlscale's %g", h.UnderPct, r.MLScale.UnderPct)
	}
	if *h.FloorVsPeak < 1 {
		t.Errorf("floors at %g x the peak on a smooth trace, want at least 1", *h.FloorVsPeak)
	}
	if RoundFigure(r.CapacityPerReplica) != r.CapacityPerReplica {
		t.Errorf("derived capacity %v is not rounded", r.CapacityPerReplica)
	}
	if ratioOf(1, 0) != nil || ratioOf(0, 0) != nil || *ratioOf(1, 4) != 0.25 {
		t.Error("ratioOf is not nil for a zero denominator or wrong otherwise")
	}
}

func TestRoundFigure(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{
		{0, 0}, {0.123456, 0.1235}, {-0.123456, -0.1235}, {1.5e-7, 1.5e-7}, {1.23456e-7, 1.235e-7},
		{12.947942287535836, 12.95}, {1556.9333333334027, 1557}, {9999.6, 10000}, {16957.000000004, 16957},
		{2304.0000000000955, 2304}, {71.74255600000001, 71.74}, {123456.7, 123457},
	} {
		if got := RoundFigure(tt.in); got != tt.want {
			t.Errorf("RoundFigure(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := RoundFigure(math.Inf(1)); !math.IsInf(got, 1) {
		t.Errorf("RoundFigure(+Inf) = %v", got)
	}
}

// TestReportRounded checks that every figure of a rounded report has at
// most 4 significant digits (or none after the point from 10,000 up) and
// that the report rounded is not changed.
func TestReportRounded(t *testing.T) {
	third := 1.0 / 3
	r := Report{
		CapacityPerReplica: 2.123456,
		MLScale:            Metrics{MAE: 12.345678, SMAPE: 3.14159265, MASE: 0.5358903195820132, UnderPct: 2.1293238310446725, OverMean: 0.5793499043977055},
		Baselines:          map[string]Metrics{BaselinePersistence: {MAE: 22.544874915696134, MASE: 0.9330888225489764}},
		Simulation:         map[string]SimResult{SimStatic: {ReplicaHours: 33540.00000001, UnderMinutes: 60}, SimPredictive: {ReplicaHours: 1556.9333333334027}},
		Headline:           Headline{BestBaseline: BaselinePersistence, MAEVsBest: &third, UnderPct: 2.1293238310446725},
	}
	got := r.Rounded()
	figures := []float64{
		got.MLScale.MAE, got.MLScale.SMAPE, got.MLScale.MASE, got.MLScale.UnderPct, got.MLScale.OverMean,
		got.Baselines[BaselinePersistence].MAE, got.Baselines[BaselinePersistence].MASE,
		got.Simulation[SimStatic].ReplicaHours, got.Simulation[SimPredictive].ReplicaHours, *got.Headline.MAEVsBest, got.Headline.UnderPct,
	}
	for _, f := range figures {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		digits := strings.TrimLeft(strings.Replace(strings.TrimLeft(s, "-"), ".", "", 1), "0")
		if len(digits) > 4 && strings.Contains(s, ".") {
			t.Errorf("%s has more than 4 significant digits", s)
		}
	}
	if got.Simulation[SimStatic].ReplicaHours != 33540 || *got.Headline.MAEVsBest != 0.3333 || got.Headline.FloorVsPeak != nil {
		t.Errorf("rounded %+v %+v", got.Simulation, got.Headline)
	}
	if got.CapacityPerReplica != r.CapacityPerReplica {
		t.Errorf("capacity %v, want the setting kept as %v", got.CapacityPerReplica, r.CapacityPerReplica)
	}
	if r.MLScale.MAE != 12.345678 || r.Simulation[SimStatic].ReplicaHours != 33540.00000001 || *r.Headline.MAEVsBest != third {
		t.Error("Rounded changed the report it was called on")
	}
}

// TestBacktestConstantTrainingJSON: a constant training part makes MASE
// undefined (its scale, the seasonal-naive error, is 0); the report still
// encodes as JSON, with mase null, instead of failing on +Inf.
func TestBacktestConstantTrainingJSON(t *testing.T) {
	flat := synth(6*288, 5*time.Minute, 0, func(tm time.Time) float64 {
		if tm.Sub(monday) > 4*24*time.Hour {
			return 10 + daily(tm)
		}
		return 10
	})
	cfg := DefaultBacktestConfig()
	cfg.Train = 4 * 288
	cfg.CapacityPerReplica = 5
	r, err := Backtest(flat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("the report does not encode: %v", err)
	}
	if !strings.Contains(string(b), `"mase":null`) {
		t.Errorf("MASE of a constant training part is not null: %s", b)
	}
}

// TestBacktestCapacityOfIdleDemand: demand idle in most steps (a workload
// that scales to zero, with rare bursts) has a 95th percentile of 0; the
// default capacity per replica is then a tenth of the history's maximum.
// A history with no positive value is ErrNoCapacity.
func TestBacktestCapacityOfIdleDemand(t *testing.T) {
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, 4*288)}
	for i := 37; i < s.Len(); i += 97 {
		s.Values[i] = 40 + float64(i%7) // a burst about every eight hours
	}
	if q := quantile(0.95, s.Values[:s.Len()/2]); q != 0 {
		t.Fatalf("95th percentile %g, want 0 for this test", q)
	}
	r, err := Backtest(s, DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if want := RoundFigure(maxOf(s.Values[:s.Len()/2]) / 10); r.CapacityPerReplica != want {
		t.Errorf("capacity per replica %v, want %v (a tenth of the training maximum)", r.CapacityPerReplica, want)
	}
	_, err = Backtest(Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, 4*288)}, DefaultBacktestConfig())
	if !errors.Is(err, ErrNoCapacity) {
		t.Errorf("all-zero history: error %v, want ErrNoCapacity", err)
	}
}

// TestBacktestCycleOfTheWholeTrace: a two-week trace with weekends shows a
// weekly cycle over the whole trace, which the training half (one week)
// cannot; the report says both.
func TestBacktestCycleOfTheWholeTrace(t *testing.T) {
	r, err := Backtest(synth(15*288, 5*time.Minute, 5, weekly), DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Cycle, "daily") || strings.Contains(r.Cycle, "weekly") {
		t.Errorf("cycle of the training week %q, want daily only", r.Cycle)
	}
	if !strings.HasPrefix(r.CycleWhole, "daily") || !strings.Contains(r.CycleWhole, "and weekly") {
		t.Errorf("cycle of the whole trace %q, want daily and weekly", r.CycleWhole)
	}
}

// TestUnderAtCeiling: the share of floors at the ceiling (or above) whose
// capacity was below the actual peak.
func TestUnderAtCeiling(t *testing.T) {
	tests := []struct {
		name    string
		floors  []int
		actual  []float64
		ceiling int
		want    float64
	}{
		{"none", nil, nil, 4, 0},
		{"under, below the ceiling", []int{1, 2}, []float64{50, 50}, 4, 0},
		{"at the ceiling, covered", []int{4, 4}, []float64{40, 39}, 4, 0},
		{"at the ceiling, under", []int{4, 4, 3, 4}, []float64{41, 40, 80, 90}, 4, 50},
		{"above the ceiling counts", []int{5}, []float64{60}, 4, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := underAtCeiling(tt.floors, tt.actual, tt.ceiling, 10); got != tt.want {
				t.Errorf("underAtCeiling = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBacktestSaysDemandOutgrewTheCeiling: demand that grows to five times
// the training part's peak meets the floors' ceiling (twice the training
// peak's replicas); the report says how often, and those steps are among
// the floors' misses. A trace that stays within its training range
// reports none.
func TestBacktestSaysDemandOutgrewTheCeiling(t *testing.T) {
	s := synth(14*288, 5*time.Minute, 5, daily)
	for i := s.Len() / 2; i < s.Len(); i++ {
		s.Values[i] *= 1 + 4*float64(i-s.Len()/2)/float64(s.Len()/2)
	}
	r, err := Backtest(s, DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("under in %.2f%% of steps, %.2f%% at the ceiling of %d replicas", r.MLScale.UnderPct, r.UnderAtCeilingPct, r.FloorCeiling)
	static := replicasFor(maxOf(s.Values[:s.Len()/2]), r.CapacityPerReplica)
	if r.FloorCeiling != 2*static {
		t.Errorf("ceiling %d replicas, want %d (twice the training peak's %d)", r.FloorCeiling, 2*static, static)
	}
	if r.UnderAtCeilingPct < 20 || r.UnderAtCeilingPct > r.MLScale.UnderPct {
		t.Errorf("under at the ceiling in %.2f%% of steps (under in all %.2f%%), want at least 20 and at most the whole", r.UnderAtCeilingPct, r.MLScale.UnderPct)
	}
	flat, err := Backtest(synth(14*288, 5*time.Minute, 5, daily), DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if flat.UnderAtCeilingPct != 0 {
		t.Errorf("a trace within its training range: under at the ceiling in %.2f%% of steps, want 0", flat.UnderAtCeilingPct)
	}
}
