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
	return medianInPlace(slices.Clone(x))
}

// medianInPlace returns the median of s, reordering it (NaN for none).
func medianInPlace(s []float64) float64 {
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if slices.ContainsFunc(s, math.IsNaN) {
		slices.Sort(s)
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	hi := nth(s, n/2)
	if n%2 == 1 {
		return hi
	}
	// nth leaves the n/2 smallest values before index n/2.
	return (slices.Max(s[:n/2]) + hi) / 2
}

// rollingMedians writes into dst (of len(x)) the median of each window of
// x ending at i, x[max(0, i-n+1) : i+1], the same value median gives:
// it keeps the window sorted, and each step moves only the values between
// the one leaving and the one coming in, where a median per window selects
// among all n. It reports false, writing nothing, when x holds a NaN.
func rollingMedians(dst, x []float64, n int) bool {
	if slices.ContainsFunc(x, math.IsNaN) {
		return false
	}
	win := make([]float64, 0, n)
	for i, v := range x {
		if len(win) == n {
			out, _ := slices.BinarySearch(win, x[i-n])
			in, _ := slices.BinarySearch(win, v)
			// Remove win[out] and put v where it sorts: shift what lies
			// between the two places by one.
			if in > out {
				in--
				copy(win[out:in], win[out+1:in+1])
			} else {
				copy(win[in+1:out+1], win[in:out])
			}
			win[in] = v
		} else {
			in, _ := slices.BinarySearch(win, v)
			win = slices.Insert(win, in, v)
		}
		k := len(win)
		if k%2 == 1 {
			dst[i] = win[k/2]
		} else {
			dst[i] = (win[k/2-1] + win[k/2]) / 2
		}
	}
	return true
}

// nth reorders x (without NaNs) so that x[k] is the value sorting would
// put there, everything before it no greater and everything after it no
// smaller, and returns x[k]: a quickselect (Hoare's partition around the
// median of three, which splits runs of equal values evenly), in linear
// time on average, that sorts the last nthSort values or fewer by
// insertion. On 10,080 values it takes half the time of a three-way
// partition.
func nth(x []float64, k int) float64 {
	lo, hi := 0, len(x)-1
	for hi-lo >= nthSort {
		a, b, c := x[lo], x[lo+(hi-lo)/2], x[hi]
		p := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for x[i] < p {
				i++
			}
			for x[j] > p {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return x[k]
		}
	}
	for i := lo + 1; i <= hi; i++ {
		v, j := x[i], i
		for ; j > lo && x[j-1] > v; j-- {
			x[j] = x[j-1]
		}
		x[j] = v
	}
	return x[k]
}

// nthSort is how few values nth sorts rather than partitions.
const nthSort = 12

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

// meanAbsScale turns a mean absolute deviation into a standard deviation
// for normally distributed data (sqrt(pi/2)).
const meanAbsScale = 1.2533

// spread returns the median of x and a robust standard deviation: the
// scaled median absolute deviation, or, where more than half of x equals
// its median (demand that holds one value most of the time, integers, a
// counter rising by the same amount each step), the scaled mean absolute
// deviation from the median, which is 0 only for a constant x. With the
// median absolute deviation alone such a series has a deviation of 0, and
// every sample off the median would be an anomaly.
func spread(x []float64) (med, sd float64) {
	med, sd = mad(x)
	if sd > 0 || len(x) == 0 {
		return med, sd
	}
	var sum float64
	for _, v := range x {
		sum += math.Abs(v - med)
	}
	return med, meanAbsScale * sum / float64(len(x))
}

// quantile returns the empirical p-quantile of x without modifying it: the
// lowest value that at least the fraction p of x is at or below.
func quantile(p float64, x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	if slices.ContainsFunc(s, math.IsNaN) || !(p > 0 && p < 1) {
		slices.Sort(s)
		return stat.Quantile(p, stat.Empirical, s, nil)
	}
	k := int(math.Ceil(p*float64(len(s)))) - 1
	return nth(s, min(len(s)-1, max(0, k)))
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
