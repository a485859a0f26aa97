package predictor

import (
	"cmp"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"
)

// Forecast combination (see Model.combined).
const (
	// combineWindow is the recent past over which the candidate
	// forecasters are scored against what happened.
	combineWindow = 3 * time.Hour
	// combinePoints is how many past forecasts are scored per candidate,
	// spread evenly over combineWindow but at least one step apart (so
	// over six hours at a 30-minute step); where the lookahead is one
	// sample, more where that leaves them less than oneSampleSpan (see
	// Model.scoredPoints).
	combinePoints = 12
	// oneSampleSpan is the least span of the scored forecasts where the
	// lookahead is one sample.
	oneSampleSpan = 6 * time.Hour
	// combinePower weighs each candidate by its recent mean absolute error
	// to this negative power: a candidate twice as accurate as another
	// gets 2^combinePower times its weight.
	combinePower = 3.0
	// noCycleMedianShare is the share of the weighted median in the
	// forecast without a cycle (the rest is the weighted mean). Without a
	// cycle the candidates are all forecasts of a level, and after a spike
	// the ones that chase it (persistence, the envelope) pull a mean up
	// for a while, though the level model alone forecasts better; the
	// median ignores a minority that disagrees. With a cycle the mean's
	// averaging of the shapes is worth more (measured: crane_input1's
	// floors and nyc_taxi's holiday weeks are worse with the median).
	noCycleMedianShare = 0.5
	// combineFloor is added, as a share of the best candidate's recent
	// error, to every candidate's error before weighing, so that a few
	// lucky forecasts do not hand one candidate all the weight.
	combineFloor = 0.1
	// tieShare: without a cycle, candidates whose recent errors are all
	// below this share of how far their forecasts now stray from one
	// another (spreadOf) are tied, and the forecast is their weighted
	// median, their weights evened out by that much error (see
	// Model.weigh).
	tieShare = 0.05
	// noiseShare is the mean absolute value of a normal variable over its
	// standard deviation, sqrt(2/pi): the error that the noise of one
	// sample adds to any forecast of it (see netOfNoise).
	noiseShare = 0.7978845608
	// netFloor is the least share of a candidate's error that netOfNoise
	// leaves it.
	netFloor = 0.1
	// envelopeWindow is the recent past whose lookahead windows' peaks
	// the envelope candidate takes the envelopeQuantile of.
	envelopeWindow   = 2 * time.Hour
	envelopeQuantile = 0.9
	// dayPeaksDays is how many days back the day-peaks candidate takes
	// the median of the lookahead windows' peaks at the same time of day
	// over, and dayPeaksMin the fewest it needs (see combiner.dayPeaks).
	dayPeaksDays = 7
	dayPeaksMin  = 3
	// hourPeaksHours is how many hours back the hour-peaks candidate
	// takes the median of the lookahead windows' peaks at the same minute
	// of the hour over (see combiner.hourPeaks). On 11 hourly probes
	// (see docs/predictor.md), over 12, 24 and 48 hours, mlscale's MAE
	// was 0.804, 0.802 and 0.800 times the best baseline's in geometric
	// mean, against 0.843 without the candidate; 24 is the day over which
	// the forecasts at the same minute are scored (hourlyPoints).
	hourPeaksHours = 24
	// hwOneSampleMax is how many samples of history the Holt-Winters
	// candidate is fitted on where the lookahead is one sample: all of it
	// up to this many, as the backtest's baseline runs over the whole
	// trace (where the lookahead is longer the step is finer, and it takes
	// dailyDays, for speed).
	hwOneSampleMax = 10000
	// phaseSpan is how many strides on each side of the phase one cycle
	// earlier are scored too (see Model.phasePoints), and phasePeriods
	// how many cycles back.
	phaseSpan    = 1
	phasePeriods = 2
	// phaseKeep is how long after each phase point of the end of the
	// fitted history the Holt-Winters candidate's forecasts are kept, so
	// that the forecasts of that long after the fit can score it at their
	// phase points (the backtest refits daily, the predictor hourly).
	phaseKeep = Day
	// hourlyPoints is how many hours back the forecasts made at the same
	// minute of the hour are scored where an hourly cycle was found (see
	// Model.hourPoints).
	hourlyPoints = 24
	// hwStartSamples is how many changes between samples, at most,
	// hwStartDev takes the median of.
	hwStartSamples = 256
	// hwClipK bounds the robust Holt-Winters filter's one-step errors, in
	// running error scales (see holtWinters.updateRobust).
	hwClipK = 200.0
	// missedAlikeK: see missedAlike.
	missedAlikeK = 1000.0
)

// hwFit is a Holt-Winters filter (a daily season, as the backtest's
// baseline), its state after the last sample fitted and the forecasts it
// keeps. Unlike the backtest's baseline it is robust: each sample is
// brought within hwClipK running error scales of its one-step forecast
// (see holtWinters.updateRobust), so that a glitch does not come back a
// day later through the season. The candidate (Model.hw) has its
// smoothing parameters chosen on the last dailyDays of the fitted
// history (on up to hwOneSampleMax samples of it where the lookahead is
// one sample; it needs three days: two to start, one to choose them on)
// and runs over those; the baseline (Model.hwBase) has the same
// parameters and runs over the whole history.
type hwFit struct {
	holtWinters
	st hwState
	// endK is the season index of the last sample fitted.
	endK int
	// kept are the peak forecasts kept, after the samples of spans of the
	// fitted history, and points those after single samples (see hwPoints).
	kept   []hwSpan
	points hwPoints
	// rate is the weight of each error in the running scale st.dev (see
	// holtWinters.updateRobust).
	rate float64
}

// hwStartDev is the robust filter's first error scale: the median
// absolute change between consecutive samples of v (its first two
// periods), or a millionth of their largest magnitude where that is 0.
func hwStartDev(v []float64) float64 {
	// At most hwStartSamples changes, evenly spread: the median of a few
	// hundred is as good a scale, without a copy of two days.
	var d [hwStartSamples]float64
	n, every := 0, max(1, (len(v)-1+hwStartSamples-1)/hwStartSamples)
	big := 0.0
	for i := 1; i < len(v); i++ {
		big = max(big, math.Abs(v[i]))
		if (i-1)%every == 0 && n < len(d) {
			d[n] = math.Abs(v[i] - v[i-1])
			n++
		}
	}
	return max(medianInPlace(d[:n]), 1e-6*big, 1e-12)
}

// hwDevRate is the weight of each error in the robust filter's running
// scale at a period of p samples: an hour's worth of samples (at most 60,
// at least 4) make up most of it.
func hwDevRate(p int) float64 {
	return 1 / float64(min(60, max(4, p/24)))
}

// hwSpan are peak forecasts after every every-th sample of the fitted
// history, the first after the sample from samples from its last one
// (from <= 0; 0 is the last).
type hwSpan struct {
	from, every int
	vals        []float64
}

// hwPoints are peak forecasts after single samples of the fitted history,
// at offsets from its last one (at most 0, ascending).
type hwPoints struct {
	at   []int
	vals []float64
}

