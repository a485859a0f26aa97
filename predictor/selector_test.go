package predictor

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// selectorFeed observes, every 15 minutes for days days before at, a
// forecast whose mixture misses the actual peak by mixErr and whose
// baselines miss it by baseErr (NaN: the baseline has none).
func selectorFeed(s *Selector, at time.Time, days float64, mixErr float64, baseErr [NumBaselines]float64) {
	step := 15 * time.Minute
	n := int(days * float64(Day) / float64(step))
	for k := n; k >= 1; k-- {
		f := Forecast{Time: at.Add(-time.Duration(k) * step), Mixture: 100 + mixErr}
		for b, e := range baseErr {
			f.Baselines[b] = 100 + e
		}
		s.Observe(f, 100)
	}
}

func TestSelector(t *testing.T) {
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	nan := math.NaN()
	// The model found no cycle (see selectLeaveOneOut).
	now := Forecast{Time: at, Peak: 50, Upper: 60, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, math.NaN()}, acyclic: true}
	for _, tt := range []struct {
		name  string
		feed  func(s *Selector)
		want  float64
		share float64 // the baseline's weight in want
	}{
		{"nothing observed: the mixture", func(*Selector) {}, 50, 0},
		{"the mixture best: the mixture exactly", func(s *Selector) {
			selectorFeed(s, at, 3, 1, [NumBaselines]float64{2, 3, 4, 5, math.NaN()})
		}, 50, 0},
		{"less than a day observed: the mixture", func(s *Selector) {
			selectorFeed(s, at, 0.5, 10, [NumBaselines]float64{1, 30, 30, 30, math.NaN()})
		}, 50, 0},
		{"persistence far better: persistence", func(s *Selector) {
			selectorFeed(s, at, 3, 10, [NumBaselines]float64{1, 30, 30, 30, math.NaN()})
		}, 80, 1},
		{"persistence as good over a week: not blended (only a better one is)", func(s *Selector) {
			selectorFeed(s, at, 8, 2, [NumBaselines]float64{2, 30, 30, 30, math.NaN()})
		}, 50, 0},
		// In a workload's first week persistence alone is taken where it
		// is within selectTie of the mixture (a tie), and no more.
		{"persistence as good over three days: persistence", func(s *Selector) {
			selectorFeed(s, at, 3, 2, [NumBaselines]float64{2, 30, 30, 30, math.NaN()})
		}, 80, 1},
		{"persistence 1% worse over three days: persistence", func(s *Selector) {
			selectorFeed(s, at, 3, 2, [NumBaselines]float64{2.02, 30, 30, 30, math.NaN()})
		}, 80, 1},
		{"persistence 3% worse over three days: the mixture", func(s *Selector) {
			selectorFeed(s, at, 3, 2, [NumBaselines]float64{2.06, 30, 30, 30, math.NaN()})
		}, 50, 0},
		{"persistence 1% worse over a week: the mixture", func(s *Selector) {
			selectorFeed(s, at, 8, 2, [NumBaselines]float64{2.02, 30, 30, 30, math.NaN()})
		}, 50, 0},
		{"persistence a little better: persistence", func(s *Selector) {
			selectorFeed(s, at, 3, 2, [NumBaselines]float64{1.9, 30, 30, 30, math.NaN()})
		}, 80, 1},
		// The mixture 10 over, persistence 8 under: the blend with 0.6
		// of persistence misses by 0.8, less than any other.
		{"errors of opposite signs: the blend that cancels them", func(s *Selector) {
			selectorFeed(s, at, 3, 10, [NumBaselines]float64{-8, 30, 30, 30, math.NaN()})
		}, 68, 0.6},
		// In the first week, such a blend is taken over persistence
		// alone only where it leads it by blendTie: here the blend with
		// 0.9 of persistence misses by 0.52624, persistence alone by
		// 0.5264 (0.03% more); 0.9 of persistence would forecast 77.
		{"a blend within blendTie of persistence alone, in the first week: persistence", func(s *Selector) {
			selectorFeed(s, at, 3, 10, [NumBaselines]float64{-0.5264, 30, 30, 30, math.NaN()})
		}, 80, 1},
		{"the same blend 1% ahead: the blend", func(s *Selector) {
			selectorFeed(s, at, 3, 10, [NumBaselines]float64{-0.5314, 30, 30, 30, math.NaN()})
		}, 77, 0.9},
		// A baseline is compared with the mixture on the forecasts it
		// has, once it has half of them.
		{"week-ago window on half the forecasts: compared on those", func(s *Selector) {
			selectorFeed(s, at.Add(-2*Day), 2, 10, [NumBaselines]float64{30, 30, nan, 30, math.NaN()})
			selectorFeed(s, at, 2, 10, [NumBaselines]float64{30, 30, 1, 30, math.NaN()})
		}, 10, 1},
		{"week-ago window on fewer than half: not compared", func(s *Selector) {
			selectorFeed(s, at.Add(-1*Day), 3, 10, [NumBaselines]float64{30, 30, nan, 30, math.NaN()})
			selectorFeed(s, at, 1, 10, [NumBaselines]float64{30, 30, 1, 30, math.NaN()})
		}, 50, 0},
		// Without a cycle, in the first selectLeaveOneOut of evaluated
		// forecasts, the window a day (or a week) earlier is blended in
		// only where its lead holds without the day on which it led by
		// most: a burst that came back once is no daily pattern (with a
		// cycle: TestSelectorLeadOfOneDayWithCycle). The mixture misses
		// by 10 throughout.
		{"day-ago window ahead on one day of three: the mixture", func(s *Selector) {
			selectorFeed(s, at.Truncate(Day), 2, 10, [NumBaselines]float64{30, 12, 30, 30, math.NaN()})
			selectorFeed(s, at, 0.5, 10, [NumBaselines]float64{30, 1, 30, 30, math.NaN()})
		}, 50, 0},
		{"day-ago window ahead on two days of three: the day-ago window", func(s *Selector) {
			selectorFeed(s, at.Truncate(Day).Add(-Day), 1, 10, [NumBaselines]float64{30, 12, 30, 30, math.NaN()})
			selectorFeed(s, at, 1.5, 10, [NumBaselines]float64{30, 1, 30, 30, math.NaN()})
		}, 20, 1},
		{"week-ago window ahead on one day of three: the mixture", func(s *Selector) {
			selectorFeed(s, at.Truncate(Day), 2, 10, [NumBaselines]float64{30, 30, 12, 30, math.NaN()})
			selectorFeed(s, at, 0.5, 10, [NumBaselines]float64{30, 30, 1, 30, math.NaN()})
		}, 50, 0},
		{"day-ago window ahead on one day of five: the day-ago window", func(s *Selector) {
			selectorFeed(s, at.Truncate(Day), 4, 10, [NumBaselines]float64{30, 10.5, 30, 30, math.NaN()})
			selectorFeed(s, at, 0.5, 10, [NumBaselines]float64{30, 1, 30, 30, math.NaN()})
		}, 20, 1},
		// Holt-Winters is also a candidate of the mixture: blended in only
		// where, alone, it made at most hwSelectMax of the mixture's error.
		{"Holt-Winters far better: Holt-Winters", func(s *Selector) {
			selectorFeed(s, at, 3, 10, [NumBaselines]float64{30, 30, 30, 1, math.NaN()})
		}, 40, 1},
		{"Holt-Winters a little better: not blended", func(s *Selector) {
			selectorFeed(s, at, 3, 10, [NumBaselines]float64{30, 30, 30, 9.5, math.NaN()})
		}, 50, 0},
		// Eight days ago persistence was best; the last week, the mixture.
		{"older than a week forgotten", func(s *Selector) {
			selectorFeed(s, at.Add(-7*Day), 1, 10, [NumBaselines]float64{1, 30, 30, 30, math.NaN()})
			selectorFeed(s, at, 3, 1, [NumBaselines]float64{5, 30, 30, 30, math.NaN()})
		}, 50, 0},
		{"a zero forecast (Rolling.Add) is not observed", func(s *Selector) {
			for range 200 {
				s.Observe(Forecast{}, 100)
			}
		}, 50, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s Selector
			tt.feed(&s)
			got := s.Apply(now)
			if math.Abs(got.Peak-tt.want) > 1e-6 {
				t.Errorf("peak %v, want %v", got.Peak, tt.want)
			}
			if got.Upper-got.Peak != now.Upper-now.Peak {
				t.Errorf("upper %v moved apart from the peak %v", got.Upper, got.Peak)
			}
			if got.Mixture != now.Mixture || !sameFloats(got.Baselines[:], now.Baselines[:]) {
				t.Errorf("the mixture or baselines changed: %+v", got)
			}
			if math.Abs(got.BaselineShare-tt.share) > 1e-9 {
				t.Errorf("baseline share %v, want %v", got.BaselineShare, tt.share)
			}
		})
	}
}

