package predictor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// ec2Utilisation is an EC2 instance's CPU utilisation at a 5-minute step
// over days: a flat level that jumps to a new one (2 to 42%) every day or
// two, noise, and spikes of 20 to 80 points in 1% of the steps; no cycle.
func ec2Utilisation(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 12))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, days*288)}
	level := 2 + 3*r.Float64()
	for i := range s.Values {
		if r.Float64() < 0.002 {
			level = 2 + 40*r.Float64()
		}
		v := level + 0.09*level*math.Abs(r.NormFloat64()) + 0.2*r.NormFloat64()
		if r.Float64() < 0.01 {
			v += 20 + 60*r.Float64()
		}
		s.Values[i] = math.Min(100, math.Max(0, v))
	}
	return s
}

// flappingShifts is flappingCPU with its level changes (by 0.7, 1 or
// 1.3) at random minutes, about every two days.
func flappingShifts(seed uint64, days int) Series {
	return flapping(rand.New(rand.NewPCG(seed, 14)), days, func(r *rand.Rand, _ int) bool {
		return r.Float64() < 1.0/3000
	})
}

// hourlySine is 60 days at an hourly step of 0.5 + 0.3 sin(2πh/24) plus
// Gaussian noise of 0.1, clipped at 0: the lookahead is one sample.
func hourlySine(seed uint64, days int) Series { return noisySine(seed, days, time.Hour) }

// quarterHourSine is hourlySine at a 15-minute step, the step of many
// exports: the lookahead is one sample here too.
func quarterHourSine(seed uint64, days int) Series {
	return noisySine(seed, days, 15*time.Minute)
}

// noisySine is 0.5 + 0.3 sin(2πh/24), h the hour of the day, plus Gaussian
// noise of 0.1, clipped at 0, at the given step.
func noisySine(seed uint64, days int, step time.Duration) Series {
	return byHourOfDay(rand.New(rand.NewPCG(seed, 15)), days, step, func(h, z float64) float64 {
		return 0.5 + 0.3*math.Sin(2*math.Pi*h/24) + 0.1*z
	})
}

// byHourOfDay is days at step of value(h, z), h the hour of the day and z
// a standard normal draw from r, clipped at 0.
func byHourOfDay(r *rand.Rand, days int, step time.Duration, value func(h, z float64) float64) Series {
	s := Series{Start: monday, Step: step, Values: make([]float64, days*int(Day/step))}
	for i := range s.Values {
		t := s.Time(i)
		h := float64(t.Hour()) + float64(t.Minute())/60
		s.Values[i] = math.Max(0, value(h, r.NormFloat64()))
	}
	return s
}

// hourlyProportional is proportionalSine at an hourly step.
func hourlyProportional(seed uint64, days int) Series {
	return proportionalSine(seed, days, time.Hour)
}

// halfHourProportional is proportionalSine at a 30-minute step.
func halfHourProportional(seed uint64, days int) Series {
	return proportionalSine(seed, days, 30*time.Minute)
}

// proportionalSine is 100 + 60 sin(2πh/24) with noise of 5% of the value
// (as counts of requests have: more at the peak), at the given step.
func proportionalSine(seed uint64, days int, step time.Duration) Series {
	return byHourOfDay(rand.New(rand.NewPCG(seed, 17)), days, step, func(h, z float64) float64 {
		return (100 + 60*math.Sin(2*math.Pi*h/24)) * (1 + 0.05*z)
	})
}

// officeHours is demand at a 5-minute step that steps from 10 to 130 at
// 08:00 and back at 18:00 on weekdays (monday is a Monday), flat at 10 at
// night and over the weekend, with noise of 10% of the level plus 2.
func officeHours(seed uint64, days int) Series { return officeHoursAt(seed, days, 5*time.Minute) }

