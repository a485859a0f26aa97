package floorwriter

import (
	"math"
	"time"

	"github.com/mlscale/mlscale/predictor"
)

// Rolling scores a workload's past forecasts against what happened: each
// forecast of the peak over (at, at+lookahead] waits until the history
// covers its window, then its absolute error, and whether the floor set
// from it had less capacity than the actual peak, join a window of the
// latest evaluations. The zero value is ready to use with unlimited
// windows; set Window and FloorWindow to bound them.
type Rolling struct {
	// Window is how many evaluated forecasts the error covers; 0 means all.
	Window int
	// FloorWindow is how many evaluated forecasts Provisioning covers; 0
	// means all.
	FloorWindow int

	pending []pendingForecast
	absErr  []float64
	actual  []float64
	// floorActual and capacity are the actual peaks and floor capacities
	// of the last FloorWindow evaluated forecasts.
	floorActual, capacity []float64
}

type pendingForecast struct {
	at        time.Time
	lookahead time.Duration
	peak      float64
	// capacity is the floor's capacity (floor times capacity per replica)
	// set from the forecast; NaN when no floor was.
	capacity float64
	// forecast is the whole forecast (see AddForecast).
	forecast predictor.Forecast
}

// Evaluation is one forecast scored by Evaluate.
type Evaluation struct {
	// Peak is the forecast peak, Actual the window's actual peak.
	Peak, Actual float64
	// Under is true when the floor set from the forecast had less capacity
	// than Actual; false when no floor was set from it.
	Under bool
	// Forecast is the forecast as AddForecast recorded it (zero after
	// Add), for the predictor.Selector.
	Forecast predictor.Forecast
	// Lookahead is the length of the forecast's window.
	Lookahead time.Duration
}

// maxPending bounds the forecasts waiting for their window (a workload whose
// data stopped must not grow without bound).
const maxPending = 1024

// Add records a forecast of the peak over (at, at+lookahead] and the
// capacity of the floor set from it (NaN for none).
func (r *Rolling) Add(at time.Time, lookahead time.Duration, peak, capacity float64) {
	r.add(pendingForecast{at: at, lookahead: lookahead, peak: peak, capacity: capacity})
}

// AddForecast is Add of f's time and peak, keeping f for its Evaluation.
func (r *Rolling) AddForecast(f predictor.Forecast, lookahead time.Duration, capacity float64) {
	r.add(pendingForecast{at: f.Time, lookahead: lookahead, peak: f.Peak, capacity: capacity, forecast: f})
}

func (r *Rolling) add(p pendingForecast) {
	if len(r.pending) >= maxPending {
		r.pending = r.pending[1:]
	}
	r.pending = append(r.pending, p)
}

// Evaluate scores every pending forecast whose window s now covers: the
// actual peak is the highest sample in the window. Forecasts whose window
// starts before s are dropped unscored. It returns the forecasts scored,
// oldest first.
func (r *Rolling) Evaluate(s predictor.Series) []Evaluation {
	if s.Len() == 0 {
		return nil
	}
	var out []Evaluation
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
		r.floorActual = append(r.floorActual, actual)
		r.capacity = append(r.capacity, p.capacity)
		out = append(out, Evaluation{Peak: p.peak, Actual: actual, Under: p.capacity < actual, Forecast: p.forecast, Lookahead: p.lookahead})
	}
	r.pending = kept
	if r.Window > 0 && len(r.absErr) > r.Window {
		cut := len(r.absErr) - r.Window
		r.absErr = append(r.absErr[:0], r.absErr[cut:]...)
		r.actual = append(r.actual[:0], r.actual[cut:]...)
	}
	if r.FloorWindow > 0 && len(r.capacity) > r.FloorWindow {
		cut := len(r.capacity) - r.FloorWindow
		r.floorActual = append(r.floorActual[:0], r.floorActual[cut:]...)
		r.capacity = append(r.capacity[:0], r.capacity[cut:]...)
	}
	return out
}

// Provisioning returns, over the evaluated forecasts in FloorWindow that set
// a floor, the share whose floor had less capacity than the actual peak,
// the mean floor capacity over the mean actual peak (nil when the actual
// peaks sum to 0 or less), and how many there are.
func (r *Rolling) Provisioning() (under float64, overRatio *float64, n int) {
	var misses int
	var capSum, actualSum float64
	for i, c := range r.capacity {
		if math.IsNaN(c) {
			continue
		}
		n++
		if c < r.floorActual[i] {
			misses++
		}
		capSum += c
		actualSum += r.floorActual[i]
	}
	if n == 0 {
		return 0, nil, 0
	}
	if actualSum > 0 {
		ratio := capSum / actualSum
		overRatio = &ratio
	}
	return float64(misses) / float64(n), overRatio, n
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
	r.pending, r.absErr, r.actual, r.floorActual, r.capacity = nil, nil, nil, nil, nil
}