// at returns the kept forecast after the sample o samples from the last
// fitted one (o <= 0), NaN where none was kept.
func (f *hwFit) at(o int) float64 {
	for _, s := range f.kept {
		if k := o - s.from; k >= 0 && k%s.every == 0 && k/s.every < len(s.vals) {
			return s.vals[k/s.every]
		}
	}
	if k, ok := slices.BinarySearch(f.points.at, o); ok {
		return f.points.vals[k]
	}
	return math.NaN()
}

// chooseHW returns the Holt-Winters candidate's smoothing parameters for
// s (see hwFit), and false where s is shorter than three days or a day is
// not a whole number of steps. It only reads s: fit runs it beside the
// rest of the fit, which does not need it until the end.
func chooseHW(s Series, horizon int) (holtWinters, bool) {
	p := int(Day / s.Step)
	if p < 2 || Day%s.Step != 0 || s.Len() < 3*p {
		return holtWinters{}, false
	}
	v := s.Values[max(0, s.Len()-hwFitSamples(s.Step, horizon)):]
	best, bestSSE := hwGrid[0], math.Inf(1)
	gridSSE(v, p, func(k int, sse float64) float64 {
		if sse < bestSSE {
			best, bestSSE = hwGrid[k], sse
		}
		return bestSSE
	})
	best.period = p
	return best, true
}

// hwFitSamples is how many of the latest samples chooseHW chooses the
// parameters on.
func hwFitSamples(step time.Duration, horizon int) int {
	n := dailyDays(step) * int(Day/step)
	if horizon == 1 {
		n = max(n, hwOneSampleMax)
	}
	return n
}

// runHW runs the Holt-Winters filter with the parameters best (from
// chooseHW) over the end of s, keeping the peak forecasts after the
// samples of each span [lo, hi] of keep and after the samples points
// (offsets from the last sample, at most 0; points ascending).
func runHW(s Series, horizon int, best holtWinters, keep [][2]int, points []int) *hwFit {
	p := best.period
	// The chosen filter runs over enough history to keep what is asked.
	need := min(s.Len(), hwFitSamples(s.Step, horizon))
	for _, r := range keep {
		need = max(need, 2*p+1-r[0])
	}
	if len(points) > 0 {
		need = max(need, 2*p+1-points[0])
	}
	return filterHW(s.Values[max(0, s.Len()-need):], horizon, best, keep, 1, points)
}

// filterHW runs the Holt-Winters filter with the parameters best over all
// of v (started on its first two periods), keeping the peak forecasts
// after the samples of each span of keep (as runHW) that are a multiple
// of every samples before its end (every sample where every is 1), and
// after the samples points (as runHW); nil where v is shorter than two
// periods.
func filterHW(v []float64, horizon int, best holtWinters, keep [][2]int, every int, points []int) *hwFit {
	p := best.period
	if p <= 0 || len(v) < 2*p {
		return nil
	}
	f := &hwFit{holtWinters: best, st: best.start(v), endK: (len(v) - 1) % p}
	f.st.dev = hwStartDev(v[:2*p])
	f.rate = hwDevRate(p)
	f.kept = make([]hwSpan, len(keep))
	if len(points) > 0 {
		f.points = hwPoints{at: points, vals: make([]float64, len(points))}
	}
	next := 0 // the first of points not yet passed
	for i := 2 * p; i < len(v); i++ {
		best.updateRobust(&f.st, v[i], i%p, f.rate)
		o := i - (len(v) - 1)
		for next < len(points) && points[next] < o {
			f.points.vals[next] = math.NaN() // before the filter started
			next++
		}
		if next < len(points) && points[next] == o {
			f.points.vals[next] = f.st.peak(i%p, horizon)
			next++
		}
		for k, r := range keep {
			if o < r[0] || o > r[1] || (r[1]-o)%every != 0 {
				continue
			}
			if f.kept[k].vals == nil {
				f.kept[k] = hwSpan{from: o, every: every, vals: make([]float64, 0, (r[1]-o)/every+1)}
			}
			f.kept[k].vals = append(f.kept[k].vals, f.st.peak(i%p, horizon))
		}
	}
	return f
}

// withHWOver returns m, or a copy of it whose Holt-Winters candidate
// keeps its forecasts after the samples of s (scaled, as m fits) that the
// forecasts at indices first and later score, up to the end of m's fit,
// and whose Holt-Winters baseline (Model.hwBase) keeps its forecasts after
// the samples last, last-every, ... down to first (those Selector.Seed
// replays).
// The fit keeps only those its live forecasts score (Model.hwKeep); a
// replay over the history in-sample (Selector.Seed) would otherwise weigh
// the mixture without one of its candidates.
func (m *Model) withHWOver(s Series, first, last, every int) *Model {
	if m.hw == nil || s.Step != m.step {
		return m
	}
	d := m.end.Sub(s.Start)
	if d < 0 || d%m.step != 0 {
		return m
	}
	e := int(d / m.step)
	if e >= s.Len() {
		return m
	}
	// The candidate's forecasts after the samples that the replayed
	// forecasts score (a few thousand of a week's ten thousand at a
	// one-minute step), those the fit covers.
	var at []int
	for j := last; j >= first; j -= max(1, every) {
		at = m.scoredIndices(j, at)
	}
	slices.Sort(at)
	at = slices.Compact(at)
	lo, _ := slices.BinarySearch(at, 0)
	hi, _ := slices.BinarySearch(at, e+1)
	at = at[lo:hi]
	for k := range at {
		at[k] -= e
	}
	c := *m
	c.hw = runHW(s.Slice(0, e+1), m.horizon, m.hw.holtWinters, nil, at)
	if m.hwBase != nil {
		// The baseline at the replayed forecasts themselves: last,
		// last-every, ... that the fit covers (those after it run on from
		// its end; see Model.hwPeaks).
		every = max(1, every)
		hi := last
		if hi > e {
			hi -= (hi - e + every - 1) / every * every
		}
		c.hwBase = filterHW(s.Values[:e+1], m.horizon, m.hw.holtWinters, [][2]int{{max(0, first) - e, hi - e}}, every, nil)
	}
	return &c
}

// hwPeaks returns the peak forecasts of hw (the Holt-Winters candidate,
// m.hw, or baseline, m.hwBase) after the samples lo..i of vals (which
// start at start) and after the samples extraAt, NaN where it has none:
// those up to the end of the fitted history from the fit, those after it
// by running the fitted filter on over vals.
func (m *Model) hwPeaks(hw *hwFit, start time.Time, vals []float64, lo, i int, extraAt []int) ([]float64, []float64) {
	out := make([]float64, i-lo+1)
	for k := range out {
		out[k] = math.NaN()
	}
	extra := make([]float64, len(extraAt))
	for k := range extra {
		extra[k] = math.NaN()
	}
	if hw == nil {
		return out, extra
	}
	d := m.end.Sub(start)
	if d%m.step != 0 {
		return out, extra
	}
	e := int(d / m.step) // the index of the last fitted sample in vals
	for j := lo; j <= min(i, e); j++ {
		out[j-lo] = hw.at(j - e)
	}
	for k, j := range extraAt {
		if j <= e {
			extra[k] = hw.at(j - e)
		}
	}
	if i <= e || e < 0 {
		return out, extra
	}
	st := hwState{level: hw.st.level, trend: hw.st.trend, season: slices.Clone(hw.st.season), dev: hw.st.dev}
	p := hw.period
	for j := e + 1; j <= i; j++ {
		k := (hw.endK + j - e) % p
		hw.updateRobust(&st, vals[j], k, hw.rate)
		if j >= lo {
			out[j-lo] = st.peak(k, m.horizon)
		}
		if x := slices.Index(extraAt, j); x >= 0 {
			extra[x] = st.peak(k, m.horizon)
		}
	}
	return out, extra
}