// TestSelectorLeadOfOneDayWithCycle: where the model found a cycle, the
// window a day earlier is blended in by its lead over the days scored,
// however few: it is the cycle's own lag (a weekly shape's step on Monday
// morning leads on Mondays).
func TestSelectorLeadOfOneDayWithCycle(t *testing.T) {
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var s Selector
	selectorFeed(&s, at.Truncate(Day), 2, 10, [NumBaselines]float64{30, 12, 30, 30, math.NaN()})
	selectorFeed(&s, at, 0.5, 10, [NumBaselines]float64{30, 1, 30, 30, math.NaN()})
	now := Forecast{Time: at, Peak: 50, Upper: 60, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, math.NaN()}}
	got := s.Apply(now)
	if got.Peak != 20 || got.BaselineShare != 1 {
		t.Errorf("with a cycle: peak %v (share %v), want 20 (the day-ago window alone)", got.Peak, got.BaselineShare)
	}
	now.acyclic = true
	if got := s.Apply(now); got.Peak != 50 || got.BaselineShare != 0 {
		t.Errorf("without a cycle: peak %v (share %v), want 50 (the mixture)", got.Peak, got.BaselineShare)
	}
}

// TestSelectorHourlyJob: under an hourly job (Forecast.Hourly) the
// selector blends Holt-Winters in at any lead, and also where a blend of
// it beats the mixture though it alone does not; the other baselines, and
// Holt-Winters without an hourly job, only where they alone beat it.
func TestSelectorHourlyJob(t *testing.T) {
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		hourly bool
		// base are the baselines' errors; the mixture's is 10.
		base  [NumBaselines]float64
		want  float64
		share float64
	}{
		{"Holt-Winters a little better: alone", true, [NumBaselines]float64{30, 30, 30, 9.5, math.NaN()}, 40, 1},
		// 10 over and 11 under: the half blend misses by 0.5.
		{"Holt-Winters a little worse, its blend better: the blend", true, [NumBaselines]float64{30, 30, 30, -11, math.NaN()}, 45, 0.5},
		{"no hourly job: Holt-Winters a little worse, not blended", false, [NumBaselines]float64{30, 30, 30, -11, math.NaN()}, 50, 0},
		{"no hourly job: Holt-Winters a little better, not blended", false, [NumBaselines]float64{30, 30, 30, 9.5, math.NaN()}, 50, 0},
		{"persistence a little worse, its blend better: not blended", true, [NumBaselines]float64{-11, 30, 30, 30, math.NaN()}, 50, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s Selector
			selectorFeed(&s, at, 3, 10, tt.base)
			now := Forecast{Time: at, Peak: 50, Upper: 60, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, math.NaN()}, Hourly: tt.hourly}
			got := s.Apply(now)
			if math.Abs(got.Peak-tt.want) > 1e-6 || math.Abs(got.BaselineShare-tt.share) > 1e-9 {
				t.Errorf("peak %v with a baseline share of %v, want %v and %v", got.Peak, got.BaselineShare, tt.want, tt.share)
			}
		})
	}
}

