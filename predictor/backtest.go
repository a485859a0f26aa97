package predictor

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// ErrNoCapacity is the error of a backtest whose capacity per replica is
// not set and cannot be derived: the training history has no positive
// value (a workload idle through it, or a series of zeros).
var ErrNoCapacity = errors.New("the training history has no positive value, so no capacity per replica can be derived from it; set the capacity per replica")

// Backtest defaults.
const (
	// DefaultColdStart is the time a new replica takes to become ready.
	DefaultColdStart = 3 * time.Minute
	// DefaultRefit is how often the backtest refits mlscale's model; in
	// between, forecasts use the latest samples with the fitted model.
	DefaultRefit = 24 * time.Hour
	// stabilization is the reactive scaler's scale-down stabilisation window.
	stabilization = 5 * time.Minute
)

// BacktestConfig configures Backtest. Start from DefaultBacktestConfig.
type BacktestConfig struct {
	// Train is the number of samples used as history before the first
	// forecast; half the trace when 0.
	Train int
	// CapacityPerReplica is the demand one replica serves; when 0, a tenth
	// of the training history's 95th percentile, or of its maximum when the
	// percentile is not positive (demand idle most of the time, as a
	// workload that scales to zero has), rounded to 4 significant digits
	// (so that the capacity reported is the one used).
	CapacityPerReplica float64
	// ColdStart is how long a new replica takes to become ready; 0 for
	// replicas that are ready as soon as they are asked for.
	ColdStart time.Duration
	// Refit is how often the model is refitted, above 0.
	Refit time.Duration
	// Options configure the model (lookahead, target under-provisioning of
	// the floors, business hours).
	Options Options
	// Hysteresis, DownDelay and DownInterval tune how the floors fall, as
	// the predictor's flags of the same names do (FloorPolicy's fields of
	// those names); 0 means none: no band beyond the forecast's error, a
	// fall at once, no spacing. DefaultBacktestConfig sets
	// DefaultFloorPolicy's.
	Hysteresis              float64
	DownDelay, DownInterval time.Duration
}

// DefaultBacktestConfig returns the configuration `mlscale backtest` starts
// from: half the trace as history, the capacity derived from it, the
// default cold start, a daily refit, the model's default options and the
// floor policy's default tuning.
func DefaultBacktestConfig() BacktestConfig {
	p := DefaultFloorPolicy(0, 0)
	return BacktestConfig{
		ColdStart: DefaultColdStart, Refit: DefaultRefit,
		Hysteresis: p.Hysteresis, DownDelay: p.DownDelay, DownInterval: p.DownInterval,
	}
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
	// ScoredPoints are the evaluated steps that are scored: those whose
	// window holds an observed sample (see Series.Observed); all
	// of them without gaps.
	ScoredPoints int `json:"scored_points"`
	// Lookahead is the forecast window; HorizonSteps is it in samples.
	Lookahead    string `json:"lookahead"`
	HorizonSteps int    `json:"horizon_steps"`
	// CapacityPerReplica is the demand one replica serves.
	CapacityPerReplica float64 `json:"capacity_per_replica"`
	// ColdStart is the simulated replica start time.
	ColdStart string `json:"cold_start"`
	// Cycle is the cycle found in the training history, which the first
	// fit uses; CycleWhole the cycles found over the whole trace (a weekly
	// cycle needs two weeks: a two-week trace shows it only here).
	Cycle      string `json:"cycle"`
	CycleWhole string `json:"cycle_whole_trace"`
	// BaselineBlendPct is the percentage of evaluated steps whose mlscale
	// forecast had a baseline blended in, because it forecast better over
	// the week before, or, in the first day, over the history replayed
	// (see Selector and Selector.Seed); BaselineShareMean is its mean
	// weight in the forecast over every evaluated step (0 to 1).
	BaselineBlendPct  float64 `json:"baseline_blend_pct"`
	BaselineShareMean float64 `json:"baseline_share_mean"`
	// PlainMarginPct is the percentage of evaluated steps whose floor took
	// the calibrator's plain margin instead of the main one (at a target
	// of 5% or more; see Calibrator).
	PlainMarginPct float64 `json:"plain_margin_pct"`
	// FloorCeiling is the most replicas a floor may hold in the backtest:
	// twice the replicas of the training history's peak, in the place of
	// a workload's maximum. UnderAtCeilingPct is the percentage of
	// evaluated steps whose floor was at that ceiling and under the actual
	// peak (they count in MLScale.UnderPct too): demand that outgrew the
	// training history, which no calibration covers.
	FloorCeiling      int     `json:"floor_ceiling"`
	UnderAtCeilingPct float64 `json:"under_at_ceiling_pct"`
	// WeekBaselineDaySteps counts the first evaluated steps whose
	// week-ago window starts before the trace, where the training part is
	// less than a week (by at most a day: a two-week export a few rows
	// short); seasonal naive week took the day-ago window there. Without
	// it, one missing row would take the week baseline out of the
	// comparison.
	WeekBaselineDaySteps int `json:"week_baseline_day_steps"`
	// FarRunSamples counts the evaluated samples in a far run: one or two
	// samples over a hundred times anything of the week before them (a
	// scrape gone wrong; see GlitchFreePeak). The forecasts made at them
	// did not provision for them and the calibration left them out; the
	// accuracy and under-provisioning count them.
	FarRunSamples int `json:"far_run_samples"`
	// FloorFalls is how the floors fall: the floor policy's tuning the
	// backtest ran with.
	FloorFalls FloorFalls `json:"floor_falls"`
	// MLScale are mlscale's metrics.
	MLScale Metrics `json:"mlscale"`
	// Baselines are the baselines' metrics by name.
	Baselines map[string]Metrics `json:"baselines"`
	// Simulation are the capacity simulations by name.
	Simulation map[string]SimResult `json:"simulation"`
	// Headline sums the backtest up.
	Headline Headline `json:"headline"`
	// Forecasts are mlscale's forecasts, one per evaluated step.
	Forecasts []ForecastRow `json:"-"`
}

