package predictor

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Backtest defaults.
const (
	// DefaultColdStart is the time a new replica takes to become ready.
	DefaultColdStart = 3 * time.Minute
	// NoColdStart, as BacktestConfig.ColdStart, simulates replicas that
	// are ready as soon as they are asked for.
	NoColdStart time.Duration = -1
	// DefaultRefit is how often the backtest refits mlscale's model; in
	// between, forecasts use the latest samples with the fitted model.
	DefaultRefit = 24 * time.Hour
	// stabilization is the reactive scaler's scale-down stabilisation window.
	stabilization = 5 * time.Minute
)

// BacktestConfig configures Backtest.
type BacktestConfig struct {
	// Train is the number of samples used as history before the first
	// forecast; half the trace when 0.
	Train int
	// CapacityPerReplica is the demand one replica serves; when 0, a tenth
	// of the training history's 95th percentile.
	CapacityPerReplica float64
	// ColdStart is how long a new replica takes to become ready;
	// DefaultColdStart when 0, and no time at all when negative (see
	// NoColdStart).
	ColdStart time.Duration
	// Refit is how often the model is refitted; DefaultRefit when 0.
	Refit time.Duration
	// Options configure the model (lookahead, quantile, business hours).
	Options Options
}

// ForecastRow is one evaluated step of a backtest: the forecast made at Time
// for the window (Time, Time+lookahead].
type ForecastRow struct {
	// Time is when the forecast was made.
	Time time.Time
	// Peak is mlscale's forecast peak demand.
	Peak float64
	// Floor is mlscale's replica floor.
	Floor int32
}

// SimResult is the outcome of one capacity simulation.
type SimResult struct {
	// ReplicaHours is the replica time paid for, starting replicas included.
	ReplicaHours float64 `json:"replica_hours"`
	// UnderMinutes is the time during which ready capacity was below demand.
	UnderMinutes float64 `json:"under_minutes"`
}

// Simulation names.
const (
	SimStatic     = "static"
	SimReactive   = "reactive"
	SimPredictive = "predictive"
)

// Report is the result of a backtest.
type Report struct {
	// Step is the trace's sample spacing.
	Step string `json:"step"`
	// TrainPoints and TestPoints are the samples used as initial history
	// and the steps evaluated.
	TrainPoints int `json:"train_points"`
	TestPoints  int `json:"test_points"`
	// Lookahead is the forecast window; HorizonSteps is it in samples.
	Lookahead    string `json:"lookahead"`
	HorizonSteps int    `json:"horizon_steps"`
	// CapacityPerReplica is the demand one replica serves.
	CapacityPerReplica float64 `json:"capacity_per_replica"`
	// ColdStart is the simulated replica start time.
	ColdStart string `json:"cold_start"`
	// Cycle is the cycle found in the training history.
	Cycle string `json:"cycle"`
	// MLScale are mlscale's metrics.
	MLScale Metrics `json:"mlscale"`
	// Baselines are the baselines' metrics by name.
	Baselines map[string]Metrics `json:"baselines"`
	// Simulation are the capacity simulations by name.
	Simulation map[string]SimResult `json:"simulation"`
	// Forecasts are mlscale's forecasts, one per evaluated step.
	Forecasts []ForecastRow `json:"-"`
}