// TestForecastCarriesBaselines: Model.Forecast's baselines are the latest
// sample, the peaks of the windows a day and a week earlier, the
// Holt-Winters candidate's forecast and the shrunk sample (of the latest
// sample or the median of the last three), in the trace's units, and its
// Mixture is its Peak.
func TestForecastCarriesBaselines(t *testing.T) {
	s := periodicDemand(9)
	for i := range s.Values {
		s.Values[i] *= 1000 // not at the model's scale
	}
	m, f := fitForecast(t, s, Options{Lookahead: 15 * time.Minute})
	peakAgo := func(lag time.Duration) float64 {
		l := int(lag / s.Step)
		i := s.Len() - 1
		p := math.Inf(-1)
		for h := 1; h <= int(15*time.Minute/s.Step); h++ {
			p = max(p, s.Values[i+h-l])
		}
		return p
	}
	// Holt-Winters: the model's own filter run over the whole history
	// (the baseline, not the candidate, which restarts on its last days).
	hw, _ := m.hwPeaks(m.hwBase, s.Start, s.scaled(m.scale).Values, s.Len()-1, s.Len()-1, nil)
	x := s.Values[s.Len()-1]
	if m.shrunkMedian {
		n := s.Len()
		x = slices.Sorted(slices.Values(s.Values[n-3:]))[1]
	}
	shrunk := max(0, m.shrunkA+m.shrunkB*x/m.scale) * m.scale
	want := [NumBaselines]float64{s.Values[s.Len()-1], peakAgo(Day), peakAgo(Week), hw[0] * m.scale, shrunk}
	for b := range want {
		if math.IsNaN(want[b]) != math.IsNaN(f.Baselines[b]) || !math.IsNaN(want[b]) && !(math.Abs(f.Baselines[b]-want[b]) <= 1e-6*math.Abs(want[b])) {
			t.Errorf("baseline %d = %v, want %v", b, f.Baselines[b], want[b])
		}
	}
	if f.Mixture != f.Peak {
		t.Errorf("mixture %v, peak %v", f.Mixture, f.Peak)
	}
	short := s.Slice(s.Len()-int(3*Day/s.Step), s.Len())
	if f, err := m.Forecast(short); err != nil || !math.IsNaN(f.Baselines[BaselineIndexWeek]) {
		t.Errorf("three days of history: week-ago baseline %v (err %v), want NaN", f.Baselines[BaselineIndexWeek], err)
	}
	// Without a cycle the candidates are fewer (no profiles, no day
	// peaks): the Holt-Winters baseline is still the filter's, run over
	// the whole history (nine days; the candidate restarts on the last
	// seven, and forecasts otherwise).
	flat := memorySawtooth(4, 9)
	m, f = fitForecast(t, flat, Options{})
	if m.cycle.Period != 0 {
		t.Fatalf("memory sawtooth: cycle %v, want none", m.cycle)
	}
	scaled := flat.scaled(m.scale).Values
	whole := robustRun(m.hw.holtWinters, scaled, m.horizon)
	wantHW := whole[len(whole)-1] * m.scale
	if got := f.Baselines[BaselineIndexHoltWinters]; !(math.Abs(got-wantHW) <= 1e-6*math.Abs(wantHW)) {
		t.Errorf("no cycle: Holt-Winters baseline %v, want %v (the filter over the whole history)", got, wantHW)
	}
	cand, _ := m.hwPeaks(m.hw, flat.Start, scaled, flat.Len()-1, flat.Len()-1, nil)
	if math.Abs(cand[0]*m.scale-wantHW) <= 1e-6*math.Abs(wantHW) {
		t.Errorf("the candidate forecasts as the baseline (%v): the test shows nothing", wantHW)
	}
}