// ratio returns x/b bounded to [0, maxRatio], or NaN when b is not positive.
func ratio(x, b float64) float64 {
	if !(b > 0) || !finite(x) {
		return math.NaN()
	}
	return math.Max(0, math.Min(maxRatio, x/b))
}

// combiner scores the candidates of one forecast.
type combiner struct {
	m     *Model
	start time.Time
	vals  []float64
	// hw are the Holt-Winters candidate's forecasts after samples hwLo
	// to hwHi; nil until a candidate needs them (see loadHW), as where
	// the memo holds every index scored they are not needed.
	hw         []float64
	hwLo, hwHi int
	// hwExtra are its forecasts after the samples hwExtraAt (the phase
	// points, before hwLo).
	hwExtra   []float64
	hwExtraAt []int
	// buf is scratch space for the envelope, dayBuf for the day peaks.
	buf, dayBuf []float64
	// memo keeps the candidates' forecasts by index across the forecasts
	// of one model over one history (see candidateMemo); nil keeps
	// nothing.
	memo *candidateMemo
}

// candidateMemo holds the candidates' forecasts (combiner.candidates) by
// index, for many forecasts by one model over one history, or over
// prefixes of one series: Selector.Seed's and preferShapes' replays, and
// the backtest's forecasts between two fits. Such forecasts score many of
// the same past indices: Selector.Seed's forecasts, about an hour apart
// (60 samples at a one-minute step, a multiple of the 15 between scored
// forecasts), each score twelve past forecasts fifteen samples apart and
// the phase points a cycle earlier, which the forecasts an hour and a day
// before scored too: about five of the nineteen candidate sets a forecast
// scores are computed; the backtest's, one sample apart, score each index
// about a dozen times. A candidate's forecast at an index depends only on the model and
// on the samples up to that index, so it is computed once; so is the peak
// of each lookahead window (see combiner.window), which the envelope, the
// day peaks and the analogues read for many indices.
type candidateMemo struct {
	byIndex map[int][]float64
	// peak and arg are the window ending at each sample's peak and the
	// first sample at it (arg -1: not yet computed).
	peak []float64
	arg  []int32
}

// newCandidateMemo returns an empty candidateMemo.
func newCandidateMemo() *candidateMemo {
	return &candidateMemo{byIndex: map[int][]float64{}}
}

// window returns the peak of the lookahead window ending at sample hi of
// c.vals (the horizon samples up to it; hi-horizon+1 >= 0), the first
// of them at the peak as Model.windowPeak finds it, and the peak as a
// running max over the window finds it, from the memo where there is one.
func (c *combiner) window(hi int) (peak float64, arg int) {
	w := c.memo
	if w != nil && hi < len(w.arg) && w.arg[hi] >= 0 {
		return w.peak[hi], int(w.arg[hi])
	}
	peak, arg = math.Inf(-1), -1
	for j := hi - c.m.horizon + 1; j <= hi; j++ {
		v := c.vals[j]
		peak = max(peak, v)
		if arg < 0 || v > c.vals[arg] {
			arg = j
		}
	}
	if w != nil {
		if n := len(c.vals); n > len(w.arg) {
			old := len(w.arg)
			w.peak = append(w.peak, make([]float64, n-old)...)
			w.arg = append(w.arg, make([]int32, n-old)...)
			for k := old; k < n; k++ {
				w.arg[k] = -1
			}
		}
		w.peak[hi], w.arg[hi] = peak, int32(arg)
	}
	return peak, arg
}

// lagged returns the peak of the lookahead window after sample i of c.vals
// lag earlier (see seasonalPeak), from combiner.window.
func (c *combiner) lagged(i int, lag time.Duration) float64 {
	m := c.m
	if lag%m.step != 0 {
		return math.NaN()
	}
	l := int(lag / m.step)
	if l < m.horizon || i+1-l < 0 {
		return math.NaN()
	}
	peak, _ := c.window(i + m.horizon - l)
	return peak
}

func (c *combiner) at(j int) time.Time { return c.start.Add(time.Duration(j) * c.m.step) }

// loadHW computes the Holt-Winters candidate's forecasts after the samples
// hwLo to hwHi and hwExtraAt, once (see Model.hwPeaks): after the end of
// the fitted history it runs the fitted filter on over the samples, which
// in a backtest is up to a day of them per forecast.
func (c *combiner) loadHW() {
	if c.hw == nil {
		c.hw, c.hwExtra = c.m.hwPeaks(c.m.hw, c.start, c.vals, c.hwLo, c.hwHi, c.hwExtraAt)
	}
}

// hwAt returns the Holt-Winters candidate's forecast after sample i (one
// of the combiner's: its hwLo to hwHi or hwExtraAt), NaN where it has
// none: up to the end of the fitted history the one the fit kept, read
// alone (a replay of the history, as Selector.Seed's, needs a dozen of
// the hundreds between hwLo and hwHi), after it from loadHW.
func (c *combiner) hwAt(i int) float64 {
	m := c.m
	if m.hw == nil {
		return math.NaN()
	}
	d := m.end.Sub(c.start)
	if d%m.step != 0 {
		return math.NaN()
	}
	if e := int(d / m.step); i <= e {
		return m.hw.at(i - e)
	}
	c.loadHW()
	if k := i - c.hwLo; k >= 0 && k < len(c.hw) {
		return c.hw[k]
	}
	if x := slices.Index(c.hwExtraAt, i); x >= 0 {
		return c.hwExtra[x]
	}
	return math.NaN()
}

