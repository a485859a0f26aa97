package predictor

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Calibration defaults.
const (
	// DefaultTargetUnder is the share of steps in which demand may exceed
	// the floor's capacity when nothing else is set: 2%.
	DefaultTargetUnder = 0.02
	// calibrationWindow is the recent past whose residuals set the margin.
	calibrationWindow = 2 * Day
	// calibrationMin and calibrationMax bound the residuals kept, whatever
	// the step.
	calibrationMin, calibrationMax = 200, 4000
	// calibrationGain is how fast the working level follows the misses
	// (adaptive conformal inference): after each evaluated floor it moves
	// by calibrationGain times the target minus the miss (1 or 0).
	calibrationGain = 0.005
)

// CheckTargetUnder returns an error unless target is a share of steps in
// (0, 0.5]; field names the setting in the message.
func CheckTargetUnder(field string, target float64) error {
	if !(target > 0 && target <= 0.5) {
		return fmt.Errorf("%s must be a share of steps above 0 and at most 0.5 (e.g. 0.02 for 2%%), not %g", field, target)
	}
	return nil
}

// Calibrator turns peak forecasts into the capacity a floor provisions
// for, so that the window's actual peak exceeds the floor's capacity in
// about Target of the steps. It is split conformal prediction on the
// recent errors of the peak forecast: the margin added to a forecast is
// the conformal quantile of the recent scores at a working level.
//
// Two scores are kept: the residual (actual peak minus forecast peak),
// whose margin is the same at every level of demand, and the residual
// over a scale (the forecast peak plus half the mean forecast peak),
// whose margin grows with demand, as the errors of bursty or
// multiplicative demand do. At every step both margins are computed at
// the same level, so both promise the same coverage; the one whose
// margins have been smaller over the window is used.
//
// The working level starts at Target and adapts to the floors' actual
// misses (adaptive conformal inference): the floor policy's rounding to
// whole replicas and its slow falls, which make misses rarer than the
// margin alone would, are paid back in a smaller margin, and a change in
// the errors that the window has not caught up with yet in a larger one.
//
// Feed it with Seed (residuals of forecasts made before it started, such
// as Model.Residuals) and Observe (each forecast once its window is
// over). Its zero value is not usable; use NewCalibrator.
type Calibrator struct {
	target, gain float64
	window       int
	// level is the working miscoverage level (the share of scores the
	// margin leaves above it); it moves with every Observe.
	level float64
	// abs holds the residuals, rel the scaled residuals.
	abs, rel scores
	// mean is a running mean of the forecast peaks (over about a window),
	// which sets the scale of rel; means counts the peaks seen.
	mean  float64
	means int
	// absCost and relCost are running means of the two margins (in demand)
	// at the steps Upper was asked for.
	absCost, relCost float64
	// observed and missed count the evaluated floors and those below the
	// actual peak.
	observed, missed int
}

// scores is a window of scores in arrival order (ring, next is where the
// next one goes once it is full) and sorted.
type scores struct {
	ring   []float64
	next   int
	sorted []float64
}

func (s *scores) add(r float64, window int) {
	if len(s.ring) < window {
		s.ring = append(s.ring, r)
	} else {
		old := s.ring[s.next]
		s.ring[s.next] = r
		s.next = (s.next + 1) % window
		k, _ := slices.BinarySearch(s.sorted, old)
		s.sorted = slices.Delete(s.sorted, k, k+1)
	}
	k, _ := slices.BinarySearch(s.sorted, r)
	s.sorted = slices.Insert(s.sorted, k, r)
}

// quantile returns the conformal quantile at level: the
// ceil((n+1)(1-level))-th smallest of the n scores (the largest when that
// is past n, the smallest when level reached 1); NaN with none.
func (s *scores) quantile(level float64) float64 {
	n := len(s.sorted)
	if n == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(float64(n+1)*(1-level))) - 1
	return s.sorted[min(n-1, max(0, k))]
}

