package predictor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// glitchDemand is seven days at a one-minute step of demand (flat at 10
// with noise of 0.3, or a daily sine of 100 +- 50 with noise of 5) with
// one sample of height at index at: a scrape that read a million.
func glitchDemand(sine bool, at int, height float64) Series {
	r := rand.New(rand.NewPCG(7, 21))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, 7*1440)}
	for i := range s.Values {
		v := 10 + 0.3*r.NormFloat64()
		if sine {
			v = 100 + 50*math.Sin(2*math.Pi*float64(i)/1440) + 5*r.NormFloat64()
		}
		s.Values[i] = max(0, v)
	}
	s.Values[at] = height
	return s
}

// TestGlitchIsNotDemand: one sample a hundred thousand times the demand
// (in the history the model was fitted on, or in the evaluated part) is
// not forecast again: every forecast made after it, that day and the
// next (where the window a day earlier holds it), is at most three times
// the demand's highest sample otherwise. Before, the glitch flattened the
// candidates' weights (every one missed it alike), the envelope and the
// Holt-Winters filter took it in, and the window a day earlier carried
// it: forecasts of 1,000 to 7,000 on demand of 10 for 80 minutes, 20,000
// to 35,000 on the sine for 15, an echo of 100,000 a day later, and the
// selector blended nothing for a week.
func TestGlitchIsNotDemand(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sine   bool
		at     int
		height float64
	}{
		{"flat, in the fitted history", false, 5000, 1e6},
		{"flat, evaluated", false, 7000, 1e6},
		{"sine, in the fitted history", true, 5000, 1e6},
		{"sine, evaluated", true, 7000, 1e6},
		{"sine, evaluated, 100 times the demand", true, 7000, 1e4},
		{"sine, evaluated, two samples", true, -7000, 1e6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			s := glitchDemand(tt.sine, max(at, -at), tt.height)
			if at < 0 {
				// Two samples: the glitch is the second.
				at = -at + 1
				s.Values[at] = tt.height
			}
			highest := 0.0
			for _, v := range s.Values {
				if v < tt.height {
					highest = max(highest, v)
				}
			}
			r, err := Backtest(s, DefaultBacktestConfig())
			if err != nil {
				t.Fatal(err)
			}
			when := s.Time(at)
			n := 0
			for _, f := range r.Forecasts {
				if !f.Time.After(when) {
					continue
				}
				n++
				if f.Peak > 3*highest {
					t.Errorf("forecast at %s (%s after the glitch): %.0f, demand at most %.0f otherwise", f.Time.Format(time.DateTime), f.Time.Sub(when), f.Peak, highest)
				}
			}
			if n < 1440 {
				t.Fatalf("%d forecasts after the glitch, want a day or more", n)
			}
		})
	}
}

// TestGlitchRun checks combiner.glitchRun: one or two samples glitchK
// robust deviations or more above the profile, the level and the samples
// either side; not a burst over three samples, not one a hundred
// deviations up, not one that reaches the latest sample (it may start a
// burst that goes on).
func TestGlitchRun(t *testing.T) {
	s := glitchDemand(false, 0, 10)
	m, err := Fit(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	far := glitchK * m.resSD
	up := 10 + 2*far
	last := s.Len() - 1
	for _, tt := range []struct {
		name   string
		set    []int
		j      int
		lo, hi int // the run; lo > hi: none
	}{
		{"one sample far up", []int{5000}, 5000, 5000, 5000},
		{"two samples far up, the first", []int{5000, 5001}, 5000, 5000, 5001},
		{"two samples far up, the second", []int{5000, 5001}, 5001, 5000, 5001},
		{"three samples far up: a burst", []int{4999, 5000, 5001}, 5000, 1, 0},
		{"the first sample", []int{0}, 0, 1, 0},
		{"the sample before the latest, the latest ordinary", []int{last - 1}, last - 1, last - 1, last - 1},
		{"the sample before the latest and the latest far up", []int{last - 1, last}, last - 1, 1, 0},
		{"the latest sample", []int{last}, last, 1, 0},
		{"an ordinary sample", nil, 5000, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := append([]float64(nil), s.Values...)
			for _, j := range tt.set {
				v[j] = up
			}
			c := combiner{m: m, start: s.Start, vals: v}
			lo, hi, ok := c.glitchRun(tt.j, last, m.levelAt(v, last))
			if want := tt.lo <= tt.hi; ok != want || (ok && (lo != tt.lo || hi != tt.hi)) {
				t.Errorf("glitchRun(%d) = %d..%d, %v; want %d..%d, %v", tt.j, lo, hi, ok, tt.lo, tt.hi, want)
			}
		})
	}
	v := append([]float64(nil), s.Values...)
	v[5000] = 10 + 100*m.resSD
	c := combiner{m: m, start: s.Start, vals: v}
	if _, _, ok := c.glitchRun(5000, last, m.levelAt(v, last)); ok {
		t.Error("a sample a hundred robust deviations up taken for a glitch")
	}
}

