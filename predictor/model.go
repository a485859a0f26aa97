package predictor

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/mlscale/mlscale/internal/intent"
)

// DefaultLookahead is the forecast window when none is set.
const DefaultLookahead = 15 * time.Minute

// Model tuning.
const (
	// dailyCycles and weeklyCycles are how many past cycles the seasonal
	// profile takes the median over, and more days for a daily profile
	// where that leaves a phase's value fewer than phaseSamples samples
	// (see dailyDays).
	dailyCycles  = 7
	weeklyCycles = 8
	phaseSamples = 21
	// anomalyK is how many robust standard deviations from the profile a
	// sample must be to count as an anomaly and be replaced before fitting.
	anomalyK = 4.0
	// analogueCapK is how many robust standard deviations above the
	// profile the window a day or a week earlier may peak, scaled to the
	// recent samples, where that peak was a one-off (see
	// Model.oneOffCapped). Bursts of 8 to 30 deviations recur at other
	// minutes of the same hours on crane_input1 and crane_input9, and the
	// windows that carried them forecast them better: with both windows
	// (scaled and as they were) capped at 4 or 8 deviations, their MAE
	// went 0.943 -> 0.954 and 0.801 -> 0.814.
	analogueCapK = 30.0
	// nearPeakSpan is how far before and after the window a further day
	// (week) earlier a recurring peak may lie (see Model.nearPeak).
	nearPeakSpan = 15 * time.Minute
	// glitchK is how many robust standard deviations above the profile,
	// the level and the samples either side one or two samples must be to
	// be taken for a glitch, not demand: a scrape that read a million on
	// demand of ten (see combiner.glitchRun).
	glitchK = 1000.0
	// spikeK is how many robust standard deviations above the profile the
	// recent samples must be for a spike in progress; where the lookahead
	// is one sample, of the residuals at the same phase and spikePool
	// phases on each side, where they spread wider than the day's (see
	// Model.spikeSpread).
	spikeK    = 4.0
	spikePool = 2
	// blurStepK is how many robust deviations the profile must step by
	// around a sample for a spike there to be checked against the cycle
	// before (see Model.profileMissed): a step of two levels, which a
	// median profile blurs at a coarse step. At spikeK, the half-hour rises
	// of nyc_taxi counted too.
	blurStepK = 3 * spikeK
	// shiftK is how many robust standard deviations from the profile,
	// all on the same side, the latest samples must be for a level shift
	// in progress (a holiday lull, an outage, a surge that lasts), which
	// the forecast then follows unclipped; shiftN is the least number of
	// such samples (at least the lookahead and the smoothing window too).
	shiftK = 2.0
	shiftN = 2
	// smoothing is the time over which recent residuals and the profile
	// are averaged.
	smoothing = 5 * time.Minute
	// levelWindow is the history that sets the level when there is no cycle.
	levelWindow = time.Hour
	// levelSamples is the most samples the level's median is taken over:
	// at a step under 15 seconds, every k-th sample of levelWindow, k the
	// fewest that leaves at most this many. At one second the median of
	// all 3,600 was half of the backtest's time, 2 ms a forecast.
	levelSamples = 240
	// profileScaleWindow is the recent past whose samples, over the
	// profile's values at the same times, scale the per-day profile
	// candidates (see combiner.profiles); at least the smoothing window.
	profileScaleWindow = 30 * time.Minute
	// maxHeldOutHalf is the most phases on each side that a profile is
	// averaged over where the smoothing window is one sample, the width
	// chosen on held-out cycles (see Model.heldOutHalf).
	maxHeldOutHalf = 3
	// maxPeakSlope bounds the slope of the window's peak excess on the
	// recent residual (Model.fitPeak): on real traces it is 0 to about 1
	// (the residual persists over the window), under 2 on a sawtooth; a
	// steeper one comes of residuals that hardly vary (demand that holds
	// one value but for rare jumps) and would turn a tiny residual into
	// a forecast far off the data, so the peak excess is taken as
	// constant instead.
	maxPeakSlope = 4.0
)

// maxRatio bounds the multiplicative corrections; persistTrend is the
// share of the latest change over one lookahead that a receding spike's
// forecast follows and the persistence candidate carries forward.
const (
	maxRatio     = 4.0
	persistTrend = 0.5
)

// Options configure fitting and forecasting.
type Options struct {
	// Lookahead is the window whose peak is forecast; DefaultLookahead when 0.
	Lookahead time.Duration
	// TargetUnder is the share of steps in which the actual peak may be
	// above Forecast.Upper (the model's own bound, from the errors of its
	// fit; a Calibrator calibrates it on recent forecasts);
	// DefaultTargetUnder when 0.
	TargetUnder float64
	// BusinessHours, when set, lets the model tell business hours on
	// working days from the same clock time on other days.
	BusinessHours *intent.BusinessHours
}

func (o Options) withDefaults() Options {
	if o.Lookahead <= 0 {
		o.Lookahead = DefaultLookahead
	}
	if !(o.TargetUnder > 0 && o.TargetUnder < 1) {
		o.TargetUnder = DefaultTargetUnder
	}
	return o
}

// Model is a fitted forecaster: a robust seasonal profile with a robust
// trend, plus a regression of the window's peak on the recent deviation
// from the profile (or, without a cycle, the recent level). Its forecast
// combines that with other candidates (the backtest's baselines, a
// recent-peak envelope and, with a cycle, other days' profiles and the
// median of the last days' window peaks), weighted
// by how well each forecast the last hours; see Model.Forecast. Fit it with Fit; it is immutable afterwards.
type Model struct {
	opts  Options
	step  time.Duration
	cycle Cycle
	// cycles are all the cycles found; cycle is the longest, whose period
	// the profile covers.
	cycles Cycles
	// horizon is the lookahead in steps (at least 1).
	horizon int
	// profile is the seasonal shape by phase key; one value without a cycle.
	profile []float64
	// phases is the number of phases in one cycle.
	phases int
	// slope is the trend per step; centre is the time the profile is
	// centred on, from which the trend is extrapolated.
	slope  float64
	centre time.Time
	// levelN is how many recent samples set the level when there is no
	// cycle (their median); with a cycle the level is 0.
	levelN int
	// recent is how many samples the recent residual averages.
	recent int
	// profileN is how many samples scale the per-day profile candidates.
	profileN int
	// a and b map the recent residual to the peak's excess over the
	// profile's peak; upper is the 1-TargetUnder quantile of the fit's
	// errors.
	a, b, upper float64
	// shrunkA and shrunkB map the latest sample to the shrunk baseline's
	// peak, where shrunkOK (see Model.fitShrunk).
	shrunkA, shrunkB float64
	shrunkOK         bool
	// shrunkMedian: the shrunk baseline maps the median of the last three
	// samples, not the latest (see Model.fitShrunk).
	shrunkMedian bool
	// fitErrs are the fit's errors over its last calibrationWindow, at
	// most seedResiduals of them, evenly spread, oldest first.
	fitErrs []float64
	// resMed and resSD are the robust centre and spread of residuals.
	resMed, resSD float64
	// end is the time of the last sample fitted.
	end time.Time
	// filtered is how many samples the anomaly filter replaced.
	filtered int
	// hw is the Holt-Winters candidate; nil with less than three days.
	hw *hwFit
	// hwBase is the Holt-Winters baseline (Forecast.Baselines): the
	// candidate's filter, with its parameters, run over the whole fitted
	// history, as the backtest's baseline runs over the whole trace; nil
	// where hw is (see Model.hwBaseline).
	hwBase *hwFit
	// shapesOnly leaves the reactive candidates out of the mixture (see
	// preferShapes).
	shapesOnly bool
	// spikeSD is, by profile key, the spread a spike is measured in where
	// the lookahead is one sample (see spikeSpread); nil elsewhere, where
	// it is resSD.
	spikeSD []float64
	// glitchMin is glitchK times the least spread a sample is measured in
	// (resSD, or the least of spikeSD): a sample no further than this
	// above the samples either side is no glitch (see combiner.glitchRun).
	glitchMin float64
	// spikesLast says that the fitted span's spikes lasted: most samples
	// spikeK deviations above the profile were followed by another (see
	// lastingSpikes).
	spikesLast bool
	// scale divides the samples before they are fitted or forecast from,
	// and multiplies what comes out (see scaleOf); 1 for most traces.
	scale float64
	// counts says that every observed value of the fitted history is a
	// whole number (see wholeNumbers): the peak forecast is rounded to
	// one.
	counts bool
}