// relScale is the share of the mean forecast peak added to a forecast
// peak to scale its residual: without it a forecast near zero would make
// any residual huge.
const relScale = 0.5

// NewCalibrator returns a calibrator for target (a share of steps in
// (0, 0.5], see CheckTargetUnder) whose window covers two days of
// forecasts at step (at least 200, at most 4,000 of them).
func NewCalibrator(target float64, step time.Duration) (*Calibrator, error) {
	if err := CheckTargetUnder("the target under-provisioning", target); err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, fmt.Errorf("calibrating: step %s is not positive", step)
	}
	w := min(calibrationMax, max(calibrationMin, int(calibrationWindow/step)))
	return &Calibrator{target: target, gain: calibrationGain, window: w, level: target}, nil
}

// Target returns the share of steps the floors may be under.
func (c *Calibrator) Target() float64 { return c.target }

// Seed adds residuals (actual peak minus forecast peak) of earlier
// forecasts, oldest first, without counting them as evaluated floors.
// They carry no forecast peak, so they serve the residual score only.
// Non-finite values are skipped.
func (c *Calibrator) Seed(residuals []float64) {
	for _, r := range residuals {
		if finite(r) {
			c.abs.add(r, c.window)
		}
	}
}

// Observe records a forecast whose window is over: residual is the actual
// peak minus the forecast peak, peak the forecast peak, under whether the
// floor set from it had less capacity than the actual peak. A forecast
// with a non-finite residual or peak is skipped.
func (c *Calibrator) Observe(residual, peak float64, under bool) {
	if !finite(residual) || !finite(peak) {
		return
	}
	c.means++
	c.mean += (max(0, peak) - c.mean) / float64(min(c.means, c.window))
	c.abs.add(residual, c.window)
	c.rel.add(residual/c.scale(peak), c.window)
	c.observed++
	miss := 0.0
	if under {
		c.missed++
		miss = 1
	}
	// The level may leave [0, 1): below 0 the margin is the largest
	// score, at 1 the smallest (see scores.quantile). Bounding it keeps
	// one long run of misses or hits from taking as long to undo.
	c.level = min(1, max(-0.5, c.level+c.gain*(c.target-miss)))
}

// scale is the spread expected of a forecast of peak, for the scaled
// score; never 0.
func (c *Calibrator) scale(peak float64) float64 {
	return max(0, peak) + relScale*c.mean + 1e-12
}

// Len returns how many residuals the margin is computed from.
func (c *Calibrator) Len() int { return len(c.abs.sorted) }

// Upper returns the calibrated upper bound of the peak forecast f, never
// below 0: f.Peak plus the margin of the score with the smaller margins
// so far. While there is no residual at all it is the model's own bound,
// f.Upper.
func (c *Calibrator) Upper(f Forecast) float64 {
	a := c.abs.quantile(c.level)
	if math.IsNaN(a) {
		return f.Upper
	}
	margin := a
	// The scaled score competes once it has as many scores as the level
	// needs to be told from the largest one.
	if r := c.rel.quantile(c.level); len(c.rel.sorted) >= int(2/c.target) && finite(f.Peak) {
		rm := r * c.scale(f.Peak)
		w := 1 / float64(c.window)
		c.absCost += w * (a - c.absCost)
		c.relCost += w * (rm - c.relCost)
		if c.relCost < c.absCost {
			margin = rm
		}
	}
	return max(0, f.Peak+margin)
}

// Level returns the working level: the share of scores the margin leaves
// above it.
func (c *Calibrator) Level() float64 { return c.level }

// Achieved returns the share of the observed floors that were under the
// actual peak, and how many were observed; 0, 0 before the first.
func (c *Calibrator) Achieved() (under float64, n int) {
	if c.observed == 0 {
		return 0, 0
	}
	return float64(c.missed) / float64(c.observed), c.observed
}