// TestRobustHoltWinters checks holtWinters.updateRobust: a sample far off
// the one-step forecast moves the level by at most alpha times hwClipK
// running error scales and leaves its season term alone (a day later it
// would come back as an echo), and a change of level that lasts is
// followed within an hour.
func TestRobustHoltWinters(t *testing.T) {
	hw := holtWinters{alpha: 0.5, beta: 0.01, gamma: 0.5, period: 1440}
	r := rand.New(rand.NewPCG(3, 22))
	v := make([]float64, 4*1440)
	for i := range v {
		v[i] = 10 + 0.3*r.NormFloat64()
	}
	st := hw.start(v)
	st.dev = hwStartDev(v[:2*1440])
	rate := hwDevRate(1440)
	for i := 2 * 1440; i < 3*1440; i++ {
		hw.updateRobust(&st, v[i], i%1440, rate)
	}
	k := (3 * 1440) % 1440
	season, level, dev := st.season[k], st.level, st.dev
	hw.updateRobust(&st, 1e6, k, rate)
	if st.season[k] != season {
		t.Errorf("the glitch's season term moved from %g to %g", season, st.season[k])
	}
	if moved := st.level - level; !(moved <= hw.alpha*hwClipK*dev*1.0001) {
		t.Errorf("the glitch moved the level by %g, want at most %g (alpha x hwClipK x the error scale %g)", moved, hw.alpha*hwClipK*dev, dev)
	}
	// Demand steps to 1,000 and stays there.
	for i := 3*1440 + 1; i < 3*1440+60; i++ {
		hw.updateRobust(&st, 1000+0.3*r.NormFloat64(), i%1440, rate)
	}
	if got := st.peak((3*1440+59)%1440, 15); math.Abs(got-1000) > 100 {
		t.Errorf("an hour after a step to 1,000 the filter forecasts %g", got)
	}
}

// TestMissedAlike checks the bound above which a scored forecast is left
// out of the candidates' scores: missedAlikeK times the median least
// error plus the spread; none with fewer than three.
func TestMissedAlike(t *testing.T) {
	least := []float64{1, 2, 1, 3, 1e7, 2, 1}
	want := missedAlikeK * (2 + 0.5)
	if got := missedAlike(least, 0.5); got != want {
		t.Errorf("bound %g, want %g", got, want)
	}
	if least[4] <= want || least[3] > want {
		t.Fatalf("the test's glitch %g is under the bound %g, or an ordinary miss over it", least[4], want)
	}
	if got := missedAlike([]float64{1, 1e7}, 0.5); !math.IsInf(got, 1) {
		t.Errorf("two scored forecasts: bound %g, want none (+Inf)", got)
	}
}