// Forecast is the forecast of the peak demand over (Time, Time+Lookahead].
type Forecast struct {
	// Time is when the forecast is made (the last sample's time).
	Time time.Time
	// Peak is the expected peak demand over the window.
	Peak float64
	// Upper is the model's own upper bound of the peak: the peak plus the
	// 1-TargetUnder quantile of the fit's errors.
	Upper float64
	// Spike reports a spike in progress in the recent samples, which
	// raised the forecast to at least the latest demand.
	Spike bool
	// Mixture is the model's own peak forecast: Peak before a Selector
	// blends baselines into it (Model.Forecast returns Peak equal to it).
	Mixture float64
	// Baselines are the baselines' peak forecasts, by BaselineIndex...:
	// the latest sample, the peaks of the window a day and a week earlier
	// (NaN without that much history, where a day is not a whole number
	// of steps, or where that peak was a one-off: see
	// Model.laggedBaseline), and the model's Holt-Winters candidate (NaN
	// with less than three days of history, or where the day before was
	// not like this one: see combiner.candidates).
	Baselines [NumBaselines]float64
	// BaselineShare is the weight of a baseline in Peak, from 0 (the
	// mixture alone) to 1 (the baseline alone), as a Selector blended it
	// in (see Selector.Apply).
	BaselineShare float64
	// Counts reports that the history the model was fitted on is whole
	// numbers (counts: requests, messages in a queue, busy workers), so
	// Peak is one too. The forecast of a whole number with the least
	// expected absolute error, the median of its distribution, is a whole
	// number: rounded, the peaks of NAB tweet counts forecast with up
	// to 2.4% less error, of synthetic Poisson counts up to 4.2%.
	Counts bool
	// RecentPeak is the highest demand of the history's calibration
	// window (its last two days, 200 to 4,000 samples), or 0 where the
	// history holds less than half of that window. A Calibrator's bound
	// provisions for at most a tenth more than it (see Calibrator.Upper).
	RecentPeak float64
	// Hourly reports that the model found an hourly cycle (a job at a
	// fixed minute of every hour): a Calibrator scales its local score by
	// the recent error of the forecasts made at the same minute of the
	// hour (see Calibrator).
	Hourly bool
	// FarRun reports that the latest one or two samples are a far run (a
	// scrape gone wrong, see glitch.go), and the forecast was made as if
	// they were the sample before them.
	FarRun bool
	// acyclic reports that the model found no cycle: the selector then
	// asks more of a lead of the windows a day and a week earlier (see
	// selectLeaveOneOut).
	acyclic bool
}

// MinSamples is the fewest samples at step a model with the lookahead can
// be fitted on: eight lookahead windows (the scored past forecasts need
// them) and the smoothing window.
func MinSamples(step, lookahead time.Duration) int {
	if step <= 0 {
		return 0
	}
	horizon := max(1, int((lookahead+step-1)/step))
	return 8*horizon + max(1, int(smoothing/step)) + 2
}

// ErrTooShort is returned by Fit for a history too short to fit.
var ErrTooShort = errors.New("history too short")

// Cycle returns the longest cycle the model found, the one its seasonal
// profile covers (weekly when there are a daily and a weekly one), but
// daily for an hourly one alone: an hourly pattern comes back every day
// too, and the daily profile, at the step, follows it.
func (m *Model) Cycle() Cycle { return m.cycle }

// Cycles returns every cycle the model found, shortest first.
func (m *Model) Cycles() Cycles { return m.cycles }

// End returns the time of the last sample the model was fitted on.
func (m *Model) End() time.Time { return m.end }

// Filtered returns how many samples the anomaly filter replaced.
func (m *Model) Filtered() int { return m.filtered }

// Fit fits a model to a history. The history needs at least a few
// lookahead windows; a cycle needs two full periods of it.
func Fit(s Series, opts Options) (*Model, error) { return fit(s, opts, true) }

// fit is Fit; with selectShapes, a model with a cycle and a one-sample
// lookahead chooses whether to leave its reactive candidates out (see
// preferShapes).
func fit(s Series, opts Options, selectShapes bool) (*Model, error) {
	opts = opts.withDefaults()
	if s.Step < time.Second || s.Step%time.Second != 0 {
		return nil, fmt.Errorf("fitting: step %s is not a whole number of seconds, at least 1s", s.Step)
	}
	m := &Model{opts: opts, step: s.Step, end: s.End()}
	m.horizon = max(1, int((opts.Lookahead+s.Step-1)/s.Step))
	m.recent = max(1, int(smoothing/s.Step))
	m.profileN = max(m.recent, int(profileScaleWindow/s.Step))
	m.levelN = max(1, int(levelWindow/s.Step))
	if need := MinSamples(s.Step, opts.Lookahead); s.Len() < need {
		return nil, fmt.Errorf("fitting: %w: %d samples, need at least %d", ErrTooShort, s.Len(), need)
	}
	m.scale = scaleOf(s.Values)
	m.counts = wholeNumbers(s)
	orig := s
	s = s.scaled(m.scale)
	join := fitBeside(s, m)
	m.cycles = DetectCycles(s)
	m.cycle = m.cycles.Longest()
	if m.cycle.Period == Hourly {
		m.cycle.Period = Day // see Cycle
	}
	span := s
	if m.cycle.Period > 0 {
		m.phases = int(m.cycle.Period / s.Step)
		span = s.Slice(max(0, s.Len()-m.profileCycles()*m.phases), s.Len())
	} else {
		span = s.Slice(max(0, s.Len()-m.levelSpan()), s.Len())
	}
	// Fit the profile on the raw span (medians are robust), filter
	// anomalies against it, then refit on the filtered data.
	vals := append([]float64(nil), span.Values...)
	m.fitProfile(span.Start, vals)
	all := m.residuals(span.Start, vals)
	res := all[min(len(all)-1, m.warmup()):]
	m.resMed, m.resSD = spread(res)
	if m.resSD == 0 {
		m.resSD = 1e-9
	}
	m.spikesLast = lastingSpikes(res, vals[len(vals)-len(res):], m.resMed+spikeK*m.resSD)
	for i, r := range all {
		if i >= m.warmup() && math.Abs(r-m.resMed) > anomalyK*m.resSD {
			vals[i] -= r - m.resMed
			m.filtered++
		}
	}
	m.fitProfile(span.Start, vals)
	m.fitPeak(span.Start, vals, span.Observed)
	if m.horizon == 1 && m.phases > 0 {
		m.spikeSD = m.spikeSpread(span.Start, vals)
	}
	m.glitchMin = glitchK * m.resSD
	for _, sd := range m.spikeSD {
		m.glitchMin = min(m.glitchMin, glitchK*sd)
	}
	join()
	if selectShapes && m.horizon == 1 && m.cycle.Period != 0 {
		m.shapesOnly = preferShapes(orig, opts)
	}
	return m, nil
}

