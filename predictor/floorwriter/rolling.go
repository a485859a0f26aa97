package floorwriter

import (
	"fmt"
	"maps"
	"math"
	"slices"
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
	// carriedErrors and carriedFloors are what a previous process's
	// windows held (Restore), as sums: the oldest part of each window,
	// which new evaluations push out at its mean.
	carriedErrors errorSums
	carriedFloors floorSums
}

// RollingState is what a Rolling's windows hold, as sums (State,
// Restore): a new process (a restart, a rolling update, a new leader)
// goes on with the rolling error and the achieved under-provisioning its
// predecessor had, rather than with none. The forecasts still waiting for
// their windows are not kept: a lookahead's worth of evaluations.
type RollingState struct {
	// Errors are the sums of the error window.
	Errors *errorSums `json:"errors,omitempty"`
	// Floors are the sums of the floor window.
	Floors *floorSums `json:"floors,omitempty"`
}

// errorSums sums the evaluations of an error window.
type errorSums struct {
	// N counts the evaluations.
	N float64 `json:"n"`
	// AbsErr sums their absolute errors, Actual their actual peaks'
	// absolute values.
	AbsErr float64 `json:"absErr"`
	Actual float64 `json:"actual"`
}

// floorSums sums the evaluations of a floor window.
type floorSums struct {
	// N counts the evaluations; Set those a floor was set from, Under
	// those of them whose capacity was below the actual peak.
	N     float64 `json:"n"`
	Set   float64 `json:"set"`
	Under float64 `json:"under"`
	// Capacity and Actual sum the floors' capacities and the actual peaks
	// over the Set evaluations.
	Capacity float64 `json:"capacity"`
	Actual   float64 `json:"actual"`
}

// shed removes k of the n evaluations that sums add up, at their mean
// (none when k is 0 or less, all of them when k is n or more), and
// returns how many it removed.
func shed(k float64, n *float64, sums ...*float64) float64 {
	if k <= 0 {
		return 0
	}
	k = min(k, *n)
	f := 0.0
	if *n > 0 {
		f = (*n - k) / *n
	}
	*n -= k
	for _, s := range sums {
		*s *= f
	}
	return k
}

// shed removes k of the evaluations (see shed).
func (e *errorSums) shed(k float64) float64 { return shed(k, &e.N, &e.AbsErr, &e.Actual) }

// shed removes k of the evaluations (see shed).
func (s *floorSums) shed(k float64) float64 {
	return shed(k, &s.N, &s.Set, &s.Under, &s.Capacity, &s.Actual)
}

// State returns the sums of r's windows; a window without an evaluation
// is left out.
func (r *Rolling) State() RollingState {
	var st RollingState
	if e := r.errorSums(); e.N > 0 {
		st.Errors = &e
	}
	if f := r.floorSums(); f.N > 0 {
		st.Floors = &f
	}
	return st
}

// errorSums sums the error window, what was carried over included.
func (r *Rolling) errorSums() errorSums {
	e := r.carriedErrors
	e.N += float64(len(r.absErr))
	for i := range r.absErr {
		e.AbsErr += r.absErr[i]
		e.Actual += math.Abs(r.actual[i])
	}
	return e
}

// floorSums sums the floor window, what was carried over included.
func (r *Rolling) floorSums() floorSums {
	f := r.carriedFloors
	f.N += float64(len(r.capacity))
	for i, c := range r.capacity {
		if math.IsNaN(c) {
			continue
		}
		f.Set++
		if c < r.floorActual[i] {
			f.Under++
		}
		f.Capacity += c
		f.Actual += r.floorActual[i]
	}
	return f
}

// Restore replaces r's windows with st's sums, shed to r's window sizes;
// the forecasts waiting for their windows stay. A state that is not well
// formed is refused, naming the field, and r is left as it was.
func (r *Rolling) Restore(st RollingState) error {
	var e errorSums
	var f floorSums
	if st.Errors != nil {
		e = *st.Errors
		if err := checkSums("errors", e.N, map[string]float64{"absErr": e.AbsErr, "actual": e.Actual}); err != nil {
			return err
		}
	}
	if st.Floors != nil {
		f = *st.Floors
		if err := checkSums("floors", f.N, map[string]float64{"set": f.Set, "under": f.Under, "capacity": f.Capacity, "actual": f.Actual}); err != nil {
			return err
		}
		if f.Set > f.N {
			return fmt.Errorf("floors.set: %v, want at most n (%v)", f.Set, f.N)
		}
		if f.Under > f.Set {
			return fmt.Errorf("floors.under: %v, want at most set (%v)", f.Under, f.Set)
		}
	}
	if r.Window > 0 {
		e.shed(e.N - float64(r.Window))
	}
	if r.FloorWindow > 0 {
		f.shed(f.N - float64(r.FloorWindow))
	}
	r.absErr, r.actual, r.floorActual, r.capacity = nil, nil, nil, nil
	r.carriedErrors, r.carriedFloors = e, f
	return nil
}

