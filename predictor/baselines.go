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

// persistence forecasts the last value.
func persistence(v []float64) peakForecaster {
	return func(i int) float64 { return v[i] }
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

// holtWinters is additive Holt-Winters (level, trend, season) run over a
// whole series once, keeping every step's h-step-ahead peak forecast.
type holtWinters struct {
	alpha, beta, gamma float64
	period             int
}

// run returns peaks[i], the forecast peak over (i, i+horizon] made after
// observing v[i], for i >= 2*period-1 (NaN before), and the sum of squared
// one-step errors over v[:fitEnd].
func (hw holtWinters) run(v []float64, horizon, fitEnd int) (peaks []float64, sse float64) {
	p := hw.period
	peaks = make([]float64, len(v))
	for i := range peaks {
		peaks[i] = math.NaN()
	}
	if len(v) < 2*p {
		return peaks, math.Inf(1)
	}
	var m1, m2 float64
	for i := range p {
		m1 += v[i]
		m2 += v[p+i]
	}
	m1 /= float64(p)
	m2 /= float64(p)
	level, trend := m2, (m2-m1)/float64(p)
	season := make([]float64, p)
	for i := range p {
		season[i] = (v[i] - m1 + v[p+i] - m2) / 2
	}
	for i := 2 * p; i < len(v); i++ {
		pred := level + trend + season[i%p]
		if i < fitEnd {
			e := v[i] - pred
			sse += e * e
		}
		prev := level
		level = hw.alpha*(v[i]-season[i%p]) + (1-hw.alpha)*(level+trend)
		trend = hw.beta*(level-prev) + (1-hw.beta)*trend
		season[i%p] = hw.gamma*(v[i]-level) + (1-hw.gamma)*season[i%p]
		peak := math.Inf(-1)
		for h := 1; h <= horizon; h++ {
			peak = max(peak, level+float64(h)*trend+season[(i+h)%p])
		}
		peaks[i] = peak
	}
	return peaks, sse
}

// fitHoltWinters picks the smoothing parameters with the least one-step
// squared error on v[:fitEnd] from a small grid, and returns the peak
// forecasts of the best.
func fitHoltWinters(v []float64, period, horizon, fitEnd int) []float64 {
	var best []float64
	bestSSE := math.Inf(1)
	for _, a := range []float64{0.05, 0.2, 0.5, 0.8} {
		for _, b := range []float64{0, 0.01, 0.1} {
			for _, g := range []float64{0.05, 0.2, 0.5} {
				peaks, sse := holtWinters{alpha: a, beta: b, gamma: g, period: period}.run(v, horizon, fitEnd)
				if sse < bestSSE || best == nil {
					best, bestSSE = peaks, sse
				}
			}
		}
	}
	return best
}