// TestHoltWintersBaselineNotNegative: on a queue that a job fills every
// hour and the workers empty, the Holt-Winters filter forecasts below 0
// for the minutes after the queue empties (its trend still falling); the
// baseline the selector blends is held at 0, as the backtest's is, since
// demand is never negative. Unheld, the selector rated Holt-Winters 3-5%
// worse than the backtest did and kept it out (see Selector).
func TestHoltWintersBaselineNotNegative(t *testing.T) {
	s := scheduledQueue(60)(1, 9)
	// Fitted on all but the last three hours, which are forecast after
	// the fit as live forecasts are.
	m, err := Fit(s.Slice(0, s.Len()-180), Options{Lookahead: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	scaled := s.scaled(m.scale)
	negative := 0
	for i := s.Len() - 180; i < s.Len(); i++ {
		f, err := m.Forecast(s.Slice(0, i+1))
		if err != nil {
			t.Fatal(err)
		}
		raw := m.hwBaseline(s.Start, scaled.Values[:i+1], i, math.NaN())
		if !finite(raw) {
			t.Fatalf("%s: no Holt-Winters forecast", s.Time(i).Format(time.TimeOnly))
		}
		if raw < 0 {
			negative++
		}
		got := f.Baselines[BaselineIndexHoltWinters]
		if want := max(0, raw) * m.scale; !(got >= 0) || math.Abs(got-want) > 1e-9*max(1, want) {
			t.Fatalf("%s: Holt-Winters baseline %v, want %v (the filter's %v held at 0)", s.Time(i).Format(time.TimeOnly), got, want, raw*m.scale)
		}
	}
	if negative == 0 {
		t.Fatal("the filter forecast no window below 0: the test shows nothing")
	}
	t.Logf("%d of 180 forecasts below 0 before the hold", negative)
}

// TestBacktestReportsBlending: the backtest says on how many steps, and
// with what weight, the Selector blended baselines in: most of the steps
// of batch bursts (persistence beats the mixture there), none of a
// periodic trace's (the mixture is best).
func TestBacktestReportsBlending(t *testing.T) {
	r, err := Backtest(batchBursts(8), DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if r.BaselineBlendPct < 50 || r.BaselineBlendPct > 100 || !(r.BaselineShareMean > 0.3 && r.BaselineShareMean <= 1) {
		t.Errorf("batch bursts: baselines blended on %.1f%% of steps, mean weight %.3f; want most steps", r.BaselineBlendPct, r.BaselineShareMean)
	}
	r, err = Backtest(periodicDemand(21), DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if r.BaselineBlendPct != 0 || r.BaselineShareMean != 0 {
		t.Errorf("periodic: baselines blended on %.1f%% of steps, mean weight %.3f; want none", r.BaselineBlendPct, r.BaselineShareMean)
	}
}

// TestSelectorStateRestores: a Selector restored from the State of
// another's whole days blends as that one does, and the state survives
// JSON. Before State and Restore, a new process forecast with the
// mixture alone for a day.
func TestSelectorStateRestores(t *testing.T) {
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var s Selector
	// Three days in which persistence beats the mixture.
	selectorFeed(&s, at, 3, 10, [NumBaselines]float64{1, 30, math.NaN(), 30, math.NaN()})
	st := s.State()
	if len(st.Days) != 3 || st.Days[0].Day != "2026-12-01" || st.Days[2].Day != "2026-12-03" {
		t.Fatalf("state days %+v, want 2026-12-01 to 2026-12-03", st.Days)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back SelectorState
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var r Selector
	if err := r.Restore(back); err != nil {
		t.Fatalf("restoring %s: %v", b, err)
	}
	for _, h := range []time.Duration{0, 6 * time.Hour, 23 * time.Hour} {
		f := Forecast{Time: at.Add(h), Peak: 50, Upper: 60, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, math.NaN(), math.NaN(), math.NaN()}}
		want, got := s.Apply(f), r.Apply(f)
		if got.Peak != want.Peak || got.BaselineShare != want.BaselineShare || want.BaselineShare != 1 {
			t.Errorf("at %s: restored forecast %v (share %v), the original's %v (share %v), want persistence alone", f.Time, got.Peak, got.BaselineShare, want.Peak, want.BaselineShare)
		}
	}
	if got := (&Selector{}).State(); len(got.Days) != 0 || !got.First.IsZero() {
		t.Errorf("empty selector's state %+v, want none", got)
	}
	if err := r.Restore(SelectorState{}); err != nil || r.Apply(Forecast{Time: at, Peak: 50, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, math.NaN()}}).Peak != 50 {
		t.Errorf("restoring an empty state (%v) must forget what was learned", err)
	}
}

// TestSelectorRestoreRefuses: a state that is not well formed is refused,
// naming the field, and the selector keeps what it had.
func TestSelectorRestoreRefuses(t *testing.T) {
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var s Selector
	selectorFeed(&s, at, 2, 10, [NumBaselines]float64{1, 30, 30, 30, math.NaN()})
	good := s.State()
	for _, tt := range []struct {
		name, want string
		edit       func(st *SelectorState)
	}{
		{"too many days", "days: 8 days, at most 7", func(st *SelectorState) {
			for len(st.Days) < 8 {
				st.Days = append(st.Days, st.Days[0])
			}
		}},
		{"no first", "first: missing", func(st *SelectorState) { st.First = time.Time{} }},
		{"bad date", `days[0].day: "12/01/2026" is not a date`, func(st *SelectorState) { st.Days[0].Day = "12/01/2026" }},
		{"a day twice", "days[1].day: 2026-12-02 appears twice", func(st *SelectorState) { st.Days[1].Day = "2026-12-02" }},
		{"a day before first", "days[0].day: 2026-12-02 is before first", func(st *SelectorState) { st.First = at.Add(-Day) }},
		{"no forecasts", "days[0].n: 0, want at least 1", func(st *SelectorState) { st.Days[0].N = 0 }},
		{"counts short", "days[1].nb: 2 counts, want 5", func(st *SelectorState) { st.Days[1].Forecasts = st.Days[1].Forecasts[:2] }},
		{"count over n", "days[0].nb[2]: 97, want 0 to n (96)", func(st *SelectorState) { st.Days[0].Forecasts[2] = 97 }},
		{"negative sum", "days[0].mix[1]: -1, want a sum of errors", func(st *SelectorState) { st.Days[0].Mixture[1] = -1 }},
		{"mix short", "days[0].mix: 3 sums, want 5", func(st *SelectorState) { st.Days[0].Mixture = st.Days[0].Mixture[:3] }},
		{"blend rows", "days[0].blend: 2 rows, want 5", func(st *SelectorState) { st.Days[0].Blends = st.Days[0].Blends[:2] }},
		{"blend weights", "days[0].blend[2]: 9 sums, want 10", func(st *SelectorState) { st.Days[0].Blends[2] = st.Days[0].Blends[2][:9] }},
		{"infinite blend", "days[1].blend[0][3]: +Inf", func(st *SelectorState) { st.Days[1].Blends[0][3] = math.Inf(1) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A deep copy through JSON: the edits must not reach good.
			b, _ := json.Marshal(good)
			var st SelectorState
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			tt.edit(&st)
			r := s
			err := r.Restore(st)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if r != s {
				t.Error("a refused state changed the selector")
			}
		})
	}
}

// TestSelectorSeedBlendsHoltWinters: by the replayed forecasts, the
// Holt-Winters baseline is blended in where it leads the mixture by a
// tenth, as by evaluated ones; the day-ago window, better still, is not.
func TestSelectorSeedBlendsHoltWinters(t *testing.T) {
	end := monday.Add(10 * Day)
	at := func(k int, hw float64) Forecast {
		return Forecast{Time: end.Add(-time.Duration(k) * 15 * time.Minute), Peak: 120, Mixture: 120, Baselines: [NumBaselines]float64{130, 101, 130, hw, math.NaN()}}
	}
	for _, tt := range []struct {
		hw, want float64
	}{{105, 105}, {119, 120}} {
		var s Selector
		s.seed = &Selector{}
		for k := 3 * 96; k >= 1; k-- {
			s.seed.Observe(at(k, tt.hw), 100)
		}
		if got := s.Apply(at(0, tt.hw)); got.Peak != tt.want {
			t.Errorf("Holt-Winters at %v by replayed forecasts: peak %v (share %v), want %v", tt.hw, got.Peak, got.BaselineShare, tt.want)
		}
	}
}

// TestSelectorRestoresOldState: a state saved before Holt-Winters was a
// baseline (three per day) is restored with the other baselines' sums as
// they were and no Holt-Winters forecasts, which the selector then leaves
// out until it has half of the week's.
func TestSelectorRestoresOldState(t *testing.T) {
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var s Selector
	selectorFeed(&s, at, 3, 10, [NumBaselines]float64{1, 30, 30, 1, math.NaN()})
	st, r := restoredCut(t, s, oldBaselines)
	got := r.State()
	for i, d := range got.Days {
		want := st.Days[i]
		if d.Forecasts[BaselineIndexHoltWinters] != 0 || d.Mixture[BaselineIndexHoltWinters] != 0 {
			t.Errorf("day %s: Holt-Winters %d forecasts, %v error, want none", d.Day, d.Forecasts[BaselineIndexHoltWinters], d.Mixture[BaselineIndexHoltWinters])
		}
		if !slices.Equal(d.Forecasts[:oldBaselines], want.Forecasts) || !slices.Equal(d.Mixture[:oldBaselines], want.Mixture) {
			t.Errorf("day %s: %v %v, want %v %v", d.Day, d.Forecasts, d.Mixture, want.Forecasts, want.Mixture)
		}
	}
	// Persistence, restored, is blended in; Holt-Winters, better still
	// but with no restored forecasts, is not.
	now := Forecast{Time: at, Peak: 50, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, math.NaN()}}
	if f := r.Apply(now); f.Peak != 80 {
		t.Errorf("restored old state: peak %v, want persistence's 80", f.Peak)
	}
}

// TestSelectorRestoresHoltWintersState: a state saved before the shrunk
// sample was a baseline (four per day) is restored with the four sums as
// they were and no shrunk forecasts; the shrunk sample, though better, is
// not blended in (it has none of the week's forecasts), and persistence
// is.
func TestSelectorRestoresHoltWintersState(t *testing.T) {
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var s Selector
	selectorFeed(&s, at, 3, 10, [NumBaselines]float64{5, 30, 30, 30, 1})
	st, r := restoredCut(t, s, hwBaselines)
	for i, d := range r.State().Days {
		want := st.Days[i]
		if d.Forecasts[BaselineIndexShrunk] != 0 || d.Mixture[BaselineIndexShrunk] != 0 {
			t.Errorf("day %s: shrunk sample %d forecasts, %v error, want none", d.Day, d.Forecasts[BaselineIndexShrunk], d.Mixture[BaselineIndexShrunk])
		}
		if !slices.Equal(d.Forecasts[:hwBaselines], want.Forecasts) || !slices.Equal(d.Mixture[:hwBaselines], want.Mixture) {
			t.Errorf("day %s: %v %v, want %v %v", d.Day, d.Forecasts, d.Mixture, want.Forecasts, want.Mixture)
		}
	}
	now := Forecast{Time: at, Peak: 50, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, 70}, acyclic: true}
	if f := r.Apply(now); f.Peak != 80 {
		t.Errorf("restored state of four baselines: peak %v, want persistence's 80", f.Peak)
	}
	if f := s.Apply(now); f.Peak != 70 {
		t.Errorf("the state before it was cut: peak %v, want the shrunk sample's 70", f.Peak)
	}
}

// TestSelectorShrunkTie: the shrunk sample is blended in by its lead, as
// the other baselines; within a workload's first week, where persistence
// ties, its blend must also beat persistence alone by half the tie's
// margin (see Selector.Apply).
func TestSelectorShrunkTie(t *testing.T) {
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	now := Forecast{Time: at, Peak: 50, Upper: 60, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, 30}, acyclic: true}
	for _, tt := range []struct {
		name  string
		feed  func(s *Selector)
		want  float64
		share float64
	}{
		{"the shrunk sample far better: the shrunk sample", func(s *Selector) {
			selectorFeed(s, at, 8, 10, [NumBaselines]float64{30, 30, 30, 30, 1})
		}, 30, 1},
		{"persistence ties in the first week, the shrunk sample 0.5% better: persistence", func(s *Selector) {
			selectorFeed(s, at, 5, 10, [NumBaselines]float64{10, 30, 30, 30, 9.95})
		}, 80, 1},
		{"persistence ties in the first week, the shrunk sample 3% better: the shrunk sample", func(s *Selector) {
			selectorFeed(s, at, 5, 10, [NumBaselines]float64{10, 30, 30, 30, 9.7})
		}, 30, 1},
		{"after the first week, the shrunk sample 0.5% better: the shrunk sample", func(s *Selector) {
			selectorFeed(s, at, 8, 10, [NumBaselines]float64{10, 30, 30, 30, 9.95})
		}, 30, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s Selector
			tt.feed(&s)
			got := s.Apply(now)
			if math.Abs(got.Peak-tt.want) > 1e-6 || math.Abs(got.BaselineShare-tt.share) > 1e-9 {
				t.Errorf("peak %v (share %v), want %v (share %v)", got.Peak, got.BaselineShare, tt.want, tt.share)
			}
		})
	}
}

