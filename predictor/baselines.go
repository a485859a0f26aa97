package predictor

import (
	"math"
)

// Baseline names, as the backtest reports them.
const (
	BaselinePersistence       = "persistence"
	BaselineSeasonalNaiveDay  = "seasonal_naive_day"
	BaselineSeasonalNaiveWeek = "seasonal_naive_week"
	BaselineHoltWinters       = "holt_winters"
)

// peakForecaster returns the forecast peak of values over (i, i+h] using
// values[0..i] only.
type peakForecaster func(i int) float64

// persistence forecasts the last value known at i: v[seen(i)], the last
// observed sample (see Series.Observed).
func persistence(v []float64, seen func(int) int) peakForecaster {
	return func(i int) float64 { return v[seen(i)] }
}

// seasonalNaive forecasts the peak of the same window one period earlier.
// It needs i+1 >= period.
func seasonalNaive(v []float64, period, horizon int) peakForecaster {
	return func(i int) float64 {
		peak := math.Inf(-1)
		for h := 1; h <= horizon; h++ {
			peak = max(peak, v[i+h-period])
		}
		return peak
	}
}

// seasonalNaiveWeek is seasonalNaive over week samples, which takes the
// window day samples back where the week-ago one starts before v.
func seasonalNaiveWeek(v []float64, week, day, horizon int) peakForecaster {
	weekly, daily := seasonalNaive(v, week, horizon), seasonalNaive(v, day, horizon)
	return func(i int) float64 {
		if i+1 < week {
			return daily(i)
		}
		return weekly(i)
	}
}

// holtWinters is additive Holt-Winters (level, trend, season): the
// backtest's baseline, run over a whole series once, and one of the
// model's candidate forecasters (see hwFit).
type holtWinters struct {
	alpha, beta, gamma float64
	period             int
}

// hwState is the state of a Holt-Winters filter; season[k] is the seasonal
// term of the samples whose index is k modulo the period.
type hwState struct {
	level, trend float64
	season       []float64
	// dev is the running scale of the one-step errors that updateRobust
	// bounds them by; 0 where the filter is not robust.
	dev float64
}

// start returns the state after v's first two periods (len(v) >= 2*period),
// seasons indexed from v[0]. It depends on the period only, not on the
// smoothing parameters (gridSSE starts every set from one).
func (hw holtWinters) start(v []float64) hwState {
	p := hw.period
	var m1, m2 float64
	for i := range p {
		m1 += v[i]
		m2 += v[p+i]
	}
	m1 /= float64(p)
	m2 /= float64(p)
	st := hwState{level: m2, trend: (m2 - m1) / float64(p), season: make([]float64, p)}
	for i := range p {
		st.season[i] = (v[i] - m1 + v[p+i] - m2) / 2
	}
	return st
}

// update folds in the sample x of season index k and returns the one-step
// forecast it was made against.
func (hw holtWinters) update(st *hwState, x float64, k int) (pred float64) {
	s := st.season[k]
	pred = st.level + st.trend + s
	prev := st.level
	st.level = hw.alpha*(x-s) + (1-hw.alpha)*(st.level+st.trend)
	st.trend = hw.beta*(st.level-prev) + (1-hw.beta)*st.trend
	st.season[k] = hw.gamma*(x-st.level) + (1-hw.gamma)*s
	return pred
}

// updateRobust is update with the sample first brought within hwClipK
// times st.dev of the one-step forecast, and st.dev then updated with the
// bounded error at rate (see hwDevRate). A sample out of bounds moves the
// level by at most alpha times the bound and leaves its season term as it
// was: one sample of a million on demand of ten does not come back a day
// later. A change that lasts is followed within a few samples, the bound
// growing with each.
func (hw holtWinters) updateRobust(st *hwState, x float64, k int, rate float64) {
	s := st.season[k]
	pred := st.level + st.trend + s
	bound := hwClipK * st.dev
	e := min(bound, max(-bound, x-pred))
	prev := st.level
	st.level = hw.alpha*(pred+e-s) + (1-hw.alpha)*(st.level+st.trend)
	st.trend = hw.beta*(st.level-prev) + (1-hw.beta)*st.trend
	if e == x-pred {
		// A sample out of bounds is no part of the day's shape: its
		// season term, repeated a day later, would be an echo of it.
		st.season[k] = hw.gamma*(x-st.level) + (1-hw.gamma)*s
	}
	st.dev += rate * (math.Abs(e) - st.dev)
}

// peak returns the forecast peak over the next horizon samples after the
// sample of season index k.
func (st *hwState) peak(k, horizon int) float64 {
	p := len(st.season)
	peak := math.Inf(-1)
	// j is (k+h) mod p, kept by subtraction: a division per term was a
	// quarter of Selector.Seed's time.
	j := k % p
	for h := 1; h <= horizon; h++ {
		if j++; j == p {
			j = 0
		}
		peak = max(peak, st.level+float64(h)*st.trend+st.season[j])
	}
	return peak
}