// FloorFalls is the tuning of how a floor falls (see FloorPolicy), as a
// backtest reports it.
type FloorFalls struct {
	// Hysteresis is the band below the floor, as a fraction of it.
	Hysteresis float64 `json:"hysteresis"`
	// DownDelay is how long the desired floor stays below the band before
	// the floor falls; DownInterval the time per step of a fall.
	DownDelay    string `json:"down_delay"`
	DownInterval string `json:"down_interval"`
}

// Backtest replays s: from sample Train-1 on, it forecasts the peak of each
// next lookahead window from the samples so far with mlscale and the
// baselines, scores them against the actual peaks, and simulates capacity.
//
// The series' Observed flags, when set (as ReadTrace sets them), mark the
// samples filled in gaps. A filled sample was interpolated towards the
// next observed one, which a forecast made at it must not see. There
// mlscale fits on the history up to the last observed sample, as the
// predictor does live (the Prometheus source's series ends at its last
// finite sample), and forecasts the window after the sample's own time
// from it, the samples since held (see Series.HeldTo); persistence and
// reactive scaling take the last observed sample, and Holt-Winters is fed
// it again for each sample since. Windows that hold no observed sample are
// not scored.
func Backtest(s Series, cfg BacktestConfig) (Report, error) {
	opts := cfg.Options.withDefaults()
	if cfg.Train == 0 {
		cfg.Train = s.Len() / 2
	}
	switch {
	case cfg.ColdStart < 0:
		return Report{}, fmt.Errorf("backtest: the cold start must be 0 or more, not %s", cfg.ColdStart)
	case cfg.Refit <= 0:
		return Report{}, fmt.Errorf("backtest: the refit interval must be above 0, not %s", cfg.Refit)
	case !(cfg.Hysteresis >= 0 && cfg.Hysteresis < 1):
		return Report{}, fmt.Errorf("backtest: the hysteresis must be in [0, 1), not %g", cfg.Hysteresis)
	case cfg.DownDelay < 0 || cfg.DownInterval < 0:
		return Report{}, fmt.Errorf("backtest: the down delay and down interval must be 0 or more, not %s and %s", cfg.DownDelay, cfg.DownInterval)
	case s.Observed != nil && len(s.Observed) != s.Len():
		return Report{}, fmt.Errorf("backtest: %d observed flags for %d samples", len(s.Observed), s.Len())
	}
	b := backtest{s: s, cfg: cfg, opts: opts, horizon: max(1, int((opts.Lookahead+s.Step-1)/s.Step)), day: int(Day / s.Step)}
	if need := max(b.day+b.horizon, MinSamples(s.Step, opts.Lookahead)); cfg.Train < need || cfg.Train >= s.Len()-b.horizon {
		return Report{}, fmt.Errorf("backtest: training part of %d samples must be at least a day plus the lookahead, and eight lookaheads (%d), and leave at least %d samples to evaluate out of %d",
			cfg.Train, need, b.horizon+1, s.Len())
	}
	if c := cfg.CapacityPerReplica; math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
		return Report{}, fmt.Errorf("backtest: the capacity per replica must be a finite number, 0 or more (0: derived), not %g", c)
	}
	if b.cfg.CapacityPerReplica <= 0 {
		b.cfg.CapacityPerReplica = RoundFigure(quantile(0.95, s.Values[:cfg.Train]) / 10)
		if !(b.cfg.CapacityPerReplica > 0) {
			b.cfg.CapacityPerReplica = RoundFigure(maxOf(s.Values[:cfg.Train]) / 10)
		}
		if !(b.cfg.CapacityPerReplica > 0) {
			return Report{}, fmt.Errorf("backtest: %w", ErrNoCapacity)
		}
	}
	b.prepare()
	rep := Report{
		Step: s.Step.String(), TrainPoints: cfg.Train, TestPoints: b.n, ScoredPoints: len(pick(&b, b.actual)),
		Lookahead: opts.Lookahead.String(), HorizonSteps: b.horizon,
		CapacityPerReplica: b.cfg.CapacityPerReplica, ColdStart: cfg.ColdStart.String(),
		Baselines: b.baselines(), Simulation: map[string]SimResult{},
		CycleWhole: DetectCycles(s).String(),
	}
	if _, ok := rep.Baselines[BaselineSeasonalNaiveWeek]; ok {
		rep.WeekBaselineDaySteps = min(b.n, max(0, int(Week/s.Step)-1-b.first))
	}
	fc, floors, err := b.mlscale(&rep)
	if err != nil {
		return Report{}, err
	}
	rep.MLScale = b.score(fc, floors)
	b.simulations(&rep, floors)
	rep.Headline = b.headline(rep, floors)
	rep.Headline.TargetUnderPct = 100 * opts.TargetUnder
	return rep, nil
}