// fitBeside starts the parts of m's fit on s (scaled) that need only s
// and m's horizon and step, to run beside the rest of it: the
// Holt-Winters candidate's grid search (a third of a fit on 20,000
// samples) and the baseline's filter over the whole history
// (Model.hwBase), which needs only the parameters chosen; and the shrunk
// sample's fit (a tenth), on a Model of its own. The join returned waits
// for them and sets what they fitted in m, once the rest of the fit has
// set the cycle, which the candidate's kept forecasts depend on
// (Model.hwKeep).
func fitBeside(s Series, m *Model) (join func()) {
	type hwChoice struct {
		hw   holtWinters
		base *hwFit
		ok   bool
	}
	h := m.horizon
	hwc := make(chan hwChoice, 1)
	go func() {
		hw, ok := chooseHW(s, h)
		c := hwChoice{hw: hw, ok: ok}
		if ok {
			c.base = filterHW(s.Values, h, hw, [][2]int{{0, 0}}, 1, nil)
		}
		hwc <- c
	}()
	shrunk := &Model{horizon: m.horizon, step: m.step}
	shrunkDone := make(chan struct{})
	go func() {
		shrunk.fitShrunk(s.Values, s.Observed)
		close(shrunkDone)
	}()
	return func() {
		<-shrunkDone
		m.shrunkA, m.shrunkB, m.shrunkOK, m.shrunkMedian = shrunk.shrunkA, shrunk.shrunkB, shrunk.shrunkOK, shrunk.shrunkMedian
		if c := <-hwc; c.ok {
			m.hw = runHW(s, m.horizon, c.hw, m.hwKeep(), nil)
			m.hwBase = c.base
		}
	}
}

// hwKeep are the spans of the fitted history (offsets from its last
// sample) after whose samples the Holt-Winters candidate's forecasts are
// kept: those the scored forecasts of a forecast at the end of the
// history need (see Model.score), and, where phase points are scored (see
// Model.phasePoints), those of every forecast up to phaseKeep after it, or
// where the same minute of the last hours is (see Model.hourPoints), those
// of the last hourlyPoints hours.
func (m *Model) hwKeep() [][2]int {
	stride := m.combineStride()
	keep := [][2]int{{-(m.horizon + m.scoredPoints()*stride), 0}}
	if m.scoresHours() {
		// The same minute of the last hours, in the place of the phase
		// points (see Model.hourPoints).
		return append(keep, [2]int{-hourlyPoints * int(Hourly/m.step), 0})
	}
	if !m.phased(stride) {
		return keep
	}
	p := int(m.cycle.Period / m.step)
	pad := phaseSpan * stride
	for k := 1; k <= phasePeriods; k++ {
		keep = append(keep, [2]int{-k*p - pad, min(0, -k*p+int(phaseKeep/m.step)+pad)})
	}
	return keep
}

// spikeSpread returns, by profile key, the robust standard deviation of
// the residuals of vals (which start at start) at that phase and
// spikePool phases on each side, but never under resSD. Where the
// lookahead is one sample, one sample spikeK deviations above the profile
// is a spike, and the forecast holds it; where demand is noisier at the
// peak of the day than at night (counts of requests), spikeK of the day's
// deviation is ordinary at the peak, and holding such samples put an
// hourly trace with noise of 5% of the value at up to 1.021 times
// Holt-Winters's error (1.002 measured against its own hours' spread).
func (m *Model) spikeSpread(start time.Time, vals []float64) []float64 {
	keys := make([]int, len(vals))
	m.keysFrom(start, keys)
	size := len(m.profile)
	byKey := make([][]float64, size)
	for i, r := range m.residuals(start, vals) {
		byKey[keys[i]] = append(byKey[keys[i]], r)
	}
	out := make([]float64, size)
	var pool []float64
	for k := range out {
		base := k / m.phases * m.phases
		pool = pool[:0]
		for d := -spikePool; d <= spikePool; d++ {
			pool = append(pool, byKey[base+((k-base+d)%m.phases+m.phases)%m.phases]...)
		}
		_, sd := mad(pool)
		out[k] = m.resSD
		if sd > m.resSD {
			out[k] = sd
		}
	}
	return out
}

// profileCycles is how many past cycles the profile takes the median
// over: weeklyCycles weeks, or dailyDays for a daily cycle.
func (m *Model) profileCycles() int {
	if m.cycle.Period == Week {
		return weeklyCycles
	}
	return dailyDays(m.step)
}

// dailyDays is how many days of history a daily profile and the
// Holt-Winters candidate are fitted on at step: dailyCycles, or more
// where the step is coarse. A profile phase's value is the median over
// the days of one sample each, averaged over the smoothing window (five
// samples at a one-minute step, 35 over seven days); at a step of three
// minutes or more that window is one sample, and the median of seven is
// noisy, as is a Holt-Winters season that has seen five days after its
// two-day start. So they take enough days for phaseSamples samples a
// phase: three weeks at such a step, where the history holds them.
func dailyDays(step time.Duration) int {
	width := 2*smoothingHalf(step) + 1
	return max(dailyCycles, (phaseSamples+width-1)/width)
}

// smoothingHalf is how many phases on each side the profile is averaged
// over at step: half the smoothing window, none at a step of 3 minutes
// or more.
func smoothingHalf(step time.Duration) int { return int(smoothing/step) / 2 }

// heldOutHalf returns the half-width, 0 to maxHeldOutHalf phases, of the
// box average of a profile that forecasts held-out cycles best: the
// samples of alternate cycles (by their index in vals) forecast by the
// profile of the others, and the other way round, by mean absolute error;
// the narrowest of equals. A phase of a coarse step is one sample a day,
// and its median over three weeks is still noisy (on a noisy hourly sine
// averaging three phases takes the seasonal model's error from 0.0841 to
// 0.0822), but averaging blurs a sharp shape (nyc_taxi's rush hours at a
// 30-minute step): the held-out cycles tell which the trace has.
func (m *Model) heldOutHalf(keys []int, vals []float64, size int) int {
	var errs [maxHeldOutHalf + 1]float64
	raw, sm := make([]float64, size), make([]float64, size)
	// Samples of the other fold by key, in one flat array.
	offs := make([]int, size+1)
	flat := make([]float64, len(vals))
	for fold := range 2 {
		inFold := func(i int) bool { return (i/m.phases)%2 == fold }
		clear(offs)
		for i, k := range keys {
			if !inFold(i) {
				offs[k+1]++
			}
		}
		for k := range size {
			offs[k+1] += offs[k]
		}
		next := slices.Clone(offs[:size])
		for i, k := range keys {
			if !inFold(i) {
				flat[next[k]] = vals[i]
				next[k]++
			}
		}
		fill := median(flat[:offs[size]])
		for k := range raw {
			if raw[k] = medianInPlace(flat[offs[k]:offs[k+1]]); math.IsNaN(raw[k]) {
				raw[k] = fill
			}
		}
		for w := range errs {
			boxSmooth(sm, raw, m.phases, w)
			for i, k := range keys {
				if inFold(i) {
					errs[w] += math.Abs(vals[i] - sm[k])
				}
			}
		}
	}
	best := 0
	for w := range errs {
		if errs[w] < errs[best] {
			best = w
		}
	}
	return best
}

// boxSmooth sets dst to raw averaged over w phases on each side,
// circularly within each run of phases values (a profile, or each of its
// halves with business hours).
func boxSmooth(dst, raw []float64, phases, w int) {
	for k := range raw {
		base := k / phases * phases
		var sum float64
		for d := -w; d <= w; d++ {
			sum += raw[base+((k-base+d)%phases+phases)%phases]
		}
		dst[k] = sum / float64(2*w+1)
	}
}

// key returns the profile index of time t.
func (m *Model) key(t time.Time) int {
	if m.phases == 0 {
		return 0
	}
	sec := t.Unix()
	period := int64(m.cycle.Period / time.Second)
	p := int(((sec%period)+period)%period) / int(m.step/time.Second)
	// A step that does not divide the period (7 minutes, or the median
	// spacing of rows at irregular times) leaves a last, shorter phase:
	// it joins the one before.
	p = min(p, m.phases-1)
	if m.opts.BusinessHours != nil && m.cycle.Period == Day && m.opts.BusinessHours.Contains(t) {
		p += m.phases
	}
	return p
}