// Backtest replays s: from sample Train-1 on, it forecasts the peak of each
// next lookahead window from the samples so far with mlscale and the
// baselines, scores them against the actual peaks, and simulates capacity.
func Backtest(s Series, cfg BacktestConfig) (Report, error) {
	opts := cfg.Options.withDefaults()
	if cfg.Train == 0 {
		cfg.Train = s.Len() / 2
	}
	switch {
	case cfg.ColdStart == 0:
		cfg.ColdStart = DefaultColdStart
	case cfg.ColdStart < 0:
		cfg.ColdStart = 0
	}
	if cfg.Refit <= 0 {
		cfg.Refit = DefaultRefit
	}
	horizon := max(1, int((opts.Lookahead+s.Step-1)/s.Step))
	day := int(Day / s.Step)
	if cfg.Train < day+horizon || cfg.Train >= s.Len()-horizon {
		return Report{}, fmt.Errorf("backtest: training part of %d samples must be at least a day plus the lookahead (%d) and leave at least %d samples to evaluate out of %d",
			cfg.Train, day+horizon, horizon+1, s.Len())
	}
	train := s.Values[:cfg.Train]
	if cfg.CapacityPerReplica <= 0 {
		cfg.CapacityPerReplica = quantile(0.95, train) / 10
		if cfg.CapacityPerReplica <= 0 {
			return Report{}, errors.New("backtest: the history's 95th percentile is not positive; set the capacity per replica")
		}
	}
	capacity := cfg.CapacityPerReplica
	v := s.Values
	actualPeak := func(i int) float64 {
		p := math.Inf(-1)
		for h := 1; h <= horizon; h++ {
			p = max(p, v[i+h])
		}
		return p
	}
	// MASE scale: in-sample seasonal-naive (day) error of the peak.
	snDay := seasonalNaive(v, day, horizon)
	var scale float64
	var scaleN int
	for i := day - 1; i+horizon < cfg.Train; i++ {
		scale += math.Abs(actualPeak(i) - snDay(i))
		scaleN++
	}
	scale /= float64(scaleN)
	if scale == 0 {
		scale = math.SmallestNonzeroFloat64
	}

	first, last := cfg.Train-1, s.Len()-1-horizon
	n := last - first + 1
	actual := make([]float64, n)
	for k := range actual {
		actual[k] = actualPeak(first + k)
	}
	rep := Report{
		Step: s.Step.String(), TrainPoints: cfg.Train, TestPoints: n,
		Lookahead: opts.Lookahead.String(), HorizonSteps: horizon,
		CapacityPerReplica: capacity, ColdStart: cfg.ColdStart.String(),
		Baselines: map[string]Metrics{}, Simulation: map[string]SimResult{},
	}
	score := func(forecast []float64, floors []int) Metrics {
		mae, smape := accuracy(forecast, actual)
		under, over := provisioning(floors, actual, capacity)
		return Metrics{MAE: mae, SMAPE: smape, MASE: mae / scale, UnderPct: under, OverMean: over}
	}
	baselines := map[string]peakForecaster{
		BaselinePersistence:      persistence(v),
		BaselineSeasonalNaiveDay: snDay,
	}
	if week := int(Week / s.Step); cfg.Train >= week {
		baselines[BaselineSeasonalNaiveWeek] = seasonalNaive(v, week, horizon)
	}
	if cfg.Train >= 3*day {
		hw := fitHoltWinters(v, day, horizon, cfg.Train)
		baselines[BaselineHoltWinters] = func(i int) float64 { return hw[i] }
	}
	for name, f := range baselines {
		fc := make([]float64, n)
		floors := make([]int, n)
		for k := range fc {
			fc[k] = max(0, f(first+k))
			floors[k] = replicasFor(fc[k], capacity)
		}
		rep.Baselines[name] = score(fc, floors)
	}

	// mlscale, refitted every cfg.Refit on the history so far. Floors go
	// through the default policy, bounded by twice the replicas of the
	// training history's peak.
	static := replicasFor(maxOf(train), capacity)
	var (
		model  *Model
		fitEnd int
		state  FloorState
		policy = DefaultFloorPolicy(0, int32(min(math.MaxInt32/2, max(1, static))*2))
		fc     = make([]float64, n)
		floors = make([]int, n)
		refit  = max(1, int(cfg.Refit/s.Step))
	)
	policy.BusinessHours = opts.BusinessHours
	for k := range n {
		i := first + k
		if model == nil || i-fitEnd >= refit {
			m, err := Fit(s.Slice(0, i+1), opts)
			if err != nil {
				return Report{}, fmt.Errorf("backtest at %s: %w", s.Time(i).Format(time.RFC3339), err)
			}
			model, fitEnd = m, i
			if k == 0 {
				rep.Cycle = m.Cycle().String()
			}
		}
		f, err := model.Forecast(s.Slice(0, i+1))
		if err != nil {
			return Report{}, fmt.Errorf("backtest at %s: %w", s.Time(i).Format(time.RFC3339), err)
		}
		desired := int32(min(math.MaxInt32, replicasFor(f.Upper, capacity)))
		state, _ = policy.Decide(state, s.Time(i), desired, true)
		fc[k], floors[k] = f.Peak, int(state.Floor)
		rep.Forecasts = append(rep.Forecasts, ForecastRow{Time: s.Time(i), Peak: f.Peak, Floor: state.Floor})
	}
	rep.MLScale = score(fc, floors)

	rep.Simulation[SimStatic] = simulate(s, first, capacity, cfg.ColdStart, func(int) int { return static }, true)
	rep.Simulation[SimReactive] = simulate(s, first, capacity, cfg.ColdStart, func(i int) int { return replicasFor(v[i], capacity) }, false)
	rep.Simulation[SimPredictive] = simulate(s, first, capacity, cfg.ColdStart, func(i int) int {
		r := replicasFor(v[i], capacity)
		if k := i - first; k < n {
			r = max(r, floors[k])
		}
		return r
	}, false)
	return rep, nil
}

func maxOf(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// simulate runs a replica controller over s from sample first on. At each
// sample i it sets the desired replicas desired(i), which hold over the
// interval up to sample i+1, whose demand is v[i+1]. New replicas become
// ready after coldStart; scale-down waits for the stabilisation window
// (the highest desired value in it wins). Time runs in ticks of a minute
// (or the step, if shorter). fixed means the replicas are always ready.
func simulate(s Series, first int, capacity float64, coldStart time.Duration, desired func(i int) int, fixed bool) SimResult {
	tick := min(s.Step, time.Minute)
	perStep := int(s.Step / tick)
	coldTicks := int((coldStart + tick - 1) / tick)
	stabTicks := int(stabilization / tick)
	var (
		res      SimResult
		ready    = desired(first)
		starting []int // tick at which each starting replica is ready
		history  []struct{ tick, n int }
		now      int
	)
	for i := first; i+1 < s.Len(); i++ {
		want := desired(i)
		if !fixed {
			history = append(history, struct{ tick, n int }{now, want})
			for len(history) > 0 && history[0].tick < now-stabTicks {
				history = history[1:]
			}
			for _, h := range history {
				want = max(want, h.n)
			}
			if total := ready + len(starting); want > total {
				for range want - total {
					starting = append(starting, now+coldTicks)
				}
			} else if want < total {
				drop := total - want
				cut := min(drop, len(starting))
				starting = starting[:len(starting)-cut]
				ready -= drop - cut
			}
		} else {
			ready = want
		}
		demand := s.Values[i+1]
		for range perStep {
			kept := starting[:0]
			for _, at := range starting {
				if at <= now {
					ready++
				} else {
					kept = append(kept, at)
				}
			}
			starting = kept
			res.ReplicaHours += float64(ready+len(starting)) * tick.Hours()
			if float64(ready)*capacity < demand {
				res.UnderMinutes += tick.Minutes()
			}
			now++
		}
	}
	return res
}