// Headline is a backtest in a few ratios: mlscale's forecast error against
// the best baseline's, how well its floors fit the actual peaks, and the
// replica time it costs against static and reactive scaling. A ratio is
// null in JSON (nil) when what it divides by is 0.
type Headline struct {
	// BestBaseline is the baseline with the lowest MAE.
	BestBaseline string `json:"best_baseline"`
	// MAEVsBest is mlscale's MAE over the best baseline's (equally, the
	// ratio of their MASEs); below 1 beats it, lower is better.
	MAEVsBest *float64 `json:"mae_vs_best_baseline"`
	// UnderPct is the percentage of steps where mlscale's floor's capacity
	// was below the actual peak (MLScale.UnderPct); lower is better.
	UnderPct float64 `json:"under_pct"`
	// TargetUnderPct is the percentage the floors were calibrated to
	// (Options.TargetUnder).
	TargetUnderPct float64 `json:"target_under_pct"`
	// FloorVsPeak is the mean capacity of mlscale's floors (floor times
	// capacity per replica) over the mean actual peak; above 1 is
	// over-provisioning, lower is better as long as UnderPct stays low.
	FloorVsPeak *float64 `json:"floor_capacity_vs_peak"`
	// ReplicaHoursVsStatic and ReplicaHoursVsReactive are the replica-hours
	// of reactive scaling above mlscale's floors (SimPredictive) over those
	// of the static fleet and of reactive scaling alone; lower is better.
	ReplicaHoursVsStatic   *float64 `json:"replica_hours_vs_static"`
	ReplicaHoursVsReactive *float64 `json:"replica_hours_vs_reactive"`
}

