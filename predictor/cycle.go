package predictor

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Cycle is a seasonal period found in a history.
type Cycle struct {
	// Period is the length of the cycle: 24h or 168h; 0 means no cycle.
	Period time.Duration
	// Strength is the autocorrelation at the period, minus the
	// autocorrelation at half the period (about 0 for noise, up to 2 for a
	// clean cycle).
	Strength float64
}

// String describes the cycle, e.g. "daily (strength 1.42)" or "no cycle".
func (c Cycle) String() string {
	switch c.Period {
	case 0:
		return "no cycle"
	case Day:
		return fmt.Sprintf("daily (strength %.2f)", c.Strength)
	case Week:
		return fmt.Sprintf("weekly (strength %.2f)", c.Strength)
	}
	return fmt.Sprintf("%s (strength %.2f)", c.Period, c.Strength)
}

// Candidate cycle lengths.
const (
	// Day is a daily cycle.
	Day = 24 * time.Hour
	// Week is a weekly cycle.
	Week = 7 * Day
)

// Thresholds of cycle detection.
const (
	// minACF is the least autocorrelation at the period for a cycle.
	minACF = 0.3
	// minStrength is the least ACF(period) - ACF(period/2) for a cycle; a
	// trend or a random walk has a high ACF at every lag, but not one that
	// rises again after half a period.
	minStrength = 0.3
	// weekGain is how much higher the weekly ACF must be than the daily one
	// for the week to be preferred.
	weekGain = 0.05
)

// DetectCycle looks for a daily and a weekly cycle in s by autocorrelation
// (computed with an FFT) and returns the one that explains the data best,
// or a zero Cycle when there is none. A cycle needs at least two full
// periods of history.
func DetectCycle(s Series) Cycle {
	acf := autocorrelation(detrend(s.Values))
	try := func(p time.Duration) (Cycle, float64, bool) {
		lag := int(p / s.Step)
		if lag < 4 || 2*lag > len(s.Values) {
			return Cycle{}, 0, false
		}
		tol := max(1, lag/50)
		best := math.Inf(-1)
		for l := lag - tol; l <= lag+tol && l < len(acf); l++ {
			best = max(best, acf[l])
		}
		strength := best - acf[lag/2]
		return Cycle{Period: p, Strength: strength}, best, best >= minACF && strength >= minStrength
	}
	day, dayACF, dayOK := try(Day)
	week, weekACF, weekOK := try(Week)
	switch {
	case weekOK && (!dayOK || weekACF > dayACF+weekGain):
		return week
	case dayOK:
		return day
	}
	return Cycle{}
}

// detrend removes the series' robust linear trend and mean, so that the
// autocorrelation sees the shape rather than the drift.
func detrend(v []float64) []float64 {
	xs, ys := blockMedians(v, max(1, len(v)/32))
	slope := theilSen(xs, ys)
	out := make([]float64, len(v))
	var mean float64
	for i, x := range v {
		out[i] = x - slope*float64(i)
		mean += out[i]
	}
	mean /= float64(len(v))
	for i := range out {
		out[i] -= mean
	}
	return out
}

// blockMedians returns the medians of consecutive blocks of size n and the
// indexes of the blocks' centres.
func blockMedians(v []float64, n int) (xs, ys []float64) {
	for i := 0; i+n <= len(v); i += n {
		xs = append(xs, float64(i)+float64(n-1)/2)
		ys = append(ys, median(v[i:i+n]))
	}
	return xs, ys
}

// autocorrelation returns the sample autocorrelation of a zero-mean series
// at every lag, computed in O(n log n) with a zero-padded FFT.
func autocorrelation(x []float64) []float64 {
	n := len(x)
	size := 1
	for size < 2*n {
		size <<= 1
	}
	padded := make([]float64, size)
	copy(padded, x)
	fft := fourier.NewFFT(size)
	coef := fft.Coefficients(nil, padded)
	for i, c := range coef {
		coef[i] = complex(real(c)*real(c)+imag(c)*imag(c), 0)
	}
	seq := fft.Sequence(nil, coef)
	acf := make([]float64, n)
	if seq[0] == 0 {
		return acf
	}
	for l := range acf {
		// Normalise by the number of overlapping pairs, so that long lags
		// are not shrunk towards zero.
		acf[l] = (seq[l] / float64(n-l)) / (seq[0] / float64(n))
	}
	return acf
}
