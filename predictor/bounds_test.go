package predictor

import (
	"math"
	"testing"
	"time"
)

// constantMarginFloors returns the under-provisioned share and the mean
// floor capacity over the mean actual peak of floors made from the
// forecasts fc by a constant margin m (added, or as a factor 1+m when
// mult), rounded up to whole replicas of capacity c and passed through
// the default floor policy bounded by maxFloor, with the band of the
// forecasts' recent error as each window of horizon steps closes, as the
// backtest does.
func constantMarginFloors(fc, actual []float64, c, m float64, mult bool, maxFloor int32, t0 time.Time, step time.Duration, horizon int) (under, capRatio float64) {
	policy := DefaultFloorPolicy(0, maxFloor)
	errs, err := NewCalibrator(DefaultTargetUnder, step, time.Duration(horizon)*step)
	if err != nil {
		panic(err)
	}
	var st FloorState
	var n int
	var capacity, peak float64
	for k, f := range fc {
		if j := k - horizon; j >= 0 {
			errs.Observe(actual[j]-fc[j], fc[j], false)
		}
		u := f + m
		if mult {
			u = f * (1 + m)
		}
		policy.ErrorBand = errs.RecentError() / c
		st, _ = policy.Decide(st, t0.Add(time.Duration(k)*step), int32(min(math.MaxInt32, replicasFor(u, c))), true)
		if float64(st.Floor)*c < actual[k] {
			n++
		}
		capacity += float64(st.Floor) * c
		peak += actual[k]
	}
	return float64(n) / float64(len(fc)), capacity / peak
}

// bestConstantMargin returns the least mean floor capacity (over the mean
// actual peak) of constantMarginFloors whose under-provisioned share is
// at most target, the margin chosen in hindsight (by bisection: more
// margin never misses more often).
func bestConstantMargin(fc, actual []float64, c, target float64, mult bool, maxFloor int32, t0 time.Time, step time.Duration, horizon int) float64 {
	lo, hi := -1.0, 100.0
	if !mult {
		spread := 0.0
		for k := range fc {
			spread = max(spread, math.Abs(actual[k]-fc[k]))
		}
		lo, hi = -spread, spread
	}
	for range 60 {
		mid := (lo + hi) / 2
		if u, _ := constantMarginFloors(fc, actual, c, mid, mult, maxFloor, t0, step, horizon); u <= target {
			hi = mid
		} else {
			lo = mid
		}
	}
	_, capRatio := constantMarginFloors(fc, actual, c, hi, mult, maxFloor, t0, step, horizon)
	return capRatio
}

// TestConstantMarginBound backs the claim in docs/predictor.md that the
// issue's capacity goal on crane_input1 (5% under at most 1.5 x the peak)
// is out of reach of any constant margin on mlscale's forecasts: the
// cheapest margin, added or as a factor, chosen in hindsight over the
// evaluated half to be under in exactly 5% of the steps, through the same
// rounding and floor policy as the backtest, costs more than 1.5 x the
// peak. The calibrated floors (TestFloorsCalibratedToTarget) come close to
// that bound with margins that follow the errors.
func TestConstantMarginBound(t *testing.T) {
	s, err := LoadTrace("testdata/cycles/crane_input1.csv")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultBacktestConfig()
	cfg.Options.TargetUnder = 0.05
	r, err := Backtest(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &backtest{s: s, cfg: cfg, horizon: r.HorizonSteps, day: int(Day / s.Step)}
	b.cfg.Train, b.cfg.CapacityPerReplica = s.Len()/2, r.CapacityPerReplica
	b.prepare()
	fc := make([]float64, len(r.Forecasts))
	for k, f := range r.Forecasts {
		fc[k] = f.Peak
	}
	maxFloor := int32(max(1, b.static()) * 2)
	add := bestConstantMargin(fc, b.actual, r.CapacityPerReplica, 0.05, false, maxFloor, s.Time(b.first), s.Step, b.horizon)
	mult := bestConstantMargin(fc, b.actual, r.CapacityPerReplica, 0.05, true, maxFloor, s.Time(b.first), s.Step, b.horizon)
	t.Logf("best constant margin at 5%%: %.3f x the peak added, %.3f as a factor; calibrated floors %.3f at %.2f%%",
		add, mult, *r.Headline.FloorVsPeak, r.Headline.UnderPct)
	if min(add, mult) <= 1.5 {
		t.Errorf("a constant margin reaches %.3f x the peak: the goal of 1.5 is within reach, update docs/predictor.md", min(add, mult))
	}
}

// TestPeriodicMAEBound backs the claim in docs/predictor.md that the
// issue's MAE goal (at most 0.5 x the best baseline) is out of reach on
// the synthetic periodic trace: a forecaster that knows the shape the
// trace was generated from exactly (the daily shape, weekends at 60%)
// and forecasts the window's peak of that shape plus the median excess of
// the actual peak over it (chosen in hindsight), so that only the noise
// is left, still has more than 0.7 x the best baseline's MAE: the noise,
// not the shape, is most of the error.
func TestPeriodicMAEBound(t *testing.T) {
	s := periodicDemand(21)
	r, err := Backtest(s, DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := &backtest{s: s, cfg: DefaultBacktestConfig(), horizon: r.HorizonSteps, day: int(Day / s.Step)}
	b.cfg.Train = s.Len() / 2
	b.prepare()
	shape := func(tm time.Time) float64 {
		v := daily(tm)
		if wd := tm.Weekday(); wd == time.Saturday || wd == time.Sunday {
			v *= 0.6
		}
		return v
	}
	excess := make([]float64, b.n)
	for k := range excess {
		peak := math.Inf(-1)
		for h := 1; h <= b.horizon; h++ {
			peak = max(peak, shape(s.Time(b.first+k+h)))
		}
		excess[k] = b.actual[k] - peak
	}
	med := median(excess)
	var mae float64
	for _, e := range excess {
		mae += math.Abs(e-med) / float64(len(excess))
	}
	best := r.Baselines[r.Headline.BestBaseline].MAE
	t.Logf("the generating shape's MAE is %.3f x the best baseline's (%s); mlscale's %.3f", mae/best, r.Headline.BestBaseline, *r.Headline.MAEVsBest)
	if mae/best <= 0.7 {
		t.Errorf("the generating shape's MAE is %.3f x the best baseline's: update docs/predictor.md", mae/best)
	}
}
