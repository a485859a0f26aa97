package predictor

import (
	"math"
	"time"
)

// A scrape that reads a million on demand of a hundred is not demand,
// and no floor can serve it: the combination reads such a sample as its
// neighbours (see combiner.glitchRun), but on its own that left two
// things that the sample still moved, both by far more than its size
// warrants. The forecast made at the sample, while it was the latest,
// provisioned for it (the floor at its ceiling); and the windows that held
// it counted as misses of a million, so that the calibration's working
// level went below 0, where the margin is the largest score (the
// million), and the floors stayed at their ceiling for an hour, until
// the level came back. A far run is what is left out of both.
const (
	// glitchFar is how many times the highest sample of the glitchSpan
	// before it a far run's samples exceed: a hundred times anything the
	// workload has had in a week. A burst of the size that the workload
	// has had before is never one, however far above its usual level
	// (idle CPU at 0.1 with bursts to 100). At ten times, a real burst of
	// network traffic was one (NAB's ec2_network_in_257a54: 139 MB in
	// five minutes where a week had held 13 MB at most, then 245 MB ten
	// minutes later): its first week's MAE went from 0.775 to 0.788 times
	// the best baseline's.
	glitchFar = 100.0
	// glitchSpan is the history a far run is measured against.
	glitchSpan = 7 * Day
	// glitchRunMax is the longest far run: demand that holds for a third
	// sample is demand.
	glitchRunMax = 2
)

// farRun returns how many samples from index a on (up to glitchRunMax+1)
// are each more than glitchFar times the highest of the span samples
// before a; 0 where a is 0, that highest is not above 0, or vals[a] is not
// that far. The span is scanned from a backwards and the scan ends at the
// first sample that vals[a] is not glitchFar times: on demand that drops
// to 0 between bursts, most calls end within a few samples (a week's scan
// at every burst made the backtest of such a trace 4.5 times slower).
func farRun(vals []float64, a, span int) int {
	if a <= 0 || a >= len(vals) || !(vals[a] > glitchFar*vals[a-1]) {
		return 0
	}
	ref := math.Inf(-1)
	for k := a - 1; k >= max(0, a-span); k-- {
		v := vals[k]
		if math.IsNaN(v) {
			continue
		}
		if !(vals[a] > glitchFar*v) {
			return 0
		}
		ref = max(ref, v)
	}
	if !(ref > 0) {
		return 0
	}
	n := 0
	for k := a; k < len(vals) && n <= glitchRunMax && vals[k] > glitchFar*ref; k++ {
		n++
	}
	return n
}

// spanOf is glitchSpan in samples of step (at least one).
func spanOf(step time.Duration) int {
	if step <= 0 {
		return 1
	}
	return max(1, int(glitchSpan/step))
}

// isFar reports whether sample k of vals is in a far run: the first or
// second sample of a run of at most glitchRunMax samples, each more than
// glitchFar times the highest sample of the span before the run. A run
// that reaches the last sample counts while it is at most glitchRunMax
// long (a third far sample, once it comes, makes it demand).
func isFar(vals []float64, k, span int) bool {
	for a := k; a >= max(1, k-glitchRunMax+1); a-- {
		if n := farRun(vals, a, span); n > k-a && n <= glitchRunMax {
			return true
		}
	}
	return false
}

// GlitchFreePeak returns the highest of s's samples lo to hi-1 leaving out
// those in a far run (see isFar), or the sample before the window where
// every one is; -Inf for an empty window. It is the actual peak that the
// calibration of the floors and the predictor's rolling error take in:
// the backtest's accuracy and under-provisioning still count the samples
// as they are.
func GlitchFreePeak(s Series, lo, hi int) float64 {
	lo, hi = max(0, lo), min(hi, s.Len())
	peak, left := math.Inf(-1), false
	span := spanOf(s.Step)
	for k := lo; k < hi; k++ {
		if isFar(s.Values, k, span) {
			left = true
			continue
		}
		peak = max(peak, s.Values[k])
	}
	if math.IsInf(peak, -1) && left && lo > 0 {
		return s.Values[lo-1]
	}
	return peak
}

// farTail returns the index of the first sample of a far run that ends
// at the last sample of vals, or len(vals) if there is none.
func farTail(vals []float64, span int) int {
	n := len(vals)
	for a := n - 1; a >= max(1, n-glitchRunMax); a-- {
		if r := farRun(vals, a, span); r == n-a {
			return a
		}
	}
	return n
}