// fitProfile sets the profile, trend and level from samples starting at start.
func (m *Model) fitProfile(start time.Time, vals []float64) {
	if m.phases == 0 {
		m.profile, m.slope = nil, 0
		return
	}
	size := m.phases
	if m.opts.BusinessHours != nil && m.cycle.Period == Day {
		size *= 2
	}
	// Bucket the samples by key in one flat array.
	keys := make([]int, len(vals))
	offs := make([]int, size+1)
	m.keysFrom(start, keys)
	for _, k := range keys {
		offs[k+1]++
	}
	for k := range size {
		offs[k+1] += offs[k]
	}
	flat := make([]float64, len(vals))
	next := slices.Clone(offs[:size])
	for i, v := range vals {
		flat[next[keys[i]]] = v
		next[keys[i]]++
	}
	raw := make([]float64, size)
	for k := range raw {
		raw[k] = medianInPlace(flat[offs[k]:offs[k+1]])
	}
	// Keys without samples (business-hours keys never seen) take the
	// other half's value.
	for k := range raw {
		if math.IsNaN(raw[k]) {
			raw[k] = raw[(k+m.phases)%size]
		}
		if math.IsNaN(raw[k]) {
			raw[k] = median(vals)
		}
	}
	// Smooth each half circularly over smoothing, or where that is one
	// sample over the width that forecasts held-out cycles best.
	w := smoothingHalf(m.step)
	if w == 0 {
		w = m.heldOutHalf(keys, vals, size)
	}
	m.profile = make([]float64, size)
	boxSmooth(m.profile, raw, m.phases, w)
	// Robust trend over per-cycle medians of the deseasonalised data.
	var xs, ys []float64
	block := make([]float64, m.phases)
	for c := 0; (c+1)*m.phases <= len(vals); c++ {
		for j := range block {
			i := c*m.phases + j
			block[j] = vals[i] - m.profile[keys[i]]
		}
		xs = append(xs, float64(c*m.phases)+float64(m.phases-1)/2)
		ys = append(ys, medianInPlace(block))
	}
	m.slope = 0
	if len(xs) >= 3 {
		m.slope = theilSen(xs, ys)
	}
	m.centre = start.Add(time.Duration(float64(len(vals)-1) / 2 * float64(m.step)))
}

// warmup is the number of samples at the start of a fitting span that have
// no level of their own (no cycle: the level needs levelN samples).
func (m *Model) warmup() int {
	if m.phases == 0 {
		return m.levelN - 1
	}
	return 0
}

// levelAt returns the level at index i of vals: the median of the levelN
// samples ending at i (of every k-th of them, i among them, where there
// are more than levelSamples) when there is no cycle, 0 otherwise.
func (m *Model) levelAt(vals []float64, i int) float64 {
	if m.phases != 0 {
		return 0
	}
	w := vals[max(0, i-m.levelN+1) : i+1]
	k := (len(w) + levelSamples - 1) / levelSamples
	if k <= 1 {
		return median(w)
	}
	var buf [levelSamples]float64
	sub := buf[:0]
	for j := len(w) - 1; j >= 0; j -= k {
		sub = append(sub, w[j])
	}
	return medianInPlace(sub)
}

// levels returns levelAt(vals, i) for every i without a cycle, nil with
// one (where the level is 0). Where each window's median is over all its
// samples, it takes them all in one pass (see rollingMedians): on 20,000
// samples, one median per sample was half of a fit without a cycle.
func (m *Model) levels(vals []float64) []float64 {
	if m.phases != 0 {
		return nil
	}
	out := make([]float64, len(vals))
	if m.levelN <= levelSamples && rollingMedians(out, vals, m.levelN) {
		return out
	}
	for i := range vals {
		out[i] = m.levelAt(vals, i)
	}
	return out
}

// base returns the profile plus trend at time t (0 without a cycle, where
// levelAt carries the level).
func (m *Model) base(t time.Time) float64 {
	if m.phases == 0 {
		return 0
	}
	return m.profile[m.key(t)] + m.slope*float64(t.Sub(m.centre))/float64(m.step)
}

// steppedKeys reports whether the profile index of the sample after t is
// always the one of t plus one (modulo the phases): a period that is a
// whole number of whole-second steps, and no business hours.
func (m *Model) steppedKeys() bool {
	return m.phases > 0 && m.step%time.Second == 0 && m.cycle.Period%m.step == 0 &&
		(m.opts.BusinessHours == nil || m.cycle.Period != Day)
}

// keysFrom writes the profile index of the samples from start, one step
// apart, into dst: key for each, without its time arithmetic when
// steppedKeys.
func (m *Model) keysFrom(start time.Time, dst []int) {
	if !m.steppedKeys() {
		for i := range dst {
			dst[i] = m.key(start.Add(time.Duration(i) * m.step))
		}
		return
	}
	k := m.key(start)
	for i := range dst {
		dst[i] = k
		if k++; k == m.phases {
			k = 0
		}
	}
}

// basesFrom writes the base of the samples from start, one step apart,
// into dst: the same values as base, computed in one pass.
func (m *Model) basesFrom(start time.Time, dst []float64) {
	if !m.steppedKeys() {
		for i := range dst {
			dst[i] = m.base(start.Add(time.Duration(i) * m.step))
		}
		return
	}
	off := start.Sub(m.centre)
	k := m.key(start)
	for i := range dst {
		dst[i] = m.profile[k] + m.slope*float64(off+time.Duration(i)*m.step)/float64(m.step)
		if k++; k == m.phases {
			k = 0
		}
	}
}

func (m *Model) residuals(start time.Time, vals []float64) []float64 {
	res := make([]float64, len(vals))
	m.basesFrom(start, res)
	for i, v := range vals {
		res[i] = v - res[i]
	}
	for i, l := range m.levels(vals) {
		res[i] -= l
	}
	return res
}

// basePeak returns the highest base over the window after t.
func (m *Model) basePeak(t time.Time) float64 {
	if m.phases == 0 {
		return 0
	}
	_, peak := m.baseOffRange(t.Add(m.step), m.horizon, 0)
	return peak
}

// recentResidual returns the mean residual of the m.recent samples ending
// at index i, clipped to anomalyK robust standard deviations.
func (m *Model) recentResidual(start time.Time, vals []float64, i int) float64 {
	var sum float64
	n := 0
	lvl := m.levelAt(vals, i)
	for j := max(0, i-m.recent+1); j <= i; j++ {
		sum += vals[j] - m.base(start.Add(time.Duration(j)*m.step)) - lvl
		n++
	}
	r := sum / float64(n)
	lim := anomalyK * m.resSD
	return math.Max(m.resMed-lim, math.Min(m.resMed+lim, r))
}

