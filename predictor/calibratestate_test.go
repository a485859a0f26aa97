package predictor

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// calibrationStream returns the forecast peak and actual peak of step i
// of a day-shaped demand whose errors grow with it and come in bursts,
// as a bursty workload's do.
func calibrationStream(r *rand.Rand, i int) (peak, actual float64) {
	peak = 200 + 180*math.Sin(2*math.Pi*float64(i)/1440)
	actual = peak * (1 + 0.1*r.NormFloat64())
	if i%97 < 6 {
		actual += 150 * r.Float64()
	}
	return peak, actual
}

// feedCalibrator feeds c the stream's steps [from, to), each miss judged
// against c's own bound, and returns the mean margin and the share of
// misses.
func feedCalibrator(c *Calibrator, seed uint64, from, to int) (margin, under float64) {
	r := rand.New(rand.NewPCG(seed, uint64(from)))
	for i := from; i < to; i++ {
		peak, actual := calibrationStream(r, i)
		upper := c.Upper(Forecast{Peak: peak, Upper: peak})
		miss := upper < actual
		c.Observe(actual-peak, peak, miss)
		margin += upper - peak
		if miss {
			under++
		}
	}
	n := float64(to - from)
	return margin / n, under / n
}

// TestCalibratorRestoreKeepsTheMargins: a calibrator restored from the
// state of one that evaluated three days of forecasts sets the same
// margins as the one it was saved from, at once and over the next day;
// one seeded again from in-sample errors, as a new process did before the
// state was kept, sets margins far from them in the first hours.
func TestCalibratorRestoreKeepsTheMargins(t *testing.T) {
	const seed = 7
	orig, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	orig.Seed(make([]float64, 400)) // in-sample errors: none
	feedCalibrator(orig, seed, 0, 3*1440)
	b, err := json.Marshal(orig.State())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("state: %d bytes", len(b))
	if len(b) > 3000 {
		t.Errorf("state of %d bytes, want at most 3,000 (it is an annotation)", len(b))
	}
	var st CalibratorState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	restored, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	if err := restored.Restore(st); err != nil {
		t.Fatal(err)
	}
	if restored.Level() != RoundSaved(orig.Level()) || restored.RecentError() != RoundSaved(orig.RecentError()) || restored.Len() != orig.Len() {
		t.Errorf("restored level %v, recent error %v, %d residuals; want %v, %v, %d", restored.Level(), restored.RecentError(), restored.Len(), orig.Level(), orig.RecentError(), orig.Len())
	}
	if u, n := restored.Achieved(); n != 3*1440 {
		t.Errorf("restored: %d evaluated floors (under %v), want %d", n, u, 3*1440)
	}
	for _, peak := range []float64{20, 200, 380} {
		f := Forecast{Peak: peak, Upper: peak}
		got, want := restored.Upper(f)-peak, orig.Upper(f)-peak
		if math.Abs(got-want) > 0.02*want {
			t.Errorf("margin at %v: %.2f restored, %.2f saved", peak, got, want)
		}
	}
	// The first three hours after the restart, then the rest of the day.
	fresh, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	fresh.Seed(make([]float64, 400))
	const hours = 3 * 60
	wantMargin, wantUnder := feedCalibrator(orig, seed, 3*1440, 3*1440+hours)
	gotMargin, gotUnder := feedCalibrator(restored, seed, 3*1440, 3*1440+hours)
	freshMargin, freshUnder := feedCalibrator(fresh, seed, 3*1440, 3*1440+hours)
	t.Logf("first three hours: mean margin %.2f (under %.4f) saved, %.2f (%.4f) restored, %.2f (%.4f) seeded again", wantMargin, wantUnder, gotMargin, gotUnder, freshMargin, freshUnder)
	if math.Abs(gotMargin-wantMargin) > 0.05*wantMargin || math.Abs(gotUnder-wantUnder) > 0.005 {
		t.Errorf("first three hours: mean margin %.2f and under %.4f restored, want %.2f and %.4f as saved", gotMargin, gotUnder, wantMargin, wantUnder)
	}
	if math.Abs(freshMargin-wantMargin) < 0.2*wantMargin && math.Abs(freshUnder-wantUnder) < 0.01 {
		t.Errorf("test setup: seeded again, the margins (%.2f, under %.4f) are as good as restored ones", freshMargin, freshUnder)
	}
	wantMargin, wantUnder = feedCalibrator(orig, seed, 3*1440+hours, 4*1440)
	gotMargin, gotUnder = feedCalibrator(restored, seed, 3*1440+hours, 4*1440)
	t.Logf("rest of the day: mean margin %.2f (under %.4f) saved, %.2f (%.4f) restored", wantMargin, wantUnder, gotMargin, gotUnder)
	if math.Abs(gotMargin-wantMargin) > 0.05*wantMargin || math.Abs(gotUnder-wantUnder) > 0.005 {
		t.Errorf("rest of the day: mean margin %.2f and under %.4f restored, want %.2f and %.4f as saved", gotMargin, gotUnder, wantMargin, wantUnder)
	}
}

