package floorwriter

import (
	"math"
	"time"

	"github.com/mlscale/mlscale/predictor"
)

// Rolling scores a workload's past forecasts against what happened: each
// forecast of the peak over (at, at+lookahead] waits until the history
// covers its window, then its absolute error joins a window of the latest
// evaluations. The zero value is ready to use with an unlimited window; set
// Window to bound it.
type Rolling struct {
	// Window is how many evaluated forecasts the error covers; 0 means all.
	Window int

	pending []pendingForecast
	absErr  []float64
	actual  []float64
}

type pendingForecast struct {
	at        time.Time
	lookahead time.Duration
	peak      float64
}

// maxPending bounds the forecasts waiting for their window (a workload whose
// data stopped must not grow without bound).
const maxPending = 1024

// Add records a forecast of the peak over (at, at+lookahead].
func (r *Rolling) Add(at time.Time, lookahead time.Duration, peak float64) {
	if len(r.pending) >= maxPending {
		r.pending = r.pending[1:]
	}
	r.pending = append(r.pending, pendingForecast{at: at, lookahead: lookahead, peak: peak})
}

// Evaluate scores every pending forecast whose window s now covers: the
// actual peak is the highest sample in the window. Forecasts whose window
// starts before s are dropped unscored.
func (r *Rolling) Evaluate(s predictor.Series) {
	if s.Len() == 0 {
		return
	}
	kept := r.pending[:0]
	for _, p := range r.pending {
		end := p.at.Add(p.lookahead)
		if end.After(s.End()) {
			kept = append(kept, p)
			continue
		}
		if p.at.Before(s.Start) {
			continue
		}
		actual := math.Inf(-1)
		for i := int(p.at.Sub(s.Start)/s.Step) + 1; i < s.Len() && !s.Time(i).After(end); i++ {
			actual = max(actual, s.Values[i])
		}
		if math.IsInf(actual, -1) {
			continue
		}
		r.absErr = append(r.absErr, math.Abs(p.peak-actual))
		r.actual = append(r.actual, actual)
	}
	r.pending = kept
	if r.Window > 0 && len(r.absErr) > r.Window {
		cut := len(r.absErr) - r.Window
		r.absErr = append(r.absErr[:0], r.absErr[cut:]...)
		r.actual = append(r.actual[:0], r.actual[cut:]...)
	}
}

// Error returns the weighted absolute percentage error of the evaluated
// forecasts in the window, sum |forecast - actual| / sum actual (0.2 means
// the forecasts missed by 20% of the demand), and how many there are. With
// no demand at all in the window any miss gives a huge error.
func (r *Rolling) Error() (wape float64, n int) {
	n = len(r.absErr)
	if n == 0 {
		return 0, 0
	}
	var sumErr, sumActual float64
	for i := range r.absErr {
		sumErr += r.absErr[i]
		sumActual += math.Abs(r.actual[i])
	}
	return sumErr / max(sumActual, 1e-9), n
}

// Reset forgets every forecast and evaluation (e.g. when the demand query
// changes).
func (r *Rolling) Reset() {
	r.pending, r.absErr, r.actual = nil, nil, nil
}