// TestSelectorLeavesOutGlitch: a forecast that the mixture and every
// baseline missed by a hundred thousand times the mixture's usual error
// is not observed; counted, it would make every blend's error over the
// week about the glitch's, and here take away a blend with persistence
// that the days before chose.
func TestSelectorLeavesOutGlitch(t *testing.T) {
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var s Selector
	selectorFeed(&s, at, 3, 10, [NumBaselines]float64{1, 30, 30, 30, math.NaN()})
	now := Forecast{Time: at, Peak: 50, Upper: 60, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, math.NaN()}}
	if got := s.Apply(now); got.BaselineShare != 1 {
		t.Fatalf("before the glitch: persistence's share %v, want 1", got.BaselineShare)
	}
	// The glitch: 1e7 over the mixture's forecast, further over the rest.
	s.Observe(Forecast{Time: at.Add(-time.Minute), Mixture: 100, Baselines: [NumBaselines]float64{90, 90, math.NaN(), 90, math.NaN()}}, 1e7+100)
	if got := s.Apply(now); got.BaselineShare != 1 {
		t.Errorf("after the glitch: persistence's share %v, want 1 (the glitch left out)", got.BaselineShare)
	}
	// An ordinary miss, ten times the usual, is observed.
	before := s.State()
	s.Observe(Forecast{Time: at.Add(-time.Minute), Mixture: 100, Baselines: [NumBaselines]float64{90, 90, math.NaN(), 90, math.NaN()}}, 200)
	if after := s.State(); after.Days[len(after.Days)-1].N != before.Days[len(before.Days)-1].N+1 {
		t.Error("a miss of ten times the usual error was left out")
	}
}

// FuzzGlitchForecast puts a run of one or two samples of any finite
// height at any place of three days of the daily sine of glitchDemand (at
// 5 minutes, to keep a run short) and forecasts the end of it: the
// forecast must be finite, not negative, its bound not under it; never a
// panic.
func FuzzGlitchForecast(f *testing.F) {
	f.Add(1e6, uint16(800), false)
	f.Add(1e6, uint16(862), true)
	f.Add(-1e6, uint16(10), true)
	f.Add(1e300, uint16(863), false)
	f.Fuzz(func(t *testing.T, height float64, at uint16, two bool) {
		if !finite(height) {
			return
		}
		s := glitchDemand(true, 0, 100)
		s.Step = 5 * time.Minute
		s.Values = s.Values[:3*288]
		j := int(at) % s.Len()
		s.Values[j] = max(0, height)
		if two && j+1 < s.Len() {
			s.Values[j+1] = max(0, height)
		}
		fc, err := ForecastSeries(s, Options{})
		if err != nil {
			return
		}
		if !finite(fc.Peak) || !finite(fc.Upper) || fc.Peak < 0 || fc.Upper < fc.Peak {
			t.Fatalf("glitch of %g at %d (two: %v): forecast %+v", height, j, two, fc)
		}
	})
}

// TestGlitchFreePeak: a run of one or two samples, each a hundred times
// anything of the week before it, is left out of a window's actual peak;
// a third such sample, a burst the size of earlier ones, or one over a
// history of zeros is demand.
func TestGlitchFreePeak(t *testing.T) {
	flat := func(n int, v float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	with := func(base []float64, at map[int]float64) Series {
		v := slices.Clone(base)
		for i, x := range at {
			v[i] = x
		}
		return Series{Start: monday, Step: time.Minute, Values: v}
	}
	ten := flat(100, 10)
	idle := flat(100, 0.1)
	tests := []struct {
		name   string
		s      Series
		lo, hi int
		want   float64
	}{
		{"no glitch", with(ten, map[int]float64{52: 12}), 50, 55, 12},
		{"one sample", with(ten, map[int]float64{52: 1e6, 53: 11}), 50, 55, 11},
		{"two samples", with(ten, map[int]float64{52: 1e6, 53: 2e6, 54: 11}), 50, 55, 11},
		{"three samples are demand", with(ten, map[int]float64{52: 1e6, 53: 1e6, 54: 1e6}), 50, 55, 1e6},
		{"the latest sample, unconfirmed", with(ten[:53], map[int]float64{52: 1e6}), 50, 55, 10},
		{"a window of the glitch alone", with(ten, map[int]float64{52: 1e6}), 52, 53, 10},
		{"ninety times is demand", with(ten, map[int]float64{52: 900}), 50, 55, 900},
		{"a burst the size of an earlier one", with(idle, map[int]float64{20: 100, 52: 100}), 50, 55, 100},
		{"the first burst on idle demand", with(idle, map[int]float64{52: 100}), 50, 55, 0.1},
		{"a history of zeros", with(flat(100, 0), map[int]float64{52: 5}), 50, 55, 5},
		{"the first sample", with(ten, map[int]float64{0: 1e6}), 0, 3, 1e6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GlitchFreePeak(tt.s, tt.lo, tt.hi); got != tt.want {
				t.Errorf("GlitchFreePeak(%d, %d) = %v, want %v", tt.lo, tt.hi, got, tt.want)
			}
		})
	}
}