// officeHoursAt is officeHours at the step.
func officeHoursAt(seed uint64, days int, step time.Duration) Series {
	r := rand.New(rand.NewPCG(seed, 19))
	s := Series{Start: monday, Step: step, Values: make([]float64, days*int(Day/step))}
	for i := range s.Values {
		t := s.Time(i)
		level := 10.0
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday && t.Hour() >= 8 && t.Hour() < 18 {
			level = 130
		}
		s.Values[i] = math.Max(0, level+(0.1*level+2)*r.NormFloat64())
	}
	return s
}

// idleBursts is idle demand at a 1-minute step with bursts of 1,000 in
// 0.2% of the minutes, at random: no cycle, nothing that repeats.
func idleBursts(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 16))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, days*1440)}
	for i := range s.Values {
		if r.Float64() < 0.002 {
			s.Values[i] = 1000
		}
	}
	return s
}

// cpuBursts is CPU utilisation at a 5-minute step that idles at 0.1% and
// bursts to 70-100% for 15 to 40 minutes, on average every 200 minutes, at
// random: the shape of NAB's ec2_cpu_utilization_77c1ca.
func cpuBursts(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 77))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, days*288)}
	left, level := 0, 0.0
	for i := range s.Values {
		if left == 0 && r.Float64() < 1.0/40 {
			left, level = 3+r.IntN(6), 70+30*r.Float64()
		}
		v := 0.1 + 0.02*r.NormFloat64()
		if left > 0 {
			v = math.Min(100, level+5*r.NormFloat64())
			left--
		}
		s.Values[i] = math.Max(0, v)
	}
	return s
}

// diskWriteBursts is bytes written to a disk at a 5-minute step: nothing
// most of the time, and bursts of four or five samples (a quick rise, the
// peak, a tail) about seven times a day at random, of log-normal size (a
// median of 100): the shape of NAB's ec2_disk_write_bytes_1ef3de. After
// the peak the writes fall away within minutes, where persistence
// forecasts the peak again.
func diskWriteBursts(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 1))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, days*288)}
	shape := []float64{0.15, 1, 0.35, 0.2, 0.05}
	for i := 0; i < len(s.Values); i++ {
		if r.Float64() >= 7.0/288 {
			continue
		}
		size, n := 100*math.Exp(r.NormFloat64()), 4+r.IntN(2)
		for k := 0; k < n && i < len(s.Values); k, i = k+1, i+1 {
			s.Values[i] = size * shape[k] * (0.8 + 0.4*r.Float64())
		}
	}
	return s
}

// gappyOccupancy is the occupancy of a pool at a 5-minute step with half
// its rows missing, read back as ReadTrace reads such a trace (the gaps
// filled by linear interpolation, Series.Observed): arrivals of 5 to 40
// come in 5% of the steps at night and 25% from 07:00 to 19:00, the
// occupancy decays by 15% a step, with noise of 1.
func gappyOccupancy(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 21))
	var b strings.Builder
	b.WriteString("ts,value\n")
	occ := 0.0
	for i := range days * 288 {
		h := float64(i%288) / 12
		rate := 0.05
		if h >= 7 && h <= 19 {
			rate += 0.2
		}
		if r.Float64() < rate {
			occ += float64(5 + r.IntN(36))
		}
		occ *= 0.85
		v := max(0, occ+r.NormFloat64())
		if i == 0 || r.Float64() < 0.5 {
			fmt.Fprintf(&b, "%d,%.3f\n", monday.Add(time.Duration(i)*5*time.Minute).Unix(), v)
		}
	}
	s, err := ReadTrace("gappy occupancy", strings.NewReader(b.String()))
	if err != nil {
		panic(err)
	}
	return s
}

