package predictor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
)

// flappingCPU is a CPU series at a 1-minute step that flaps between about
// 30 and about 100 within minutes, more often high by day than by night,
// with the levels shifting by a third up or down every few days: the shape
// of a batch-serving node, where persistence is a poor forecast of the
// next 15 minutes' peak and the recent peaks are a good one.
func flappingCPU(days int) Series {
	return flapping(rand.New(rand.NewPCG(3, 4)), days, func(_ *rand.Rand, i int) bool {
		return i%(2*1440+337) == 0 && i > 0
	})
}

// flapping is the flapping CPU series drawn from r, its level changing
// (by 0.7, 1 or 1.3) at the minutes where shift says so.
func flapping(r *rand.Rand, days int, shift func(r *rand.Rand, i int) bool) Series {
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, days*1440)}
	high, scale := false, 1.0
	for i := range s.Values {
		t := s.Time(i)
		if shift(r, i) {
			scale = []float64{0.7, 1.0, 1.3}[r.IntN(3)]
		}
		busy := 0.5 - 0.4*math.Cos(2*math.Pi*float64(t.Hour()*60+t.Minute())/1440)
		// Switch on average every few minutes, high with probability busy.
		if r.Float64() < 0.3 {
			high = r.Float64() < busy
		}
		v := 30.0
		if high {
			v = 100
		}
		s.Values[i] = math.Min(100, math.Max(0, v*scale+3*r.NormFloat64()))
	}
	return s
}

// randomWalkCPU is a CPU series at a 5-minute step that wanders like a
// random walk with a weak pull towards 40, without a daily shape: the
// shape of an EC2 instance's utilisation, where persistence is hard to
// beat.
func randomWalkCPU(days int) Series {
	r := rand.New(rand.NewPCG(5, 6))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, days*288)}
	v := 40.0
	for i := range s.Values {
		v += 0.02*(40-v) + 2*r.NormFloat64()
		v = math.Min(100, math.Max(1, v))
		s.Values[i] = v
	}
	return s
}

// periodicDemand is a smooth daily shape with weekends at 60% and noise,
// at a 5-minute step.
func periodicDemand(days int) Series {
	return synth(days*288, 5*time.Minute, 4, func(t time.Time) float64 {
		v := daily(t)
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			v *= 0.6
		}
		return v
	})
}

// loadBalancerRequests is a load balancer's request count per 5 minutes
// over days (seed picks the noise): a daily shape (about 10 to 110 requests), counting noise
// (the square root of the rate) and bursts in half a percent of the steps
// that halve every step.
func loadBalancerRequests(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 11))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, days*288)}
	burst := 0.0
	for i := range s.Values {
		t := s.Time(i)
		h := float64(t.Hour()) + float64(t.Minute())/60
		rate := 60 + 50*math.Sin(2*math.Pi*(h-9)/24)
		if r.Float64() < 0.005 {
			burst += 200 + 300*r.Float64()
		}
		burst *= 0.5
		s.Values[i] = math.Max(0, math.Round(rate+burst+math.Sqrt(rate)*r.NormFloat64()))
	}
	return s
}

// weekdayDemand is demand at a 1-minute step over days: two daily
// harmonics, weekends at 70% and noise (seed picks it).
func weekdayDemand(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 13))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, days*1440)}
	for i := range s.Values {
		t := s.Time(i)
		h := float64(t.Hour()) + float64(t.Minute())/60
		v := 200 + 120*math.Sin(2*math.Pi*(h-8)/24) + 40*math.Sin(4*math.Pi*(h-3)/24)
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			v *= 0.7
		}
		s.Values[i] = math.Max(0, v+15*r.NormFloat64())
	}
	return s
}

// busyWorkers counts busy workers at a 1-minute step over two weeks: a
// daily swing between 1 and 5 with noise, rounded to whole workers.
func busyWorkers(seed uint64) Series {
	r := rand.New(rand.NewPCG(seed, 19))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, 14*1440)}
	for i := range s.Values {
		h := float64(i%1440) / 60
		s.Values[i] = math.Round(3 + 2*math.Sin(2*math.Pi*h/24) + 0.3*r.NormFloat64())
	}
	return s
}

// hourlyQueue is the depth of a queue that a job fills in the first five
// minutes of every hour (200 messages, 20 otherwise, noise of 5) over two
// weeks, each sample the mean of its step's minutes: flat in hourly bins.
func hourlyQueue(seed uint64, step time.Duration) Series {
	r := rand.New(rand.NewPCG(seed, 23))
	s := Series{Start: monday, Step: step, Values: make([]float64, int(14*Day/step))}
	per := int(step / time.Minute)
	for i := range s.Values {
		var sum float64
		for m := i * per; m < (i+1)*per; m++ {
			sum += 20
			if m%60 < 5 {
				sum += 180
			}
		}
		s.Values[i] = max(0, sum/float64(per)+5*r.NormFloat64())
	}
	return s
}

// weeklyJobDemand is demand at a 5-minute step over four weeks: 5, with noise
// of 1, and a job of 100 for minutes from Monday 09:30 every week (a
// weekly report, a weekly training run).
func weeklyJobDemand(seed uint64, minutes int) Series {
	r := rand.New(rand.NewPCG(seed, 29))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, 28*288)}
	for i := range s.Values {
		t := s.Time(i)
		v := 5.0
		if m := t.Hour()*60 + t.Minute() - (9*60 + 30); t.Weekday() == time.Monday && m >= 0 && m < minutes {
			v += 100
		}
		s.Values[i] = max(0, v+r.NormFloat64())
	}
	return s
}

// batchBursts is demand at a 1-minute step over two weeks that is zero
// but for three batch bursts a day at random times, each of 10 to 40
// minutes at 50 to 200 (within 20%): no cycle, and nothing in the last
// hours that tells the next burst.
func batchBursts(seed uint64) Series {
	r := rand.New(rand.NewPCG(seed, 17))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, 14*1440)}
	for range 42 {
		start, n, level := r.IntN(len(s.Values)), 10+r.IntN(31), 50+150*r.Float64()
		for j := start; j < min(len(s.Values), start+n); j++ {
			s.Values[j] = level * (0.8 + 0.4*r.Float64())
		}
	}
	return s
}