// headline sums up a finished report; floors are mlscale's.
func (b *backtest) headline(rep Report, floors []int) Headline {
	h := Headline{UnderPct: rep.MLScale.UnderPct}
	names := make([]string, 0, len(rep.Baselines))
	for name := range rep.Baselines {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if h.BestBaseline == "" || rep.Baselines[name].MAE < rep.Baselines[h.BestBaseline].MAE {
			h.BestBaseline = name
		}
	}
	if h.BestBaseline != "" {
		h.MAEVsBest = ratioOf(rep.MLScale.MAE, rep.Baselines[h.BestBaseline].MAE)
	}
	var capacity, peak float64
	actual := pick(b, b.actual)
	for k, f := range pick(b, floors) {
		capacity += float64(f) * b.cfg.CapacityPerReplica
		peak += actual[k]
	}
	h.FloorVsPeak = ratioOf(capacity, peak)
	sim := rep.Simulation
	h.ReplicaHoursVsStatic = ratioOf(sim[SimPredictive].ReplicaHours, sim[SimStatic].ReplicaHours)
	h.ReplicaHoursVsReactive = ratioOf(sim[SimPredictive].ReplicaHours, sim[SimReactive].ReplicaHours)
	return h
}

// ratioOf returns a/b, or nil when b is not positive.
func ratioOf(a, b float64) *float64 {
	if !(b > 0) {
		return nil
	}
	r := a / b
	return &r
}

// RoundFigure rounds x to 4 significant digits, or to a whole number when
// its integer part has more than 4 digits: 0.123456 is 0.1235, 1556.93 is
// 1557, 16957.04 is 16957. NaN and infinities are returned as they are.
func RoundFigure(x float64) float64 {
	switch {
	case x == 0 || math.IsNaN(x) || math.IsInf(x, 0):
		return x
	case math.Abs(x) >= 1e4:
		return math.Round(x)
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 4, 64), 64)
	if err != nil {
		return x
	}
	return r
}

// Rounded returns a copy of r with every figure rounded by RoundFigure,
// for people to read; CapacityPerReplica, a setting, is kept as it is.
func (r Report) Rounded() Report {
	metrics := func(m Metrics) Metrics {
		return Metrics{
			MAE: RoundFigure(m.MAE), SMAPE: RoundFigure(m.SMAPE), MASE: RoundFigure(m.MASE),
			UnderPct: RoundFigure(m.UnderPct), OverMean: RoundFigure(m.OverMean),
		}
	}
	out := r
	out.BaselineBlendPct, out.BaselineShareMean = RoundFigure(r.BaselineBlendPct), RoundFigure(r.BaselineShareMean)
	out.PlainMarginPct = RoundFigure(r.PlainMarginPct)
	out.UnderAtCeilingPct = RoundFigure(r.UnderAtCeilingPct)
	out.MLScale = metrics(r.MLScale)
	out.Baselines = make(map[string]Metrics, len(r.Baselines))
	for name, m := range r.Baselines {
		out.Baselines[name] = metrics(m)
	}
	out.Simulation = make(map[string]SimResult, len(r.Simulation))
	for name, sr := range r.Simulation {
		out.Simulation[name] = SimResult{ReplicaHours: RoundFigure(sr.ReplicaHours), UnderMinutes: RoundFigure(sr.UnderMinutes)}
	}
	round := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		v := RoundFigure(*p)
		return &v
	}
	h := r.Headline
	out.Headline = Headline{
		BestBaseline: h.BestBaseline, MAEVsBest: round(h.MAEVsBest), UnderPct: RoundFigure(h.UnderPct), TargetUnderPct: RoundFigure(h.TargetUnderPct),
		FloorVsPeak: round(h.FloorVsPeak), ReplicaHoursVsStatic: round(h.ReplicaHoursVsStatic),
		ReplicaHoursVsReactive: round(h.ReplicaHoursVsReactive),
	}
	return out
}

// backtest is one Backtest run.
type backtest struct {
	s    Series
	cfg  BacktestConfig
	opts Options
	// horizon is the lookahead in samples; day a day in samples.
	horizon, day int
	// first and n are the first evaluated sample and how many are.
	first, n int
	// actual are the actual peaks of the evaluated windows (of their
	// observed samples, where there are gaps); scale is the MASE scale
	// (the in-sample seasonal-naive day error of the peak).
	actual []float64
	scale  float64
	// scored are the evaluated steps whose window holds an observed
	// sample, nil when every one does: a window filled in a gap holds
	// interpolated values, no demand anyone saw, and is not scored.
	scored []int
	// last[i] is the last observed sample at or before i (nil: i itself;
	// see Series.Observed).
	last []int
}