// TestCalibratorStateRoundTrips: a restored calibrator's state is the
// state it was restored from, through JSON.
func TestCalibratorStateRoundTrips(t *testing.T) {
	c, _ := NewCalibrator(0.05, time.Minute, 15*time.Minute)
	feedCalibrator(c, 1, 0, 2000)
	st := c.State()
	if got := restoredThroughJSON(t, st).State(); !reflect.DeepEqual(got, st) {
		t.Errorf("state after a restore:\n%+v\nwant\n%+v", got, st)
	}
	// A window saved at a finer step is cut to the coarser step's,
	// keeping its spread.
	coarse, _ := NewCalibrator(0.05, time.Hour, 15*time.Minute)
	if err := coarse.Restore(st); err != nil {
		t.Fatal(err)
	}
	if coarse.Len() != calibrationMin {
		t.Errorf("%d residuals at a 1h step, want %d", coarse.Len(), calibrationMin)
	}
	if got, want := coarse.abs.sorted[calibrationMin-1], RoundSaved(c.abs.sorted[len(c.abs.sorted)-1]); got != want {
		t.Errorf("largest residual %v after the cut, want %v", got, want)
	}
}

// restoredThroughJSON returns a new calibrator at 5% (1-minute step,
// 15-minute lookahead) restored from st after a trip through JSON.
func restoredThroughJSON(t *testing.T, st CalibratorState) *Calibrator {
	t.Helper()
	b, _ := json.Marshal(st)
	var back CalibratorState
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	r, _ := NewCalibrator(0.05, time.Minute, 15*time.Minute)
	if err := r.Restore(back); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSketchRanks(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want []int
	}{
		{0, nil},
		{1, []int{0}},
		{2, []int{1, 0}},
		{8, []int{7, 6, 5, 4, 3, 2, 1, 0}},
		{20, []int{19, 18, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
	} {
		if got := sketchRanks(tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("sketchRanks(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	r := sketchRanks(calibrationMax)
	if len(r) > 40 || r[0] != calibrationMax-1 || r[len(r)-1] != 0 {
		t.Errorf("sketchRanks(%d) = %v: want at most 40 ranks from %d to 0", calibrationMax, r, calibrationMax-1)
	}
	for i := 1; i < len(r); i++ {
		if r[i] >= r[i-1] {
			t.Fatalf("ranks %v do not fall", r)
		}
	}
}

// TestCalibratorRestoreRefuses: a malformed state is refused, naming the
// field, and the calibrator is left as it was.
func TestCalibratorRestoreRefuses(t *testing.T) {
	src, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	feedCalibrator(src, 2, 0, 500)
	good := src.State()
	for _, tt := range []struct {
		name, want string
		edit       func(st *CalibratorState)
	}{
		{"another target", "target: 0.05, but the floors are calibrated to 0.02", func(st *CalibratorState) { st.Target = 0.05 }},
		{"level too low", "level: -0.6, want -0.5 to 1", func(st *CalibratorState) { st.Level = -0.6 }},
		{"level NaN", "level: NaN", func(st *CalibratorState) { st.Level = math.NaN() }},
		{"negative count", "observed: -1, want at least 0", func(st *CalibratorState) { st.Observed = -1 }},
		{"more missed than observed", "missed: 501, want 0 to observed (500)", func(st *CalibratorState) { st.Missed = 501 }},
		{"negative error", "recent: -1, want a finite number, at least 0", func(st *CalibratorState) { st.Recent = -1 }},
		{"infinite mean", "mean: +Inf", func(st *CalibratorState) { st.Mean = math.Inf(1) }},
		{"negative means", "means: -3, want at least 0", func(st *CalibratorState) { st.Means = -3 }},
		{"window too long", "abs.n: 4001, want 0 to 4000", func(st *CalibratorState) { st.Abs.N = 4001 }},
		{"values short", "rel.q: 28 values, want 29 for n 500", func(st *CalibratorState) { st.Rel.Values = st.Rel.Values[1:] }},
		{"values fall", "loc.q[3]: -1e+06 is below q[2]", func(st *CalibratorState) { st.Loc.Values[3] = -1e6 }},
		{"scores unpaired", "loc.n: 498, want rel.n (500) or one less", func(st *CalibratorState) { st.Loc.N = 498 }},
		{"scores unpaired, more local ones", "loc.n: 501, want rel.n (500) or one less", func(st *CalibratorState) { st.Loc.N = 501 }},
		{"value infinite", "abs.q[0]: -Inf is not a finite number", func(st *CalibratorState) { st.Abs.Values[0] = math.Inf(-1) }},
		{"minutes short", "minutes: 59 scales and 60 counts, want 60 of each", func(st *CalibratorState) {
			st.Minutes = &MinuteScales{Abs: make([]float64, 59), N: make([]int, 60)}
		}},
		{"minute scale negative", "minutes.abs[7]: -1, want a finite number, at least 0", func(st *CalibratorState) {
			st.Minutes = &MinuteScales{Abs: make([]float64, 60), N: make([]int, 60)}
			st.Minutes.Abs[7] = -1
		}},
		{"minute count over a day of hours", "minutes.n[0]: 25, want 0 to 24", func(st *CalibratorState) {
			st.Minutes = &MinuteScales{Abs: make([]float64, 60), N: make([]int, 60)}
			st.Minutes.N[0] = 25
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := good
			st.Abs.Values = slices.Clone(good.Abs.Values)
			st.Rel.Values = slices.Clone(good.Rel.Values)
			st.Loc.Values = slices.Clone(good.Loc.Values)
			tt.edit(&st)
			c, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
			c.Seed([]float64{1, 2, 3})
			before := c.State()
			err := c.Restore(st)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			if !reflect.DeepEqual(c.State(), before) {
				t.Error("a refused state changed the calibrator")
			}
		})
	}
}

// hourlyJobWindows feeds c n forecasts a minute apart from t0 of a queue
// that an hourly job fills: the forecasts made in minutes 45-59 (whose
// windows hold the next batch) miss by up to 80 either way, the rest by up
// to 2; the forecasts report an hourly cycle where hourly is set. It
// returns the mean margin (bound less forecast) of the forecasts made in
// minutes 15-44 over the last half of them, and the share of all the last
// half's floors (the bounds, one replica per unit) under the actual peak.
func hourlyJobWindows(c *Calibrator, seed uint64, n int, hourly bool) (quiet, under float64) {
	r := rand.New(rand.NewPCG(seed, 43))
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var quietN, misses, counted int
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		peak := 20.0
		if at.Minute() >= 45 {
			peak = 400
		}
		up := c.Upper(Forecast{Time: at, Peak: peak, Upper: peak, Hourly: hourly})
		spread := 2.0
		if at.Minute() >= 45 {
			spread = 80
		}
		actual := peak + spread*(2*r.Float64()-1)
		miss := math.Ceil(up) < actual
		c.ObserveAt(at, actual-peak, peak, miss)
		if i < n/2 {
			continue
		}
		counted++
		if miss {
			misses++
		}
		if m := at.Minute(); m >= 15 && m < 45 {
			quiet += up - peak
			quietN++
		}
	}
	return quiet / float64(quietN), float64(misses) / float64(counted)
}

// TestCalibratorMinuteOfHour: where the forecasts report an hourly cycle,
// the local score is scaled by the recent error at the same minute of the
// hour (Calibrator.localScale): the margins of the quiet minutes of an
// hourly job are a fraction of those scaled by the last 30 forecasts,
// which span the batch's large errors, at the 2% target still. The scales
// outlive a restart (CalibratorState.Minutes).
func TestCalibratorMinuteOfHour(t *testing.T) {
	const n = 4 * 1440
	for seed := uint64(1); seed <= 3; seed++ {
		plain, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
		byMinute, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
		qPlain, uPlain := hourlyJobWindows(plain, seed, n, false)
		qMinute, uMinute := hourlyJobWindows(byMinute, seed, n, true)
		t.Logf("seed %d: quiet minutes' margin %.2f by the last forecasts (%.2f%% under), %.2f by the minute (%.2f%% under)", seed, qPlain, 100*uPlain, qMinute, 100*uMinute)
		if !(qMinute < qPlain/2) {
			t.Errorf("seed %d: quiet minutes' margin %.2f by the minute, %.2f by the last forecasts; want less than half", seed, qMinute, qPlain)
		}
		if uMinute > 0.03 {
			t.Errorf("seed %d: %.2f%% of the floors under by the minute, want the 2%% target within a point", seed, 100*uMinute)
		}
		st := byMinute.State()
		if st.Minutes == nil || len(st.Minutes.Abs) != 60 || st.Minutes.N[30] != minuteResiduals {
			t.Fatalf("seed %d: state's minutes %+v, want 60 scales of %d forecasts each", seed, st.Minutes, minuteResiduals)
		}
		if plain.State().Minutes != nil {
			t.Errorf("seed %d: minutes saved without an hourly cycle", seed)
		}
		b, _ := json.Marshal(st)
		var back CalibratorState
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		re, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
		if err := re.Restore(back); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 12, 9, 0, 30, 0, 0, time.UTC)
		f := Forecast{Time: at, Peak: 20, Upper: 20, Hourly: true}
		// The scale is kept to 6 digits; the score windows as sketches
		// (see ScoreSketch), so the bound within a percent.
		if got, want := re.localScale(at), byMinute.localScale(at); math.Abs(got-want) > 1e-5*want {
			t.Errorf("seed %d: restored scale %g at minute 30, want %g", seed, got, want)
		}
		if got, want := re.Upper(f), byMinute.Upper(f); math.Abs(got-want) > 0.01*want {
			t.Errorf("seed %d: restored bound %g at minute 30, want %g", seed, got, want)
		}
	}
}

// spikyWindows returns, for n steps of a minute, the forecast peak and
// the actual peak over the next 15 minutes of a daily swing of 100 +- 50
// with noise and, in 1% of the minutes, a spike of 50 times a Pareto
// variate of shape 1.2 (most under 100, a few in the thousands), which the
// forecast (the swing itself) never sees coming.
func spikyWindows(seed uint64, n int) (peaks, actuals []float64) {
	r := rand.New(rand.NewPCG(seed, 41))
	demand := make([]float64, n+15)
	for i := range demand {
		demand[i] = 100 + 50*math.Sin(2*math.Pi*float64(i)/1440) + 5*r.NormFloat64()
		if r.Float64() < 0.01 {
			demand[i] += 50 / math.Pow(1-r.Float64(), 1/1.2)
		}
	}
	for i := range n {
		peaks = append(peaks, 100+50*math.Sin(2*math.Pi*float64(i+15)/1440)+5)
		actuals = append(actuals, slices.Max(demand[i+1:i+16]))
	}
	return peaks, actuals
}

// TestCalibratorPlainMarginOnSpikes: at a 5% target, on heavy-tailed
// spikes, a calibrator told each forecast's time (ObserveAt) lets the
// plain margin take over and sets smaller margins than one that cannot
// compare the two (Observe), at about the same share of misses.
func TestCalibratorPlainMarginOnSpikes(t *testing.T) {
	peaks, actuals := spikyWindows(3, 14*1440)
	run := func(timed bool) (margin, under float64, tookOver int) {
		c, _ := NewCalibrator(0.05, time.Minute, 15*time.Minute)
		c.Seed([]float64{-5, 0, 5})
		uppers := make([]float64, len(peaks))
		for i := range peaks {
			// The forecast made 15 minutes ago has seen its window.
			if j := i - 15; j >= 0 {
				at := time.Time{}
				if timed {
					at = monday.Add(time.Duration(j) * time.Minute)
				}
				c.ObserveAt(at, actuals[j]-peaks[j], peaks[j], uppers[j] < actuals[j])
			}
			f := Forecast{Time: monday.Add(time.Duration(i) * time.Minute), Peak: peaks[i], Upper: peaks[i]}
			if !timed {
				f.Time = time.Time{}
			}
			uppers[i] = c.Upper(f)
			if c.plain.on {
				tookOver++
			}
			if i >= len(peaks)/2 {
				margin += uppers[i] - peaks[i]
				if uppers[i] < actuals[i] {
					under++
				}
			}
		}
		n := float64(len(peaks) - len(peaks)/2)
		return margin / n, under / n, tookOver
	}
	mainMargin, mainUnder, _ := run(false)
	margin, under, tookOver := run(true)
	t.Logf("second week: main margins %.1f (under %.4f); with the plain one %.1f (under %.4f), which set %d of %d floors",
		mainMargin, mainUnder, margin, under, tookOver, len(peaks))
	if tookOver == 0 || margin > 0.8*mainMargin {
		t.Errorf("mean margin %.1f with the plain margin (took over %d times), want at most 0.8 times %.1f", margin, tookOver, mainMargin)
	}
	if under > 0.06 {
		t.Errorf("under in %.2f%% of the second week's steps with the plain margin, target 5%%", 100*under)
	}
}

// TestCalibratorPlainState: the plain margin's state goes through JSON and
// a restore unchanged where it runs (5%), is absent where it does not
// (2%), starts at the target from a state saved before it, and a
// malformed one is refused, naming the field.
func TestCalibratorPlainState(t *testing.T) {
	peaks, actuals := spikyWindows(1, 3*1440)
	c, _ := NewCalibrator(0.05, time.Minute, 15*time.Minute)
	for i := range peaks {
		at := monday.Add(time.Duration(i) * time.Minute)
		up := c.Upper(Forecast{Time: at, Peak: peaks[i], Upper: peaks[i]})
		c.ObserveAt(at, actuals[i]-peaks[i], peaks[i], up < actuals[i])
	}
	st := c.State()
	if st.Plain == nil || st.Plain.N == 0 || st.Plain.Cost <= 0 {
		t.Fatalf("plain state %+v, want one with compared forecasts", st.Plain)
	}
	r := restoredThroughJSON(t, st)
	if got := r.State(); !reflect.DeepEqual(got, st) {
		t.Errorf("plain state after a restore %+v, want %+v", got.Plain, st.Plain)
	}

	tight, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	feedCalibrator(tight, 1, 0, 500)
	if p := tight.State().Plain; p != nil {
		t.Errorf("plain state %+v at 2%%, want none", p)
	}

	old := st
	old.Plain = nil
	if err := r.Restore(old); err != nil {
		t.Fatal(err)
	}
	if r.plain != (plainMargin{level: 0.05}) {
		t.Errorf("plain margin %+v from a state without one, want it at the target", r.plain)
	}

	for _, tt := range []struct {
		name, want string
		edit       func(p *PlainState)
	}{
		{"level too high", "plain.level: 1.5, want -0.5 to 1", func(p *PlainState) { p.Level = 1.5 }},
		{"cost NaN", "plain.cost: NaN", func(p *PlainState) { p.Cost = math.NaN() }},
		{"main cost negative", "plain.mainCost: -1, want a finite number, at least 0", func(p *PlainState) { p.MainCost = -1 }},
		{"miss over 1", "plain.miss: 2, want 0 to 1", func(p *PlainState) { p.Miss = 2 }},
		{"negative count", "plain.n: -1, want at least 0", func(p *PlainState) { p.N = -1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := st
			p := *st.Plain
			tt.edit(&p)
			bad.Plain = &p
			before := r.State()
			err := r.Restore(bad)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			if !reflect.DeepEqual(r.State(), before) {
				t.Error("a refused state changed the calibrator")
			}
		})
	}
}

// TestCalibratorForgetsUnobservedMargins: the margins kept for forecasts
// whose windows are never observed (a gap, a stop) are bounded by
// madeMax, the oldest dropped first; an observed one is taken once.
func TestCalibratorForgetsUnobservedMargins(t *testing.T) {
	c, _ := NewCalibrator(0.05, time.Minute, 15*time.Minute)
	c.Seed([]float64{-5, 0, 5})
	at := func(i int) time.Time { return monday.Add(time.Duration(i) * time.Minute) }
	for i := range 3 * madeMax {
		c.Upper(Forecast{Time: at(i), Peak: 100, Upper: 100})
	}
	if len(c.made) != madeMax || len(c.madeOrder) != madeMax {
		t.Fatalf("%d margins kept (%d in order), want %d", len(c.made), len(c.madeOrder), madeMax)
	}
	if _, ok := c.recall(at(0)); ok {
		t.Error("the oldest forecast's margins are still kept")
	}
	if _, ok := c.recall(at(3*madeMax - 1)); !ok {
		t.Error("the newest forecast's margins are not kept")
	}
	if _, ok := c.recall(at(3*madeMax - 1)); ok {
		t.Error("a forecast's margins were taken twice")
	}
}

// paretoSpikeDemand is demand at a 1-minute step over 14 days: a daily
// swing of 100 +- 50 with noise and, in 1% of the minutes, a spike of 50
// times a Pareto variate of shape 1.2.
func paretoSpikeDemand(seed uint64) Series {
	r := rand.New(rand.NewPCG(seed, 23))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, 14*1440)}
	for i := range s.Values {
		v := 100 + 50*math.Sin(2*math.Pi*float64(i)/1440) + 5*r.NormFloat64()
		if r.Float64() < 0.01 {
			v += 50 / math.Pow(1-r.Float64(), 1/1.2)
		}
		s.Values[i] = max(0, v)
	}
	return s
}

// TestBacktestPlainMargin: in the backtest, on heavy-tailed spikes at 5%,
// the plain margin sets floors (the report says on how many steps) and
// they stay near the target; at 2% it does not run.
func TestBacktestPlainMargin(t *testing.T) {
	s := paretoSpikeDemand(6)
	for _, tt := range []struct {
		target  float64
		plainOn bool
	}{{0.05, true}, {0.02, false}} {
		cfg := DefaultBacktestConfig()
		cfg.Options.TargetUnder = tt.target
		r, err := Backtest(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		h := r.Headline
		t.Logf("target %g: plain margin on %.1f%% of the steps, under %.2f%%, %.3f x the peak", tt.target, r.PlainMarginPct, h.UnderPct, *h.FloorVsPeak)
		if (r.PlainMarginPct > 0) != tt.plainOn {
			t.Errorf("target %g: plain margin on %.1f%% of the steps, want it on: %v", tt.target, r.PlainMarginPct, tt.plainOn)
		}
		if h.UnderPct > 100*tt.target+0.5 {
			t.Errorf("target %g: under in %.2f%% of steps", tt.target, h.UnderPct)
		}
	}
}