// candidates appends to out[:0] the peak forecast of each candidate
// forecaster from the samples up to index i, NaN where one has too little
// history; the number and order of candidates depend on the model only.
// They are:
//   - the seasonal model alone (corePeak), or the level model without a
//     cycle;
//   - with a cycle, the profile of each day of the cycle (one for a daily
//     cycle, seven for a weekly one) scaled by the ratio of the last
//     profileScaleWindow's samples to that profile's values at the same
//     times, so that a holiday that looks like a Sunday is forecast like
//     one, and a lull that halves demand halves the morning rise too;
//   - the samples one day and one week earlier, scaled by the ratio of
//     the smoothing window's samples to theirs, which follow a shape the
//     profile has not learned (the second day of a holiday stretch, say),
//     and as they were (the seasonal naive baselines; the week-ago one
//     only without a weekly cycle, where it is the one candidate that
//     knows weekends, as with a weekly cycle it would carry a holiday
//     into the week after it);
//   - the recent level plus half its latest change, for the hours that
//     follow no shape at all (the night of New Year's Eve), and the
//     latest sample as it is (the persistence baseline);
//   - Holt-Winters with a daily season (see hwFit), the backtest's
//     strongest baseline on smooth traces;
//   - the recent-peak envelope: the envelopeQuantile of the peaks of the
//     lookahead windows over the last envelopeWindow, the forecast of a
//     window's peak for a signal that flaps within minutes;
//   - with a daily or weekly cycle, or none, and a lookahead of more
//     than one sample, the day peaks: the median of the same window's peaks on
//     each of the last dayPeaksDays days of the same kind (see
//     combiner.dayPeaks);
//   - with an hourly cycle and a lookahead of more than one sample and
//     less than an hour, the hour peaks: the median of the same window's
//     peaks at the same minute of each of the last hourPeaksHours hours
//     (see combiner.hourPeaks).
//
// A glitch (see combiner.glitchRun) is not demand: the recent samples read
// it as the higher of its neighbours once a sample has followed it, the
// envelope too, the window a day or a week earlier as it was is capped
// where its peak is one, and the Holt-Winters filter is robust (hwFit).
// Forecasts below 0 are left as they are: held at 0, they moved as many
// traces the one way as the other.
func (c *combiner) candidates(i int, out []float64) []float64 {
	if c.memo != nil {
		if f, ok := c.memo.byIndex[i]; ok {
			return append(out[:0], f...)
		}
	}
	out = c.compute(i, out)
	if c.memo != nil {
		c.memo.byIndex[i] = slices.Clone(out)
	}
	return out
}

// compute is candidates without the memo.
func (c *combiner) compute(i int, out []float64) []float64 {
	m, vals := c.m, c.vals
	lvl := m.levelAt(vals, i)
	out = append(out[:0], m.corePeak(c.start, vals, i, lvl))
	lo := i - m.recent + 1
	x := c.recentSum(max(0, lo), i, i, lvl)
	out = c.profiles(i, lvl, out)
	out, unlikeDay := c.analogues(i, lo, x, lvl, out)
	// Persistence with half the latest change over one lookahead.
	if y0 := lo - m.horizon; y0 >= 0 {
		y := c.recentSum(y0, i-m.horizon, i, lvl)
		out = append(out, (x+persistTrend*(x-y))/float64(m.recent))
	} else {
		out = append(out, math.NaN())
	}
	out = append(out, vals[i])
	// Holt-Winters's season is the days before's, blind to the calendar.
	hw := c.hwAt(i)
	if unlikeDay {
		hw = math.NaN()
	}
	out = append(out, hw)
	out = append(out, c.envelope(i, lvl))
	if m.dayPeaksOn() {
		out = append(out, c.dayPeaks(i))
	}
	if m.hourPeaksOn() {
		out = append(out, c.hourPeaks(i))
	}
	return out
}

// hourPeaksOn reports whether the model has the hour-peaks candidate:
// with an hourly cycle (a job at fixed minutes of every hour), a step
// that divides the hour and a lookahead of more than one sample and less
// than an hour.
func (m *Model) hourPeaksOn() bool {
	return m.horizon > 1 && m.cycles.Has(Hourly) && Hourly%m.step == 0 && int(Hourly/m.step) > m.horizon
}

// hourPeaks returns the median of the peaks of the lookahead window after
// index i at the same minute of each of the last hourPeaksHours hours, NaN
// with fewer than dayPeaksMin of them: the day peaks (combiner.dayPeaks)
// of an hourly job. The windows an hour earlier carry that hour's noise;
// their median over a day is the job's peak at that minute without it,
// and a day of history holds 24 of them where the day peaks need three
// days for three.
func (c *combiner) hourPeaks(i int) float64 {
	c.dayBuf = c.dayBuf[:0]
	for d := 1; d <= hourPeaksHours; d++ {
		if peak := c.lagged(i, time.Duration(d)*Hourly); !math.IsNaN(peak) {
			c.dayBuf = append(c.dayBuf, peak)
		}
	}
	if len(c.dayBuf) < dayPeaksMin {
		return math.NaN()
	}
	return medianInPlace(c.dayBuf)
}

// dayPeaksOn reports whether the model has the day-peaks candidate: with
// a daily or weekly cycle (or an hourly one, whose profile is daily), or
// none, and a lookahead of more than one sample and less than a day. Where
// the lookahead is one sample, the median of a phase's last samples is
// what the profile is already, and the candidate only added noise to the
// weights: a noisy hourly sine went from 0.992-1.000 to 0.999-1.025 times
// Holt-Winters's MAE, and the same at 30 minutes. Without a cycle the
// median of the last days' window peaks is a forecast of the typical
// window peak that a burst on one day does not move, and a job at the same
// time on most days does: on the 109 probe traces of docs/predictor.md the
// geometric mean of mlscale's MAE over the best baseline's fell on every
// set, and NAB's art_load_balancer_spikes went from 1.007 to 0.993.
func (m *Model) dayPeaksOn() bool {
	return m.horizon > 1 && (m.cycle.Period == Day || m.cycle.Period == Week || m.cycle.Period == 0) &&
		Day%m.step == 0 && int(Day/m.step) > m.horizon
}

// dayPeaks returns the median of the peaks of the lookahead window after
// index i on each of the last dayPeaksDays days of the same kind, NaN
// with fewer than dayPeaksMin of them. Under noise the window's peak a day
// earlier (a baseline) carries that day's noise, and the seasonal model's
// peak is its profile, a median of the samples, plus one excess fitted
// over every time of day. On whole numbers of busy workers (1 to 5 over a
// day, noise of 0.3 before rounding) the peak of 15 minutes is one worker
// over the profile at some times of day and none at others. The median of
// the window peaks over a week is that peak at each time of day, without
// one day's noise (see docs/predictor.md for the figures).
//
// The days of the same kind: with business hours, those whose window is
// on the same side of them (a Saturday's window is not a Friday's);
// without, under a weekly cycle, the weekdays for a weekday and the
// weekend days (UTC, as the weekly profile) for a weekend day, looked for
// over twice as many days back.
func (c *combiner) dayPeaks(i int) float64 {
	m := c.m
	l := int(Day / m.step)
	back := dayPeaksDays
	weekends := m.cycle.Period == Week && m.opts.BusinessHours == nil
	if weekends {
		back *= 2
	}
	c.dayBuf = c.dayBuf[:0]
	for d := 1; d <= back && i-d*l >= 0 && len(c.dayBuf) < dayPeaksDays; d++ {
		o := i - d*l
		if weekends && weekend(c.at(i+1)) != weekend(c.at(o+1)) {
			continue
		}
		if !c.sameHours(i, o) {
			continue
		}
		if peak := c.lagged(i, time.Duration(d)*Day); !math.IsNaN(peak) {
			c.dayBuf = append(c.dayBuf, peak)
		}
	}
	if len(c.dayBuf) < dayPeaksMin {
		return math.NaN()
	}
	return medianInPlace(c.dayBuf)
}

// sameHours reports whether the lookahead windows after indices i and o
// are on the same side of the business hours at every sample (true
// without business hours).
func (c *combiner) sameHours(i, o int) bool {
	bh := c.m.opts.BusinessHours
	for h := 1; bh != nil && h <= c.m.horizon; h++ {
		if bh.Contains(c.at(i+h)) != bh.Contains(c.at(o+h)) {
			return false
		}
	}
	return true
}

