package predictor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestNewCalibratorRefusesBadTargets(t *testing.T) {
	for _, target := range []float64{0, -0.1, 0.51, 1, math.NaN()} {
		if _, err := NewCalibrator(target, time.Minute, 15*time.Minute); err == nil {
			t.Errorf("target %v accepted", target)
		}
	}
	if _, err := NewCalibrator(0.02, 0, 15*time.Minute); err == nil {
		t.Error("step 0 accepted")
	}
	if _, err := NewCalibrator(0.02, time.Minute, 0); err == nil {
		t.Error("lookahead 0 accepted")
	}
}

// TestCalibratorCoverage feeds a calibrator forecasts with known errors and
// checks the share of actual peaks above its upper bounds against the
// target: Gaussian errors of a fixed size, and errors that grow with
// demand, where the scaled score must win (a smaller mean margin at the
// same coverage).
func TestCalibratorCoverage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target float64
		// noise returns the actual peak for a forecast peak.
		noise func(r *rand.Rand, peak float64) float64
	}{
		{"additive 2%", 0.02, func(r *rand.Rand, p float64) float64 { return p + 10*r.NormFloat64() }},
		{"additive 10%", 0.10, func(r *rand.Rand, p float64) float64 { return p + 10*r.NormFloat64() }},
		{"multiplicative 5%", 0.05, func(r *rand.Rand, p float64) float64 { return p * (1 + 0.2*r.NormFloat64()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			c, err := NewCalibrator(tc.target, time.Minute, 15*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			var under, n int
			var margin, spread float64
			for i := range 20000 {
				// Demand between 20 and 380 over a day.
				peak := 200 + 180*math.Sin(2*math.Pi*float64(i)/1440)
				upper := c.Upper(Forecast{Peak: peak, Upper: peak})
				actual := tc.noise(r, peak)
				miss := upper < actual
				c.Observe(actual-peak, peak, miss)
				if i >= 2000 {
					n++
					if miss {
						under++
					}
					margin += upper - peak
					spread += math.Abs(actual - peak)
				}
			}
			rate := float64(under) / float64(n)
			t.Logf("under %.4f (target %.2f), mean margin %.2f, mean |error| %.2f", rate, tc.target, margin/float64(n), spread/float64(n))
			if math.Abs(rate-tc.target) > 0.25*tc.target {
				t.Errorf("under %.4f of the steps, want %.2f within a quarter of it", rate, tc.target)
			}
			got, count := c.Achieved()
			if count != 20000 || math.Abs(got-float64(under+0)/float64(n)) > 0.01 {
				t.Errorf("Achieved() = %v over %d", got, count)
			}
		})
	}
}

// TestCalibratorScaledScoreWins: with errors proportional to demand, the
// scaled score's margins, small at night and large by day, cost less than
// the one margin for all hours that the residual score needs for the same
// coverage (the 95th percentile of the residuals).
func TestCalibratorScaledScoreWins(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	c, _ := NewCalibrator(0.05, time.Minute, 15*time.Minute)
	var margin float64
	var residuals []float64
	for i := range 10000 {
		peak := 200 + 180*math.Sin(2*math.Pi*float64(i)/1440)
		upper := c.Upper(Forecast{Peak: peak, Upper: peak})
		actual := peak * (1 + 0.2*r.NormFloat64())
		c.Observe(actual-peak, peak, upper < actual)
		if i >= 5000 {
			margin += (upper - peak) / 5000
			residuals = append(residuals, actual-peak)
		}
	}
	additive := quantile(0.95, residuals)
	t.Logf("mean margin %.1f, residual score's margin %.1f", margin, additive)
	if margin > 0.9*additive {
		t.Errorf("mean margin %.1f for errors of 20%% of demand, want well below the residual score's %.1f", margin, additive)
	}
}

func TestCalibratorSeedAndNaN(t *testing.T) {
	c, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	if got := c.Upper(Forecast{Peak: 5, Upper: 7}); got != 7 {
		t.Errorf("no residuals: upper %v, want the model's own 7", got)
	}
	seed := make([]float64, 0, 300)
	for i := range 300 {
		seed = append(seed, float64(i%100)) // 0..99, three times
	}
	c.Seed(append(seed, math.NaN(), math.Inf(1)))
	if c.Len() != 300 {
		t.Fatalf("%d residuals kept, want 300 (non-finite ones skipped)", c.Len())
	}
	// The ceil(301*0.98) = 295th smallest of 0..99 three times is 98.
	if got := c.Upper(Forecast{Peak: 5}); got != 5+98 {
		t.Errorf("upper %v, want 5 + 98", got)
	}
	c.Observe(math.NaN(), 5, true)
	if _, n := c.Achieved(); n != 0 {
		t.Errorf("a NaN residual was counted")
	}
	// A forecast far above every actual: the bound never goes below 0.
	low, _ := NewCalibrator(0.5, time.Minute, 15*time.Minute)
	low.Seed([]float64{-100, -100, -100})
	if got := low.Upper(Forecast{Peak: 5}); got != 0 {
		t.Errorf("upper %v, want 0", got)
	}
}

// TestCalibratorFirstForecasts: the recent error is the plain mean of the
// residuals observed until there are 30 of them, and the local score has
// no score from before its scale was known. With residuals of +-10 on a
// peak of 100, every margin is 10 from the start. When the recent error
// was an exponentially weighted mean from 0, the first scores of the local
// score were the residuals over a small part of their scale (30 times it
// for the first one), the largest in its window for two days: at a 2%
// target the floor stood at 100 plus about 100.
func TestCalibratorFirstForecasts(t *testing.T) {
	c, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	for i := range 200 {
		r := 10.0
		if i%2 == 1 {
			r = -10
		}
		c.Observe(r, 100, false)
		if got := c.RecentError(); i < recentResiduals && math.Abs(got-10) > 1e-9 {
			t.Fatalf("after %d residuals of 10: recent error %v, want 10", i+1, got)
		}
	}
	if got := c.Upper(Forecast{Peak: 100}); math.Abs(got-110) > 1e-6 {
		t.Errorf("upper %v, want 100 plus the residuals' 10", got)
	}
}

// TestCalibratorRecentErrorClipsOneExtreme: after 300 residuals of about
// 2, one of a million raises the recent error by recentClip times their
// extreme over recentResiduals, not by a million over it; a run of large
// residuals still raises it to their size.
func TestCalibratorRecentErrorClipsOneExtreme(t *testing.T) {
	c, _ := NewCalibrator(0.02, 5*time.Minute, 15*time.Minute)
	r := rand.New(rand.NewPCG(3, 3))
	for range 300 {
		c.Observe(2*r.NormFloat64(), 50, false)
	}
	before := c.RecentError()
	c.Observe(1e6, 50, true)
	// The residuals' extreme is about 5: the recent error rises by
	// about 10 x 5 / 30.
	if got := c.RecentError(); got > before+3 {
		t.Errorf("recent error %v after one residual of a million (%v before), want at most 3 more", got, before)
	}
	for range 100 {
		c.Observe(200, 50, true)
	}
	if got := c.RecentError(); got < 150 {
		t.Errorf("recent error %v after 100 residuals of 200, want near 200", got)
	}
}

// TestFloorsCalibratedToTarget runs the backtest on the labelled traces and
// checks point 2 of the predictor issue: the floors are under the actual
// peak in at most the target share of steps (plus half a point: the
// calibration adapts, it does not know the future), at a mean floor
// capacity at most the bar measured when the calibration was last changed.
// The goals are 2% at 1.25 x the peak on periodic traces, 5% at 1.5 x on
// irregular ones; the one bar above the goal, crane_input1's, is a trace
// where no constant margin reaches it (TestConstantMarginBound; see
// docs/predictor.md).
func TestFloorsCalibratedToTarget(t *testing.T) {
	load := func(path string) Series {
		s, err := LoadTrace("testdata/" + path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// lookahead is the backtest's (its default, 15 minutes, when 0).
	for _, tt := range []struct {
		name      string
		series    Series
		target    float64
		bar       float64
		lookahead time.Duration
	}{
		{"nyc_taxi", load("traces/nyc_taxi.csv"), 0.02, 1.25, 0},
		{"crane_input0", load("cycles/crane_input0.csv"), 0.02, 1.25, 0},
		{"periodic", periodicDemand(21), 0.02, 1.25, 0},
		{"crane_input9", load("traces/crane_input9.csv"), 0.02, 1.25, 0},
		{"flapping CPU", flappingCPU(10), 0.05, 1.5, 0},
		{"random-walk CPU", randomWalkCPU(14), 0.05, 1.5, 0},
		{"Twitter_volume_AMZN", load("cycles/Twitter_volume_AMZN.csv"), 0.05, 1.5, 0},
		{"crane_input1", load("cycles/crane_input1.csv"), 0.05, 1.6, 0},
		{"crane_input5", load("traces/crane_input5.csv"), 0.05, 1.5, 0},
		// A window of 60 samples: one burst misses 60 floors in a row
		// (see calibrationRun). At the full gain per floor it was under
		// in 2.22% of steps at 1.89 times the peak; then 1.86% at 1.54,
		// 1.86% at 1.45 with the cap at the recent peak, and 2.01% at
		// 1.51 since a lasting spike is held from its first sample (the
		// MAE 0.905 -> 0.896 times Holt-Winters's).
		{"crane_input9, 60-minute lookahead", load("traces/crane_input9.csv"), 0.02, 1.6, time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultBacktestConfig()
			cfg.Options.TargetUnder = tt.target
			if tt.lookahead > 0 {
				cfg.Options.Lookahead = tt.lookahead
			}
			r, err := Backtest(tt.series, cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := r.Headline
			t.Logf("target %.0f%%: under %.2f%% of steps, floor capacity %.3f x the peak", 100*tt.target, h.UnderPct, *h.FloorVsPeak)
			if h.TargetUnderPct != 100*tt.target {
				t.Errorf("headline target %v%%, want %v%%", h.TargetUnderPct, 100*tt.target)
			}
			if h.UnderPct > 100*tt.target+0.5 {
				t.Errorf("floors under in %.2f%% of steps, target %.0f%%", h.UnderPct, 100*tt.target)
			}
			if *h.FloorVsPeak > tt.bar {
				t.Errorf("mean floor capacity %.3f x the actual peak, want at most %.2f", *h.FloorVsPeak, tt.bar)
			}
		})
	}
}

// TestCalibratorUpperAtMostRecentPeak checks the cap of the calibrated
// bound: at most peakHeadroom times the last two days' highest demand
// (Forecast.RecentPeak), unless the forecast itself is higher; no cap
// where RecentPeak is 0 (not known).
func TestCalibratorUpperAtMostRecentPeak(t *testing.T) {
	c, err := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Four residuals: at 2% the margin is the largest, 80.
	c.Seed([]float64{50, 60, 70, 80})
	for _, tt := range []struct {
		name             string
		peak, recentPeak float64
		want             float64
	}{
		{"no recent peak known", 10, 0, 90},
		{"the cap binds", 10, 50, 55},
		{"the cap is above the bound", 10, 100, 90},
		{"a forecast above the cap keeps its own peak", 60, 40, 60},
	} {
		f := Forecast{Peak: tt.peak, Upper: tt.peak, RecentPeak: tt.recentPeak}
		if got := c.Upper(f); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: Upper(peak %v, recent peak %v) = %v, want %v", tt.name, tt.peak, tt.recentPeak, got, tt.want)
		}
	}
}

// TestFloorsOnCPUBursts backtests CPU that idles and bursts (cpuBursts) at
// the default target: the floors meet it, cost at most 9 times the mean
// peak, and, with reactive scaling, at most 1.05 times the replica-hours
// of a static fleet sized for the peak. Without the cap at the recent
// peak (Calibrator.Upper) the margins rose past any demand seen: 7.8 to
// 11.3 times the peak, the highest floor 24 replicas for a peak of 12,
// and 1.03 to 1.28 times the static fleet's replica-hours; with it, 6.1 to
// 8.2 and 0.80 to 1.00.
func TestFloorsOnCPUBursts(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		r, err := Backtest(cpuBursts(seed, 14), DefaultBacktestConfig())
		if err != nil {
			t.Fatal(err)
		}
		h := r.Headline
		t.Logf("seed %d: under %.2f%% of steps, floor capacity %.3f x the peak, replica-hours %.2f x static", seed, h.UnderPct, *h.FloorVsPeak, *h.ReplicaHoursVsStatic)
		if h.UnderPct > 100*DefaultTargetUnder+0.1 {
			t.Errorf("seed %d: floors under in %.2f%% of steps, target %.0f%%", seed, h.UnderPct, 100*DefaultTargetUnder)
		}
		if *h.FloorVsPeak > 9 {
			t.Errorf("seed %d: mean floor capacity %.3f x the actual peak, want at most 9", seed, *h.FloorVsPeak)
		}
		if *h.ReplicaHoursVsStatic > 1.05 {
			t.Errorf("seed %d: replica-hours %.2f x the static fleet's, want at most 1.05", seed, *h.ReplicaHoursVsStatic)
		}
	}
}

// TestCalibratorGainSettles checks that the working level follows the
// misses at the full gain at first and ever more slowly as floors are
// evaluated, down to calibrationGainMin times the target: after many
// floors, a run of misses (a burst that every overlapping window holds)
// moves the margin a little, not for hours.
func TestCalibratorGainSettles(t *testing.T) {
	c, _ := NewCalibrator(0.02, time.Minute, 15*time.Minute)
	c.Seed([]float64{1, 2, 3})
	step := func(under bool) float64 {
		before := c.Level()
		c.Observe(0, 10, under)
		return c.Level() - before
	}
	if got, want := step(true), calibrationGain*(0.02-1); math.Abs(got-want) > 1e-12 {
		t.Errorf("first miss moved the level by %g, want the full gain's %g", got, want)
	}
	for range calibrationSettle - 1 {
		step(false)
	}
	if got, want := step(false), calibrationGain/2*0.02; math.Abs(got-want) > 1e-12 {
		t.Errorf("after %d floors a hit moved the level by %g, want half the gain's %g", calibrationSettle, got, want)
	}
	for range 20000 {
		step(false)
	}
	before := c.Level()
	for range 15 {
		step(true)
	}
	if got, want := before-c.Level(), 15*calibrationGainMin*0.02*(1-0.02); math.Abs(got-want) > 1e-9 {
		t.Errorf("a run of 15 misses after 20,000 floors lowered the level by %g, want %g (the least gain)", got, want)
	}
}

// TestFloorsMeetTheDefaultTarget runs the backtest at the default target
// (2%) on every labelled trace, periodic or not: a user who sets nothing
// gets floors under in at most about 2% of steps (a tenth of a point
// above at most: the calibration adapts, it does not know the future).
func TestFloorsMeetTheDefaultTarget(t *testing.T) {
	for _, tt := range []struct {
		name   string
		series func(t *testing.T) Series
	}{
		{"nyc_taxi", loadTestTrace("traces/nyc_taxi.csv")},
		{"crane_input0", loadTestTrace("cycles/crane_input0.csv")},
		{"crane_input1", loadTestTrace("cycles/crane_input1.csv")},
		{"crane_input5", loadTestTrace("traces/crane_input5.csv")},
		{"crane_input9", loadTestTrace("traces/crane_input9.csv")},
		{"Twitter_volume_AMZN", loadTestTrace("cycles/Twitter_volume_AMZN.csv")},
		{"periodic", func(*testing.T) Series { return periodicDemand(21) }},
		{"flapping CPU", func(*testing.T) Series { return flappingCPU(10) }},
		{"random-walk CPU", func(*testing.T) Series { return randomWalkCPU(14) }},
		{"NAB occupancy_6005", loadTestTrace("traces/occupancy_6005.csv")},
		{"NAB occupancy_t4013", loadTestTrace("traces/occupancy_t4013.csv")},
		{"NAB elb_request_count_8c0756", loadTestTrace("traces/elb_request_count_8c0756.csv")},
		{"NAB ec2_cpu_utilization_77c1ca", loadTestTrace("traces/ec2_cpu_utilization_77c1ca.csv")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Backtest(tt.series(t), DefaultBacktestConfig())
			if err != nil {
				t.Fatal(err)
			}
			h := r.Headline
			t.Logf("under %.2f%% of steps, floor capacity %.3f x the peak", h.UnderPct, *h.FloorVsPeak)
			if h.TargetUnderPct != 100*DefaultTargetUnder {
				t.Errorf("headline target %v%%, want the default %v%%", h.TargetUnderPct, 100*DefaultTargetUnder)
			}
			if h.UnderPct > 100*DefaultTargetUnder+0.1 {
				t.Errorf("floors under in %.2f%% of steps, default target %.0f%%", h.UnderPct, 100*DefaultTargetUnder)
			}
		})
	}
}