// seen returns the last observed sample at or before i.
func (b *backtest) seen(i int) int {
	if b.last == nil {
		return i
	}
	return b.last[i]
}

// actualPeak is the peak of the window after sample i.
func (b *backtest) actualPeak(i int) float64 {
	p := math.Inf(-1)
	for h := 1; h <= b.horizon; h++ {
		p = max(p, b.s.Values[i+h])
	}
	return p
}

// prepare finds the evaluated steps, their actual peaks and the MASE scale.
func (b *backtest) prepare() {
	snDay := seasonalNaive(b.s.Values, b.day, b.horizon)
	var scaleN int
	for i := b.day - 1; i+b.horizon < b.cfg.Train; i++ {
		b.scale += math.Abs(b.actualPeak(i) - snDay(i))
		scaleN++
	}
	b.scale /= float64(scaleN)
	if obs := b.s.Observed; obs != nil {
		b.last = make([]int, len(obs))
		e := 0 // the first sample of a trace is always observed
		for i, o := range obs {
			if o {
				e = i
			}
			b.last[i] = e
		}
	}
	b.first = b.cfg.Train - 1
	b.n = b.s.Len() - 1 - b.horizon - b.first + 1
	b.actual = make([]float64, b.n)
	for k := range b.actual {
		b.actual[k] = b.actualPeak(b.first + k)
	}
	if obs := b.s.Observed; obs != nil {
		all := true
		for k := range b.actual {
			lo, hi := b.first+k+1, b.first+k+1+b.horizon
			if p, seen := observedPeak(b.s.Values[lo:hi], obs[lo:hi]); seen {
				b.actual[k] = p
				b.scored = append(b.scored, k)
			} else {
				all = false
			}
		}
		if all {
			b.scored = nil
		}
	}
}

// isScored reports whether evaluated step k is scored (see scored).
func (b *backtest) isScored(k int) bool {
	if b.scored == nil {
		return true
	}
	_, found := slices.BinarySearch(b.scored, k)
	return found
}

// pick returns the scored elements of x, one per evaluated step.
func pick[T any](b *backtest, x []T) []T {
	if b.scored == nil {
		return x
	}
	out := make([]T, len(b.scored))
	for i, k := range b.scored {
		out[i] = x[k]
	}
	return out
}

// score rates forecasts and the floors made from them.
func (b *backtest) score(forecast []float64, floors []int) Metrics {
	actual := pick(b, b.actual)
	mae, smape := accuracy(pick(b, forecast), actual)
	under, over := provisioning(pick(b, floors), actual, b.cfg.CapacityPerReplica)
	// With a constant training part the scale is 0 and MASE undefined
	// (+Inf, or NaN for a perfect forecast), written as null in JSON.
	return Metrics{MAE: mae, SMAPE: smape, MASE: mae / b.scale, UnderPct: under, OverMean: over}
}

// baselines scores the baselines: persistence, seasonal naive (day, and
// week with at most a day less than a week of history: see
// Report.WeekBaselineDaySteps) and Holt-Winters (with three days).
func (b *backtest) baselines() map[string]Metrics {
	v := b.s.Values
	// Persistence repeats the last observed sample; the seasonal-naive
	// windows are a day or a week old, long past any gap.
	forecasters := map[string]peakForecaster{
		BaselinePersistence:      persistence(v, b.seen),
		BaselineSeasonalNaiveDay: seasonalNaive(v, b.day, b.horizon),
	}
	if week := int(Week / b.s.Step); b.cfg.Train >= week-b.day {
		forecasters[BaselineSeasonalNaiveWeek] = seasonalNaiveWeek(v, week, b.day, b.horizon)
	}
	if b.cfg.Train >= 3*b.day {
		hw := fitHoltWinters(v, b.s.Observed, b.day, b.horizon, b.cfg.Train)
		forecasters[BaselineHoltWinters] = func(i int) float64 { return hw[i] }
	}
	out := map[string]Metrics{}
	for name, f := range forecasters {
		fc := make([]float64, b.n)
		floors := make([]int, b.n)
		for k := range fc {
			fc[k] = max(0, f(b.first+k))
			floors[k] = replicasFor(fc[k], b.cfg.CapacityPerReplica)
		}
		out[name] = b.score(fc, floors)
	}
	return out
}

