package predictor

import (
	"math"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
)

// FloorPolicy turns desired floors into safe ones: clamped to [Min, Max],
// rising at once, falling slowly, held for a while when data is missing.
type FloorPolicy struct {
	// Min and Max bound the floor (the workload's min and max replicas).
	Min, Max int32
	// Hysteresis is the band below the current floor, as a fraction of it
	// (rounded down; see also ErrorBand), that a desired floor must go
	// beyond before a fall is considered.
	Hysteresis float64
	// ErrorBand is the forecast's recent mean absolute error in replicas
	// (Calibrator.RecentError over the capacity per replica): the band is
	// at least this, rounded to the nearest replica, since a desired floor
	// that moves by less than the forecast's usual error is as likely noise
	// as a change. 0 (unknown) adds nothing.
	ErrorBand float64
	// DownDelay is how long the desired floor must stay below the band
	// before the floor falls.
	DownDelay time.Duration
	// DownInterval is the least time between two falls, and the time one
	// step of DownStep takes: a fall later than that takes a step for
	// every DownInterval passed (see falls). 0: a step per decision.
	DownInterval time.Duration
	// DownStep is the most replicas one fall removes (at least 1).
	DownStep int32
	// HoldFor is how long the last good floor is kept when there is no
	// forecast; after it the floor falls back to Min.
	HoldFor time.Duration
	// BusinessHours with BusinessMin hold a minimum floor in business hours.
	BusinessHours *intent.BusinessHours
	// BusinessMin is the least floor in business hours (still within Max).
	BusinessMin int32
}

// DefaultFloorPolicy returns a policy for [minReplicas, maxReplicas] with
// mlscale's defaults: 10% hysteresis, falls after 10 minutes below, at
// most one step of max(1, 10%) per 5 minutes, data held for 30 minutes.
// ErrorBand is the caller's to set, forecast by forecast.
func DefaultFloorPolicy(minReplicas, maxReplicas int32) FloorPolicy {
	return FloorPolicy{
		Min: minReplicas, Max: maxReplicas,
		Hysteresis: 0.1, DownDelay: 10 * time.Minute, DownInterval: 5 * time.Minute,
		DownStep: max(1, maxReplicas/10), HoldFor: 30 * time.Minute,
	}
}

// FloorState is what the policy remembers between decisions. The zero
// value is a workload never decided on.
type FloorState struct {
	// Floor is the current floor.
	Floor int32
	// Valid is false until the first decision.
	Valid bool
	// LastGood is when the last forecast arrived.
	LastGood time.Time
	// BelowSince is when the desired floor went below the band (zero when
	// it is not below).
	BelowSince time.Time
	// LastDown is when the floor last fell.
	LastDown time.Time
}

// Floor reasons, as Decide reports them.
const (
	ReasonRise     = "rise"
	ReasonSteady   = "steady"
	ReasonWaitDown = "waiting to fall"
	ReasonFall     = "fall"
	ReasonHold     = "holding last good floor, no forecast"
	ReasonFallback = "no forecast for too long, fallback to min"
)

// Decide returns the next state for the desired floor at now; ok is false
// when there is no forecast (history missing, too short, source failed).
// The new floor is the returned state's Floor; reason says why.
func (p FloorPolicy) Decide(s FloorState, now time.Time, desired int32, ok bool) (next FloorState, reason string) {
	lowest := p.lowest(now)
	if !ok {
		if s.Valid && !s.LastGood.IsZero() && now.Sub(s.LastGood) <= p.HoldFor {
			// Without a forecast nothing says the desired floor is still
			// below the band: the wait to fall starts again with the
			// next forecast, and the time held takes no falls (see
			// falls).
			s.Floor, s.BelowSince = p.clamp(s.Floor, lowest), time.Time{}
			return s, ReasonHold
		}
		s.Floor, s.Valid, s.BelowSince = lowest, true, time.Time{}
		return s, ReasonFallback
	}
	desired = p.clamp(desired, lowest)
	s.LastGood = now
	if !s.Valid || desired >= s.Floor {
		if !s.Valid || desired > s.Floor {
			reason = ReasonRise
		} else {
			reason = ReasonSteady
		}
		s.Floor, s.Valid, s.BelowSince = desired, true, time.Time{}
		return s, reason
	}
	// Bounds changed since the last decision (a lower max, a higher min)
	// apply at once: the floor is never outside them.
	s.Floor = p.clamp(s.Floor, lowest)
	band := p.Band(s.Floor)
	// Inside the band the floor stays, except when only the lowest floor is
	// wanted: a floor one band above the minimum would otherwise never come
	// down to it (and idle replicas are the cost the floor must not keep).
	if desired >= s.Floor-band && desired > lowest {
		s.BelowSince = time.Time{}
		return s, ReasonSteady
	}
	if s.BelowSince.IsZero() {
		s.BelowSince = now
	}
	if now.Sub(s.BelowSince) < p.DownDelay || (!s.LastDown.IsZero() && now.Sub(s.LastDown) < p.DownInterval) {
		return s, ReasonWaitDown
	}
	s.Floor = max(desired, s.Floor-p.falls(s, now)*max(1, p.DownStep))
	s.LastDown = now
	return s, ReasonFall
}

// falls returns how many steps of DownStep a fall at now takes: one, and
// one more for every DownInterval that passed since the first moment a
// fall was allowed (DownDelay after the floor went below the band, and
// DownInterval after the last fall). The rate is per time, as
// DefaultFloorPolicy says (a step per 5 minutes): decisions further apart
// than DownInterval (a backtest at a 15-minute step, a cycle delayed by a
// slow Prometheus) take the falls that decisions every minute would have
// taken in between, instead of one per decision.
func (p FloorPolicy) falls(s FloorState, now time.Time) int32 {
	if p.DownInterval <= 0 {
		return 1
	}
	from := s.BelowSince.Add(p.DownDelay)
	if !s.LastDown.IsZero() {
		from = later(from, s.LastDown.Add(p.DownInterval))
	}
	n := int64(max(0, now.Sub(from)) / p.DownInterval)
	return int32(1 + min(n, int64(s.Floor)))
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Band returns the band below floor that a desired floor must go beyond
// before a fall is considered: Hysteresis of it, rounded down, and at least
// ErrorBand rounded to whole replicas.
func (p FloorPolicy) Band(floor int32) int32 {
	return max(int32(math.Floor(float64(floor)*p.Hysteresis)), replicasOfError(p.ErrorBand))
}

// replicasOfError rounds an error in replicas to whole replicas: 0 for
// NaN or a negative error, at most math.MaxInt32.
func replicasOfError(e float64) int32 {
	if !(e > 0) {
		return 0
	}
	return int32(min(math.Floor(e+0.5), math.MaxInt32))
}

// lowest returns the least floor at now: Min, or BusinessMin in business hours.
func (p FloorPolicy) lowest(now time.Time) int32 {
	lo := p.Min
	if p.BusinessHours != nil && p.BusinessHours.Contains(now) {
		lo = max(lo, p.BusinessMin)
	}
	return min(lo, p.Max)
}

func (p FloorPolicy) clamp(v, lowest int32) int32 {
	return min(max(v, lowest), p.Max)
}