// fitPeak regresses the window's peak excess over the base on the recent
// residual, and takes the upper quantile of the errors. The base of every
// sample and the running sums of the residuals are computed once, so that
// each sample costs a pass over its window only.
//
// Without a cycle the intercept is the median of the residuals about the
// least-squares slope, not their mean: the forecast is scored by its
// absolute error, and there the excess is skewed by what the level does
// not hold (bursts above it, a queue's drains below it). The mean put a
// queue that fills steadily and drains at random thresholds at 0.82-0.88
// times persistence's MAE (TestSyntheticClasses; 0.56-0.77 with the
// median), and after a burst of disk writes forecast millions over
// hours of zero. With a cycle the profile holds the shape, and the
// median measured no better (crane_input9 0.801 -> 0.805 times the best
// baseline's MAE, crane_input0 0.856 -> 0.850).
//
// Where observed flags the samples (nil: all observed), the regression
// takes the samples that were observed and whose window holds an observed
// one, and that one's peak, as fitShrunk does: a daily trace with two
// days missing went from 0.820 to 0.782 times the best baseline's MAE,
// occupancy_t4013 (1,650 samples filled) from 0.925 to 0.918.
func (m *Model) fitPeak(start time.Time, vals []float64, observed []bool) {
	if len(observed) != len(vals) {
		observed = nil
	}
	n := len(vals)
	base := make([]float64, n+m.horizon)
	m.basesFrom(start, base)
	// cum[j] is the sum of vals[k]-base[k] for k < j.
	cum := make([]float64, n+1)
	for j, v := range vals {
		cum[j+1] = cum[j] + v - base[j]
	}
	lim := anomalyK * m.resSD
	first := max(m.recent, m.levelN) - 1
	lvls := m.levels(vals)
	xs := make([]float64, 0, max(0, n-m.horizon-first))
	ys := make([]float64, 0, cap(xs))
	// The windows' peaks, of the samples and of the profile: peaks[j] is
	// the peak of the window ending at j.
	bpeaks := windowMaxes(base[:n], m.horizon)
	var peaks []float64
	// pairs collects the (recent residual, peak excess) pairs, of the
	// observed samples only where observed is not nil.
	pairs := func(observed []bool) {
		xs, ys = xs[:0], ys[:0]
		seen := vals
		if observed != nil {
			// A sample not observed counts for nothing in its windows.
			seen = slices.Clone(vals)
			for j, ok := range observed {
				if !ok {
					seen[j] = math.Inf(-1)
				}
			}
		}
		peaks = windowMaxesInto(peaks, seen, m.horizon)
		for i := first; i+m.horizon < n; i++ {
			peak, bpeak := peaks[i+m.horizon], bpeaks[i+m.horizon]
			if math.IsInf(peak, -1) || (observed != nil && !observed[i]) {
				continue
			}
			lvl := 0.0
			if lvls != nil {
				lvl = lvls[i]
			}
			lo := max(0, i-m.recent+1)
			r := (cum[i+1]-cum[lo])/float64(i+1-lo) - lvl
			xs = append(xs, math.Max(m.resMed-lim, math.Min(m.resMed+lim, r)))
			ys = append(ys, peak-bpeak-lvl)
		}
	}
	pairs(observed)
	if len(xs) < 2 && observed != nil {
		// Too few observed pairs to regress on (a span almost all filled
		// in): every sample, as without flags.
		pairs(nil)
	}
	m.a, m.b = stat.LinearRegression(xs, ys, nil, false)
	if !finite(m.a) || !finite(m.b) || math.Abs(m.b) > maxPeakSlope {
		m.a, m.b = median(ys), 0
	} else if m.cycle.Period == 0 {
		// Without a cycle, the median of the residuals (see fitPeak).
		res := make([]float64, len(xs))
		for i := range xs {
			res[i] = ys[i] - m.b*xs[i]
		}
		m.a = medianInPlace(res)
	}
	errs := make([]float64, len(xs))
	for i := range xs {
		errs[i] = ys[i] - (m.a + m.b*xs[i])
	}
	m.upper = max(0, quantile(1-m.opts.TargetUnder, errs))
	tail := errs[max(0, len(errs)-int(calibrationWindow/m.step)):]
	stride := max(1, (len(tail)+seedResiduals-1)/seedResiduals)
	m.fitErrs = make([]float64, 0, (len(tail)+stride-1)/stride)
	for k := len(tail) - 1; k >= 0; k -= stride {
		m.fitErrs = append(m.fitErrs, tail[k])
	}
	slices.Reverse(m.fitErrs)
}

// seedResiduals bounds the fit's errors a model keeps for calibration.
const seedResiduals = 400

// Residuals returns errors of the model's peak forecast over the end of
// the history it was fitted on (the actual peak minus the forecast, at
// most a few hundred, oldest first), to Seed a Calibrator before any
// forecast of it has been evaluated. They are in-sample: the profile was
// fitted on the same days.
func (m *Model) Residuals() []float64 {
	out := slices.Clone(m.fitErrs)
	for i := range out {
		out[i] *= m.scale
	}
	return out
}

// Forecast forecasts the peak over the lookahead window after the last
// sample of s, which must be on the model's step grid and may extend past
// the data the model was fitted on (the cheap, per-sample part). The
// peak is the combination of candidate forecasters described at
// Model.combined; a spike in progress then raises it to at least the
// latest demand. Where the last samples of s are not observed (a history
// held to the time forecast, Series.HeldTo), they are taken for no
// demand: the forecast is still of the window after the last sample, from
// the samples up to the last observed one, the gap continued along the
// profile (Model.continueGap), and its candidates are weighed by the
// forecasts whose windows ended by that sample.
func (m *Model) Forecast(s Series) (Forecast, error) {
	if s.Len() == 0 {
		return Forecast{}, errors.New("forecasting: empty history")
	}
	if s.Step != m.step {
		return Forecast{}, fmt.Errorf("forecasting: step %s differs from the model's %s", s.Step, m.step)
	}
	return m.forecast(s, nil), nil
}

// forecast is Forecast on a history that is not empty and of the model's
// step, the candidates' forecasts taken from memo where it is not nil
// (see candidateMemo): the backtest's forecasts between two fits score
// the same past indices over and over, each of them about a dozen times.
func (m *Model) forecast(s Series, memo *candidateMemo) Forecast {
	far := false
	if a := farTail(s.Values, spanOf(s.Step)); a < s.Len() {
		// The latest samples are a far run (see glitch.go): forecast as if
		// they were the sample before them until a third one makes them
		// demand. KEDA's own scaling still follows demand above the floor.
		v := slices.Clone(s.Values)
		for k := a; k < len(v); k++ {
			v[k] = v[a-1]
		}
		s, memo, far = Series{Start: s.Start, Step: s.Step, Values: v, Observed: s.Observed}, nil, true
	}
	s = s.scaled(m.scale)
	g := heldFrom(s)
	if g < s.Len()-1 {
		if !far && m.scale == 1 {
			// Unscaled, s is still the caller's.
			s.Values = slices.Clone(s.Values)
		}
		m.continueGap(s, g)
	}
	f := m.forecastHeld(s, g, memo)
	f.FarRun = far
	f.RecentPeak = recentPeak(s.Values, calibrationSamples(m.step)) * m.scale
	return f
}

// heldFrom returns the index of s's last observed sample, or its last
// sample where s has no Observed flags: the samples after it are the
// last observed one held up to the time forecast, as the backtest makes
// them in a gap (see Backtest).
func heldFrom(s Series) int {
	g := s.Len() - 1
	if len(s.Observed) == s.Len() {
		for g > 0 && !s.Observed[g] {
			g--
		}
	}
	return g
}

// continueGap replaces the samples of s (scaled, and the forecast's own
// copy) after index g by the model's expectation of them from the samples
// up to g: the profile (plus the level without a cycle) times the ratio of
// the last smoothing window's samples up to g to it, or plus their mean
// difference from it where either sum is not positive. The candidates
// read them as the gap's demand, so that neither a held sample's noise
// nor a low sample held across a step the profile knows sets the
// profiles' scale.
func (m *Model) continueGap(s Series, g int) {
	v := s.Values
	lvl := m.levelAt(v, g)
	var x, b float64
	lo := max(0, g-m.recent+1)
	for j := lo; j <= g; j++ {
		x += v[j]
		b += m.base(s.Time(j)) + lvl
	}
	n := float64(g - lo + 1)
	for j := g + 1; j < len(v); j++ {
		e := m.base(s.Time(j)) + lvl
		if x > 0 && b > 0 {
			// In proportion to the profile, as the profiles' candidates
			// scale it.
			v[j] = e * x / b
		} else {
			v[j] = max(0, e+(x-b)/n)
		}
	}
}

// forecastScaled is Forecast on a history of the model's step, not empty
// and already scaled by m.scale (Series.scaled), without RecentPeak: what
// Selector.Seed replays, with no copy of the history and no scan of its
// last two days per forecast. The candidates' forecasts come from memo where
// it is not nil (see candidateMemo).
func (m *Model) forecastScaled(s Series, memo *candidateMemo) Forecast {
	return m.forecastHeld(s, s.Len()-1, memo)
}