// static is the replicas of the training history's peak.
func (b *backtest) static() int {
	return replicasFor(maxOf(b.s.Values[:b.cfg.Train]), b.cfg.CapacityPerReplica)
}

// mlscale forecasts every evaluated step with mlscale's model, refitted
// every cfg.Refit on the history so far, and turns the forecasts into
// floors through the default policy (with cfg's hysteresis and fall
// timing), bounded by twice the replicas of the
// training history's peak, as the predictor does: each forecast's upper
// bound is calibrated to Options.TargetUnder (a Calibrator seeded with the
// first fit's errors, then fed each forecast once its window is over). It
// records the forecasts and the cycle in rep.
func (b *backtest) mlscale(rep *Report) (fc []float64, floors []int, err error) {
	s, capacity := b.s, b.cfg.CapacityPerReplica
	var (
		model  *Model
		fitEnd int
		state  FloorState
		policy = DefaultFloorPolicy(0, int32(min(math.MaxInt32/2, max(1, b.static()))*2))
		refit  = max(1, int(b.cfg.Refit/s.Step))
		// observed counts the forecasts fed to the calibrator.
		observed int
		// memo holds the model's candidates' forecasts by index until
		// the next fit (see candidateMemo).
		memo *candidateMemo
	)
	fc, floors = make([]float64, b.n), make([]int, b.n)
	policy.BusinessHours = b.opts.BusinessHours
	policy.Hysteresis, policy.DownDelay, policy.DownInterval = b.cfg.Hysteresis, b.cfg.DownDelay, b.cfg.DownInterval
	cal, err := NewCalibrator(b.opts.TargetUnder, s.Step, b.opts.Lookahead)
	if err != nil {
		return nil, nil, fmt.Errorf("backtest: %w", err)
	}
	// The forecasts made, for the selector once their windows are over.
	var sel Selector
	made := make([]Forecast, b.n)
	for k := range b.n {
		i := b.first + k
		// In a gap the history ends at the last observed sample, as the
		// Prometheus source's series does live.
		known := s.Slice(0, b.seen(i)+1)
		if model == nil || i-fitEnd >= refit {
			m, err := Fit(known, b.opts)
			if err != nil {
				return nil, nil, fmt.Errorf("backtest at %s: %w", s.Time(i).Format(time.RFC3339), err)
			}
			model, fitEnd, memo = m, i, newCandidateMemo()
			if k == 0 {
				rep.Cycle = m.Cycles().String()
				cal.Seed(m.Residuals())
				sel.Seed(m, known)
			}
		}
		// The forecasts whose windows are over have seen them now: those
		// made horizon steps ago, or, in a gap, up to horizon steps
		// before the last observed sample (the rest of the window is not
		// known yet); after a gap, those it held back.
		for ; observed < k && b.first+observed+b.horizon <= b.seen(i); observed++ {
			if j := observed; b.isScored(j) {
				// The calibration leaves far runs out (see GlitchFreePeak).
				act := min(b.actual[j], GlitchFreePeak(known, b.first+j+1, b.first+j+1+b.horizon))
				cal.ObserveAt(made[j].Time, act-fc[j], fc[j], float64(floors[j])*capacity < act)
				sel.Observe(made[j], b.actual[j])
			}
		}
		// In a gap, the forecast is of the window after i (see
		// Series.HeldTo): a step a profile knows at 19:20, forecast at
		// 19:10 in a gap since 18:50, is in it. The samples filled in the
		// gap were drawn towards the next observed one, which the
		// forecast must not see; held and not observed, the model takes
		// them for no demand.
		hist := known.HeldTo(s.Time(i))
		f := sel.Apply(model.forecast(hist, memo))
		made[k] = f
		if f.BaselineShare > 0 {
			rep.BaselineBlendPct++
			rep.BaselineShareMean += f.BaselineShare
		}
		desired := int32(min(math.MaxInt32, replicasFor(cal.Upper(f), capacity)))
		if cal.PlainOn() {
			rep.PlainMarginPct++
		}
		policy.ErrorBand = cal.RecentError() / capacity
		state, _ = policy.Decide(state, s.Time(i), desired, true)
		fc[k], floors[k] = f.Peak, int(state.Floor)
		rep.Forecasts = append(rep.Forecasts, ForecastRow{Time: s.Time(i), Peak: f.Peak, Floor: state.Floor})
	}
	if b.n > 0 {
		rep.BaselineBlendPct *= 100 / float64(b.n)
		rep.PlainMarginPct *= 100 / float64(b.n)
		rep.BaselineShareMean /= float64(b.n)
	}
	rep.FloorCeiling = int(policy.Max)
	rep.FloorFalls = FloorFalls{Hysteresis: policy.Hysteresis, DownDelay: policy.DownDelay.String(), DownInterval: policy.DownInterval.String()}
	rep.UnderAtCeilingPct = underAtCeiling(pick(b, floors), pick(b, b.actual), rep.FloorCeiling, capacity)
	span := spanOf(s.Step)
	for k := b.first + 1; k < s.Len(); k++ {
		if isFar(s.Values, k, span) {
			rep.FarRunSamples++
		}
	}
	return fc, floors, nil
}