// restoredCut returns the state of s with each day's sums cut to its
// first n baselines, as an earlier build saved them, and a Selector
// restored from it.
func restoredCut(t *testing.T, s Selector, n int) (SelectorState, Selector) {
	t.Helper()
	st := s.State()
	for i := range st.Days {
		d := &st.Days[i]
		d.Forecasts, d.Mixture, d.Blends = d.Forecasts[:n], d.Mixture[:n], d.Blends[:n]
	}
	var r Selector
	if err := r.Restore(st); err != nil {
		t.Fatal(err)
	}
	return st, r
}

// sameFloats reports whether a and b hold the same values, NaN equal to
// NaN.
func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
}

// TestSelectorSeed: a new workload's selector replays the model's
// forecasts over its history once, and blends persistence in by them
// until its evaluated forecasts span a day.
func TestSelectorSeed(t *testing.T) {
	// Batch bursts: persistence forecasts their peaks better than the
	// mixture (see TestMixtureNeverWorseThanBestBaseline).
	h := batchBursts(8).Slice(0, 7*1440)
	m, f := fitForecast(t, h, Options{})
	var fresh, seeded Selector
	if got := fresh.Apply(f); got.BaselineShare != 0 {
		t.Fatalf("unseeded: baseline share %v before any forecast was evaluated", got.BaselineShare)
	}
	// A few fewer than seedForecasts without a cycle: the last day, on
	// which the model was fitted, is not replayed.
	if n := seeded.Seed(m, h); n < seedForecasts*9/10 || n > seedForecasts || !seeded.Seeded() {
		t.Fatalf("Seed replayed %d forecasts (seeded %v), want %d or a few fewer", n, seeded.Seeded(), seedForecasts)
	}
	got := seeded.Apply(f)
	if got.BaselineShare <= 0 {
		t.Fatalf("seeded: baseline share %v, want persistence blended in", got.BaselineShare)
	}
	want := f.Mixture + got.BaselineShare*(f.Baselines[BaselineIndexPersistence]-f.Mixture)
	if math.Abs(got.Peak-max(0, want)) > 1e-9 || math.Abs((got.Upper-got.Peak)-(f.Upper-f.Peak)) > 1e-9 {
		t.Errorf("seeded: peak %v, upper %v; want persistence's blend %v, the margin %v kept", got.Peak, got.Upper, want, f.Upper-f.Peak)
	}
	if n := seeded.Seed(m, h); n != 0 {
		t.Errorf("a second Seed replayed %d forecasts, want none", n)
	}
	if st := seeded.State(); len(st.Days) != 0 {
		t.Errorf("State holds %d days of replayed forecasts, want none", len(st.Days))
	}

	for _, tt := range []struct {
		name string
		sel  func() *Selector
		h    Series
	}{
		// The replayed points need a day of history before them without
		// a cycle (two where that leaves them a day) and must span a
		// day, with the model's fitted last day left out: three days
		// and a window.
		{"three days of history", func() *Selector { return &Selector{} }, h.Slice(0, 3*1440)},
		{"a day of evaluated forecasts", func() *Selector {
			var s Selector
			for k := 0; k <= 96; k++ {
				s.Observe(Forecast{Time: h.End().Add(-time.Duration(k) * 15 * time.Minute), Mixture: 1, Baselines: [NumBaselines]float64{1, 1, 1, 1, math.NaN()}}, 1)
			}
			return &s
		}, h},
		{"another step", func() *Selector { return &Selector{} }, Series{Start: h.Start, Step: 2 * time.Minute, Values: h.Values}},
	} {
		s := tt.sel()
		if n := s.Seed(m, tt.h); n != 0 || s.Seeded() {
			t.Errorf("%s: Seed replayed %d forecasts (seeded %v), want none", tt.name, n, s.Seeded())
		}
	}
}