// TestMixtureNeverWorseThanBestBaseline checks point 1 of the predictor
// issue with the backtest itself: on every trace, real and synthetic,
// mlscale's peak-forecast MAE is at most the best baseline's, and on the
// periodic ones it is at most the ratio reached when the combination was
// last changed (the goal, 0.5, is reached on nyc_taxi only; see
// docs/predictor.md).
func TestMixtureNeverWorseThanBestBaseline(t *testing.T) {
	load := func(path string) func(t *testing.T) Series {
		return func(t *testing.T) Series {
			s, err := LoadTrace("testdata/" + path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	synthetic := func(s Series) func(*testing.T) Series { return func(*testing.T) Series { return s } }
	for _, tt := range []struct {
		name    string
		series  func(t *testing.T) Series
		bar     float64
		noCycle bool
	}{
		{"nyc_taxi", load("traces/nyc_taxi.csv"), 0.5, false},
		{"crane_input9", load("traces/crane_input9.csv"), 0.85, false},
		{"crane_input5", load("traces/crane_input5.csv"), 1, true},
		{"Twitter_volume_AMZN", load("cycles/Twitter_volume_AMZN.csv"), 1, false},
		{"crane_input0", load("cycles/crane_input0.csv"), 1, false},
		{"crane_input1", load("cycles/crane_input1.csv"), 1, false},
		{"flapping CPU", synthetic(flappingCPU(10)), 0.6, false},
		{"random-walk CPU", synthetic(randomWalkCPU(14)), 1, true},
		{"periodic", synthetic(periodicDemand(21)), 0.9, false},
		{"weekday demand, 1 min", synthetic(weekdayDemand(1, 21)), 0.85, false},
		{"load-balancer requests, one week", synthetic(loadBalancerRequests(1, 7)), 1, false},
		// Without the Selector 1.258 and 1.119; with baselines weighed by
		// their error to the power -8 (not the best blend), 1.055 and
		// 0.980. Batch bursts: 1.004 before the Selector was seeded with
		// the forecasts replayed over the history (Selector.Seed), its
		// first day the mixture's alone; now persistence's, 1.000.
		{"batch bursts", synthetic(batchBursts(8)), 1, true},
		// 1.106 before the hourly cycle was found: the model forecast
		// from the level, the window a day earlier held the job; at a
		// 15-minute step, 1.682.
		// Whole busy workers, 1 to 5 over a day: 1.022 times the best
		// baseline's MAE (seasonal naive day) before the day-peaks
		// candidate (combiner.dayPeaks), 0.908 with it.
		{"busy workers", synthetic(busyWorkers(1)), 1, false},
		// 0.798 before the hour peaks (combiner.hourPeaks): the windows
		// an hour earlier carry one hour's noise, their median over a day
		// does not.
		{"queue filled every hour", synthetic(hourlyQueue(1, time.Minute)), 0.78, false},
		{"queue filled every hour, 15 minutes", synthetic(hourlyQueue(1, 15*time.Minute)), 1, false},
		// At an hourly step the lookahead is one sample, and the
		// week-ago window is the best forecast of the step at 08:00.
		{"office hours, hourly", synthetic(officeHoursAt(30, 28, time.Hour)), 1, false},
		// A job once a week: 1.027 (an hour) and 1.207 (half an hour)
		// times seasonal naive week's MAE while no cycle was found (the
		// weekly test saw only the medians of 6-hour blocks, which an
		// hour or two of a day does not move; see DetectCycles), 0.889
		// and 0.980 with the weekly cycle.
		{"weekly job of an hour", synthetic(weeklyJobDemand(1, 60)), 0.95, false},
		{"weekly job of half an hour", synthetic(weeklyJobDemand(1, 30)), 1, false},
		// NAB traces of the held-out classes (5 minutes). The first week
		// of the load-balancer trace is too short for its daily cycle
		// under that much noise (strength 0.27-0.30, threshold
		// 0.43-0.48); the forecasts find it at later refits. The
		// occupancy traces show theirs on the observed samples alone
		// (0.86 and 0.83; no cycle while the lines drawn across their
		// missing days counted, 0.880 and 0.939).
		{"NAB occupancy_6005", load("traces/occupancy_6005.csv"), 0.9, false},
		{"NAB elb_request_count_8c0756", load("traces/elb_request_count_8c0756.csv"), 1, true},
		// Road occupancy at another sensor, half its rows missing and two
		// at one time (0.94).
		{"NAB occupancy_t4013", load("traces/occupancy_t4013.csv"), 0.96, false},
		// Like batch bursts: persistence is best. 1.027 before the tie
		// within the noise (Model.weigh), 1.022 before lasting spikes
		// were held (Model.spikesLast), 1.012 before the Selector was
		// seeded (the first day, the mixture's alone, was worse than
		// persistence), now 1.000.
		{"NAB ec2_cpu_utilization_77c1ca", load("traces/ec2_cpu_utilization_77c1ca.csv"), 1, true},
		// Its first week alone, as a one-week trace: 3.5 days of history
		// and 3.5 evaluated, over which the mixture and persistence are
		// within the noise of each other. 1.019 before the tie of a
		// first week (selectTie): the mixture led by 1.8% after a run of
		// bursts and forecast more of them over idle demand.
		{"NAB ec2_cpu_utilization_77c1ca, first week", func(t *testing.T) Series {
			return load("traces/ec2_cpu_utilization_77c1ca.csv")(t).Slice(0, 7*288)
		}, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Backtest(tt.series(t), DefaultBacktestConfig())
			if err != nil {
				t.Fatal(err)
			}
			if tt.noCycle != (r.Cycle == "no cycle") {
				t.Errorf("cycle %q", r.Cycle)
			}
			t.Logf("MAE %.4g, MASE %.3f, %.3f x the best baseline (%s); cycle %s",
				r.MLScale.MAE, r.MLScale.MASE, *r.Headline.MAEVsBest, r.Headline.BestBaseline, r.Cycle)
			if got := *r.Headline.MAEVsBest; got > tt.bar {
				t.Errorf("MAE %.4g is %.3f x the best baseline's (%s, %.4g), want at most %g",
					r.MLScale.MAE, got, r.Headline.BestBaseline, r.Baselines[r.Headline.BestBaseline].MAE, tt.bar)
			}
		})
	}
}

// burstyOccupancy is an occupancy series at a 5-minute step over three
// weeks: office hours on weekdays (weekends at 40%), bursts that arrive at
// random and decay by a tenth every step, and noise; with half its rows
// dropped at random, as a trace file (one held-out class of traces has
// half its values missing). It goes through the trace reader, which fills
// the gaps and marks the filled samples.
func burstyOccupancy(t *testing.T, seed uint64, drop float64) (Series, TraceInfo) {
	r := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	burst := 0.0
	for i := range 21 * 288 {
		tm := monday.Add(time.Duration(i) * 5 * time.Minute)
		h := float64(tm.Hour()) + float64(tm.Minute())/60
		base := 5.0
		if h > 7 && h < 19 {
			base = 30 + 20*math.Sin(math.Pi*(h-7)/12)
		}
		if wd := tm.Weekday(); wd == time.Saturday || wd == time.Sunday {
			base *= 0.4
		}
		if r.Float64() < 0.01 {
			burst += 20 + 40*r.Float64()
		}
		burst *= 0.9
		v := math.Max(0, base+burst+3*r.NormFloat64())
		if i == 0 || r.Float64() >= drop {
			fmt.Fprintf(&b, "%s,%.3f\n", tm.Format(nabTimeLayout), v)
		}
	}
	s, info, err := ReadTraceInfo("occupancy.csv", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return s, info
}

// TestGappyOccupancy: on bursty occupancy with half its rows missing,
// where every forecaster sees only the observed samples in a gap
// (Series.Observed), mlscale's MAE is at most the best baseline's
// (persistence, as a rule: the bursts decay step by step);
// docs/predictor.md gives the figures.
func TestGappyOccupancy(t *testing.T) {
	for seed := range uint64(4) {
		s, info := burstyOccupancy(t, seed+1, 0.5)
		cfg := DefaultBacktestConfig()
		r, err := Backtest(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := *r.Headline.MAEVsBest
		t.Logf("seed %d: %d of %d samples filled; MAE %.3f x the best baseline (%s); under %.2f%%, capacity %.3f; %s",
			seed+1, info.Filled, s.Len(), got, r.Headline.BestBaseline, r.Headline.UnderPct, *r.Headline.FloorVsPeak, r.Cycle)
		if got > 1 {
			t.Errorf("seed %d: MAE %.3f x the best baseline (%s), want at most 1", seed+1, got, r.Headline.BestBaseline)
		}
	}
}

// robustRun returns the robust Holt-Winters filter's peak forecasts (see
// holtWinters.updateRobust) after each sample of v, run with hw's
// parameters over all of v as filterHW runs it (NaN over its first two
// periods).
func robustRun(hw holtWinters, v []float64, horizon int) []float64 {
	f := filterHW(v, horizon, hw, [][2]int{{-(len(v) - 1), 0}}, 1, nil)
	out := make([]float64, len(v))
	for i := range out {
		out[i] = f.at(i - (len(v) - 1))
	}
	return out
}

// TestHoltWintersCandidateRunsOn checks that the Holt-Winters candidate,
// forecasting past the history it was fitted on, goes on as the filter
// run over its last dailyDays and on would, that the baseline goes on as
// the filter run over the whole series would (as the backtest's, which
// the candidate's restart does not match), and that without three days
// of history there is none.
func TestHoltWintersCandidateRunsOn(t *testing.T) {
	s := periodicDemand(10)
	n := s.Len() - 100
	m, err := Fit(s.Slice(0, n), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.hw == nil {
		t.Fatal("no Holt-Winters candidate on ten days")
	}
	p := m.hw.period
	w0 := max(0, n-dailyDays(s.Step)*p)
	want := robustRun(m.hw.holtWinters, s.Values[w0:], m.horizon)
	got, _ := m.hwPeaks(m.hw, s.Start, s.Values, n-20, s.Len()-1, nil)
	for k, g := range got {
		if w := want[n-20+k-w0]; math.Abs(g-w) > 1e-9*math.Abs(w) {
			t.Fatalf("sample %d: forecast %g, want %g", n-20+k, g, w)
		}
	}
	whole := robustRun(m.hw.holtWinters, s.Values, m.horizon)
	base, _ := m.hwPeaks(m.hwBase, s.Start, s.Values, n-20, s.Len()-1, nil)
	apart := 0.0
	for k, g := range base {
		if w := whole[n-20+k]; math.Abs(g-w) > 1e-9*math.Abs(w) {
			t.Fatalf("baseline at sample %d: forecast %g, want %g", n-20+k, g, w)
		}
		apart = max(apart, math.Abs(g-got[k])/g)
	}
	if apart < 1e-6 {
		t.Errorf("the baseline forecasts as the restarted candidate (at most %g apart): the test shows nothing", apart)
	}
	short, err := Fit(s.Slice(0, 2*288), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if short.hw != nil {
		t.Error("a Holt-Winters candidate on two days")
	}
}

// TestHoltWintersBaselineInReplay: the forecasts Selector.Seed replays
// inside the fitted history carry the Holt-Winters baseline of the filter
// run over the whole history, at each replayed sample (kept every few
// samples), and elsewhere the candidate's.
func TestHoltWintersBaselineInReplay(t *testing.T) {
	s := memorySawtooth(7, 9)
	m, err := Fit(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.hwBase == nil {
		t.Fatal("no Holt-Winters baseline on nine days")
	}
	scaled := s.scaled(m.scale)
	whole := robustRun(m.hw.holtWinters, scaled.Values, m.horizon)
	last, every := s.Len()-1-m.horizon, 37
	first := last - 40*every - 5 // not a multiple of every from last
	rm := m.withHWOver(scaled, first, last, every)
	for j := last; j >= first; j -= every {
		cand := math.Inf(1) // a candidate's forecast would show as Inf
		if got := rm.hwBaseline(scaled.Start, scaled.Values, j, cand); math.Abs(got-whole[j]) > 1e-9*math.Abs(whole[j]) {
			t.Fatalf("replayed sample %d: baseline %g, want %g (the filter over the whole history)", j, got, whole[j])
		}
	}
	if got := rm.hwBaseline(scaled.Start, scaled.Values, last-1, -1); got != -1 {
		t.Errorf("sample %d, not replayed: baseline %g, want the candidate's (-1)", last-1, got)
	}
	// A model fitted an hour earlier (the predictor reuses one for
	// --refit-every) replays up to samples after its fit: those it
	// covers are kept at the replayed samples, the rest run on.
	early, err := Fit(s.Slice(0, s.Len()-60), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if early.scale != m.scale {
		t.Fatalf("scale %g an hour earlier, %g now", early.scale, m.scale)
	}
	wholeEarly := robustRun(early.hw.holtWinters, scaled.Values, early.horizon)
	re := early.withHWOver(scaled, first, last, every)
	for j := last; j >= first; j -= every {
		if got, want := re.hwBaseline(scaled.Start, scaled.Values, j, math.Inf(1)), wholeEarly[j]; math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Fatalf("fitted an hour earlier, replayed sample %d: baseline %g, want %g", j, got, want)
		}
	}
}

// TestReplayKeepsScoredHoltWinters: a replay's model (Model.withHWOver)
// keeps the Holt-Winters candidate's forecasts only after the samples that
// the replayed forecasts score (Model.scoredIndices), and each replayed
// forecast scores every candidate as it would with the candidate's
// forecasts kept after every sample of the history: on a daily trace
// (phase points), on an hourly cron queue (the hours' points), and with a
// model fitted an hour before the history's end (the replays after its
// fit run the filter on).
func TestReplayKeepsScoredHoltWinters(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    Series
		cut  int // samples after the model's fit
	}{
		{"daily", loadTrace(t, "crane_input9.csv").Slice(0, 20000), 0},
		{"hourly cron", cronQueue(1, 6), 0},
		{"fitted an hour earlier", memorySawtooth(7, 9), 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Fit(tt.s.Slice(0, tt.s.Len()-tt.cut), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if m.hw == nil {
				t.Fatal("no Holt-Winters candidate")
			}
			scaled := tt.s.scaled(m.scale)
			e := tt.s.Len() - 1 - tt.cut
			last, every := tt.s.Len()-1-m.horizon, 37
			first := last - 2*int(Day/m.step)
			rm := m.withHWOver(scaled, first, last, every)
			// The reference keeps every sample's forecast from the
			// earliest one scored (the filter starts where the replay's
			// does: two periods before it).
			lo := e
			for j := last; j >= first; j -= every {
				lo = min(lo, slices.Min(m.scoredIndices(j, nil)))
			}
			full := *m
			full.hw = runHW(scaled.Slice(0, e+1), m.horizon, m.hw.holtWinters, [][2]int{{lo - e, 0}}, nil)
			hwAt, scoredHW := -1, 0
			for j := last; j >= first; j -= every {
				vals := scaled.Values[:j+1]
				got, want := rm.score(scaled.Start, vals, j, nil), full.score(scaled.Start, vals, j, nil)
				if hwAt < 0 {
					hwAt = m.hwCandidate(len(want.now))
				}
				scoredHW += want.n[hwAt]
				if !sameFloats(got.now, want.now) || !sameFloats(got.errs, want.errs) || !slices.Equal(got.n, want.n) {
					t.Fatalf("replay at %d: forecasts %v, errors %v, counts %v; with every forecast kept %v, %v, %v",
						j, got.now, got.errs, got.n, want.now, want.errs, want.n)
				}
			}
			if scoredHW == 0 {
				t.Fatal("the Holt-Winters candidate scored in no replayed forecast")
			}
		})
	}
}

// TestHourPoints: with an hourly cycle the candidates are scored on the
// forecasts made at the same minute of each of the last hourlyPoints
// hours, and the Holt-Winters candidate is among them: from the fit's
// kept forecasts (a model fitted an hour before, as the predictor reuses
// one for --refit-every), and in a replay over the history
// (Model.withHWOver, as Selector.Seed runs it). Without an hourly cycle,
// or with a lookahead of one sample, the recent forecasts are scored.
func TestHourPoints(t *testing.T) {
	s := cronQueue(1, 6)
	early, err := Fit(s.Slice(0, s.Len()-60), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !early.cycles.Has(Hourly) {
		t.Fatalf("cycles %s, want an hourly one", early.cycles)
	}
	scaled := s.scaled(early.scale)
	i := s.Len() - 1
	hours := early.hourPoints(i)
	if len(hours) != hourlyPoints || hours[0] != i-60 || hours[hourlyPoints-1] != i-hourlyPoints*60 {
		t.Fatalf("hour points %v, want %d of them an hour apart from %d", hours, hourlyPoints, i-60)
	}
	hwAt := early.hwCandidate(len(early.score(scaled.Start, scaled.Values, i, nil).now))
	if sc := early.score(scaled.Start, scaled.Values, i, nil); sc.n[hwAt] != hourlyPoints || sc.n[0] != hourlyPoints {
		t.Errorf("scored %d forecasts of Holt-Winters and %d of the seasonal model, want %d of each", sc.n[hwAt], sc.n[0], hourlyPoints)
	}
	first := i - 1440
	re := early.withHWOver(scaled, first, first, 1)
	past := Series{Start: scaled.Start, Step: scaled.Step, Values: scaled.Values[:first+1]}
	if sc := re.score(past.Start, past.Values, first, nil); sc.n[hwAt] != hourlyPoints {
		t.Errorf("replayed a day in: scored %d forecasts of Holt-Winters, want %d", sc.n[hwAt], hourlyPoints)
	}
	daily, err := Fit(synth(14*288, 5*time.Minute, 3, daily), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := daily.hourPoints(14*288 - 1); got != nil {
		t.Errorf("daily trace: hour points %v, want none", got)
	}
	one, err := Fit(s, Options{Lookahead: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := one.hourPoints(i); got != nil {
		t.Errorf("a one-sample lookahead: hour points %v, want none", got)
	}
}

// TestHourlyJobIsNoSpike: where an hourly cycle was found, a batch larger
// than its profile is no spike in progress as it lands when one of the
// last hours' at the same minute was as large (Model.profileMissed), though
// the day before's was not: its forecast is not held at the latest sample,
// where the drain falls in full.
func TestHourlyJobIsNoSpike(t *testing.T) {
	s := cronQueue(1, 6)
	end := s.Len() - 60 // minute 0 of the last hour: the batch lands
	batch := func(hour int, size float64) {
		for m := 0; m < 12; m++ {
			i := hour*60 + m
			s.Values[i] = size*(1-float64(m)/12) + 18
		}
	}
	last := end / 60
	batch(last-24, 320) // the day before: small
	for h := last - 3; h <= last; h++ {
		batch(h, 480) // the last hours: large
	}
	hist := s.Slice(0, end+1)
	m, err := Fit(hist, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Forecast(hist)
	if err != nil {
		t.Fatal(err)
	}
	if !m.cycles.Has(Hourly) || !m.spikesLast {
		t.Fatalf("cycles %s, spikes held from their first sample %v: the test needs an hourly cycle and a spike of one sample", m.cycles, m.spikesLast)
	}
	if m.excess(hist, end, m.levelAt(hist.Values, end)) < spikeK {
		t.Fatal("the batch is not spikeK deviations above its profile: the test shows nothing")
	}
	if f.Spike {
		t.Errorf("a spike in progress as a batch of 480 lands, as large as each of the last three hours'")
	}
}

// TestShareProfiles: the per-day profile candidates weigh together as much
// as the best of them unless one of them has the least error of all.
func TestShareProfiles(t *testing.T) {
	tests := []struct {
		name    string
		days    int
		w, errs []float64
		want    []float64
	}{
		{
			name: "one profile: unchanged", days: 1,
			w: []float64{1, 2, 4}, errs: []float64{3, 2, 1}, want: []float64{1, 2, 4},
		},
		{
			// Persistence (the last candidate) beats every profile: the
			// seven count as their best.
			name: "another candidate is best: the profiles share the best one's weight", days: 7,
			w:    []float64{1, 2, 2, 2, 2, 1, 0.5, 0.5, 8},
			errs: []float64{3, 2, 2, 2, 2, 3, 4, 4, 1},
			want: []float64{1, 0.4, 0.4, 0.4, 0.4, 0.2, 0.1, 0.1, 8},
		},
		{
			name: "a profile is best: unchanged", days: 7,
			w:    []float64{1, 2, 2, 2, 2, 1, 0.5, 8, 4},
			errs: []float64{3, 2, 2, 2, 2, 3, 4, 1, 1.5},
			want: []float64{1, 2, 2, 2, 2, 1, 0.5, 8, 4},
		},
		{
			// A candidate that does not compete (weight 0) is not the
			// best, whatever its error.
			name: "candidates out of the competition are ignored", days: 7,
			w:    []float64{1, 2, 2, 2, 2, 1, 0.5, 0.5, 0},
			errs: []float64{3, 2, 2, 2, 2, 3, 4, 4, 0},
			want: []float64{1, 2, 2, 2, 2, 1, 0.5, 0.5, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := slices.Clone(tt.w)
			shareProfiles(w, tt.errs, tt.days)
			for c := range w {
				if math.Abs(w[c]-tt.want[c]) > 1e-12 {
					t.Fatalf("weights %v, want %v", w, tt.want)
				}
			}
		})
	}
}

// TestProfileScaledOverHalfAnHour: at a 5-minute step the per-day profile
// candidate is scaled by the last half hour's samples, not by the latest
// one alone, so that one noisy sample moves the window's forecast by a
// sixth of its excess, while a change that lasts the half hour scales it
// in full.
func TestProfileScaledOverHalfAnHour(t *testing.T) {
	clean := synth(10*288, 5*time.Minute, 0, daily)
	m, err := Fit(clean, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.profileDays() != 1 || m.profileN != 6 {
		t.Fatalf("%d profile candidates scaled over %d samples, want 1 over 6", m.profileDays(), m.profileN)
	}
	i := clean.Len() - 1
	peak := math.Inf(-1)
	for h := 1; h <= m.horizon; h++ {
		peak = max(peak, daily(clean.Time(i+h)))
	}
	tests := []struct {
		name     string
		last     int     // how many of the latest samples are scaled
		by       float64 // by this factor
		min, max float64 // the profile candidate over the clean peak
	}{
		{"ordinary", 0, 1, 0.98, 1.02},
		{"the latest sample 50% high", 1, 1.5, 1.06, 1.11},
		{"the last half hour at half", 6, 0.5, 0.48, 0.52},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := slices.Clone(clean.Values)
			for j := i - tt.last + 1; j <= i; j++ {
				vals[j] *= tt.by
			}
			c := combiner{m: m, start: clean.Start, vals: vals}
			got := c.candidates(i, nil)[1] / peak
			if got < tt.min || got > tt.max {
				t.Errorf("profile candidate %.3f x the clean peak, want %g to %g", got, tt.min, tt.max)
			}
		})
	}
}

// TestIdleDemandForgetsABurst: on idle demand, one burst of 1,000 does
// not get a share of the forecast after it. A day before the window after
// the last sample, every candidate forecast the recent windows exactly,
// and the one that recalls it is outweighed by the tied candidates'
// weighted median, zero. Half an hour ago, every candidate missed it
// alike and the envelope still recalls it; the candidates that forecast
// zero, more than half the weight, are the forecast (see agreed; 14
// without).
func TestIdleDemandForgetsABurst(t *testing.T) {
	for _, tt := range []struct {
		name string
		ago  int // minutes before the last sample
	}{
		{"a day before the next window", 1440 - 5},
		{"half an hour ago", 30},
	} {
		s := Series{Start: monday, Step: time.Minute, Values: make([]float64, 5*1440)}
		s.Values[s.Len()-tt.ago] = 1000
		_, f := fitForecast(t, s, Options{})
		if f.Peak != 0 {
			t.Errorf("burst %s: peak forecast %g on idle demand, want 0", tt.name, f.Peak)
		}
	}
}

// TestWeighCalmTie replays the weighing of one forecast on NAB's
// ec2_cpu_utilization_77c1ca (no cycle, a 15-minute lookahead at 5
// minutes): after hours at 0.1, the window a day earlier had matched best
// by 0.0005 and held nearly all the weight, forecasting its burst of 97.
// The candidates are tied within their noise (tieShare), and the forecast
// is what most of them say. With a cycle the weights stand.
func TestWeighCalmTie(t *testing.T) {
	sc := func() scored {
		return scored{
			now:  []float64{0.102, 95.561, 97.472, 0.099, 0.100, -14.974, 0.102},
			errs: []float64{0.0038, 0.0189, 0.0005, 0.0314, 0.0205, 2.3546, 9.6284},
			n:    []int{12, 12, 12, 12, 12, 12, 12},
		}
	}
	m := &Model{horizon: 3}
	if got := m.weigh(sc()); math.Abs(got-0.1) > 0.01 {
		t.Errorf("no cycle: forecast %v, want the tied candidates' 0.1", got)
	}
	m.cycle = Cycle{Period: Day, Strength: 1}
	if got := m.weigh(sc()); got < 90 {
		t.Errorf("daily cycle: forecast %v, want the best candidate's weight to carry it (about 97)", got)
	}
}

func TestAgreed(t *testing.T) {
	tests := []struct {
		f, w []float64
		want float64
		ok   bool
	}{
		// Zero from three candidates with 3 of 5 of the weight.
		{[]float64{0, 300, 0, 0, 300}, []float64{1, 1, 1, 1, 1}, 0, true},
		// A tie at half the weight is no majority.
		{[]float64{0, 300, 0, 300}, []float64{1, 1, 1, 1}, 0, false},
		// One candidate alone is no agreement, however heavy.
		{[]float64{0.4, 0.5, 0.6}, []float64{10, 1, 1}, 0, false},
		// Weightless candidates do not count.
		{[]float64{100, 100, 42, 7}, []float64{0, 0, 1, 1}, 0, false},
		{[]float64{100, 100, 42, 7}, []float64{1, 1, 1, 0}, 100, true},
	}
	for _, tt := range tests {
		got, ok := agreed(tt.f, tt.w)
		if got != tt.want || ok != tt.ok {
			t.Errorf("agreed(%v, %v) = %g, %v, want %g, %v", tt.f, tt.w, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWeightedMedian(t *testing.T) {
	tests := []struct {
		f, w []float64
		want float64
	}{
		{[]float64{0, 0, 1000, 0}, []float64{1, 1, 1, 1}, 0},
		{[]float64{5, 1, 3}, []float64{1, 1, 1}, 3},
		{[]float64{5, 1, 3}, []float64{0, 0, 2}, 3},
		{[]float64{5, 1, 3}, []float64{10, 1, 1}, 5},
	}
	for _, tt := range tests {
		if got := weightedMedian(tt.f, tt.w); got != tt.want {
			t.Errorf("weightedMedian(%v, %v) = %g, want %g", tt.f, tt.w, got, tt.want)
		}
	}
}

// candidateErrors replays the second half of s, refitting daily as the
// backtest does, and returns the mean absolute error of the mixture's
// peak forecast (combined) and of each candidate alone (NaN for one that
// was missing at some step), against the actual peak of the lookahead.
func candidateErrors(t *testing.T, s Series) (mixture float64, alone []float64) {
	t.Helper()
	opts := Options{}.withDefaults()
	var m *Model
	n := 0
	for i := s.Len() / 2; i+1 < s.Len(); i++ {
		if m == nil || (i-s.Len()/2)%int(Day/s.Step) == 0 {
			var err error
			if m, err = Fit(s.Slice(0, i+1), opts); err != nil {
				t.Fatal(err)
			}
		}
		if i+m.horizon >= s.Len() {
			break
		}
		vals := s.Slice(0, i+1).scaled(m.scale).Values
		c := combiner{m: m, start: s.Start, vals: vals, hwLo: i, hwHi: i}
		now := c.candidates(i, nil)
		actual := slices.Max(s.Values[i+1 : i+1+m.horizon])
		if alone == nil {
			alone = make([]float64, len(now))
		}
		for k, f := range now {
			alone[k] += math.Abs(f*m.scale - actual)
		}
		peak, _ := m.combined(s.Start, vals, i, i, nil)
		mixture += math.Abs(max(0, peak)*m.scale - actual)
		n++
	}
	for k := range alone {
		alone[k] /= float64(n)
	}
	return mixture / float64(n), alone
}

// TestMixtureBeatsEachCandidate checks the point of weighing the
// candidates by their last hours rather than picking one: on real traces
// whose best forecaster changes over the day, the mixture's error is under
// that of every candidate alone.
func TestMixtureBeatsEachCandidate(t *testing.T) {
	for _, path := range []string{"traces/crane_input5.csv", "traces/crane_input9.csv", "cycles/crane_input0.csv"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			s, err := LoadTrace("testdata/" + path)
			if err != nil {
				t.Fatal(err)
			}
			mixture, alone := candidateErrors(t, s)
			t.Logf("mixture %.4g; candidates alone %.4g", mixture, alone)
			for k, e := range alone {
				if !(mixture < e) && !math.IsNaN(e) {
					t.Errorf("mixture's MAE %.4g, candidate %d's alone %.4g: want the mixture's under every candidate's", mixture, k, e)
				}
			}
		})
	}
}

// TestNetOfNoise: the noise comes off each scored candidate's error, down
// to netFloor of it; unscored candidates keep theirs; the least net error
// is returned.
func TestNetOfNoise(t *testing.T) {
	tests := []struct {
		errs  []float64
		n     []int
		noise float64
		want  []float64
		best  float64
	}{
		{[]float64{0.08, 0.12, 0.16}, []int{12, 12, 12}, 0.07, []float64{0.01, 0.05, 0.09}, 0.01},
		{[]float64{0.05, 0.06}, []int{3, 3}, 0.1, []float64{0.005, 0.006}, 0.005},
		{[]float64{1, 5}, []int{0, 12}, 0.5, []float64{1, 4.5}, 4.5},
		{[]float64{2, 3}, []int{12, 12}, 0, []float64{2, 3}, 2},
	}
	for _, tt := range tests {
		errs := slices.Clone(tt.errs)
		best := netOfNoise(errs, tt.n, tt.noise)
		for c := range errs {
			if math.Abs(errs[c]-tt.want[c]) > 1e-12 {
				t.Errorf("netOfNoise(%v, %v, %g): errors %v, want %v", tt.errs, tt.n, tt.noise, errs, tt.want)
				break
			}
		}
		if math.Abs(best-tt.best) > 1e-12 {
			t.Errorf("netOfNoise(%v, %v, %g) = %g, want %g", tt.errs, tt.n, tt.noise, best, tt.best)
		}
	}
}

// TestScoredPoints: twelve past forecasts are scored, or where the
// lookahead is one sample as many as span six hours if that is more.
func TestScoredPoints(t *testing.T) {
	tests := []struct {
		step time.Duration
		want int
	}{
		{time.Minute, 12},
		{5 * time.Minute, 12},
		{15 * time.Minute, 24},
		{20 * time.Minute, 18},
		{30 * time.Minute, 12},
		{time.Hour, 12},
	}
	for _, tt := range tests {
		m := &Model{step: tt.step, horizon: max(1, int((DefaultLookahead+tt.step-1)/tt.step))}
		if got := m.scoredPoints(); got != tt.want {
			t.Errorf("step %s (lookahead %d samples): %d scored forecasts, want %d", tt.step, m.horizon, got, tt.want)
		}
	}
}

// TestOneOffADayEarlierIsCapped: a burst of 100 times the demand a day
// earlier, scaled to recent samples three times busier, would forecast 30
// times any demand seen; the scaled window a day earlier is capped where
// its peak was a one-off, not where it recurs (a job at that time every
// day, also where it comes up to a quarter of an hour earlier or later
// each day, see Model.nearPeak), and so is the window as it was (seasonal
// naive) where the one-off is a single sample far above its neighbours (a
// glitch, see combiner.glitchRun; TestGlitchIsNotDemand).
func TestOneOffADayEarlierIsCapped(t *testing.T) {
	const days = 10
	step := 5 * time.Minute
	perDay := int(Day / step)
	// jitter moves the job by whole samples each day; two days before the
	// last, 10 minutes later than the day after, outside the window the
	// day after's peak is in.
	jitter := []int{0, -2, 1, 2, -1, 2, -2, 2, 0, 1}
	build := func(job, jittered bool) Series {
		s := synth(days*perDay, step, 1, daily)
		for d := range days {
			at := d*perDay + 215 // 17:55
			if jittered {
				at += jitter[d]
			}
			if job || d == days-2 {
				s.Values[at] = 10000
			}
		}
		return s
	}
	for _, tt := range []struct {
		name     string
		job      bool
		jittered bool
		capped   bool
	}{
		{"one-off", false, false, true},
		{"a job every day", true, false, false},
		{"a job every day, up to 10 minutes early or late", true, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := build(tt.job, tt.jittered)
			i := (days-1)*perDay + 212 // 17:40 on the last day: the window a day earlier holds 17:55
			hist := s.Slice(0, i+1)
			// The last half hour three times busier than a day earlier.
			for j := i - 5; j <= i; j++ {
				hist.Values[j] *= 3
			}
			m, err := Fit(s.Slice(0, (days-2)*perDay+300), Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := combiner{m: m, start: hist.Start, vals: hist.Values}
			lo := i - m.recent + 1
			var x float64
			for j := lo; j <= i; j++ {
				x += hist.Values[j]
			}
			got, _ := c.analogues(i, lo, x, m.levelAt(hist.Values, i), nil)
			scaled, raw := got[0], got[2]
			if tt.capped && !(raw < 1000) {
				t.Errorf("the window a day earlier as it was forecasts %g on demand of about 150: the one-off was not capped", raw)
			}
			if !tt.capped && raw != 10000 {
				t.Errorf("the window a day earlier as it was forecasts %g, want the daily job's peak, 10000", raw)
			}

			if tt.capped && !(scaled < 1000) {
				t.Errorf("the scaled window a day earlier forecasts %g on demand of about 450: the one-off was not capped", scaled)
			}
			if !tt.capped && !(scaled >= 10000) {
				t.Errorf("the scaled window a day earlier forecasts %g: the daily job was capped", scaled)
			}
		})
	}
}

// TestDayPeaks checks the day-peaks candidate: the median of the same
// window's peaks over the last week, none with fewer than three days, with
// business hours only the days on the same side of them, and under a
// weekly cycle only weekdays for a weekday and weekend days for a weekend
// day. Day d of the series holds d everywhere; it starts on a Monday.
func TestDayPeaks(t *testing.T) {
	const l = 96 // a day at 15 minutes
	bh, err := intent.ParseBusinessHours("Mon-Fri 08:00-18:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	days := func(n int) []float64 {
		v := make([]float64, n*l)
		for i := range v {
			v[i] = float64(i / l)
		}
		return v
	}
	spiked := days(10)
	spiked[8*l+41] = 100
	at10 := func(day int) int { return day*l + 40 } // 10:00
	for _, tt := range []struct {
		name   string
		vals   []float64
		i      int
		hours  bool
		period time.Duration
		want   float64 // NaN: none
	}{
		{"the last seven days", days(10), at10(9), false, Day, 5},
		{"a spike on one of them", spiked, at10(9), false, Day, 5},
		{"three days", days(4), at10(3), false, Day, 1},
		{"two days", days(3), at10(2), false, Day, math.NaN()},
		{"Monday without business hours", days(8), at10(7), false, Day, 3},
		{"Monday with business hours: not the weekend", days(8), at10(7), true, Day, 2},
		{"Saturday with business hours: no other weekend day", days(6), at10(5), true, Day, math.NaN()},
		// Days 11-7 and 4-3 are the last seven weekdays before Monday 14.
		{"weekly: a Monday from weekdays", days(15), at10(14), false, Week, 8},
		{"weekly: a Sunday from weekend days", days(14), at10(13), false, Week, 6},
		{"weekly: a Saturday in the first week", days(6), at10(5), false, Week, math.NaN()},
		{"weekly with business hours: by the hours", days(8), at10(7), true, Week, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &Model{step: 15 * time.Minute, horizon: 2, cycle: Cycle{Period: tt.period}, phases: int(tt.period / (15 * time.Minute))}
			if tt.hours {
				m.opts.BusinessHours = &bh
			}
			c := &combiner{m: m, start: monday, vals: tt.vals}
			got := c.dayPeaks(tt.i)
			if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("day peaks %g, want %g", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		step    time.Duration
		horizon int
		period  time.Duration
		want    bool
	}{
		{time.Minute, 15, Day, true},
		{5 * time.Minute, 3, Day, true},
		{30 * time.Minute, 1, Day, false}, // the profile is the median already
		{time.Minute, 15, Week, true},
		{time.Minute, 15, 0, true},       // no cycle: the typical window peak
		{7 * time.Minute, 3, Day, false}, // a day is not a whole number of steps
		{time.Hour, 24, Day, false},      // the window is a day long
	} {
		m := &Model{step: tt.step, horizon: tt.horizon, cycle: Cycle{Period: tt.period}}
		if got := m.dayPeaksOn(); got != tt.want {
			t.Errorf("step %s, horizon %d, period %s: day peaks %t, want %t", tt.step, tt.horizon, tt.period, got, tt.want)
		}
	}
}

// TestHourPeaks: the hour peaks are the median of the same window's peaks
// at the same minute of each of the last 24 hours (NaN with fewer than
// three), and the candidate is on only under an hourly cycle, where the
// window is more than one sample and less than an hour long. Hour h of
// the series holds h everywhere but at minutes 0-4, where it holds 100+h.
func TestHourPeaks(t *testing.T) {
	vals := make([]float64, 48*60)
	for i := range vals {
		vals[i] = float64(i / 60)
		if i%60 < 5 {
			vals[i] += 100
		}
	}
	m := &Model{step: time.Minute, horizon: 15, cycles: Cycles{{Period: Hourly}}}
	c := &combiner{m: m, start: monday, vals: vals}
	for _, tt := range []struct {
		name string
		i    int
		want float64
	}{
		// The window after minute 59 of hour 29 holds minutes 0-14 of
		// hour 30; an hour to 24 hours earlier, of hours 29 to 6: 100+h.
		{"the job's window, 24 hours back", 29*60 + 59, 100 + 17.5},
		// The windows after minute 20 hold minutes 21-35 of hours 6-29.
		{"between the jobs", 30*60 + 20, 17.5},
		{"three hours back", 3*60 + 20, 1},
		{"two hours of history: none", 2*60 + 20, math.NaN()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := c.hourPeaks(tt.i)
			if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("hour peaks %g, want %g", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		step    time.Duration
		horizon int
		cycles  Cycles
		want    bool
	}{
		{time.Minute, 15, Cycles{{Period: Hourly}, {Period: Day}}, true},
		{5 * time.Minute, 3, Cycles{{Period: Hourly}}, true},
		{time.Minute, 15, Cycles{{Period: Day}}, false},        // no hourly cycle
		{15 * time.Minute, 1, Cycles{{Period: Hourly}}, false}, // one sample
		{7 * time.Minute, 3, Cycles{{Period: Hourly}}, false},  // an hour is not a whole number of steps
		{time.Minute, 60, Cycles{{Period: Hourly}}, false},     // the window is an hour long
	} {
		m := &Model{step: tt.step, horizon: tt.horizon, cycles: tt.cycles}
		if got := m.hourPeaksOn(); got != tt.want {
			t.Errorf("step %s, horizon %d, cycles %v: hour peaks %t, want %t", tt.step, tt.horizon, tt.cycles, got, tt.want)
		}
	}
}

// TestHourlyJobEndIsNoSpike: a job of five minutes at minute 0 of every
// hour (a cron), forecast five minutes ahead from its last minute. The
// profile, smoothed over minutes, blurs the job's edges, so its samples
// stand spikeK deviations above it without the profile stepping sharply
// at any one of them; the same minute of the last hours was as high, so
// it is no spike in progress to hold, and the forecast is the quiet
// minutes that follow (the job held as a spike made 1.31 times seasonal
// naive day's MAE over a backtest of such a queue).
func TestHourlyJobEndIsNoSpike(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, 14*1440)}
	for i := range s.Values {
		s.Values[i] = 5 + 2*r.NormFloat64()
		if i%60 < 5 {
			s.Values[i] = 80 + 2*r.NormFloat64()
		}
	}
	end := s.Len() - 60 + 4 // minute 4 of the last hour: the job's last
	hist := s.Slice(0, end+1)
	m, err := Fit(hist, Options{Lookahead: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !m.cycles.Has(Hourly) {
		t.Fatalf("cycles %s: the test needs an hourly cycle", m.cycles)
	}
	if m.excess(hist, end, m.levelAt(hist.Values, end)) < spikeK {
		t.Fatal("the job's last minute is not spikeK deviations above its profile: the test shows nothing")
	}
	f, err := m.Forecast(hist)
	if err != nil {
		t.Fatal(err)
	}
	if f.Spike || f.Peak > 40 {
		t.Errorf("forecast after the job's last minute: peak %.1f, spike %v; want the quiet minutes' (about 10), no spike", f.Peak, f.Spike)
	}
}

// TestPhasePointsWithANewCandidate: a candidate that has no forecast at
// the phase points yet (the week-ago window, with a history just over a
// week: a day earlier it had under a week) leaves itself out of their
// scores, not every candidate. The phase points are what tells the
// candidates that follow the last hours (the envelope of the recent
// peaks) from the profile just after a step down; without them, an hour
// after 18:00 was forecast at 19-23 where the demand was 14.
func TestPhasePointsWithANewCandidate(t *testing.T) {
	s := dailyShifts(10)
	for _, d := range []int{7, 8} {
		for _, mm := range []int{5, 10, 20} {
			i := int((time.Duration(d)*Day + 18*time.Hour + time.Duration(mm)*time.Minute) / time.Minute)
			h := s.Slice(0, i+1)
			m, err := Fit(h, Options{Lookahead: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			f, err := m.Forecast(h)
			if err != nil {
				t.Fatal(err)
			}
			if actual := slices.Max(s.Values[i+1 : i+61]); math.Abs(f.Peak-actual) > 3 {
				t.Errorf("day %d, 18:%02d: the next hour's peak forecast at %.1f, actual %.1f (the step down to 10 was at 18:00)", d+1, mm, f.Peak, actual)
			}
		}
	}
}