// loadTestTrace returns a loader of the trace at path under testdata.
func loadTestTrace(path string) func(t *testing.T) Series {
	return func(t *testing.T) Series {
		s, err := LoadTrace("testdata/" + path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// TestCalibratorLocalFloorByTarget checks how the target sets the margin
// (see Calibrator): with the same scores and level, at 2% it is never
// under the local score's margin, at 5% it is the smallest of the three,
// and at 3.5% halfway between the cheaper of the first two and the local
// one.
func TestCalibratorLocalFloorByTarget(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type obs struct{ residual, peak float64 }
	history := make([]obs, 3000)
	for i := range history {
		peak := 100 + 50*math.Sin(float64(i)/200)
		history[i] = obs{residual: peak * 0.1 * r.NormFloat64() * (1 + float64(i%300)/100), peak: peak}
	}
	upper := map[float64]float64{}
	var cheaper, local float64
	for _, target := range []float64{0.02, 0.035, 0.05} {
		c, err := NewCalibrator(target, time.Minute, 15*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range history {
			c.Observe(o.residual, o.peak, false)
		}
		c.level = 0.05 // the same level for all three
		f := Forecast{Peak: 120, Upper: 120}
		upper[target] = c.Upper(f)
		cheaper = min(c.abs.quantile(c.level), c.rel.quantile(c.level)*c.relScale(f.Peak))
		local = c.loc.quantile(c.level) * c.locScale()
	}
	if math.Abs(cheaper-local) < 1 {
		t.Fatalf("the cheaper margin %.2f and the local one %.2f are too close to tell the rules apart", cheaper, local)
	}
	for target, want := range map[float64]float64{
		0.02:  120 + max(cheaper, local),
		0.035: 120 + (cheaper+local)/2,
		0.05:  120 + min(cheaper, local),
	} {
		if got := upper[target]; math.Abs(got-want) > 1e-9 {
			t.Errorf("target %g: upper %.4f, want %.4f (cheaper margin %.4f, local %.4f)", target, got, want, cheaper, local)
		}
	}
}

// TestFloorsOneSampleLookahead: where the lookahead holds one sample
// (hourly and half-hourly demand), the working level follows the floors'
// misses at five times the gain (oneSampleRun), so that the floors use
// the slack the floor policy leaves: each seed under at most the 2%
// target, and the mean capacity of three seeds at most 1.205 times the
// peak (1.193-1.198; 1.212-1.223 at the gain of a 15-sample lookahead,
// 0.1-0.7% under).
func TestFloorsOneSampleLookahead(t *testing.T) {
	for _, tt := range []struct {
		name   string
		series func(seed uint64, days int) Series
	}{
		{"hourly", hourlyProportional},
		{"half-hourly", halfHourProportional},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sum float64
			for seed := uint64(1); seed <= 3; seed++ {
				r, err := Backtest(tt.series(seed, 70), DefaultBacktestConfig())
				if err != nil {
					t.Fatal(err)
				}
				h := r.Headline
				t.Logf("seed %d: %.2f%% under at %.3f times the peak", seed, h.UnderPct, *h.FloorVsPeak)
				if h.UnderPct > 2 {
					t.Errorf("seed %d: %.2f%% of steps under, want at most the 2%% target", seed, h.UnderPct)
				}
				sum += *h.FloorVsPeak
			}
			if mean := sum / 3; mean > 1.205 {
				t.Errorf("mean capacity %.3f times the peak, want at most 1.205", mean)
			}
		})
	}
}

// TestCalibratorLevelDebt: a long run of misses takes the working level
// at most levelDebt targets below 0, where the margin is already the
// largest score, so the hits after it bring the margins back within a
// hundred or so settled floors instead of a day's worth; a state saved
// lower (before the bound) is restored at the bound.
func TestCalibratorLevelDebt(t *testing.T) {
	for _, target := range []float64{0.02, 0.05} {
		c, _ := NewCalibrator(target, time.Minute, 15*time.Minute)
		c.Seed([]float64{1, 2, 3})
		for range 2000 {
			c.Observe(100, 10, true)
		}
		if got, want := c.Level(), -levelDebt*target; math.Abs(got-want) > 1e-12 {
			t.Errorf("target %g: level %g after 2,000 misses, want %g", target, got, want)
		}
		st := c.State()
		st.Level = -0.5
		if st.Plain != nil {
			st.Plain.Level = -0.5
		}
		if err := c.Restore(st); err != nil {
			t.Fatal(err)
		}
		if got, want := c.Level(), -levelDebt*target; math.Abs(got-want) > 1e-12 {
			t.Errorf("target %g: a state saved at -0.5 restored at %g, want %g", target, got, want)
		}
		if st.Plain != nil {
			if got, want := c.State().Plain.Level, -levelDebt*target; math.Abs(got-want) > 1e-12 {
				t.Errorf("target %g: a plain level saved at -0.5 restored at %g, want %g", target, got, want)
			}
		}
	}
}

// TestFloorsAfterAnEarlyBurst: a daily swing at a 1-minute step whose
// evaluated half opens with a burst no forecast could see (three times the
// demand for 20 minutes, two hours in). The floors miss it in full, and
// the margins stay wide while its scores are in the window and the level
// is below 0; half a day after it, they come back towards the swing's
// peak instead of holding the largest margin for days. Over the second
// half of the day after the burst, the floors held 1.92-1.98 times the
// peak with the level at most two targets below 0 (seeds 1-3), 3.63-4.03
// with it down to -0.5; under in 0.72-1.39% of all steps.
func TestFloorsAfterAnEarlyBurst(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		s := proportionalSine(seed, 10, time.Minute)
		from := len(s.Values)/2 + 120
		for i := from; i < from+20; i++ {
			s.Values[i] *= 3
		}
		r, err := Backtest(s, DefaultBacktestConfig())
		if err != nil {
			t.Fatal(err)
		}
		burstEnd := s.Time(from + 20)
		var floor, peak float64
		for _, f := range r.Forecasts {
			if f.Time.Before(burstEnd.Add(Day/2)) || !f.Time.Before(burstEnd.Add(Day)) {
				continue
			}
			i := int(f.Time.Sub(s.Start) / s.Step)
			floor += float64(f.Floor) * r.CapacityPerReplica
			peak += slices.Max(s.Values[i+1 : i+16])
		}
		t.Logf("seed %d: %.3f times the peak half a day to a day after the burst; %.2f%% under in all at %.3f", seed, floor/peak, r.Headline.UnderPct, *r.Headline.FloorVsPeak)
		if ratio := floor / peak; ratio > 2.5 {
			t.Errorf("seed %d: half a day to a day after the burst, the floors' capacity was %.3f times the peak, want at most 2.5", seed, ratio)
		}
		if r.Headline.UnderPct > 2 {
			t.Errorf("seed %d: %.2f%% of steps under, want at most the 2%% target", seed, r.Headline.UnderPct)
		}
	}
}