// TestSelectorSeedShortHistory: without a cycle, a history of three and a
// half days (a one-week trace's first half) is replayed from its second
// day, where two days before the first replayed point would leave less
// than a day to replay (the model's fitted last day is not replayed).
func TestSelectorSeedShortHistory(t *testing.T) {
	h := batchBursts(8).Slice(0, 7*1440/2)
	m, _ := fitForecast(t, h, Options{})
	if m.cycle.Period != 0 {
		t.Fatalf("batch bursts: cycle %v, want none", m.cycle)
	}
	var s Selector
	n := s.Seed(m, h)
	// From day 1 to the fitted last day (day 2.5): a day and a half.
	if n < seedForecasts/7*3/2*9/10 || !s.Seeded() {
		t.Fatalf("Seed replayed %d forecasts over 3.5 days without a cycle (seeded %v), want about %d", n, s.Seeded(), seedForecasts/7*3/2)
	}
	if r, ok := s.seed.ratios(h.End()); !ok || !finite(r[BaselineIndexPersistence][selectSteps-1]) {
		t.Errorf("replayed ratios %v (ok %v), want persistence's over a day", r[BaselineIndexPersistence], ok)
	}
}

// TestSelectorSeedBlendsPersistenceOnly: where the replayed forecasts say
// the window a day earlier beat the mixture, Apply does not blend it in
// by them (a few days of history may hold no weekend); once a day of
// evaluated forecasts says so, it does.
func TestSelectorSeedBlendsPersistenceOnly(t *testing.T) {
	end := monday.Add(10 * Day)
	day := func(k int) Forecast {
		return Forecast{Time: end.Add(-time.Duration(k) * 15 * time.Minute), Mixture: 120, Baselines: [NumBaselines]float64{130, 101, 130, 130, math.NaN()}}
	}
	var s Selector
	s.seed = &Selector{}
	for k := 3 * 96; k >= 1; k-- {
		s.seed.Observe(day(k), 100)
	}
	f := day(0)
	if got := s.Apply(f); got.BaselineShare != 0 || got.Peak != f.Peak {
		t.Errorf("by replayed forecasts: peak %v, baseline share %v; want the mixture's alone", got.Peak, got.BaselineShare)
	}
	for k := 2 * 96; k >= 1; k-- {
		s.Observe(day(k), 100)
	}
	if got := s.Apply(f); got.BaselineShare != 1 || got.Peak != 101 {
		t.Errorf("by evaluated forecasts: peak %v, baseline share %v; want the day-ago window's, 101", got.Peak, got.BaselineShare)
	}
}

// BenchmarkSelectorSeed20000 measures Selector.Seed on 20,000 one-minute
// points (seedForecasts forecasts replayed): a new workload's cost beside
// BenchmarkForecast20000's fit and forecast.
func BenchmarkSelectorSeed20000(b *testing.B) {
	s := loadTrace(b, "crane_input9.csv").Slice(0, 20000)
	m, err := Fit(s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var sel Selector
		if n := sel.Seed(m, s); n != seedForecasts {
			b.Fatalf("%d forecasts replayed, want %d", n, seedForecasts)
		}
	}
}

// TestLaggedBaselineSkipsOneOffs: the day-ago baseline a Forecast carries
// for the Selector is the window a day earlier, but not where that
// window's peak was a one-off (a glitch, an outage) that the window two
// days earlier did not have; a peak that recurs daily is kept.
func TestLaggedBaselineSkipsOneOffs(t *testing.T) {
	const day = 288
	noise := func() Series {
		r := rand.New(rand.NewPCG(7, 8))
		s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, 9*day)}
		for i := range s.Values {
			s.Values[i] = 50 + 2*r.NormFloat64()
		}
		return s
	}
	// The forecast is made at the last sample, i; its window is i+1 to
	// i+3, a day earlier i+1-day to i+3-day.
	i := 9*day - 1
	for _, tt := range []struct {
		name   string
		change func(v []float64)
		want   func(v []float64) float64 // NaN: none
	}{
		{"ordinary", func([]float64) {}, func(v []float64) float64 { return slices.Max(v[i+1-day : i+4-day]) }},
		{"a glitch a day ago", func(v []float64) { v[i+2-day] = 1e6 }, func([]float64) float64 { return math.NaN() }},
		{"an outage a day ago", func(v []float64) {
			for j := i - 30 - day; j <= i+30-day; j++ {
				v[j] = 0
			}
		}, func([]float64) float64 { return math.NaN() }},
		// The week-ago window has it too, and the window two weeks
		// earlier is not there: that one is a one-off as far as the
		// history tells.
		{"a spike every day", func(v []float64) {
			for d := 1; d <= 8; d++ {
				v[i+2-d*day] = 400
			}
		}, func([]float64) float64 { return 400 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := noise()
			tt.change(s.Values)
			_, f := fitForecast(t, s, Options{})
			got, want := f.Baselines[BaselineIndexDay], tt.want(s.Values)
			if math.IsNaN(want) != math.IsNaN(got) || !math.IsNaN(want) && math.Abs(got-want) > 1e-9 {
				t.Errorf("day-ago baseline %v, want %v", got, want)
			}
			if wk := f.Baselines[BaselineIndexWeek]; tt.name != "a spike every day" && (!finite(wk) || wk > 70) {
				t.Errorf("week-ago baseline %v, want the ordinary window's peak", wk)
			}
		})
	}
}

// TestBacktestGlitchNotRepeated: one sample of a million on office-hours
// demand (10, and 50 from 08:00 to 18:00), in the evaluated half, is not
// forecast again a day later, and does not hold the floors up for hours. Before the day-ago baseline skipped
// one-offs, the Selector, which blends the day-ago window in here, forecast
// 1e6 for the steps whose window a day earlier held it: 1.6 times
// persistence's MAE over the trace.
func TestBacktestGlitchNotRepeated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, 8000)}
	for i := range s.Values {
		s.Values[i] = 10 + 2*r.NormFloat64()
		if h := s.Time(i).Hour(); h >= 8 && h < 18 {
			s.Values[i] += 40
		}
	}
	const glitch = 6000
	s.Values[glitch] = 1e6
	rep, err := Backtest(s, DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Forecasts {
		if k := int(row.Time.Sub(s.Start) / s.Step); k > glitch+12 && row.Peak > 500 {
			t.Errorf("forecast %v at sample %d, %d samples after the glitch", row.Peak, k, k-glitch)
		}
	}
	if p := rep.Baselines["persistence"].MAE; rep.MLScale.MAE > p {
		t.Errorf("MAE %v, persistence's %v", rep.MLScale.MAE, p)
	}
	// The floors are back under their usual highest soon after: the
	// recent error takes the three misses in clipped (recentClip); whole,
	// they held the floors over it for 265 steps (22 hours).
	usual, high := int32(0), 0
	for _, row := range rep.Forecasts {
		switch k := int(row.Time.Sub(s.Start) / s.Step); {
		case k < glitch-3:
			usual = max(usual, row.Floor)
		case k > glitch && row.Floor > usual:
			high++
		}
	}
	if high > 24 {
		t.Errorf("%d steps after the glitch with a floor over the usual highest, %d; want at most 24", high, usual)
	}
}