// checkSums checks a window's count n and its sums: finite, 0 or more;
// an error names the field under window.
func checkSums(window string, n float64, sums map[string]float64) error {
	if !isFinite(n) || n < 0 {
		return fmt.Errorf("%s.n: %v, want a count, 0 or more", window, n)
	}
	for _, k := range slices.Sorted(maps.Keys(sums)) {
		if v := sums[k]; !isFinite(v) || v < 0 {
			return fmt.Errorf("%s.%s: %v, want a sum, 0 or more", window, k, v)
		}
	}
	return nil
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// round rounds the sums to 6 significant digits (predictor.RoundSaved).
func (st *RollingState) round() {
	if e := st.Errors; e != nil {
		e.N, e.AbsErr, e.Actual = predictor.RoundSaved(e.N), predictor.RoundSaved(e.AbsErr), predictor.RoundSaved(e.Actual)
	}
	if f := st.Floors; f != nil {
		f.N, f.Set, f.Under = predictor.RoundSaved(f.N), predictor.RoundSaved(f.Set), predictor.RoundSaved(f.Under)
		f.Capacity, f.Actual = predictor.RoundSaved(f.Capacity), predictor.RoundSaved(f.Actual)
	}
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
		// A far run (a scrape that read a million) is left out, as the
		// calibration leaves it out (predictor.GlitchFreePeak): counted,
		// it would hold the rolling error over the fallback's bar for as
		// long as it is in the window.
		lo := int(p.at.Sub(s.Start)/s.Step) + 1
		hi := lo
		for hi < s.Len() && !s.Time(hi).After(end) {
			hi++
		}
		actual := predictor.GlitchFreePeak(s, lo, hi)
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
	// What was carried over is the oldest part of each window: it goes
	// first.
	if over := float64(len(r.absErr)) + r.carriedErrors.N - float64(r.Window); r.Window > 0 && over > 0 {
		if cut := int(math.Round(over - r.carriedErrors.shed(over))); cut > 0 {
			r.absErr = append(r.absErr[:0], r.absErr[cut:]...)
			r.actual = append(r.actual[:0], r.actual[cut:]...)
		}
	}
	if over := float64(len(r.capacity)) + r.carriedFloors.N - float64(r.FloorWindow); r.FloorWindow > 0 && over > 0 {
		if cut := int(math.Round(over - r.carriedFloors.shed(over))); cut > 0 {
			r.floorActual = append(r.floorActual[:0], r.floorActual[cut:]...)
			r.capacity = append(r.capacity[:0], r.capacity[cut:]...)
		}
	}
	return out
}

// Provisioning returns, over the evaluated forecasts in FloorWindow that set
// a floor, the share whose floor had less capacity than the actual peak,
// the mean floor capacity over the mean actual peak (nil when the actual
// peaks sum to 0 or less), and how many there are.
func (r *Rolling) Provisioning() (under float64, overRatio *float64, n int) {
	f := r.floorSums()
	n = int(math.Round(f.Set))
	if n == 0 {
		return 0, nil, 0
	}
	if f.Actual > 0 {
		ratio := f.Capacity / f.Actual
		overRatio = &ratio
	}
	return f.Under / f.Set, overRatio, n
}

// Error returns the weighted absolute percentage error of the evaluated
// forecasts in the window, sum |forecast - actual| / sum actual (0.2 means
// the forecasts missed by 20% of the demand), and how many there are. With
// no demand at all in the window any miss gives a huge error.
func (r *Rolling) Error() (wape float64, n int) {
	e := r.errorSums()
	n = int(math.Round(e.N))
	if n == 0 {
		return 0, 0
	}
	return e.AbsErr / max(e.Actual, 1e-9), n
}

// Reset forgets every forecast and evaluation (e.g. when the demand query
// changes).
func (r *Rolling) Reset() {
	r.pending, r.absErr, r.actual, r.floorActual, r.capacity = nil, nil, nil, nil, nil
	r.carriedErrors, r.carriedFloors = errorSums{}, floorSums{}
}