// run returns peaks[i], the forecast peak over (i, i+horizon] made after
// observing v[i], for i >= 2*period-1 (NaN before), and the sum of squared
// one-step errors over v[:fitEnd].
//
// With observed (nil: every sample observed), a sample filled in a gap
// (observed[i] false) was interpolated towards the next observed one, which
// a forecast made at i must not see: the forecast there comes from the
// state at the last observed sample, fed that sample's value again for
// each sample since. The filter itself goes on over the filled values,
// which are in the past once the gap is over.
func (hw holtWinters) run(v []float64, observed []bool, horizon, fitEnd int) (peaks []float64, sse float64) {
	p := hw.period
	peaks = make([]float64, len(v))
	for i := range peaks {
		peaks[i] = math.NaN()
	}
	if len(v) < 2*p {
		return peaks, math.Inf(1)
	}
	st := hw.start(v)
	// gap is the state fed the last observed sample, last, through a gap.
	gap := hwState{season: make([]float64, p)}
	last := -1
	for i := 2 * p; i < len(v); i++ {
		if observed != nil && !observed[i] && last >= 0 {
			if last == i-1 {
				gap.level, gap.trend = st.level, st.trend
				copy(gap.season, st.season)
			}
			hw.update(&gap, v[last], i%p)
			peaks[i] = gap.peak(i%p, horizon)
		}
		pred := hw.update(&st, v[i], i%p)
		if i < fitEnd {
			e := v[i] - pred
			sse += e * e
		}
		if observed == nil || observed[i] || last < 0 {
			peaks[i], last = st.peak(i%p, horizon), i
		}
	}
	return peaks, sse
}

// gridSSE returns, for each parameter set of hwGrid at period p, the sum
// of squared one-step errors over v after its first two periods, passing
// them to keep in the grid's order; keep returns the bound for the sets
// after it. A set stops at the end of the first period whose sum passes
// its bound, and its sum so far is the one passed: the grid search only
// needs to know it lost. The filter's start, the same for every set, is
// computed once.
func gridSSE(v []float64, p int, keep func(k int, sse float64) (bound float64)) {
	if p <= 0 || len(v) < 2*p {
		return
	}
	st := holtWinters{period: p}.start(v)
	l := hwLane{season: make([]float64, p)}
	bound := math.Inf(1)
	for k, hw := range hwGrid {
		l.start(hw, st)
		for rest := v[2*p:]; len(rest) > 0; {
			day := rest[:min(p, len(rest))]
			l.day(day)
			rest = rest[len(day):]
			if len(day) == p && l.sse > bound {
				break
			}
		}
		bound = keep(k, l.sse)
	}
}

// hwLane is one parameter set's run in gridSSE: the filter's state, with
// the state in locals while it runs (the grid search runs the filter for
// every parameter set over days of samples), and its summed squared
// errors.
type hwLane struct {
	a, b, g      float64
	level, trend float64
	season       []float64
	sse          float64
}

// start sets l to the filter of hw's smoothing parameters in the state st
// (see holtWinters.start), its seasonal terms copied.
func (l *hwLane) start(hw holtWinters, st hwState) {
	copy(l.season, st.season)
	*l = hwLane{a: hw.alpha, b: hw.beta, g: hw.gamma, level: st.level, trend: st.trend, season: l.season}
}

// day runs l's filter over the samples x (at most a period, the first at
// season index 0), as holtWinters.update does.
func (l *hwLane) day(x []float64) {
	level, trend, sse := l.level, l.trend, l.sse
	a, b, g := l.a, l.b, l.g
	sea := l.season[:len(x)]
	for k, x := range x {
		s := sea[k]
		pred := level + trend + s
		prev := level
		level = a*(x-s) + (1-a)*(level+trend)
		trend = b*(level-prev) + (1-b)*trend
		sea[k] = g*(x-level) + (1-g)*s
		e := x - pred
		sse += e * e
	}
	l.level, l.trend, l.sse = level, trend, sse
}

// hwGrid is the grid of smoothing parameters fitHoltWinters chooses from.
var hwGrid = func() []holtWinters {
	var g []holtWinters
	for _, a := range []float64{0.05, 0.2, 0.5, 0.8} {
		for _, b := range []float64{0, 0.01, 0.1} {
			for _, c := range []float64{0.05, 0.2, 0.5} {
				g = append(g, holtWinters{alpha: a, beta: b, gamma: c})
			}
		}
	}
	return g
}()

// fitHoltWinters picks the smoothing parameters with the least one-step
// squared error on v[:fitEnd] from hwGrid, and returns the peak forecasts
// of the best (see holtWinters.run for observed).
func fitHoltWinters(v []float64, observed []bool, period, horizon, fitEnd int) []float64 {
	k := scaleOf(v)
	v = Series{Values: v}.scaled(k).Values
	best, bestSSE := -1, math.Inf(1)
	gridSSE(v[:min(len(v), fitEnd)], period, func(k int, sse float64) float64 {
		if sse < bestSSE || best < 0 {
			best, bestSSE = k, sse
		}
		return bestSSE
	})
	hw := hwGrid[max(0, best)]
	hw.period = period
	peaks, _ := hw.run(v, observed, horizon, fitEnd)
	for i := range peaks {
		peaks[i] *= k
	}
	return peaks
}