// underAtCeiling returns the percentage of floors that were at ceiling
// (or above) and whose capacity was below the actual peak; 0 for none.
func underAtCeiling(floors []int, actual []float64, ceiling int, capacity float64) float64 {
	if len(floors) == 0 {
		return 0
	}
	n := 0
	for k, f := range floors {
		if f >= ceiling && float64(f)*capacity < actual[k] {
			n++
		}
	}
	return 100 * float64(n) / float64(len(floors))
}

// simulations simulates capacity with static replicas (the training peak),
// reactive scaling, and reactive scaling above mlscale's floors. Reactive
// scaling holds, over each step, the replicas that the previous step's
// demand needed (ceil(demand / capacity per replica), 0 for none; the last
// observed demand in a gap), as a purely reactive autoscaler that sees
// demand one step late would, with the cold start and the scale-down
// stabilisation window.
func (b *backtest) simulations(rep *Report, floors []int) {
	s, capacity, cold, v := b.s, b.cfg.CapacityPerReplica, b.cfg.ColdStart, b.s.Values
	static := b.static()
	rep.Simulation[SimStatic] = simulate(s, b.first, capacity, cold, func(int) int { return static }, true)
	rep.Simulation[SimReactive] = simulate(s, b.first, capacity, cold, func(i int) int { return replicasFor(v[b.seen(i)], capacity) }, false)
	rep.Simulation[SimPredictive] = simulate(s, b.first, capacity, cold, func(i int) int {
		r := replicasFor(v[b.seen(i)], capacity)
		if k := i - b.first; k < b.n {
			r = max(r, floors[k])
		}
		return r
	}, false)
}

// maxOf returns the largest value of x (-Inf for none).
func maxOf(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// observedPeak returns the highest of vals whose flag in observed is set,
// and whether any is.
func observedPeak(vals []float64, observed []bool) (peak float64, ok bool) {
	peak = math.Inf(-1)
	for i, v := range vals {
		if observed[i] {
			peak, ok = max(peak, v), true
		}
	}
	return peak, ok
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
	// starting holds the replicas that are starting, in batches of those
	// asked for at one tick (n of them ready at tick at), oldest first: a
	// burst that asks for millions of replicas is one batch, not millions
	// of entries.
	type batch struct{ at, n int }
	var (
		res      SimResult
		ready    = desired(first)
		starting []batch
		nStart   int // the replicas in starting
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
			if total := ready + nStart; want > total {
				starting = append(starting, batch{now + coldTicks, want - total})
				nStart += want - total
			} else if want < total {
				// The newest starting replicas go first, then ready ones.
				drop := total - want
				for drop > 0 && len(starting) > 0 {
					last := &starting[len(starting)-1]
					cut := min(drop, last.n)
					last.n -= cut
					nStart -= cut
					drop -= cut
					if last.n == 0 {
						starting = starting[:len(starting)-1]
					}
				}
				ready -= drop
			}
		} else {
			ready = want
		}
		demand := s.Values[i+1]
		for range perStep {
			for len(starting) > 0 && starting[0].at <= now {
				ready += starting[0].n
				nStart -= starting[0].n
				starting = starting[1:]
			}
			res.ReplicaHours += float64(ready+nStart) * tick.Hours()
			if float64(ready)*capacity < demand {
				res.UnderMinutes += tick.Minutes()
			}
			now++
		}
	}
	return res
}