// TestCandidateMemoSameForecasts replays forecasts as Selector.Seed does,
// and makes them past the end of the fit as the backtest does, with and
// without a candidateMemo, and wants every forecast the same to the last
// bit: a candidate's forecast at an index must not depend on the forecast
// that scores it (with a daily cycle and its phase points, with a weekly
// one, without a cycle, and where the lookahead is one sample).
func TestCandidateMemoSameForecasts(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    Series
	}{
		{"daily, 1 min", periodicDemand(8)},
		{"weekly, 5 min", weekdayDemand(3, 21)},
		{"flapping, 1 min", flappingCPU(6)},
		{"random walk, 5 min", randomWalkCPU(10)},
		{"hourly sine", hourlySine(2, 30)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Fit(tt.s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			scaled := tt.s.scaled(m.scale)
			memo := newCandidateMemo()
			last := tt.s.Len() - 1 - m.horizon
			n := 0
			// A forecast every stride of the scored past forecasts: each
			// scores those of the one after it but one.
			for j := last; j >= max(0, last-60*m.combineStride()); j -= m.combineStride() {
				n++
				h := scaled.Slice(0, j+1)
				want, got := m.forecastScaled(h, nil), m.forecastScaled(h, memo)
				if math.Float64bits(got.Peak) != math.Float64bits(want.Peak) {
					t.Fatalf("forecast at %d: %v with the memo, %v without", j, got.Peak, want.Peak)
				}
			}
			// Each forecast scores a dozen or more indices, but all
			// of them but a few were scored by the forecast before.
			t.Logf("%d forecasts, %d indices kept, cycle %s", n, len(memo.byIndex), m.Cycles())
			if len(memo.byIndex) == 0 || len(memo.byIndex) >= 4*n {
				t.Fatalf("the memo kept %d forecasts' candidates for %d forecasts, want some reused", len(memo.byIndex), n)
			}
			// After the fit: a model fitted on all but the last 300
			// samples forecasts each of them in turn, the Holt-Winters
			// candidate running on past the fit.
			end := tt.s.Len() - 300
			m, err = Fit(tt.s.Slice(0, end), Options{})
			if err != nil {
				t.Fatal(err)
			}
			memo = newCandidateMemo()
			for i := end; i < tt.s.Len(); i++ {
				h := tt.s.Slice(0, i+1)
				want, err := m.Forecast(h)
				if err != nil {
					t.Fatal(err)
				}
				if got := m.forecast(h, memo); math.Float64bits(got.Peak) != math.Float64bits(want.Peak) {
					t.Fatalf("forecast at %d after the fit: %v with the memo, %v without", i, got.Peak, want.Peak)
				}
			}
		})
	}
}

// memorySawtooth is memory that grows by 0-4 a minute and is collected
// back to about 1,000 at random, every 4 hours on average (one-minute
// samples, no cycle): the window's peak is the latest sample plus the
// ramp, which the Holt-Winters candidate's trend follows.
func memorySawtooth(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 41))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, days*1440)}
	m := 1000.0
	for i := range s.Values {
		m += 4 * r.Float64()
		if r.Float64() < 1.0/240 {
			m = 1000 + 20*r.NormFloat64()
		}
		s.Values[i] = m
	}
	return s
}

// TestSelectorSeedOutOfTheFitSpan: without a cycle the model is fitted on
// the history's last day, where its replayed forecasts are in-sample and
// rated the mixture far better than the live ones did (memory collected at
// random, seed 5: Holt-Winters at 0.996 times the mixture's error over the
// replayed week, against 0.57 on the first live day). Replayed without
// that day, the first forecast blends Holt-Winters in.
func TestSelectorSeedOutOfTheFitSpan(t *testing.T) {
	h := memorySawtooth(5, 14).Slice(0, 7*1440)
	m, f := fitForecast(t, h, Options{})
	if m.cycle.Period != 0 {
		t.Fatalf("memory sawtooth: cycle %v, want none", m.cycle)
	}
	var s Selector
	if n := s.Seed(m, h); n == 0 {
		t.Fatal("nothing replayed over a week")
	}
	r, _ := s.seed.ratios(h.End())
	got := s.Apply(f)
	t.Logf("replayed Holt-Winters at %.3f of the mixture's error; blended %.1f", r[BaselineIndexHoltWinters][selectSteps-1], got.BaselineShare)
	hw := f.Baselines[BaselineIndexHoltWinters]
	if got.BaselineShare <= 0 || math.Abs(got.Mixture+got.BaselineShare*(hw-got.Mixture)-got.Peak) > 0.5 {
		t.Errorf("first forecast: peak %v (share %v), want the mixture %v blended with Holt-Winters's %v", got.Peak, got.BaselineShare, got.Mixture, hw)
	}
}

// TestSelectorSeedSeesHoltWinters: the forecasts Seed replays over the
// history weigh every candidate the live ones do, the Holt-Winters one
// included, whose forecasts the fit keeps only where the live forecasts
// score it. Without it the replayed mixture lagged memory's ramps behind
// persistence and the first day blended persistence in, at 1.8 times
// the error of the later days on such a trace.
func TestSelectorSeedSeesHoltWinters(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		h := memorySawtooth(seed, 7)
		m, f := fitForecast(t, h, Options{})
		var s Selector
		if n := s.Seed(m, h); n == 0 {
			t.Fatalf("seed %d: nothing replayed", seed)
		}
		// Holt-Winters may be blended in (see
		// TestSelectorSeedBlendsHoltWinters); persistence must not be.
		got := s.Apply(f)
		hw := f.Mixture + got.BaselineShare*(f.Baselines[BaselineIndexHoltWinters]-f.Mixture)
		if got.BaselineShare != 0 && math.Abs(got.Peak-hw) > 1e-9*hw {
			t.Errorf("seed %d: peak %v, not the mixture or its blend with Holt-Winters (%v) at %v: persistence blended in by the replayed forecasts, where the mixture forecasts the ramps better", seed, got.Peak, hw, got.BaselineShare)
		}
	}
}