// forecastHeld is forecastScaled where the samples after index g are not
// demand (see Model.forecast): the forecast is of the window after the
// last sample, weighed and checked for a spike by the samples up to g,
// whose last is persistence's forecast.
func (m *Model) forecastHeld(s Series, g int, memo *candidateMemo) Forecast {
	i := s.Len() - 1
	t := s.Time(i)
	lvl := m.levelAt(s.Values, g)
	peak, hw := m.combined(s.Start, s.Values, i, g, memo)
	f := Forecast{Time: t, Peak: peak, Hourly: m.cycles.Has(Hourly), acyclic: m.cycle.Period == 0}
	// A spike in progress: the recent samples are far above the profile,
	// where a cycle earlier they were not (see Model.profileMissed).
	lo := max(0, g-m.horizon+1)
	if m.spikesLast {
		lo = g
	}
	spike := true
	for j := lo; j <= g; j++ {
		if m.excess(s, j, lvl) < spikeK || m.profileMissed(s, j) {
			spike = false
			break
		}
	}
	if spike {
		// Rising or holding, the spike may go on: provision for at least
		// its latest demand. Receding, follow persistTrend of its latest
		// fall instead of holding its peak (the floor falls slowly anyway).
		f.Spike = true
		floor := s.Values[g]
		if g > 0 && s.Values[g] < s.Values[g-1] {
			floor += persistTrend * (s.Values[g] - s.Values[g-1])
		}
		f.Peak = max(f.Peak, floor)
	}
	f.Peak = max(0, f.Peak)
	f.Upper = f.Peak + m.upper
	f.Peak, f.Upper = f.Peak*m.scale, f.Upper*m.scale
	if m.counts {
		f.Counts = true
		f = f.withPeak(math.Round(f.Peak))
	}
	f.Mixture = f.Peak
	f.Baselines[BaselineIndexPersistence] = s.Values[g] * m.scale
	f.Baselines[BaselineIndexDay] = m.laggedBaseline(s, i, Day, lvl) * m.scale
	f.Baselines[BaselineIndexWeek] = m.laggedBaseline(s, i, Week, lvl) * m.scale
	// Demand is never negative: Holt-Winters' trend and season can
	// forecast below 0 after a queue empties, where the backtest's
	// baseline is held at 0. Unheld, the selector scored a baseline that
	// the backtest does not, and saw no lead where there was one.
	f.Baselines[BaselineIndexHoltWinters] = max(0, m.hwBaseline(s.Start, s.Values, i, hw)) * m.scale
	f.Baselines[BaselineIndexShrunk] = math.NaN()
	if m.shrunkOK {
		f.Baselines[BaselineIndexShrunk] = max(0, m.shrunkA+m.shrunkB*m.shrunkInput(s.Values, g)) * m.scale
	}
	return f
}

// levelSpan is how many of the history's last samples a model without a
// cycle is fitted on: a day, or 16 lookaheads where that is more.
func (m *Model) levelSpan() int { return max(int(Day/m.step), 16*m.horizon) }

// hwBaseline returns the Holt-Winters baseline's peak forecast after
// sample i of vals (which start at start; see Model.hwBase), or cand, the
// candidate's, where it has none (inside the fitted history, where only
// Model.withHWOver keeps its forecasts).
//
// The candidate restarts its filter on the last dailyDays of each fit,
// with parameters chosen there: in the mixture that follows a recent
// change of shape sooner (a batch queue's MAE, 0.674 times persistence's,
// was 0.701 with the candidate over the whole history). As the baseline
// the selector blends in (Selector), the restarted filter forecast worse
// than the backtest's, which runs on from the start of the trace: on
// memory that grows until a collection at a random time, 16.70 against
// 15.03, so the selector saw no lead and the forecasts stayed 1.06 times
// the backtest baseline's error.
func (m *Model) hwBaseline(start time.Time, vals []float64, i int, cand float64) float64 {
	if m.hwBase == nil {
		return cand
	}
	if v, _ := m.hwPeaks(m.hwBase, start, vals, i, i, nil); finite(v[0]) {
		return v[0]
	}
	return cand
}

// wholeNumbers reports whether every observed value of s (see
// Series.Observed; the filled ones are interpolated) is a whole number,
// and there is one.
func wholeNumbers(s Series) bool {
	observed := len(s.Observed) == len(s.Values)
	seen := false
	for i, v := range s.Values {
		if v != v || (observed && !s.Observed[i]) {
			continue
		}
		if v != math.Trunc(v) {
			return false
		}
		seen = true
	}
	return seen
}

// withPeak returns f with Peak set to peak and Upper moved with it: peak
// plus Upper's margin over the old Peak (never negative), computed apart
// so that a margin of 0 on a large peak does not come out below it.
func (f Forecast) withPeak(peak float64) Forecast {
	f.Upper = peak + max(0, f.Upper-f.Peak)
	f.Peak = peak
	return f
}

// laggedBaseline is the seasonal-naive baseline of the window after
// sample i: the peak of the window lag earlier (seasonalPeak), or NaN
// where that peak is a one-off, anomalyK robust deviations or more from
// the profile and the level lvl (sample i's) while the peak a further lag
// earlier is not (or there is none). A glitch, a burst or an outage of a day ago is not the
// demand of today's window; blended in as the day-ago baseline (see
// Selector), one sample of a million on demand of 50 came back a day
// later as a forecast of a million for the whole window. A peak that
// recurs every lag, a daily job, is kept.
func (m *Model) laggedBaseline(s Series, i int, lag time.Duration, lvl float64) float64 {
	p := seasonalPeak(s.Values, i, lag, m.step, m.horizon)
	if !finite(p) {
		return p
	}
	l := int(lag / m.step)
	if m.anomalousPeak(s, i-l, lvl) && (i+1-2*l < 0 || !m.anomalousPeak(s, i-2*l, lvl)) {
		return math.NaN()
	}
	return p
}

// anomalousPeak reports whether the peak of the window after sample i of
// s (i+1 to i+horizon, within s) lies anomalyK robust deviations or more
// from the profile there and the level lvl (the level now: an outage of
// hours a day ago is unlike today though the level then followed it).
func (m *Model) anomalousPeak(s Series, i int, lvl float64) bool {
	j := m.windowPeak(s, i)
	return j >= 0 && math.Abs(m.excess(s, j, lvl)) >= anomalyK
}

// windowMaxes returns the peak of each window of h samples of v: out[j]
// is that of v[j-h+1 : j+1], as a running max over it finds it (out[j] for
// j < h-1 is that of v[:j+1]).
func windowMaxes(v []float64, h int) []float64 {
	return windowMaxesInto(nil, v, h)
}

// windowMaxesInto is windowMaxes into dst's storage where it has room.
// Go's max is associative (a NaN wins, +0 over -0), so the peak of a
// window is the max of the peak of its part in one block of h samples and
// that of its part in the next (van Herk and Gil-Werman): three passes
// over v where a running max over each window takes h.
func windowMaxesInto(dst, v []float64, h int) []float64 {
	n := len(v)
	h = max(1, h)
	if cap(dst) < 2*n {
		dst = make([]float64, 2*n)
	}
	dst = dst[:2*n]
	// pre[j]: the peak from j's block start to j; suf[j]: from j to its
	// block end.
	pre, suf := dst[:n], dst[n:]
	for b := 0; b < n; b += h {
		e := min(n, b+h)
		pre[b] = v[b]
		for j := b + 1; j < e; j++ {
			pre[j] = max(pre[j-1], v[j])
		}
		suf[e-1] = v[e-1]
		for j := e - 2; j >= b; j-- {
			suf[j] = max(v[j], suf[j+1])
		}
	}
	// The window ending at j starts at lo = j-h+1: where that is inside
	// a block, the window is the end of that block (suf[lo]) and the start
	// of the next, up to j (pre[j]).
	for b := h; b < n; b += h {
		for j := b; j < min(n, b+h-1); j++ {
			pre[j] = max(suf[j-h+1], pre[j])
		}
	}
	return pre
}

// windowPeak returns the index of the highest sample of the window after
// sample i of s (i+1 to i+horizon, within s), -1 where it holds none.
func (m *Model) windowPeak(s Series, i int) int {
	j := -1
	for k := max(0, i+1); k <= min(s.Len()-1, i+m.horizon); k++ {
		if j < 0 || s.Values[k] > s.Values[j] {
			j = k
		}
	}
	return j
}

// oneOffCapped returns peak, the peak of a window of s (an analogue l
// samples before the window forecast) whose highest sample is j (see
// Model.windowPeak), at most analogueCapK robust deviations above the
// profile and the level lvl where it lies further above them and the
// samples near the window after sample prior, a further l samples
// earlier (see Model.nearPeak), do not: a one-off, such as the burst of
// tweets a piece of news set off a day earlier. Scaled to recent samples
// busier than the day before's, it became a forecast many times the
// demand of the window (see combiner.analogues).
func (m *Model) oneOffCapped(s Series, j, prior int, lvl, peak float64) float64 {
	if j < 0 || m.excess(s, j, lvl) < analogueCapK {
		return peak
	}
	if k := m.nearPeak(s, prior); k >= 0 && m.excess(s, k, lvl) >= analogueCapK {
		// It recurs: a job at that time, not a one-off.
		return peak
	}
	t := s.Time(j)
	return min(peak, m.base(t)+lvl+m.resMed+analogueCapK*m.spikeSpreadAt(t))
}

