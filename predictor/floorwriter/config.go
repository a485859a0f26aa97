package floorwriter

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
)

// Defaults of Config.
const (
	DefaultInterval       = time.Minute
	DefaultHistory        = 14 * 24 * time.Hour
	DefaultStep           = time.Minute
	DefaultErrorThreshold = 0.5
	DefaultErrorWindow    = 60
	DefaultMinEvaluations = 10
	DefaultHold           = 30 * time.Minute
	DefaultMaxStaleness   = 10 * time.Minute
	DefaultRefitEvery     = time.Hour
	DefaultRefreshEvery   = 15 * time.Minute
	DefaultConcurrency    = 8
)

// Config configures a Writer. Start from DefaultConfig: every field is
// taken as it is, and a zero means zero.
type Config struct {
	// Interval is the time between two cycles.
	Interval time.Duration
	// History is how much demand history each forecast reads.
	History time.Duration
	// Step is the resolution of the history (the range query's step).
	Step time.Duration
	// Lookahead is the forecast window for workloads without
	// mlscale.io/lookahead.
	Lookahead time.Duration
	// TargetUnder is the share of steps in which demand may exceed the
	// floor's capacity, in (0, 0.5], for workloads without
	// mlscale.io/target-under; each workload's floors are calibrated to it
	// (see predictor.Calibrator).
	TargetUnder float64
	// ErrorThreshold is the rolling error (weighted absolute percentage
	// error) above which a workload falls back to reactive scaling; it
	// resumes below 0.8 times the threshold.
	ErrorThreshold float64
	// ErrorWindow is how many evaluated forecasts the rolling error covers.
	ErrorWindow int
	// MinEvaluations is how many evaluated forecasts the rolling error
	// needs before it can trigger the fallback.
	MinEvaluations int
	// Hold is how long the last good floor is kept when there is no
	// forecast (source failing, history missing or too short) before the
	// floor falls back to the workload's minimum.
	Hold time.Duration
	// MaxStaleness is how old the newest sample may be; older data counts
	// as missing.
	MaxStaleness time.Duration
	// RefitEvery is how long a fitted model is reused before it is refit
	// on newer data (forecasts use the newest data either way); 0 refits
	// every cycle.
	RefitEvery time.Duration
	// RefreshEvery rewrites an unchanged explanation this often, so its
	// forecast figures stay current; the floor itself is written at once
	// when it changes.
	RefreshEvery time.Duration
	// Concurrency is how many workloads are forecast at once.
	Concurrency int
	// Hysteresis, DownDelay and DownInterval tune the floor policy (see
	// predictor.FloorPolicy); 0 means none: no band beyond the forecast's
	// recent error, falls without delay or spacing.
	Hysteresis   float64
	DownDelay    time.Duration
	DownInterval time.Duration
	// Facts are the cluster facts used to resolve each workload's min and
	// max replicas (as the renderer does).
	Facts facts.Facts
}

// DefaultConfig returns the configuration `mlscale predictor` starts from;
// the floor policy's tuning is predictor.DefaultFloorPolicy's.
func DefaultConfig() Config {
	policy := predictor.DefaultFloorPolicy(0, 0)
	return Config{
		Interval:       DefaultInterval,
		History:        DefaultHistory,
		Step:           DefaultStep,
		Lookahead:      predictor.DefaultLookahead,
		TargetUnder:    predictor.DefaultTargetUnder,
		ErrorThreshold: DefaultErrorThreshold,
		ErrorWindow:    DefaultErrorWindow,
		MinEvaluations: DefaultMinEvaluations,
		Hold:           DefaultHold,
		MaxStaleness:   DefaultMaxStaleness,
		RefitEvery:     DefaultRefitEvery,
		RefreshEvery:   DefaultRefreshEvery,
		Concurrency:    DefaultConcurrency,
		Hysteresis:     policy.Hysteresis,
		DownDelay:      policy.DownDelay,
		DownInterval:   policy.DownInterval,
		Facts:          facts.Default(),
	}
}

// Check reports the first field out of range, named as in Config.
func (c Config) Check() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be above 0, not %s", name, d))
		}
	}
	notNegative := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must be 0 or more, not %s", name, d))
		}
	}
	positive("Interval", c.Interval)
	positive("History", c.History)
	if c.Step < time.Second || c.Step%time.Second != 0 {
		errs = append(errs, fmt.Errorf("%s must be a whole number of seconds, at least 1s, not %s", "Step", c.Step))
	}
	positive("Lookahead", c.Lookahead)
	positive("Hold", c.Hold)
	positive("MaxStaleness", c.MaxStaleness)
	positive("RefreshEvery", c.RefreshEvery)
	notNegative("RefitEvery", c.RefitEvery)
	notNegative("DownDelay", c.DownDelay)
	notNegative("DownInterval", c.DownInterval)
	switch {
	case predictor.CheckTargetUnder("TargetUnder", c.TargetUnder) != nil:
		errs = append(errs, predictor.CheckTargetUnder("TargetUnder", c.TargetUnder))
	case !(c.ErrorThreshold > 0):
		errs = append(errs, fmt.Errorf("ErrorThreshold must be above 0, not %g", c.ErrorThreshold))
	case c.ErrorWindow < 1 || c.MinEvaluations < 1 || c.Concurrency < 1:
		errs = append(errs, fmt.Errorf("ErrorWindow (%d), MinEvaluations (%d) and Concurrency (%d) must be at least 1", c.ErrorWindow, c.MinEvaluations, c.Concurrency))
	case !(c.Hysteresis >= 0 && c.Hysteresis < 1):
		errs = append(errs, fmt.Errorf("the hysteresis must be in [0, 1), not %g", c.Hysteresis))
	}
	return errors.Join(errs...)
}

// floorPolicy returns the floor policy for [minR, maxR] with the
// configured hold, hysteresis and fall timing.
func (c Config) floorPolicy(minR, maxR int32) predictor.FloorPolicy {
	p := predictor.DefaultFloorPolicy(minR, maxR)
	p.HoldFor, p.Hysteresis, p.DownDelay, p.DownInterval = c.Hold, c.Hysteresis, c.DownDelay, c.DownInterval
	return p
}

// workloadPolicy returns a workload's floor policy: floorPolicy's, with
// the fall timing that its mlscale.io/floor-down-delay and
// mlscale.io/floor-down-interval set in the place of the configured one.
func (c Config) workloadPolicy(in intent.Intent, minR, maxR int32) predictor.FloorPolicy {
	p := c.floorPolicy(minR, maxR)
	p.DownDelay = ptr.Deref(in.FloorDownDelay, p.DownDelay)
	p.DownInterval = ptr.Deref(in.FloorDownInterval, p.DownInterval)
	return p
}