// TestShrunkBaseline: without a cycle the model fits the shrunk sample
// (Model.fitShrunk). On a random walk the latest sample is the best
// forecast of the coming peak, and the slope stays near 1; on bursts of
// disk writes, which fall away within minutes of their peak, it is well
// under 1, and at a burst's peak the shrunk sample forecasts far less
// than the peak persistence forecasts again. With a cycle it is fitted
// too.
func TestShrunkBaseline(t *testing.T) {
	walk, _ := fitForecast(t, randomWalkCPU(7), Options{})
	if !walk.shrunkOK || walk.shrunkB < 0.9 {
		t.Errorf("random walk: shrunk sample fitted %v, slope %.3f, want at least 0.9", walk.shrunkOK, walk.shrunkB)
	}
	s := diskWriteBursts(1, 7)
	m, _ := fitForecast(t, s, Options{})
	if !m.shrunkOK || m.shrunkB > 0.5 {
		t.Fatalf("disk writes: shrunk sample fitted %v, slope %.3f, want at most 0.5", m.shrunkOK, m.shrunkB)
	}
	top := 0
	for i, v := range s.Values {
		if v > s.Values[top] {
			top = i
		}
	}
	f, err := m.Forecast(s.Slice(0, top+1))
	if err != nil {
		t.Fatal(err)
	}
	if got, peak := f.Baselines[BaselineIndexShrunk], s.Values[top]; !(got < 0.5*peak) {
		t.Errorf("at the largest burst's peak %.1f: shrunk sample %.1f, want under half of it", peak, got)
	}
	if m.shrunkMedian {
		t.Errorf("disk writes: the median of three mapped, want the latest sample (a burst falls away from its peak)")
	}
	// A random walk with one-sample spikes: the median of three passes a
	// spike over, and the forecast after one stays near the walk.
	spiky := randomWalkCPU(7)
	r := rand.New(rand.NewPCG(8, 9))
	for i := range spiky.Values {
		if r.Float64() < 0.02 {
			spiky.Values[i] += 20 + 30*r.Float64()
		}
	}
	spiky.Values[len(spiky.Values)-1] += 40
	ms, fs := fitForecast(t, spiky, Options{})
	if !ms.shrunkOK || !ms.shrunkMedian {
		t.Fatalf("random walk with spikes: shrunk sample fitted %v, on the median of three %v, want both", ms.shrunkOK, ms.shrunkMedian)
	}
	n := spiky.Len()
	walk3 := slices.Sorted(slices.Values(spiky.Values[n-3:]))[1]
	if got := fs.Baselines[BaselineIndexShrunk]; !(math.Abs(got-walk3) < 10) {
		t.Errorf("after a spike to %.1f: shrunk sample %.1f, want within 10 of the median of three, %.1f", spiky.Values[n-1], got, walk3)
	}
	if m, f := fitForecast(t, periodicDemand(9), Options{}); !m.shrunkOK || !finite(f.Baselines[BaselineIndexShrunk]) {
		t.Errorf("with a cycle: shrunk sample fitted %v, forecast %v", m.shrunkOK, f.Baselines[BaselineIndexShrunk])
	}
}

// TestShrunkFitsObservedSamplesOnly checks that the shrunk sample is
// fitted on observed samples alone where a trace has gaps: the values
// filled in (linear interpolation, which a forecast in a gap never sees)
// replaced by anything else leave the fit as it was, and with the flags
// dropped the same values do move it.
func TestShrunkFitsObservedSamplesOnly(t *testing.T) {
	s := gappyOccupancy(3, 14)
	if s.Observed == nil {
		t.Fatal("the gappy trace has no observed flags")
	}
	m := &Model{step: s.Step, horizon: 3}
	m.fitShrunk(s.Values, s.Observed)
	if !m.shrunkOK {
		t.Fatal("not fitted")
	}
	odd := slices.Clone(s.Values)
	for i, o := range s.Observed {
		if !o {
			odd[i] = 1000 + float64(i%7)
		}
	}
	again := &Model{step: s.Step, horizon: 3}
	again.fitShrunk(odd, s.Observed)
	if again.shrunkA != m.shrunkA || again.shrunkB != m.shrunkB {
		t.Errorf("filled samples changed: a %g, b %g; fitted on the interpolated ones a %g, b %g", again.shrunkA, again.shrunkB, m.shrunkA, m.shrunkB)
	}
	blind := &Model{step: s.Step, horizon: 3}
	blind.fitShrunk(odd, nil)
	if blind.shrunkA == m.shrunkA && blind.shrunkB == m.shrunkB {
		t.Errorf("without the flags the filled samples left the fit at a %g, b %g: the test cannot tell", m.shrunkA, m.shrunkB)
	}
}

// TestFitLAD checks the least-absolute-deviations fit of the shrunk
// sample on lines it must find to within shrunkTol, outliers that least
// squares would follow, and slopes outside [0, 1], which it clamps.
func TestFitLAD(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	line := func(a, b float64, outliers float64) ([]float64, []float64) {
		xs, ys := make([]float64, 500), make([]float64, 500)
		for i := range xs {
			xs[i] = 100 * r.Float64()
			ys[i] = a + b*xs[i] + r.NormFloat64()
			if r.Float64() < outliers {
				ys[i] += 1000
			}
		}
		return xs, ys
	}
	tests := []struct {
		name         string
		a, b, wantB  float64
		outliers     float64
		wantA, slack float64
	}{
		{"a line", 3, 0.4, 0.4, 0, 3, 0.5},
		{"a line with 20% outliers", 3, 0.4, 0.4, 0.2, 3, 0.8},
		{"persistence", 0, 1, 1, 0, 0, 0.5},
		{"steeper than 1, clamped", 0, 2, 1, 0, 50, 5},
		{"falling, clamped to 0", 80, -0.5, 0, 0, 55, 5},
	}
	for _, tt := range tests {
		xs, ys := line(tt.a, tt.b, tt.outliers)
		a, b, cost := fitLAD(xs, ys)
		if math.Abs(b-tt.wantB) > 2*shrunkTol+0.02 || math.Abs(a-tt.wantA) > tt.slack {
			t.Errorf("%s: a %.3f, b %.4f, want about %g and %g", tt.name, a, b, tt.wantA, tt.wantB)
		}
		var sum float64
		for i := range xs {
			sum += math.Abs(ys[i] - a - b*xs[i])
		}
		if math.Abs(sum-cost) > 1e-6*sum {
			t.Errorf("%s: cost %g, the sum of the deviations %g", tt.name, cost, sum)
		}
	}
}
