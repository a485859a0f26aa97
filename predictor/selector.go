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
	// selectPower weighs each forecaster that has beaten the mixture by
	// its error over selectDays to this negative power.
	selectPower = 8.0
	// selectMinSpan is the least span of evaluated forecasts before the
	// selector weighs anything: until then the forecast is the
	// mixture's.
	selectMinSpan = Day
)

// Selector keeps the forecast from staying worse than a baseline's: it
// keeps, for each day of the last selectDays, the absolute errors of the
// mixture's forecasts and of the baselines' (persistence, seasonal naive
// over a day and a week) once their windows are over (Observe), and
// blends into the mixture's forecast every baseline whose error over those
// days is below the mixture's, each weighed, with the mixture, by its
// error to the power -selectPower (Apply). While the mixture has the
// least error, the forecast is the mixture's exactly. The mixture's own
// candidates are scored over the last hours only (see Model.score): on
// bursty demand, whose last hours say little about the next, its weights
// chase the last burst and it forecast worse than persistence for weeks
// (batch bursts: 1.26 times persistence's MAE, 1.05 with the selector; an
// hourly office-hours trace: 1.38 times the week-ago window's, 1.05).
// A spike in progress does not hold the blend at the mixture's forecast:
// the step of an office day looks like one, and persistence, a baseline,
// carries the latest demand anyway (held, the hourly trace stayed at
// 1.29). The zero Selector is ready to use.
type Selector struct {
	days [selectDays]selectDay
	// first is when the first evaluated forecast was made.
	first time.Time
}

// selectDay holds one day's summed absolute errors, the mixture's first.
type selectDay struct {
	day int64
	err [1 + NumBaselines]float64
	n   [1 + NumBaselines]int
}

// dayIndex is the day of t since the Unix epoch, UTC.
func dayIndex(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 86400)) }

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
	slot.err[0] += math.Abs(f.Mixture - actual)
	slot.n[0]++
	for b, v := range f.Baselines {
		if finite(v) {
			slot.err[1+b] += math.Abs(v - actual)
			slot.n[1+b]++
		}
	}
}

// errors returns the mean absolute errors over the last selectDays before
// t of the mixture and the baselines (NaN for a baseline not evaluated on
// every forecast the mixture was).
func (s *Selector) errors(t time.Time) (errs [1 + NumBaselines]float64, ok bool) {
	now := dayIndex(t)
	var sum [1 + NumBaselines]float64
	var n [1 + NumBaselines]int
	for _, d := range s.days {
		if d.n[0] == 0 || d.day > now || d.day <= now-selectDays {
			continue
		}
		for c := range sum {
			sum[c] += d.err[c]
			n[c] += d.n[c]
		}
	}
	if n[0] == 0 || s.first.IsZero() || t.Sub(s.first) < selectMinSpan {
		return errs, false
	}
	for c := range errs {
		errs[c] = math.NaN()
		if n[c] == n[0] {
			errs[c] = sum[c] / float64(n[c])
		}
	}
	return errs, true
}

// Apply returns f with its Peak blended from the mixture's and those of
// the baselines that forecast better than it over the last selectDays
// (see Selector); Upper moves with Peak.
func (s *Selector) Apply(f Forecast) Forecast {
	errs, ok := s.errors(f.Time)
	if !ok {
		return f
	}
	const tiny = 1e-12
	wMix := math.Pow(errs[0]+tiny, -selectPower)
	num, den := wMix*f.Mixture, wMix
	for b, v := range f.Baselines {
		e := errs[1+b]
		if !finite(v) || !(e < errs[0]) {
			continue
		}
		w := math.Pow(e+tiny, -selectPower)
		num += w * v
		den += w
	}
	if den == wMix || !finite(num/den) {
		return f
	}
	peak := max(0, num/den)
	f.Upper += peak - f.Peak
	f.Peak = peak
	f.BaselineShare = 1 - wMix/den
	return f
}