// gappyShifts is demand at a 10-minute step that steps from 10 to 130 at
// 08:00 and back at 18:00 every day (a shift worked seven days a week),
// with noise of 10% of the level plus 2, and half its rows missing, read
// back as ReadTrace reads such a trace (the gaps filled by linear
// interpolation, Series.Observed): the steps often fall in a gap.
func gappyShifts(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 22))
	full := Series{Start: monday, Step: 10 * time.Minute, Values: make([]float64, days*144)}
	for i := range full.Values {
		level := 10.0
		if h := full.Time(i).Hour(); h >= 8 && h < 18 {
			level = 130
		}
		full.Values[i] = math.Max(0, level+(0.1*level+2)*r.NormFloat64())
	}
	var b strings.Builder
	b.WriteString("ts,value\n")
	for i, v := range full.Values {
		if i == 0 || i == full.Len()-1 || r.Float64() < 0.5 {
			fmt.Fprintf(&b, "%d,%.3f\n", full.Time(i).Unix(), v)
		}
	}
	s, err := ReadTrace("gappy shifts", strings.NewReader(b.String()))
	if err != nil {
		panic(err)
	}
	return s
}

// queueBacklog is the length of a queue at a 5-minute step that a batch
// drains: a producer adds 1 to 3 messages a step (drawn once), and the
// queue is emptied when it reaches a threshold drawn from 30 to 90 at each
// drain. A sawtooth with no daily cycle, whose residuals from the level
// are the same step after step: their median absolute deviation is 0.
func queueBacklog(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 18))
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, days*288)}
	rate := float64(1 + r.IntN(3))
	q, limit := 0.0, 30+r.IntN(61)
	for i := range s.Values {
		q += rate
		if q >= float64(limit) {
			q, limit = 0, 30+r.IntN(61)
		}
		s.Values[i] = q
	}
	return s
}

// cronQueue is the length of a Celery queue that an hourly cron fills: at
// minute 0 of every hour a batch of 320 to 480 tasks lands (drawn per
// hour), which the workers drain in 12 minutes, over a trickle of 10 to 26
// with a daily swing and noise of 3; at a one-minute step.
func cronQueue(seed uint64, days int) Series {
	r := rand.New(rand.NewPCG(seed, 19))
	s := Series{Start: monday, Step: time.Minute, Values: make([]float64, days*1440)}
	batch := 0.0
	for i := range s.Values {
		m := i % 60
		if m == 0 {
			batch = 400 * (0.8 + 0.4*r.Float64())
		}
		h := float64(i%1440) / 60
		trickle := 18 + 8*math.Sin(2*math.Pi*(h-9)/24)
		s.Values[i] = max(0, batch*max(0, 1-float64(m)/12)+trickle+3*r.NormFloat64())
	}
	return s
}

// scheduledQueue is the length of a task queue that a scheduled job fills
// every period minutes (Celery beat through RabbitMQ): 15 tasks for each
// minute of the period, 10 more at 14:00 than at 02:00, give or take 10%,
// which workers take off at 25 to 35 tasks a minute; at a one-minute
// step.
func scheduledQueue(period int) func(seed uint64, days int) Series {
	return func(seed uint64, days int) Series {
		r := rand.New(rand.NewPCG(seed, 20))
		s := Series{Start: monday, Step: time.Minute, Values: make([]float64, days*1440)}
		q := 0.0
		for i := range s.Values {
			if i%period == 0 {
				h := float64(i%1440) / 60
				q += (15 + 5*math.Sin(2*math.Pi*(h-8)/24)) * float64(period) * (0.9 + 0.2*r.Float64())
			}
			q = max(0, q-(25+10*r.Float64()))
			s.Values[i] = q
		}
		return s
	}
}