// nearPeak returns the index of the highest finite sample of s in the
// window after sample i (i+1 to i+horizon) widened on each side by
// nearPeakSpan, at most by the window's length; -1 where that holds none.
// A daily job comes a little earlier or later each day: on NAB's EC2 CPU
// traces a one-sample spike between 03:00 and 04:30 moves by 0 to 80
// minutes from one night to the next, and the window a further day
// earlier, at the same minutes, missed it on some nights, which capped
// the spike as a one-off.
func (m *Model) nearPeak(s Series, i int) int {
	j := -1
	tol := min(m.horizon, max(1, int(nearPeakSpan/m.step)))
	for k := max(0, i-tol+1); k <= min(s.Len()-1, i+m.horizon+tol); k++ {
		if finite(s.Values[k]) && (j < 0 || s.Values[k] > s.Values[j]) {
			j = k
		}
	}
	return j
}

// recentPeak returns the highest finite value of the last n of vals, or 0
// where vals holds fewer than half of n.
func recentPeak(vals []float64, n int) float64 {
	if 2*len(vals) < n {
		return 0
	}
	peak := 0.0
	for _, v := range vals[max(0, len(vals)-n):] {
		if finite(v) {
			peak = max(peak, v)
		}
	}
	return peak
}

// lastingSpikes reports whether the spikes of the residuals res (those
// above limit) lasted: at least minSpikes of them, more than half followed
// by another. vals are the samples res are the residuals of. A spike
// followed by a sample on the line from it to the one after (a gap filled
// by interpolation, as the trace reader fills them) is not counted: the
// filled samples ramp down from every spike.
func lastingSpikes(res, vals []float64, limit float64) bool {
	n, next := 0, 0
	for i := 0; i+2 < len(res); i++ {
		if res[i] <= limit {
			continue
		}
		d1, d2 := vals[i+1]-vals[i], vals[i+2]-vals[i+1]
		if d1 != 0 && math.Abs(d1-d2) <= 1e-9*(math.Abs(d1)+math.Abs(d2)) {
			continue
		}
		n++
		if res[i+1] > limit {
			next++
		}
	}
	return n >= minSpikes && 2*next > n
}

// minSpikes is the fewest spikes lastingSpikes decides on.
const minSpikes = 6

// excess is how many robust deviations sample j of s lies above the
// profile, lvl being the level there.
func (m *Model) excess(s Series, j int, lvl float64) float64 {
	return (s.Values[j] - m.base(s.Time(j)) - lvl - m.resMed) / m.spikeSpreadAt(s.Time(j))
}

// spikeSpreadAt is the robust deviation a spike at t is measured in: the
// spread at its phase where spikeSD has one, else the day's.
func (m *Model) spikeSpreadAt(t time.Time) float64 {
	if m.spikeSD != nil {
		return m.spikeSD[m.key(t)]
	}
	return m.resSD
}

