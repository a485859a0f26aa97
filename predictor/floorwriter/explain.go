package floorwriter

import (
	"math"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/predictor"
)

// Explanation is the predictor's account of a floor, written as JSON in the
// mlscale.io/prediction annotation next to mlscale.io/predicted-floor.
type Explanation struct {
	// Time is when the decision was made.
	Time time.Time `json:"time"`
	// Floor is the floor written in mlscale.io/predicted-floor.
	Floor int32 `json:"floor"`
	// Mode is ModePredicting, ModeErrorFallback, ModeHolding or
	// ModeNoDataFallback.
	Mode string `json:"mode"`
	// Reason is the floor policy's step (predictor.ReasonRise, ...).
	Reason string `json:"reason"`
	// Model names the forecasting model; Cycle the cycle it found.
	Model string `json:"model,omitempty"`
	Cycle string `json:"cycle,omitempty"`
	// Lookahead is the forecast window.
	Lookahead string `json:"lookahead"`
	// ForecastPeak and ForecastUpper are the forecast peak demand over the
	// window and its upper bound, calibrated to TargetUnder, which the
	// floor provisions for.
	ForecastPeak  *float64 `json:"forecastPeak,omitempty"`
	ForecastUpper *float64 `json:"forecastUpper,omitempty"`
	// RecentPeak is the highest demand of the last two days
	// (predictor.Forecast.RecentPeak): ForecastUpper is at most 1.1 times
	// it, unless ForecastPeak is higher. Omitted with less than a day of
	// history (no cap then) or with no demand at all.
	RecentPeak *float64 `json:"recentPeak,omitempty"`
	// CapacityPerReplica is the demand one replica serves.
	CapacityPerReplica float64 `json:"capacityPerReplica"`
	// Spike is true when a spike in progress raised the forecast.
	Spike bool `json:"spike,omitempty"`
	// FarRun is true when the latest one or two samples were over a
	// hundred times anything of the week before them (a scrape gone
	// wrong) and the forecast was made without them (predictor.Forecast's
	// FarRun).
	FarRun bool `json:"farRun,omitempty"`
	// BaselineShare is the weight of a baseline (latest sample, the
	// window a day or a week earlier, Holt-Winters, the latest sample
	// shrunk) in ForecastPeak, where it forecast
	// better than the model over the last week (see predictor.Selector)
	// or, in a workload's first day of forecasts, persistence's, where it
	// did over the model's forecasts replayed over the history
	// (predictor.Selector.Seed); omitted when the forecast is the model's
	// alone.
	BaselineShare *float64 `json:"baselineShare,omitempty"`
	// Margin is which margin over ForecastPeak makes ForecastUpper:
	// MarginCalibrated, the margin calibrated on the recent residuals of
	// the forecasts, or MarginPlain, the residual score alone at its own
	// level, which the calibration takes at targets of 5% or more while
	// the calibrated margin costs more on heavy-tailed demand (see
	// predictor.Calibrator). Set with a forecast.
	Margin string `json:"margin,omitempty"`
	// FallBand is how many replicas below the floor the desired floor
	// must go before the floor falls: 10% of the floor (--hysteresis),
	// rounded down, and at least the forecast's recent error in replicas,
	// rounded (predictor.FloorPolicy.Band). Set with a forecast.
	FallBand *int32 `json:"fallBand,omitempty"`
	// Confidence is 1 minus the rolling error (clipped to 0..1) once
	// enough forecasts were evaluated; before that, the forecast's own
	// spread, ForecastPeak / ForecastUpper.
	Confidence *float64 `json:"confidence,omitempty"`
	// RollingError is the weighted absolute percentage error of the last
	// Evaluated forecasts.
	RollingError *float64 `json:"rollingError,omitempty"`
	Evaluated    int      `json:"evaluated"`
	// TargetUnder is the share of steps in which demand may exceed the
	// floor's capacity, as a percentage ("2%"): mlscale.io/target-under or
	// the predictor's --target-under.
	TargetUnder string `json:"targetUnder,omitempty"`
	// AchievedUnder is the share of the last EvaluatedFloors floors set
	// from a forecast whose capacity was below the actual peak; FloorVsPeak
	// is their mean capacity over the mean actual peak (above 1:
	// over-provisioning).
	AchievedUnder   *float64 `json:"achievedUnder,omitempty"`
	FloorVsPeak     *float64 `json:"floorVsPeak,omitempty"`
	EvaluatedFloors int      `json:"evaluatedFloors,omitempty"`
	// LastGood is when the last forecast arrived (the hold runs from it).
	LastGood *time.Time `json:"lastGood,omitempty"`
	// Error is why there is no forecast, when there is none.
	Error string `json:"error,omitempty"`
}

// The values of Explanation.Margin.
const (
	MarginCalibrated = "calibrated"
	MarginPlain      = "plain"
)

// marginOf is described on Explanation.Margin.
func marginOf(cal *predictor.Calibrator) string {
	if cal != nil && cal.PlainOn() {
		return MarginPlain
	}
	return MarginCalibrated
}

// describeModel names the model and its cycle.
func describeModel(m *predictor.Model) (model, cycle string) {
	if m == nil {
		return "", ""
	}
	model = "seasonal profile + robust trend"
	if m.Cycle().Period == 0 {
		model = "robust level (median of the last hour)"
	}
	return model, m.Cycles().String()
}

// confidence is described on Explanation.Confidence.
func confidence(fc predictor.Forecast, ok bool, wape float64, n, minN int) *float64 {
	switch {
	case n >= minN:
		return ptr.To(round(1 - math.Min(1, math.Max(0, wape))))
	case ok && fc.Upper > 0:
		return ptr.To(round(fc.Peak / fc.Upper))
	case ok:
		return ptr.To(1.0)
	}
	return nil
}

// round keeps three decimals, enough for an annotation meant for people.
func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}