// TestFarTailHeld: while the latest one or two samples are a far run, the
// forecast is made as if they were the sample before them; a third makes
// them demand, and the forecast takes them in.
func TestFarTailHeld(t *testing.T) {
	// No glitch: the first sample at 100, where the sine starts.
	s := glitchDemand(true, 0, 100)
	h := s.Slice(0, 6*1440)
	m, err := Fit(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	highest := slices.Max(h.Values)
	ext := func(n int) Series {
		v := slices.Clone(s.Values[:6*1440+40])
		for k := len(v) - n; k < len(v); k++ {
			v[k] = 1e6
		}
		return Series{Start: s.Start, Step: s.Step, Values: v}
	}
	clean, err := m.Forecast(ext(0))
	if err != nil || clean.FarRun {
		t.Fatalf("no far sample: FarRun %v (%v)", clean.FarRun, err)
	}
	for _, n := range []int{1, 2} {
		f, err := m.Forecast(ext(n))
		if err != nil {
			t.Fatal(err)
		}
		if !f.FarRun || f.Peak > 1.5*highest || math.Abs(f.Baselines[BaselineIndexPersistence]-1e6) < 1 {
			t.Errorf("%d far samples: peak %.0f (persistence %.0f), want about the demand, %.0f without them", n, f.Peak, f.Baselines[BaselineIndexPersistence], clean.Peak)
		}
	}
	// Demand now: the combination weighs it (a spike in progress takes
	// every sample of a lookahead, here 15).
	if f, err := m.Forecast(ext(3)); err != nil || f.FarRun || f.Peak < 10*highest || f.Baselines[BaselineIndexPersistence] != 1e6 {
		t.Errorf("three far samples: peak %.0f, persistence %.0f (%v), want them forecast as demand", f.Peak, f.Baselines[BaselineIndexPersistence], err)
	}
}

// TestGlitchFloors: after a scrape that read a million on a daily sine
// of 100 +- 50, the backtest's floors are those of the same demand
// without it, give or take a replica. Before far runs were left out, the
// forecast made at the glitch put the floor at its ceiling (22 replicas
// where the demand needed 6), and the windows that held it, counted as
// misses of a million, kept it there for an hour.
func TestGlitchFloors(t *testing.T) {
	const at = 7000
	glitch := glitchDemand(true, at, 1e6)
	clean := glitchDemand(true, at, 0)
	clean.Values[at] = glitch.Values[at-1]
	cfg := DefaultBacktestConfig()
	cfg.CapacityPerReplica = 15
	rg, err := Backtest(glitch, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := Backtest(clean, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rg.FarRunSamples != 1 || rc.FarRunSamples != 0 {
		t.Errorf("far run samples %d and %d without the glitch, want 1 and 0", rg.FarRunSamples, rc.FarRunSamples)
	}
	if len(rg.Forecasts) != len(rc.Forecasts) {
		t.Fatalf("%d and %d forecasts", len(rg.Forecasts), len(rc.Forecasts))
	}
	when := glitch.Time(at)
	n := 0
	for k, f := range rg.Forecasts {
		if d := f.Time.Sub(when); d < 0 || d > 3*time.Hour {
			continue
		}
		n++
		if c := rc.Forecasts[k].Floor; f.Floor > c+1 || f.Floor < c-1 {
			t.Errorf("%s after the glitch: floor %d, %d without it", f.Time.Sub(when), f.Floor, c)
		}
	}
	if n < 180 {
		t.Fatalf("%d forecasts in the three hours after the glitch", n)
	}
}
