package predictor

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// madScale turns a median absolute deviation into a standard deviation for
// normally distributed data.
const madScale = 1.4826

// median returns the median of x without modifying it (NaN for none).
func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mad returns the median and the scaled median absolute deviation of x, a
// robust estimate of location and standard deviation.
func mad(x []float64) (med, sd float64) {
	med = median(x)
	dev := make([]float64, len(x))
	for i, v := range x {
		dev[i] = math.Abs(v - med)
	}
	return med, madScale * median(dev)
}

// quantile returns the empirical p-quantile of x without modifying it.
func quantile(p float64, x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return stat.Quantile(p, stat.Empirical, s, nil)
}

// theilSen returns the Theil-Sen slope of y over x: the median of the slopes
// between all pairs of points. One outlier cannot tilt it. The points are
// few (one per day or so), so the quadratic cost does not matter.
func theilSen(x, y []float64) float64 {
	var slopes []float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			if dx := x[j] - x[i]; dx != 0 {
				slopes = append(slopes, (y[j]-y[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	return median(slopes)
}
