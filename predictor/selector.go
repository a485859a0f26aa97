package predictor

import (
	"math"
	"time"
)

// Baselines a Forecast carries beside its mixture (see Forecast.Baselines
// and Selector).
const (
	// BaselineIndexPersistence is the latest sample.
	BaselineIndexPersistence = iota
	// BaselineIndexDay and BaselineIndexWeek are the peaks of the
	// lookahead window a day and a week earlier (seasonal naive).
	BaselineIndexDay
	BaselineIndexWeek
	// NumBaselines is how many there are.
	NumBaselines
)

// The selector's settings (see Selector).
const (
	// selectDays is how many days of evaluated forecasts the selector
	// compares the mixture and the baselines over: a week, so that a
	// weekend and the days either side of it count alike.
	selectDays = 7
	// selectSteps is how many blends of the mixture with each baseline
	// the selector scores: the baseline weighing k/selectSteps, k = 1 to
	// selectSteps (the baseline alone).
	selectSteps = 10
	// selectMinSpan is the least span of evaluated forecasts before the
	// selector blends anything: until then the forecast is the
	// mixture's.
	selectMinSpan = Day
)

// Selector keeps the forecast from staying worse than a baseline's. For
// each day of the last selectDays it keeps, once their windows are over
// (Observe), the absolute errors of the mixture's forecasts and of its
// blends with each baseline (persistence, seasonal naive over a day and a
// week): the mixture plus k/selectSteps of the baseline's difference from
// it, k = 1 to selectSteps. Apply forecasts with the blend whose error
// over those days is the least relative to the mixture's on the same
// forecasts, among the baselines that, alone, beat the mixture; while
// none does, the forecast is the mixture's exactly. The mixture's own
// candidates are scored over the last hours only (see Model.score): on
// bursty demand, whose last hours say little about the next, its weights
// chase the last burst and it forecast worse than persistence for weeks
// (batch bursts: 1.26 times persistence's MAE, 1.00 with the selector; an
// hourly office-hours trace: 1.38 times the week-ago window's, 0.97). A
// spike in progress does not hold the blend at the mixture's forecast:
// the step of an office day looks like one, and persistence, a baseline,
// carries the latest demand anyway. The zero Selector is ready to use.
type Selector struct {
	days [selectDays]selectDay
	// first is when the first evaluated forecast was made.
	first time.Time
}

// selectDay holds one day's summed absolute errors.
type selectDay struct {
	day int64
	// n counts the forecasts observed; nb those with each baseline.
	n  int
	nb [NumBaselines]int
	// mix sums the mixture's errors over the forecasts with each
	// baseline; blend the errors of the blends with it, by weight.
	mix   [NumBaselines]float64
	blend [NumBaselines][selectSteps]float64
}

// dayIndex is the day of t since the Unix epoch, UTC.
func dayIndex(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 86400)) }

// blendWeight is the baseline's weight in blend k.
func blendWeight(k int) float64 { return float64(k+1) / selectSteps }

// Observe folds in a forecast f whose window is over, actual being the
// window's actual peak.
func (s *Selector) Observe(f Forecast, actual float64) {
	if f.Time.IsZero() || !finite(actual) || !finite(f.Mixture) {
		return
	}
	d := dayIndex(f.Time)
	slot := &s.days[((d%selectDays)+selectDays)%selectDays]
	if slot.day != d {
		*slot = selectDay{day: d}
	}
	if s.first.IsZero() || f.Time.Before(s.first) {
		s.first = f.Time
	}
	slot.n++
	for b, v := range f.Baselines {
		if !finite(v) {
			continue
		}
		slot.nb[b]++
		slot.mix[b] += math.Abs(f.Mixture - actual)
		for k := range selectSteps {
			slot.blend[b][k] += math.Abs(f.Mixture + blendWeight(k)*(v-f.Mixture) - actual)
		}
	}
}

// ratios returns, for each baseline and blend, its error over the last
// selectDays before t relative to the mixture's on the same forecasts
// (NaN for a baseline with fewer than half of the forecasts, as the
// week-ago window in a workload's first week); ok is false before
// selectMinSpan of forecasts.
func (s *Selector) ratios(t time.Time) (r [NumBaselines][selectSteps]float64, ok bool) {
	now := dayIndex(t)
	var (
		n     int
		nb    [NumBaselines]int
		mix   [NumBaselines]float64
		blend [NumBaselines][selectSteps]float64
	)
	for _, d := range s.days {
		if d.n == 0 || d.day > now || d.day <= now-selectDays {
			continue
		}
		n += d.n
		for b := range NumBaselines {
			nb[b] += d.nb[b]
			mix[b] += d.mix[b]
			for k := range selectSteps {
				blend[b][k] += d.blend[b][k]
			}
		}
	}
	if n == 0 || s.first.IsZero() || t.Sub(s.first) < selectMinSpan {
		return r, false
	}
	for b := range NumBaselines {
		for k := range selectSteps {
			r[b][k] = math.NaN()
			if 2*nb[b] >= n && mix[b] > 0 {
				r[b][k] = blend[b][k] / mix[b]
			}
		}
	}
	return r, true
}

// Apply returns f with its Peak blended from the mixture's and a
// baseline's (see Selector); Upper moves with Peak.
func (s *Selector) Apply(f Forecast) Forecast {
	r, ok := s.ratios(f.Time)
	if !ok {
		return f
	}
	bestB, bestK, best := -1, 0, 1.0
	for b, v := range f.Baselines {
		// Only a baseline that beats the mixture alone is blended in.
		if !finite(v) || !(r[b][selectSteps-1] < 1) {
			continue
		}
		for k := range selectSteps {
			if r[b][k] < best {
				bestB, bestK, best = b, k, r[b][k]
			}
		}
	}
	if bestB < 0 {
		return f
	}
	w := blendWeight(bestK)
	peak := max(0, f.Mixture+w*(f.Baselines[bestB]-f.Mixture))
	f.Upper += peak - f.Peak
	f.Peak = peak
	f.BaselineShare = w
	return f
}