// TestSyntheticClasses replays five seeds of synthetic traces written to
// resemble the predictor issue's held-out classes through the backtest,
// and holds mlscale's MAE over the best baseline's, on every seed and in
// the median of the seeds, to the bars below: the goal, 1.0 on every
// trace, or under it, except where a comment names a known gap.
func TestSyntheticClasses(t *testing.T) {
	tests := []struct {
		name         string
		series       func(seed uint64, days int) Series
		days         int
		each, median float64
	}{
		{"weekday demand, 1 min, three weeks", weekdayDemand, 21, 0.85, 0.85},
		// 1.016-1.075 without the phase points (Model.phasePoints): the
		// steps at 08:00 and 18:00 come after hours in which
		// persistence forecast as well as the weekly profile. 0.896-0.932
		// before the day peaks of a weekly cycle took weekdays for a
		// weekday (combiner.dayPeaks), 0.819-0.861 with them.
		{"office hours, 5 min, four weeks", officeHours, 28, 0.9, 0.9},
		{"load-balancer requests, one week", loadBalancerRequests, 7, 1, 1},
		{"load-balancer requests, two weeks", loadBalancerRequests, 14, 1, 1},
		// 0.81-0.93 with half the forecast the weighted median
		// (noCycleMedianShare); 0.87-0.99 with the mean alone. Since the
		// shrunk sample may map the median of three (Model.shrunkMedian),
		// 0.793-0.857 and 0.777-0.822, medians 0.820 and 0.810, where
		// they were 0.802-0.940 and 0.850-0.881, medians 0.885 and 0.870.
		{"EC2 utilisation with level shifts, one week", ec2Utilisation, 7, 0.9, 0.85},
		{"EC2 utilisation with level shifts, two weeks", ec2Utilisation, 14, 0.9, 0.85},
		// 1.036, 0.930, 0.760, 0.541, 0.860 with a weighted mean where
		// the candidates agree at the 100% ceiling (not agreed).
		{"flapping CPU, level changes at random times", flappingShifts, 10, 1, 1},
		// Known gaps once, over 1.0 on every seed. With a daily profile
		// and the Holt-Winters candidate over 7 days at these steps (not
		// 21, see dailyDays): 1.090-1.128 and 1.057-1.085, medians 1.107
		// and 1.066; over 21 days but with the candidates weighed by
		// their errors as they are (not netOfNoise): 1.055-1.098 and
		// 1.034-1.049, medians 1.067 and 1.040; at a 15-minute step with
		// 12 scored forecasts (not scoredPoints' 24): 1.023-1.030; with
		// the profile not averaged over adjacent phases (not
		// heldOutHalf): 1.014-1.046 and 0.993-1.005, medians 1.033 and
		// 1.000; with the reactive candidates kept (not preferShapes):
		// 1.006-1.030 and 0.975-0.986, medians 1.023 and 0.980.
		{"hourly sine", hourlySine, 60, 1, 1},
		{"sine at a 15-minute step", quarterHourSine, 30, 1, 1},
		// Known gaps once: before a spike was measured against the
		// spread of its own hours (not spikeSpread) and with the replay's
		// bar at 0.97 (not shapesOnlyGain's 0.98), 0.970-1.021 and
		// 0.965-1.009; with the reactive candidates always in and the
		// Holt-Winters candidate over three weeks too (not preferShapes,
		// hwOneSampleMax), 1.012-1.052 and 1.025-1.058.
		{"proportional noise, hourly", hourlyProportional, 70, 1, 1},
		{"proportional noise, 30 minutes", halfHourProportional, 70, 1, 1},
		// 1.032-1.139, median 1.064, with half the forecast the weighted
		// mean where most candidates agree at zero (not agreed). Over 1
		// on one seed (1.003; 0.998 with the Selector's baselines
		// weighed by their error to the power -8): of the 2.5 days
		// evaluated, the first is the mixture's alone (2.5 days of
		// history are too few for Selector.Seed, which needs three), and
		// the best blend of the next 1.5 days is chosen on random bursts.
		{"idle demand, random bursts", idleBursts, 5, 1.01, 1},
		// 0.936-0.976 with the residuals' spread the median absolute
		// deviation alone (0 here; not spread); 0.823-0.881 with the
		// peak excess's intercept fitted by least squares (not the
		// median of the residuals, Model.fitPeak), which the drains pull
		// down.
		{"queue backlog drained at random", queueBacklog, 10, 0.8, 0.7},
		// 0.913-1.011, median 0.934, before the shrunk sample
		// (BaselineIndexShrunk); 0.836-0.850 with it.
		{"disk writes in bursts, two weeks", diskWriteBursts, 14, 0.9, 0.9},
		// 0.979-0.990, median 0.983, with the shrunk sample and the peak
		// excess fitted on the filled samples too (before
		// Model.fitShrunk and Model.fitPeak took observed ones only);
		// 0.944-0.953, median 0.947, since.
		{"bursty occupancy, half the rows missing, two weeks", gappyOccupancy, 14, 0.97, 0.96},
		// 1.030-1.127, median 1.064, before a forecast made in a gap was
		// of the window after its own time (Series.HeldTo in Backtest);
		// 0.954-0.981, median 0.969, since. Known gap over one week
		// (3.5 days of history): 0.959-1.141, where it was 0.960-1.286.
		{"daily shifts, 10 min, half the rows missing, two weeks", gappyShifts, 14, 1, 0.98},
		// Known gap: the mixture's level candidates lag the ramps, and the
		// selector blends Holt-Winters in only where it leads by 7%
		// (hwSelectMax); 0.988-1.006, median 1.000. With the selector's
		// Holt-Winters baseline the candidate's filter restarted on the
		// last seven days (not Model.hwBase), 1.009-1.251, median 1.025;
		// with the replay over the model's fitted last day too (not
		// Model.levelSpan in Selector.Seed), seed 5 at 1.104.
		{"memory sawtooth, collected at random", memorySawtooth, 14, 1.02, 1.01},
		// 1.041-1.066 before the candidates were weighed on the same
		// minute of the last hours (Model.hourPoints), 0.943-0.994 before
		// a batch as large as an hour before's was no spike
		// (Model.profileMissed), 0.908-0.961 before the selector took a
		// blend of Holt-Winters that beats the mixture though it alone
		// does not (hwSelectMax); 0.899-0.957, median 0.940, since.
		{"queue an hourly cron fills", cronQueue, 10, 0.97, 0.95},
		// 0.989-0.996 before the same minute of the last hours; with it
		// and Holt-Winters blended in only at a lead of 7%
		// (hwSelectMax), 1.014-1.079.
		{"queue a job fills every 30 minutes", scheduledQueue(30), 14, 1, 1},
		// Known gap: 1.002-1.003 before the same minute of the last hours
		// (Model.hourPoints), where the selector blended Holt-Winters in
		// at a mean weight of 0.92; with them, 0.998-1.034, median 1.020:
		// the mixture is within 1% of Holt-Winters, and the selector
		// scored Holt-Winters's forecasts below 0 (after the queue
		// empties) that the backtest holds at 0. Held at 0 too,
		// 1.000-1.010, median 1.007; with the selector taking a blend of
		// Holt-Winters that beats the mixture though it alone does not
		// (hwSelectMax), 0.995-1.007, median 1.000.
		{"queue a job fills every hour", scheduledQueue(60), 14, 1.01, 1.005},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ratios []float64
			for seed := uint64(1); seed <= 5; seed++ {
				r, err := Backtest(tt.series(seed, tt.days), DefaultBacktestConfig())
				if err != nil {
					t.Fatal(err)
				}
				got := *r.Headline.MAEVsBest
				t.Logf("seed %d: MAE %.3f x the best baseline (%s); cycle %s", seed, got, r.Headline.BestBaseline, r.Cycle)
				if got > tt.each {
					t.Errorf("seed %d: MAE %.3f x the best baseline (%s), want at most %g", seed, got, r.Headline.BestBaseline, tt.each)
				}
				ratios = append(ratios, got)
			}
			slices.Sort(ratios)
			if m := ratios[len(ratios)/2]; m > tt.median {
				t.Errorf("median of the seeds %.3f x the best baseline, want at most %g", m, tt.median)
			}
		})
	}
}