// profileMissed reports whether the profile steps sharply at sample j of
// s (by blurStepK deviations or more between the samples either side) and,
// one cycle before, a sample at the same time or either side of it was
// spikeK deviations above the profile too, and sample j is not spikeK
// deviations above that one: then the profile is what is off there, not
// the demand. A median profile at a coarse step blurs a
// sharp step (the last hour of an office day, with the fall smoothed in),
// and demand as high as the cycle before is no spike to hold. Where an
// hourly cycle was found, the same minute of each of the last
// hourlyPoints hours counts as a cycle before too, and there the profile
// need not step sharply: a job at a fixed minute of the hour whose size
// varies (a batch that a cron queues) is above its profile in the hours
// its batch is larger than the median, and held as a spike there, its
// forecast took half the drain's fall where the drain falls in full; and
// a job of five minutes stands above a profile smoothed over minutes in
// each of its samples while the profile rises over several of them, so
// that, forecast five minutes ahead, its last minute was held as a spike
// into the quiet minutes after it. Without a cycle, false.
func (m *Model) profileMissed(s Series, j int) bool {
	lag := int(m.cycle.Period / m.step)
	if lag < 2 {
		return false
	}
	sd := m.spikeSpreadAt(s.Time(j))
	if m.cycles.Has(Hourly) && Hourly%m.step == 0 && Hourly/m.step >= 2 {
		hour := int(Hourly / m.step)
		for k := 1; k <= hourlyPoints; k++ {
			if m.asHighAt(s, j, j-k*hour, sd) {
				return true
			}
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for d := -1; d <= 1; d++ {
		b := m.base(s.Time(j + d))
		lo, hi = min(lo, b), max(hi, b)
	}
	if hi-lo < blurStepK*sd {
		return false
	}
	return m.asHighAt(s, j, j-lag, sd)
}

// asHighAt reports whether a sample of s at index o or either side of it
// was spikeK deviations (sd) above the profile, and sample j is not spikeK
// deviations above it (see Model.profileMissed).
func (m *Model) asHighAt(s Series, j, o int, sd float64) bool {
	for k := o - 1; k <= o+1; k++ {
		if k >= 0 && m.excess(s, k, 0) >= spikeK && (s.Values[j]-s.Values[k])/sd < spikeK {
			return true
		}
	}
	return false
}

// seasonalPeak is the seasonal naive forecast after index i of vals: the
// peak of the lookahead window lag earlier, NaN where lag is not a whole
// number of steps of at least the lookahead, or reaches before vals.
func seasonalPeak(vals []float64, i int, lag, step time.Duration, horizon int) float64 {
	if lag%step != 0 {
		return math.NaN()
	}
	l := int(lag / step)
	if l < horizon || i+1-l < 0 {
		return math.NaN()
	}
	return seasonalNaive(vals, l, horizon)(i)
}

// ForecastSeries fits s and forecasts the window after its end.
func ForecastSeries(s Series, opts Options) (Forecast, error) {
	m, err := Fit(s, opts)
	if err != nil {
		return Forecast{}, err
	}
	return m.Forecast(s)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// corePeak is the peak forecast of the seasonal model alone from the
// samples up to index i of vals (which start at start): the profile's peak
// plus the regression on the recent residual, or, during a level shift in
// progress, plus the whole recent residual; lvl is the level at i
// (Model.levelAt).
func (m *Model) corePeak(start time.Time, vals []float64, i int, lvl float64) float64 {
	t := start.Add(time.Duration(i) * m.step)
	if shift, ok := m.levelShift(start, vals, i, lvl); ok {
		// A level shift in progress: follow it in full, so that a holiday
		// or an outage that outlasts its first hours is neither clipped
		// away nor damped by the regression (fitted on ordinary days).
		return m.basePeak(t) + lvl + m.a + shift
	}
	return m.basePeak(t) + lvl + m.a + m.b*m.recentResidual(start, vals, i)
}

// levelShift reports a level shift in progress: the last shiftN (or more,
// see shiftN) samples all beyond shiftK robust standard deviations from
// the profile on the same side. It returns the unclipped mean residual of
// the recent samples.
func (m *Model) levelShift(start time.Time, vals []float64, i int, lvl float64) (float64, bool) {
	n := max(shiftN, m.recent, m.horizon)
	if i+1 < n {
		return 0, false
	}
	at := func(j int) time.Time { return start.Add(time.Duration(j) * m.step) }
	lim := shiftK * m.resSD
	side := 0
	for j := i - n + 1; j <= i; j++ {
		d := vals[j] - m.base(at(j)) - lvl - m.resMed
		sd := 0
		switch {
		case d > lim:
			sd = 1
		case d < -lim:
			sd = -1
		}
		if sd == 0 || (side != 0 && sd != side) {
			return 0, false
		}
		side = sd
	}
	var sum float64
	for j := i - m.recent + 1; j <= i; j++ {
		sum += vals[j] - m.base(at(j)) - lvl
	}
	return sum / float64(m.recent), true
}

// baseOff returns the base at time t with the profile of the phase off
// later (another day of a weekly profile): the shape of that day, the
// trend of t.
func (m *Model) baseOff(t time.Time, off time.Duration) float64 {
	return m.profile[m.key(t.Add(off))] + m.slope*float64(t.Sub(m.centre))/float64(m.step)
}

// baseOffRange returns the sum and the highest of baseOff(t', off) over
// the n samples t' from t, one step apart (0 and -Inf for none): the same
// values, summed in the same order, without time arithmetic per sample
// when steppedKeys.
func (m *Model) baseOffRange(t time.Time, n int, off time.Duration) (sum, peak float64) {
	peak = math.Inf(-1)
	if !m.steppedKeys() {
		for j := range n {
			b := m.baseOff(t.Add(time.Duration(j)*m.step), off)
			sum += b
			peak = max(peak, b)
		}
		return sum, peak
	}
	k, d := m.key(t.Add(off)), t.Sub(m.centre)
	for j := range n {
		b := m.profile[k] + m.slope*float64(d+time.Duration(j)*m.step)/float64(m.step)
		sum += b
		peak = max(peak, b)
		if k++; k == m.phases {
			k = 0
		}
	}
	return sum, peak
}

// shrunkPoints is the most (sample, window peak) pairs Model.fitShrunk
// fits on: the last selectDays of the history, every k-th pair (all of
// them at a 5-minute step). shrunkTol is the width of the interval of
// slopes the search stops at: 9 medians of up to shrunkPoints values a
// form (fitLAD), two forms. Every other pair at a 5-minute
// step (1,008) took 0.2 ms but moved bursty traces by up to 1.2% either
// way, where they drop half of the bursts (NAB x1.001); a width of 0.01
// moved a counter with resets from 0.386 to 0.436 times the best
// baseline's MAE (a slope off by 0.01 is 10 on a count of 1,000).
//
// shrunkMedianGain is how much less absolute error, over the same pairs,
// the median of the last three samples must make than the latest sample
// for fitShrunk to map it instead. A spike of one sample on a level (a
// CPU's random walk with spikes, a load balancer's bursts) is the latest
// sample once, and the median of three passes it over; after a burst of
// disk writes the latest sample falls away first, and the latest sample
// stays. On two-week synthetic traces of the held-out classes,
// an EC2 CPU walk with 2% spikes 0.963 -> 0.917 and 0.978 -> 0.944 times
// persistence's MAE (0.946 -> 0.949 on a third seed), load balancers
// with 3% spikes 0.802 -> 0.786, 0.884 -> 0.844, 0.728 -> 0.722. At 1%,
// NAB speed_6005 0.839 -> 0.852; at 5%, the first EC2 walk kept only
// 0.956.
//
// fitLAD's bisection on the slope of the sum replaced a golden-section
// search on the sum (14 sums, 9 medians now, with the same width): it
// lands nearer the least sum, and one trace moved by more than 1%, NAB
// grok_asg_anomaly 0.945 -> 0.962 times persistence's MAE (0.962 too at
// a tenth of the width: the golden section's figure was its error's
// luck); speed_t4013 0.810 -> 0.797, the others within 0.005.
const (
	shrunkPoints     = 2016
	shrunkTol        = 0.005
	shrunkMedianGain = 0.02
)

// fitShrunk fits the shrunk baseline: the peak of the
// lookahead window after a sample as a + b times the sample, b in [0, 1],
// by least absolute deviations over the last selectDays of vals (a is the
// median of the peaks less b times the samples). The forecast is scored
// by its absolute error, whose best forecast is the median of the coming
// peak given the latest sample; on bursty demand (disk writes, network
// bytes) that is well under the sample after a burst, where persistence
// forecasts the burst again. It also fits the same on the median of the
// last three samples, and keeps that form where its error is
// shrunkMedianGain less (see shrunkMedian).
//
// Where observed flags the samples (Series.Observed; nil: all observed),
// a pair counts only where its sample was observed and its window holds
// an observed one, whose highest is its peak: a forecast is made from the
// last observed sample and scored on the observed ones, and the values
// filled in a gap, drawn on a line towards the next observed sample, held
// the slope near persistence's. On bursty occupancy with half the rows
// missing, 0.979-0.990 times persistence's MAE before, 0.944-0.953 after
// (TestSyntheticClasses, with fitPeak's same rule).
func (m *Model) fitShrunk(vals []float64, observed []bool) {
	n := len(vals)
	lo := max(0, n-m.horizon-int(selectDays*Day/m.step))
	count := n - m.horizon - lo
	if count < 2 {
		return
	}
	if len(observed) != n {
		observed = nil
	}
	stride := max(1, (count+shrunkPoints-1)/shrunkPoints)
	// xs are the samples, meds the medians of three ending at them, ys
	// the peaks of the windows after them.
	xs := make([]float64, 0, count/stride+1)
	meds := make([]float64, 0, cap(xs))
	ys := make([]float64, 0, cap(xs))
	for i := lo; i+m.horizon < n; i += stride {
		peak := maxOf(vals[i+1 : i+1+m.horizon])
		if observed != nil {
			// With gaps, observed samples only.
			var ok bool
			if peak, ok = observedPeak(vals[i+1:i+1+m.horizon], observed[i+1:i+1+m.horizon]); !ok || !observed[i] {
				continue
			}
		}
		xs = append(xs, vals[i])
		meds = append(meds, medianOfThree(vals, i))
		ys = append(ys, peak)
	}
	if len(xs) < 2 {
		return
	}
	a, b, cost := fitLAD(xs, ys)
	m.shrunkMedian = false
	if am, bm, costm := fitLAD(meds, ys); costm < (1-shrunkMedianGain)*cost {
		a, b, m.shrunkMedian = am, bm, true
	}
	if finite(a) {
		m.shrunkA, m.shrunkB, m.shrunkOK = a, b, true
	}
}

// shrunkInput returns the sample the shrunk baseline maps at index i of
// vals: the sample itself, or the median of the three ending at it (see
// Model.fitShrunk).
func (m *Model) shrunkInput(vals []float64, i int) float64 {
	if m.shrunkMedian {
		return medianOfThree(vals, i)
	}
	return vals[i]
}

// medianOfThree returns the median of vals[i-2], vals[i-1] and vals[i]
// (vals[i] where i < 2).
func medianOfThree(vals []float64, i int) float64 {
	if i < 2 {
		return vals[i]
	}
	a, b, c := vals[i-2], vals[i-1], vals[i]
	return max(min(a, b), min(max(a, b), c))
}

// fitLAD fits y = a + b x with b in [0, 1] by least absolute deviations
// and returns a, b and the summed absolute deviation. For each b the best
// a is the median of y - b x, and the sum is convex in b, its slope
// -sum(x sign(y - b x - a)): a bisection on the sign of that slope over
// [0, 1] to a width of shrunkTol, 9 medians (8 halvings and the last b),
// where a golden-section search on the sum took 14.
func fitLAD(xs, ys []float64) (a, b, cost float64) {
	res := make([]float64, len(xs))
	sorted := make([]float64, len(xs))
	// at returns the slope of the sum at b and the best a there.
	at := func(b float64) (slope, a float64) {
		for i := range xs {
			res[i] = ys[i] - b*xs[i]
		}
		copy(sorted, res)
		a = medianInPlace(sorted)
		for i, r := range res {
			switch {
			case r > a:
				slope -= xs[i]
			case r < a:
				slope += xs[i]
			}
		}
		return slope, a
	}
	lo, hi := 0.0, 1.0
	for hi-lo > shrunkTol {
		mid := (lo + hi) / 2
		// Where the sum is flat, the lower slope, as the sum's minimum
		// nearest 0.
		if slope, _ := at(mid); slope >= 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	b = (lo + hi) / 2
	_, a = at(b)
	for _, r := range res {
		cost += math.Abs(r - a)
	}
	return a, b, cost
}
