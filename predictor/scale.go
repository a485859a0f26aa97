package predictor

import "math"

// Values far from 1 are scaled to near 1 before they are fitted: the
// fits sum squares (variances, autocorrelations, Holt-Winters's errors),
// which overflow above about 1e150 and lose precision far below 1, and a
// few guards against division by zero are absolute (1e-9). Between
// scaleLow and scaleHigh nothing is scaled, so the figures of ordinary
// traces do not move by a bit.
const (
	scaleLow  = 1e-3
	scaleHigh = 1e100
)

// scaleOf returns the power of two that brings the largest magnitude in v
// to [0.5, 1) when it is outside [scaleLow, scaleHigh], else 1. Dividing
// by a power of two is exact, so the scaled values keep every digit.
func scaleOf(v []float64) float64 {
	var big float64
	for _, x := range v {
		big = max(big, math.Abs(x))
	}
	if big == 0 || !finite(big) || (big >= scaleLow && big <= scaleHigh) {
		return 1
	}
	_, exp := math.Frexp(big)
	return math.Ldexp(1, exp)
}

// scaled returns s with its values divided by k, in a copy; s itself when
// k is 1.
func (s Series) scaled(k float64) Series {
	if k == 1 {
		return s
	}
	out := Series{Start: s.Start, Step: s.Step, Values: make([]float64, len(s.Values)), Observed: s.Observed}
	for i, v := range s.Values {
		out.Values[i] = v / k
	}
	return out
}