// weekend reports whether t falls on a Saturday or a Sunday, UTC.
func weekend(t time.Time) bool {
	wd := t.UTC().Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// profileDays is the number of per-day profile candidates: one for a
// daily cycle, seven for a weekly one, none without a cycle.
func (m *Model) profileDays() int {
	switch m.cycle.Period {
	case Day:
		return 1
	case Week:
		return 7
	}
	return 0
}

// profiles appends the per-day profile candidates (none without a cycle),
// each scaled by the ratio of the last profileScaleWindow's samples to its
// values at the same times. The profile is a smooth shape: scaled by one
// noisy sample (the smoothing window at a 5-minute step), it would carry
// that sample's noise into the whole window's forecast. A change of level
// within the window is followed sooner by the level, persistence and
// envelope candidates.
func (c *combiner) profiles(i int, lvl float64, out []float64) []float64 {
	m := c.m
	if m.profileDays() == 0 {
		return out
	}
	lo := max(0, i-m.profileN+1)
	x := c.recentSum(lo, i, i, lvl)
	for d := range m.profileDays() {
		off := time.Duration(d) * Day
		b, _ := m.baseOffRange(c.at(lo), i-lo+1, off)
		_, peak := m.baseOffRange(c.at(i+1), m.horizon, off)
		out = append(out, ratio(x, b)*peak+m.a)
	}
	return out
}

// analogues appends the windows a day and a week earlier scaled to the
// recent samples (a one-off peak in them capped, see Model.oneOffCapped),
// and as they were (the week-ago one without a weekly cycle only); x is
// the sum of the samples lo..i, lvl the level at i. It also reports whether the calendar tells the
// window from the one a day earlier (business hours on one of them only).
func (c *combiner) analogues(i, lo int, x, lvl float64, out []float64) ([]float64, bool) {
	m, vals := c.m, c.vals
	var raw [2]float64
	unlikeDay := false
	// The history as a series, for the one-off test (Model.oneOffCapped).
	s := Series{Start: c.start, Step: m.step, Values: vals}
	for n, lag := range []time.Duration{Day, Week} {
		l := int(lag / m.step)
		unlike := false
		// The keys can differ only under a daily cycle (without a cycle
		// every key is 0; under a weekly one the windows are never held
		// out) and then only by business hours or where the step does
		// not divide the lag (l steps are not the lag).
		calendar := m.phases != 0 && m.cycle.Period == Day && (m.opts.BusinessHours != nil || lag%m.step != 0)
		for h := 1; calendar && h <= m.horizon; h++ {
			unlike = unlike || m.key(c.at(i+h)) != m.key(c.at(i+h-l))
		}
		if lag == Day {
			unlikeDay = unlike && m.cycle.Period != Week
		}
		raw[n] = math.NaN()
		if lo-l < 0 || l <= m.horizon {
			out = append(out, math.NaN())
			continue
		}
		var b float64
		for j := lo; j <= i; j++ {
			b += vals[j-l]
		}
		peak, at := c.window(i + m.horizon - l)
		if unlike && m.cycle.Period != Week {
			// The calendar tells this window from the one a lag earlier:
			// not an analogue.
			peak = math.NaN()
		}
		raw[n] = peak
		if finite(peak) {
			capped := m.oneOffCapped(s, at, i-2*l, lvl, peak)
			if capped < peak {
				if _, _, g := c.glitchRun(at, i, lvl); g {
					// A one-off, and a glitch: as it was, capped too.
					raw[n] = capped
				}
			}
			peak = capped
		}
		out = append(out, ratio(x, b)*peak)
	}
	if m.cycle.Period == Week {
		// The weekly profile and the scaled week-ago window know the
		// week's shape; the week-ago window as it was would carry a
		// holiday into the week after it.
		raw[1] = math.NaN()
	}
	return append(out, raw[0], raw[1]), unlikeDay
}

// envelope returns the envelopeQuantile of the peaks of the lookahead
// windows over the last envelopeWindow up to index i; lvl is the level at
// i. A glitch (see combiner.glitchRun) is read as the higher of the
// samples either side: one or two samples are no flapping, and the
// quantile of eight windows' peaks is a third of the way to the highest,
// a third of a million on demand of ten.
func (c *combiner) envelope(i int, lvl float64) float64 {
	m := c.m
	h := m.horizon
	n := max(1, int(envelopeWindow/(time.Duration(h)*m.step)))
	// top is the highest sample, the first of them with the latest window
	// first: a glitch is the only one or two samples far above the level,
	// so the highest (see combiner.topThree).
	top0, nan := -1, false
	c.buf = c.buf[:0]
	for w := range n {
		hi := i - w*h
		if hi-h+1 < 0 {
			break
		}
		peak, arg := c.window(hi)
		nan = nan || math.IsNaN(peak)
		if top0 < 0 || peak > c.vals[top0] {
			top0 = arg
		}
		c.buf = append(c.buf, peak)
	}
	if len(c.buf) == 0 {
		return math.NaN()
	}
	var top [3]int
	if nan {
		// A NaN sample ranks as topThree has it.
		top = c.topThree(i, len(c.buf))
		top0 = top[0]
	}
	if lo, hi, ok := c.glitchRun(top0, i, lvl); ok {
		if !nan {
			top = c.topThree(i, len(c.buf))
		}
		t := c.at(i + 1)
		bound := m.base(t) + lvl + m.resMed + glitchK*m.spikeSpreadAt(t)
		rest := -1
		for _, j := range top {
			if j >= 0 && (j < lo || j > hi) {
				rest = j
				break
			}
		}
		if rest < 0 || c.vals[rest] <= bound {
			// The windows over the run, with it read as its neighbours.
			fill := max(c.vals[lo-1], c.vals[hi+1])
			for w := range c.buf {
				end := i - w*h
				if end < lo || end-h+1 > hi {
					continue
				}
				peak := math.Inf(-1)
				for j := end - h + 1; j <= end; j++ {
					v := c.vals[j]
					if j >= lo && j <= hi {
						v = fill
					}
					peak = max(peak, v)
				}
				c.buf[w] = peak
			}
		}
	}
	slices.Sort(c.buf)
	pos := envelopeQuantile * float64(len(c.buf)-1)
	k := int(pos)
	if k+1 >= len(c.buf) {
		return c.buf[len(c.buf)-1]
	}
	return c.buf[k] + (pos-float64(k))*(c.buf[k+1]-c.buf[k])
}

// topThree returns the three highest samples of the n lookahead windows
// up to index i, highest first (-1: none), scanning the latest window
// first and each from its first sample: of equal samples, the first
// scanned ranks higher.
func (c *combiner) topThree(i, n int) [3]int {
	h := c.m.horizon
	top := [3]int{-1, -1, -1}
	for w := range n {
		for j := i - w*h - h + 1; j <= i-w*h; j++ {
			v := c.vals[j]
			for k := range top {
				if top[k] < 0 || v > c.vals[top[k]] {
					copy(top[k+1:], top[k:len(top)-1])
					top[k] = j
					break
				}
			}
		}
	}
	return top
}

// glitchRun reports whether sample j is part of a glitch rather than
// demand, and the run of samples lo..hi it is: one or two samples, each
// glitchK robust deviations or more above the profile and the level lvl
// and as far above the higher of the samples either side of the run,
// the run ending before sample i (the latest known; it may start a burst
// that goes on). A scrape that read a million on demand of ten is one; a
// burst, which rises and falls over more samples, is not.
func (c *combiner) glitchRun(j, i int, lvl float64) (lo, hi int, ok bool) {
	for _, r := range [3][2]int{{j, j}, {j - 1, j}, {j, j + 1}} {
		lo, hi := r[0], r[1]
		if lo < 1 || hi+1 > i || hi+1 >= len(c.vals) {
			continue
		}
		next := max(c.vals[lo-1], c.vals[hi+1])
		ok := true
		for k := lo; k <= hi && ok; k++ {
			ok = c.m.farAbove(c.vals, c.start, k, next, lvl)
		}
		if ok {
			return lo, hi, true
		}
	}
	return 0, 0, false
}

// farAbove reports whether sample j of vals (which start at start) is
// glitchK robust deviations or more above next and above the profile and
// the level lvl.
func (m *Model) farAbove(vals []float64, start time.Time, j int, next, lvl float64) bool {
	v := vals[j]
	if !(v-next > m.glitchMin) {
		return false
	}
	t := start.Add(time.Duration(j) * m.step)
	far := glitchK * m.spikeSpreadAt(t)
	return v-next > far && v > m.base(t)+lvl+m.resMed+far
}

// recentSum returns the sum of the samples lo to hi (at most i, the
// latest), a glitch before i (see combiner.glitchRun) read as the higher
// of the samples either side of it; lvl is the level at i. The latest
// sample is taken as it is: it may start a burst (see
// Model.forecastScaled).
func (c *combiner) recentSum(lo, hi, i int, lvl float64) float64 {
	vals, least := c.vals, c.m.glitchMin
	var x float64
	for j := lo; j <= hi; j++ {
		v := vals[j]
		// Most samples are not that far above a neighbour: the whole
		// test only for those that are.
		if j > 0 && j < i && v-min(vals[j-1], vals[j+1]) > least {
			if rlo, rhi, ok := c.glitchRun(j, i, lvl); ok {
				v = max(vals[rlo-1], vals[rhi+1])
			}
		}
		x += v
	}
	return x
}

// spreadOf returns the mean absolute deviation of the competing
// candidates' forecasts from their median.
func spreadOf(now []float64, n []int) float64 {
	var xs []float64
	for c, f := range now {
		if n[c] > 0 && finite(f) {
			xs = append(xs, f)
		}
	}
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	med := xs[len(xs)/2]
	var d float64
	for _, x := range xs {
		d += math.Abs(x - med)
	}
	return d / float64(len(xs))
}

// weightedMedian returns the weighted median of the forecasts f with
// weights w (those with a positive weight only).
func weightedMedian(f, w []float64) float64 {
	type point struct{ f, w float64 }
	var ps []point
	for c := range f {
		if w[c] > 0 && finite(f[c]) {
			ps = append(ps, point{f[c], w[c]})
		}
	}
	if len(ps) == 0 {
		return f[0]
	}
	slices.SortFunc(ps, func(a, b point) int { return cmp.Compare(a.f, b.f) })
	xs, ws := make([]float64, len(ps)), make([]float64, len(ps))
	for k, p := range ps {
		xs[k], ws[k] = p.f, p.w
	}
	return stat.Quantile(0.5, stat.Empirical, xs, ws)
}

// shareProfiles scales the weights w of the candidates (zero for those
// that do not compete; errs are their recent mean absolute errors) so that
// the per-day profile candidates, w[1:1+days], together weigh as much as
// the best of them, unless one of them has the least recent error of all.
// With a weekly cycle the seven profiles mostly agree (the weekdays share
// a shape): counted as seven voices, they would outweigh a candidate that
// forecasts better than any of them, as persistence does on bursty
// demand. While one of them is the best (a holiday that looks like a
// Sunday, an ordinary day), they keep their weights.
func shareProfiles(w, errs []float64, days int) {
	if days < 2 {
		return
	}
	family, others := math.Inf(1), math.Inf(1)
	for c, e := range errs {
		switch {
		case w[c] == 0:
		case c >= 1 && c <= days:
			family = min(family, e)
		default:
			others = min(others, e)
		}
	}
	if family < others {
		return
	}
	var top, total float64
	for _, x := range w[1 : 1+days] {
		top, total = max(top, x), total+x
	}
	if total > 0 {
		for c := 1; c <= days; c++ {
			w[c] *= top / total
		}
	}
}

// agreed returns the forecast that two or more of the candidates f make
// exactly alike while together holding more than half the weight w (the
// weighted median then), and whether there is one. Exact agreement is
// what a clipped signal gives: idle demand, where most candidates forecast
// zero after a burst that none of them saw coming, or CPU pinned at 100%.
// A weighted mean would hand a share of that forecast to the minority that
// chases the burst (the envelope for two hours after it, the day-ago
// window a day later), though the majority has forecast as well as it.
func agreed(f, w []float64) (float64, bool) {
	var total float64
	for c := range f {
		if w[c] > 0 {
			total += w[c]
		}
	}
	for c := range f {
		if !(w[c] > 0) {
			continue
		}
		same, n := 0.0, 0
		for d := range f {
			if w[d] > 0 && f[d] == f[c] {
				same += w[d]
				n++
			}
		}
		if n >= 2 && same > total/2 {
			return f[c], true
		}
	}
	return 0, false
}

// netOfNoise takes noise, the error that a sample's own noise adds to
// any forecast of it, off the mean errors of the candidates that were
// scored (n[c] > 0), leaving each at least netFloor of its error, and
// returns the least of them. Where the lookahead is one sample, that
// noise is most of every candidate's error (on the hourly sine of the
// tests, the candidates' errors are 1.2 to 2.2 times it), and errors
// that differ by a few tenths weigh alike at the power combinePower: the
// noisier candidates held more than half the weight. Net of the noise
// they differ by factors, as their forecasts do. Where every error is
// within the noise, the net errors are netFloor of the errors, and the
// weights are as without it. The order of the errors is kept.
func netOfNoise(errs []float64, n []int, noise float64) float64 {
	best := math.Inf(1)
	for c := range errs {
		if n[c] > 0 {
			errs[c] = max(errs[c]-noise, netFloor*errs[c])
			best = min(best, errs[c])
		}
	}
	return best
}

// phasePoints are the indices of the past forecasts at the phase of index
// i one and two cycles earlier (phasePeriods; a stride on each side,
// phaseSpan), period by period, which are scored with the recent ones (see
// combiner.scorePhases): a candidate that missed the step of an office day
// at 08:00 a week ago carries that error now, before the step, when the
// recent flat hours cannot tell it from one that knows the step, and one
// that forecast a weekday's rise on last Saturday morning carries that
// error this Saturday morning. Measured on office-hours traces (a weekday
// square wave at 1, 5 and 10 minutes): 1.07-1.17 times seasonal naive's
// MAE before, 0.92-0.97 with them. None are scored where the lookahead is
// one sample: there preferShapes already chooses between the shapes and
// the reactive candidates on a replay of the history, and on nyc_taxi
// (30 minutes) the phase points made the holidays' own days worse (a
// candidate that knew last week's phase held its weight through a day
// unlike it).
func (m *Model) phasePoints(i, stride int) []int {
	if !m.phased(stride) {
		return nil
	}
	p := int(m.cycle.Period / m.step)
	var out []int
	for k := 1; k <= phasePeriods; k++ {
		if i-k*p-phaseSpan*stride < 0 {
			break
		}
		for d := -phaseSpan; d <= phaseSpan; d++ {
			out = append(out, i-k*p+d*stride)
		}
	}
	return out
}

// phased reports whether phase points are scored (see Model.phasePoints):
// with a cycle of whole steps, a lookahead of more than one sample, and
// the phase points a cycle earlier whose windows end before the forecast.
func (m *Model) phased(stride int) bool {
	return m.cycle.Period != 0 && m.cycle.Period%m.step == 0 && m.horizon > 1 &&
		int(m.cycle.Period/m.step) >= phaseSpan*stride+m.horizon
}

// hourPoints returns the indices of the forecasts scored for the one at
// index i where the demand has an hourly cycle (a job at a fixed minute of
// every hour) and the lookahead holds more than one sample and less than
// an hour: those made at the same minute of each of the last hourlyPoints
// hours, in the place of the recent forecasts and the phase points; nil
// elsewhere. How well a candidate forecasts depends on the minute of the
// hour there: on a queue that an hourly cron fills with a batch of a
// varying size, the windows before the batch lands are forecast about
// equally badly by every candidate (the size is not known yet), and
// their errors, ten times the rest, set the weights that the minutes of
// the drain then use, where the windows a day and a week earlier, scaled
// by the samples since the batch landed, track it and the others do not.
// The recent forecasts, a quarter of an hour apart, score four minutes of
// the hour only.
func (m *Model) hourPoints(i int) []int {
	if !m.scoresHours() {
		return nil
	}
	p := int(Hourly / m.step)
	out := make([]int, 0, hourlyPoints)
	for k := 1; k <= hourlyPoints && i-k*p >= 0; k++ {
		out = append(out, i-k*p)
	}
	return out
}

// scoresHours reports whether the forecasts scored are those at the same
// minute of the last hours (see Model.hourPoints): with an hourly cycle
// of whole steps and a lookahead of more than one sample and at most an
// hour.
func (m *Model) scoresHours() bool {
	return m.cycles.Has(Hourly) && Hourly%m.step == 0 && m.horizon > 1 && int(Hourly/m.step) >= m.horizon
}

// combineStride is the spacing, in samples, of the past forecasts scored.
func (m *Model) combineStride() int {
	return max(1, int(combineWindow/m.step)/combinePoints)
}

// scoredPoints is how many past forecasts are scored per candidate:
// combinePoints, or where the lookahead is one sample as many as span
// oneSampleSpan if that is more (24 at a 15-minute step). A scored
// forecast of one sample carries that sample's noise, and twelve of them
// over three hours rank candidates of like error at random; the six hours
// are what a 30-minute step has always scored, and what nyc_taxi's
// holidays allow (twelve hours put its week after New Year at 1.23 times
// an ordinary week).
func (m *Model) scoredPoints() int {
	if m.horizon != 1 {
		return combinePoints
	}
	return max(combinePoints, int(oneSampleSpan/(time.Duration(m.combineStride())*m.step)))
}

// combined returns the peak forecast at index i of vals (which start at
// start): the candidates' forecasts (see combiner.candidates) weighted by
// how well each forecast the last combineWindow (see Model.score), by the
// inverse of its mean absolute error (see Model.weigh); the reactive
// candidates are left out where the model's fit chose so (see
// preferShapes). Samples after index g (g < i: a gap at the end of the
// history, see Model.forecast) are not demand: the candidates forecast the
// window after i, and are weighed by the past forecasts whose windows end
// by g (see Model.scoreHeld).
// Where memo is not nil, the candidates' forecasts are taken from it and
// kept in it (see candidateMemo).
func (m *Model) combined(start time.Time, vals []float64, i, g int, memo *candidateMemo) (peak, hw float64) {
	sc := m.scoreHeld(start, vals, i, g, memo)
	hw = sc.now[m.hwCandidate(len(sc.now))]
	if m.shapesOnly {
		m.leaveOutReactive(sc)
	}
	return m.weigh(sc), hw
}

// hwCandidate is the index of the Holt-Winters candidate among n
// candidates (see combiner.candidates): before the envelope, and the day
// peaks and the hour peaks where they are on.
func (m *Model) hwCandidate(n int) int {
	if m.hourPeaksOn() {
		n--
	}
	if m.dayPeaksOn() {
		return n - 3
	}
	return n - 2
}

// scored are the candidates' forecasts at one index (now) and their mean
// absolute errors (errs) over the n[c] past forecasts scored; n[c] is 0
// for a candidate that does not compete.
type scored struct {
	now, errs []float64
	n         []int
}

// clone returns a copy of sc that weigh may change apart from it.
func (sc scored) clone() scored {
	return scored{now: sc.now, errs: slices.Clone(sc.errs), n: slices.Clone(sc.n)}
}

// score returns the candidates' forecasts at index i of vals (which start
// at start) and how well each forecast the last combineWindow:
// scoredPoints past forecasts (over oneSampleSpan or more where the
// lookahead is one sample), each against the peak of its lookahead
// window, less those that every candidate missed by far (see
// missedAlike). Only candidates scored as often as the seasonal model
// compete.
// The candidates' forecasts come from memo where it is not nil (see
// candidateMemo).
func (m *Model) score(start time.Time, vals []float64, i int, memo *candidateMemo) scored {
	return m.scoreHeld(start, vals, i, i, memo)
}

// scoreHeld is score where the samples after index g up to i are not
// demand (see Model.combined): the past forecasts scored are
// those whose windows end by g, the recent ones counted back from g;
// the phase points and the hours' stay those of i, the time of day
// forecast, less any whose window is not over by g. The candidates'
// forecasts at i are computed apart from memo, which holds those of the
// series' own samples.
func (m *Model) scoreHeld(start time.Time, vals []float64, i, g int, memo *candidateMemo) scored {
	stride := m.combineStride()
	c := combiner{m: m, start: start, vals: vals, memo: memo}
	points := m.scoredPoints()
	c.hwLo, c.hwHi = max(0, g-m.horizon-(points-1)*stride), g
	over := func(j int) bool { return j+m.horizon > g }
	phase := slices.DeleteFunc(m.phasePoints(i, stride), over)
	c.hwExtraAt = phase
	// at is the index of the k-th scored forecast.
	at := func(k int) int { return g - m.horizon - k*stride }
	if hours := m.hourPoints(i); hours != nil {
		hours = slices.DeleteFunc(hours, over)
		points, phase, c.hwExtraAt = len(hours), nil, hours
		c.hwLo, c.hwHi = g, g
		at = func(k int) int { return hours[k] }
	}
	var now []float64
	if g == i {
		now = c.candidates(i, nil)
	} else {
		// The memo holds the candidates of the series' own samples only.
		held := combiner{m: m, start: start, vals: vals}
		held.hwLo, held.hwHi = i, i
		now = held.candidates(i, nil)
	}
	sum := make([]float64, len(now))
	n := make([]int, len(now))
	var past []float64
	// errs holds each scored forecast's errors, candidate by candidate
	// (NaN where one has none), and least the least of them (on the
	// stack where they fit).
	var errBuf [512]float64
	var leastBuf [64]float64
	errs, least := errBuf[:0], leastBuf[:0]
	for k := range points {
		j := at(k)
		if j < 0 {
			break
		}
		actual := math.Inf(-1)
		for h := 1; h <= m.horizon; h++ {
			actual = max(actual, vals[j+h])
		}
		past = c.candidates(j, past)
		lo := math.Inf(1)
		for _, f := range past {
			e := math.NaN()
			if finite(f) {
				e = math.Abs(f - actual)
				lo = min(lo, e)
			}
			errs = append(errs, e)
		}
		least = append(least, lo)
	}
	skip := missedAlike(least, m.resSD)
	for k, lo := range least {
		if lo > skip {
			continue
		}
		for c, e := range errs[k*len(now) : (k+1)*len(now)] {
			if !math.IsNaN(e) {
				sum[c] += e
				n[c]++
			}
		}
	}
	c.scorePhases(phase, now, sum, n)
	for c, f := range now {
		if finite(f) && n[c] > 0 && n[c] >= n[0] {
			sum[c] /= float64(n[c])
		} else {
			n[c] = 0
		}
	}
	return scored{now: now, errs: sum, n: n}
}

// scoredIndices appends to dst the index i and those of the past
// forecasts that the forecast at i scores (see Model.score): the recent
// ones and the phase points, or the hours' (see Model.hourPoints).
func (m *Model) scoredIndices(i int, dst []int) []int {
	dst = append(dst, i)
	if hours := m.hourPoints(i); hours != nil {
		return append(dst, hours...)
	}
	stride := m.combineStride()
	for k := range m.scoredPoints() {
		dst = append(dst, i-m.horizon-k*stride)
	}
	return append(dst, m.phasePoints(i, stride)...)
}

// missedAlike returns the least error above which a scored forecast is
// left out of the scores: one that every candidate missed by
// missedAlikeK times the typical least miss (the median of least) plus
// the residuals' spread sd, as a glitch of one sample at a million on
// demand of ten is missed. Every candidate's error there is about the
// glitch, so the weights no longer tell the candidates apart, and one
// that holds the glitch (the envelope, a filter whose level took it in)
// gets its share of a forecast a thousand times the demand.
func missedAlike(least []float64, sd float64) float64 {
	if len(least) < 3 {
		return math.Inf(1)
	}
	var buf [64]float64
	return missedAlikeK * (medianInPlace(append(buf[:0], least...)) + sd)
}

// scorePhases adds to sum and n (the candidates' summed errors over the
// recent forecasts, and their counts) the errors of the forecasts at the
// phase points (see Model.phasePoints), in groups of one period: each
// candidate carries its least error of the periods (a holiday a week ago
// does not count against the profile that the week before confirms) in
// which it forecast at every point. One that did in none (the week-ago
// window, a day after the history reached a week) gets no phase score,
// and so fewer scored forecasts than the seasonal model: it is left out
// of the weights (see Model.score).
func (c *combiner) scorePhases(phase []int, now, sum []float64, n []int) {
	m := c.m
	per := 2*phaseSpan + 1
	best := make([]float64, len(now))
	for k := range best {
		best[k] = math.Inf(1)
	}
	errs := make([]float64, len(now))
	whole := make([]bool, len(now))
	var past []float64
	for start := 0; start+per <= len(phase); start += per {
		clear(errs)
		for k := range whole {
			whole[k] = true
		}
		for _, j := range phase[start : start+per] {
			actual := math.Inf(-1)
			for h := 1; h <= m.horizon; h++ {
				actual = max(actual, c.vals[j+h])
			}
			past = c.candidates(j, past)
			for k := range now {
				if finite(past[k]) {
					errs[k] += math.Abs(past[k] - actual)
				} else {
					whole[k] = false
				}
			}
		}
		for k := range best {
			if whole[k] {
				best[k] = min(best[k], errs[k])
			}
		}
	}
	for k, f := range now {
		if finite(f) && !math.IsInf(best[k], 1) {
			sum[k] += best[k]
			n[k] += per
		}
	}
}

// weigh returns the candidates' forecasts sc.now weighted by the inverse
// of their errors (net of the noise where the lookahead is one sample,
// see netOfNoise; plus combineFloor of the best one's) to the power
// combinePower (the per-day profiles sharing one weight unless one of
// them is the best; see shareProfiles); it changes sc.errs. On ordinary
// days the seasonal model wins; on a day unlike its profile, whichever
// candidate has tracked that day best takes over within hours, and hands
// back when the day is ordinary again; on a trace with no shape to learn,
// persistence, Holt-Winters or the envelope do, and the forecast is half
// the weighted mean and half the weighted median (noCycleMedianShare).
// Where two or more candidates forecast exactly alike with more than half
// the weight (a signal clipped at zero or at a ceiling), their forecast is
// the forecast (see agreed). Without a cycle, candidates are tied where
// the best recent error is below tieShare of how far the forecasts now
// stray from their median: after hours of idle demand the errors are
// all within its noise, and one that happened to match a little better
// (the window a day earlier, 0.0005 against 0.004 and 0.02 on NAB's
// ec2_cpu_utilization_77c1ca) took nearly all the weight with the cube
// and forecast the burst of a day earlier at 97 on demand of 0.1.
func (m *Model) weigh(sc scored) float64 {
	now, sum, n := sc.now, sc.errs, sc.n
	best := math.Inf(1)
	if m.horizon == 1 {
		best = netOfNoise(sum, n, noiseShare*m.resSD)
	} else {
		for c := range sum {
			if n[c] > 0 {
				best = min(best, sum[c])
			}
		}
	}
	tie := 0.0
	if m.cycle.Period == 0 {
		tie = tieShare * spreadOf(now, n)
	}
	eps := max(combineFloor*best, tie) + 1e-6*(math.Abs(m.resMed)+m.resSD+1e-9)
	w := make([]float64, len(now))
	for c := range now {
		if n[c] > 0 {
			w[c] = math.Pow(sum[c]+eps, -combinePower)
		}
	}
	shareProfiles(w, sum, m.profileDays())
	if best == 0 || best < tie {
		// Candidates that forecast every scored window exactly (idle
		// demand, where most forecast zero), or all within the tie, are
		// tied: their weights say nothing about which is right, and a
		// mean would hand a share to one that recalls yesterday's burst.
		// The weighted median takes what most of them forecast.
		return weightedMedian(now, w)
	}
	if f, ok := agreed(now, w); ok {
		return f
	}
	var num, den float64
	for c, f := range now {
		if w[c] > 0 {
			num += w[c] * f
			den += w[c]
		}
	}
	if !(den > 0) || !finite(num/den) {
		return now[0]
	}
	if m.cycle.Period == 0 {
		return noCycleMedianShare*weightedMedian(now, w) + (1-noCycleMedianShare)*num/den
	}
	return num / den
}
