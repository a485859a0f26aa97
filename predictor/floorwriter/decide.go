package floorwriter

import (
	"errors"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
	"github.com/mlscale/mlscale/predictor/promsource"
)

// Modes of a workload, as the explanation reports them.
const (
	// ModePredicting: the floor follows the forecast.
	ModePredicting = "predicting"
	// ModeErrorFallback: the rolling error is past the threshold; the floor
	// is not raised (reactive scaling only) until the error recovers.
	ModeErrorFallback = "error-fallback"
	// ModeHolding: no usable data; the last good floor is kept for Hold.
	ModeHolding = "holding"
	// ModeNoDataFallback: no usable data for longer than Hold; the floor is
	// the workload's minimum.
	ModeNoDataFallback = "no-data-fallback"
)

// step is what the pure part of a cycle knows about one workload.
type step struct {
	// prev and degraded are the workload's state before this cycle.
	prev     predictor.FloorState
	degraded bool
	// now is the cycle's time.
	now time.Time
	// forecast is this cycle's forecast; nil when there is none.
	forecast *predictor.Forecast
	// capacity is the demand one replica serves.
	capacity float64
	// wape and evaluated are the rolling error and how many forecasts it
	// covers.
	wape      float64
	evaluated int
	// recentError is the forecast's recent mean absolute error
	// (predictor.Calibrator.RecentError); over capacity it is the floor
	// policy's error band.
	recentError float64
	// policy bounds and paces the floor.
	policy predictor.FloorPolicy
}

// decision is what a cycle decides for one workload.
type decision struct {
	// floor is the next floor state; reason the floor policy's step.
	floor  predictor.FloorState
	reason string
	// band is the floor policy's band below the new floor (see
	// predictor.FloorPolicy.Band).
	band int32
	// mode is one of the Mode constants.
	mode string
	// degraded is true while the rolling error keeps the floor from rising.
	degraded bool
}

// decide is the pure step of a cycle: the rolling error degrades the
// workload above ErrorThreshold (once MinEvaluations forecasts are scored)
// and restores it at or below 0.8 times the threshold; a degraded workload's
// floor is not raised; the floor policy, its band at least the forecast's
// recent error in replicas, turns the forecast into the next floor (held,
// then the minimum, without a forecast).
func (c Config) decide(s step) decision {
	d := decision{degraded: s.degraded}
	switch {
	case s.evaluated >= c.MinEvaluations && s.wape > c.ErrorThreshold:
		d.degraded = true
	case d.degraded && s.evaluated >= c.MinEvaluations && s.wape <= 0.8*c.ErrorThreshold:
		d.degraded = false
	}
	ok := s.forecast != nil
	desired := int32(0)
	if ok && !d.degraded {
		// As in backtest: a bound a billionth of a replica over a whole
		// number (1.1 times a peak of 100 is 110.00000000000001) does not
		// add a replica.
		desired = int32(min(math.Ceil(s.forecast.Upper/s.capacity-1e-9), float64(intent.MaxReplicasLimit)))
	}
	policy := s.policy
	if s.capacity > 0 {
		policy.ErrorBand = s.recentError / s.capacity
	}
	d.floor, d.reason = policy.Decide(s.prev, s.now, desired, ok)
	d.band = policy.Band(d.floor.Floor)
	switch {
	case ok && d.degraded:
		d.mode = ModeErrorFallback
	case ok:
		d.mode = ModePredicting
	case d.reason == predictor.ReasonHold:
		d.mode = ModeHolding
	default:
		d.mode = ModeNoDataFallback
	}
	return d
}

// event is an Event to emit on a workload.
type event struct {
	typ, reason, note string
}

// announcement returns the Event for a workload whose mode changed from
// prev to ex.Mode (ferr is why there is no forecast, if there is none), and
// false when the change is not announced by an Event.
func (c Config) announcement(prev string, ex Explanation, ferr error) (event, bool) {
	var e event
	switch {
	case ex.Mode == prev:
		return e, false
	case ex.Mode == ModeErrorFallback:
		e = event{corev1.EventTypeWarning, ReasonErrorFallback, fmt.Sprintf("rolling forecast error %.2f is above the threshold %.2f over %d forecasts: the predicted floor is no longer raised (reactive scaling only) until it falls below %.2f",
			ptr.Deref(ex.RollingError, 0), c.ErrorThreshold, ex.Evaluated, 0.8*c.ErrorThreshold)}
	case ex.Mode == ModePredicting && prev != "":
		e = event{corev1.EventTypeNormal, ReasonResumed, fmt.Sprintf("predicting again (%s); predicted floor %d", ex.Cycle, ex.Floor)}
	case ex.Mode == ModeNoDataFallback && prev == "":
		// A new workload (or one this process sees first): nothing fell.
		e = event{corev1.EventTypeWarning, ReasonNoData, fmt.Sprintf("no forecast yet: the predicted floor is the minimum, %d, until there is one: %v", ex.Floor, ferr)}
	case ex.Mode == ModeNoDataFallback:
		e = event{corev1.EventTypeWarning, ReasonNoData, fmt.Sprintf("no forecast for more than %s: predicted floor fell back to the minimum, %d: %v", c.Hold, ex.Floor, ferr)}
	case ex.Mode == ModeHolding:
		e = event{corev1.EventTypeWarning, ReasonNoData, fmt.Sprintf("no forecast: holding the last good floor %d for up to %s: %v", ex.Floor, c.Hold, ferr)}
	default:
		return e, false
	}
	if ferr != nil && errors.Is(ferr, promsource.ErrBadQuery) {
		e.reason = ReasonBadQuery
	}
	return e, true
}
