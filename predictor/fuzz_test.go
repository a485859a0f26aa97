package predictor

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzReadTrace feeds arbitrary CSV to the trace parser: it must either
// return an error or a regular series (positive step, at least two finite
// samples, not wildly more samples than rows, at least two rows with a
// value left after merging repeated times), whose value column is in the
// input unless the file has no header, and never panic.
func FuzzReadTrace(f *testing.F) {
	for _, seed := range []string{
		"timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,2\n",
		"ts,value\n1633651200,1.5\n1633651260,2.5\n1633651380,4\n",
		"\ufeffts,value\r\n0,1\r\n60,2\r\n",
		"ts,value\n-9223372036854775808,1\n9223372036854775807,2\n",
		"ts,value\n0,1e308\n1,-1e308\n",
		"timestamp,value\n2014-07-01 00:00:00,1\n",
		"ts,value\n0,1\n60,\"2\"\n",
		"timestamp,value\n2015-09-01 05:28:00,1\n2015-09-01 05:33:00,2\n2015-09-01 05:33:00,3\n2015-09-01 05:38:00,4\n",
		"ts,value\n0,1\n0,2\n",
		"time,value\n1633651200.25,1\n1633651260.5,2\n1633651260.9,3\n",
		"timestamp,value\n2015-09-01T07:00:00+02:00,1\n2015-09-01T05:05:00Z,2\n2015-09-01T05:10:00,3\n",
		"ts,value\n0,NaN\n60,1\n120,\n180,null\n240,+Inf\n300,2\n",
		"date,value\n2015-09-01,1\n2015-09-02 05:00,2\n2015-09-03T07:10+02:00,3\n",
		"timestamp,is_anomaly,value\n0,0,1\n60,1,\n120,0,3\n",
		"\ufeffsep=;\r\n\"Time\";\"cpu, %\"\r\n2024-01-01 00:00;1,5\r\n2024-01-01 00:01;\"2,25\"\r\n",
		"ts\tvalue\n0,5\t1\n60\t2,25\n120\t1.234,5\n",
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"api"},"values":[[1633651200,"1"],[1633651260.5,"NaN"],[1633651320,"3"],[1633651320,"4"]]}]}}`,
		` {"resultType":"matrix","result":[{"metric":{},"values":[[-1.5,"1"],[60,"+Inf"],[120,"2"]]},{"metric":{"a":"b"},"values":[]}]}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		"1633651200,1\n1633651260,\n1633651320,3\n",
		",value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n",
		// A repeated hour: rows out of time order, put in order.
		repeatedHourTrace(200, 60, 61),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, info, err := ReadTraceInfo("fuzz.csv", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		// A CSV row is a line; a sample of a Prometheus response (JSON)
		// opens a bracket.
		rows := max(strings.Count(in, "\n")+1, strings.Count(in, "["))
		if info.Columns > 0 && !info.NoHeader && (info.Column == "" || !strings.Contains(in, info.Column)) {
			t.Fatalf("value column %q is not in the input", info.Column)
		}
		if s.Step <= 0 || s.Len() < 2 || s.Len() > 10*rows {
			t.Fatalf("step %s, %d samples from %d lines", s.Step, s.Len(), rows)
		}
		if info.Reordered < 0 || float64(info.Reordered) > maxReorderedShare*float64(info.Rows) {
			t.Fatalf("%d of %d rows put in order, more than the share", info.Reordered, info.Rows)
		}
		if info.Merged < 0 || info.Missing < 0 || info.Rows-info.Merged-info.Missing < 2 || info.Rows > rows {
			t.Fatalf("%d rows read, %d merged, %d without a value, from %d lines", info.Rows, info.Merged, info.Missing, rows)
		}
		for i, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("sample %d is %v", i, v)
			}
		}
		filled := 0
		for _, o := range info.Observed {
			if !o {
				filled++
			}
		}
		if (info.Observed != nil && (len(info.Observed) != s.Len() || !info.Observed[0])) || filled != info.Filled || (info.Filled > 0) != (info.Observed != nil) {
			t.Fatalf("%d of %d flags false, %d filled, for %d samples", filled, len(info.Observed), info.Filled, s.Len())
		}
		if !slices.Equal(s.Observed, info.Observed) {
			t.Fatalf("the series' observed flags (%d) are not the trace's (%d)", len(s.Observed), len(info.Observed))
		}
		if s.Start.Location() != time.UTC {
			t.Fatalf("start %s is not in UTC", s.Start)
		}
	})
}

// FuzzForecast fits and forecasts arbitrary histories (one byte a sample,
// scaled by the first byte; a step of 1 to 60 minutes from the second,
// many of which do not divide a day: at 5 minutes two days are 576
// samples, at 7 minutes 411), then the same with the samples of odd bytes
// flagged as filled in gaps (Series.Observed): the forecast must be finite
// and not negative, its upper bound at least its peak, or Fit must say why
// it cannot fit; never a panic.
func FuzzForecast(f *testing.F) {
	f.Add([]byte{1, 4, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30})
	for _, minutes := range []int{5, 7} {
		perDay := 1440 / minutes
		daily := make([]byte, 2+3*perDay)
		daily[0], daily[1] = 1, byte(minutes-1)
		for i := range daily[2:] {
			daily[2+i] = byte(100 + 80*math.Sin(2*math.Pi*float64(i)/float64(perDay)))
		}
		f.Add(daily)
	}
	// A job in the first 5 minutes of every hour over three days at 5
	// minutes: an hourly cycle, so the hour peaks are among the candidates.
	hourly := make([]byte, 2+3*288)
	hourly[0], hourly[1] = 1, 4
	for i := range hourly[2:] {
		hourly[2+i] = 20
		if i%12 == 0 {
			hourly[2+i] = 200
		}
	}
	f.Add(hourly)
	f.Add(make([]byte, 600))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, ok := fuzzSeries(in)
		if !ok {
			return
		}
		step := s.Step
		fc, err := ForecastSeries(s, Options{})
		if err != nil {
			return
		}
		if !finite(fc.Peak) || !finite(fc.Upper) || fc.Peak < 0 || fc.Upper < fc.Peak {
			t.Fatalf("forecast %+v from %d samples at a step of %s", fc, s.Len(), step)
		}
		// The same with gaps: the samples of odd bytes flagged as
		// filled (the first and the last observed, as ReadTrace leaves
		// them), down to none observed between.
		s.Observed = make([]bool, s.Len())
		for i, b := range in[2:] {
			s.Observed[i] = b%2 == 0 || i == 0 || i == s.Len()-1
		}
		fc, err = ForecastSeries(s, Options{})
		if err != nil {
			t.Fatalf("with gaps: %v, where without them it fitted", err)
		}
		if !finite(fc.Peak) || !finite(fc.Upper) || fc.Peak < 0 || fc.Upper < fc.Peak {
			t.Fatalf("with gaps: forecast %+v from %d samples at a step of %s", fc, s.Len(), step)
		}
	})
}

// fuzzSeries decodes a fuzzer's input as FuzzForecast describes; false
// for fewer than three bytes.
func fuzzSeries(in []byte) (Series, bool) {
	if len(in) < 3 {
		return Series{}, false
	}
	scale := math.Pow(10, float64(in[0]%12)-3)
	step := time.Duration(1+int(in[1])%60) * time.Minute
	s := Series{Start: time.Unix(1_700_000_000, 0).UTC(), Step: step, Values: make([]float64, len(in)-2)}
	for i, b := range in[2:] {
		s.Values[i] = float64(b) * scale
	}
	return s, true
}

// FuzzSelectorSeed fits arbitrary histories (decoded as FuzzForecast's)
// and seeds a Selector by replaying the model over them, as for a new
// workload's first forecast (Selector.Seed, which also runs the
// Holt-Winters filter over the replayed span): the seeded forecast must be
// finite and not negative, its baseline share within [0, 1]; never a
// panic. The seed inputs are three and four days of a daily shape, the
// longer one enough to replay (two days of history and a day of
// forecasts).
func FuzzSelectorSeed(f *testing.F) {
	for _, c := range []struct{ minutes, days int }{{10, 4}, {5, 3}, {60, 9}} {
		perDay := 1440 / c.minutes
		in := make([]byte, 2+c.days*perDay)
		in[0], in[1] = 3, byte(c.minutes-1)
		for i := range in[2:] {
			in[2+i] = byte(100 + 80*math.Sin(2*math.Pi*float64(i)/float64(perDay)))
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, ok := fuzzSeries(in)
		if !ok {
			return
		}
		m, err := Fit(s, Options{})
		if err != nil {
			return
		}
		var sel Selector
		sel.Seed(m, s)
		fc, err := m.Forecast(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := sel.Apply(fc); !finite(got.Peak) || got.Peak < 0 || got.BaselineShare < 0 || got.BaselineShare > 1 {
			t.Fatalf("seeded forecast %+v from %d samples at a step of %s", got, s.Len(), s.Step)
		}
	})
}

// FuzzSelectorRestore feeds arbitrary JSON as a SelectorState (what
// mlscale.io/baseline-scores carries): Restore either refuses it with an
// error that names a field, or takes it, and then the state it gives
// back restores to a selector that forecasts the same; never a panic.
func FuzzSelectorRestore(f *testing.F) {
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var s Selector
	selectorFeed(&s, at, 3, 10, [NumBaselines]float64{1, 30, math.NaN(), 30, math.NaN()})
	b, err := json.Marshal(s.State())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"first":"2026-12-01T00:00:00Z","days":[{"day":"2026-12-01","n":1,"nb":[1,0,1],"mix":[1,0,1],"blend":[[1,1,1,1,1,1,1,1,1,1],[0,0,0,0,0,0,0,0,0,0],[2,2,2,2,2,2,2,2,2,2]]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var st SelectorState
		if json.Unmarshal(data, &st) != nil {
			return
		}
		var r Selector
		if err := r.Restore(st); err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "days") && !strings.HasPrefix(msg, "first") {
				t.Fatalf("error %q names no field", msg)
			}
			if r != (Selector{}) {
				t.Fatal("a refused state changed the selector")
			}
			return
		}
		var again Selector
		if err := again.Restore(r.State()); err != nil {
			t.Fatalf("the state of a restored selector does not restore: %v", err)
		}
		for _, h := range []time.Duration{0, 12 * time.Hour} {
			f := Forecast{Time: st.First.Add(Day + h), Peak: 50, Upper: 60, Mixture: 50, Baselines: [NumBaselines]float64{80, 20, 10, 40, math.NaN()}}
			got, want := again.Apply(f), r.Apply(f)
			if !finite(want.Peak) || want.Peak < 0 || math.Abs(got.Peak-want.Peak) > 1e-9*max(1, want.Peak) {
				t.Fatalf("at %s: forecast %v after a second restore, %v after the first", f.Time, got.Peak, want.Peak)
			}
		}
	})
}

// FuzzCalibratorRestore feeds arbitrary JSON as a CalibratorState (the
// calibration in mlscale.io/predictor-state): Restore either refuses it
// with an error that names a field and leaves the calibrator as it was,
// or takes it, and then its bounds are numbers, at least 0, and its own
// state restores to the same bounds; never a panic. At a 30-second step
// the window holds the most scores a state may have, so none are cut.
func FuzzCalibratorRestore(f *testing.F) {
	c, _ := NewCalibrator(0.02, 30*time.Second, 15*time.Minute)
	feedCalibrator(c, 3, 0, 300)
	b, err := json.Marshal(c.State())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	hourly, _ := NewCalibrator(0.02, 30*time.Second, 15*time.Minute)
	hourlyJobWindows(hourly, 3, 600, true)
	if b, err = json.Marshal(hourly.State()); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"target":0.02,"level":0.5,"observed":2,"missed":1,"abs":{"n":2,"q":[-1,3]},"rel":{"n":1,"q":[0.5]},"loc":{"n":0,"q":[]}}`))
	fields := []string{"target", "level", "observed", "missed", "recent", "mean", "means", "abs.", "rel.", "loc.", "plain.", "minutes"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var st CalibratorState
		if json.Unmarshal(data, &st) != nil {
			return
		}
		c, _ := NewCalibrator(0.02, 30*time.Second, 15*time.Minute)
		c.Seed([]float64{1, 2, 3})
		before := c.State()
		if err := c.Restore(st); err != nil {
			msg := err.Error()
			if !slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(msg, f) }) {
				t.Fatalf("error %q names no field", msg)
			}
			if !reflect.DeepEqual(c.State(), before) {
				t.Fatal("a refused state changed the calibrator")
			}
			return
		}
		again, _ := NewCalibrator(0.02, 30*time.Second, 15*time.Minute)
		if err := again.Restore(c.State()); err != nil {
			t.Fatalf("the state of a restored calibrator does not restore: %v", err)
		}
		at := time.Date(2026, 12, 1, 0, 7, 0, 0, time.UTC)
		for _, f := range []Forecast{{Peak: 0}, {Peak: 1, Upper: 1}, {Peak: 1e3, Upper: 1e3}, {Time: at, Peak: 5, Upper: 5, Hourly: true}} {
			peak := f.Peak
			got, want := again.Upper(f), c.Upper(f)
			if math.IsNaN(want) || want < 0 || (got != want && !(math.Abs(got-want) <= 1e-5*max(1, want))) {
				t.Fatalf("upper of %v: %v after a second restore, %v after the first", peak, got, want)
			}
		}
	})
}

// TestForecastAlmostAllFilled forecasts a history whose samples were all
// filled in a gap but the first and the last (two rows four days apart,
// as ReadTrace would fill them): no pair of the peak regression is
// observed, and the forecast must still be finite (it regresses on every
// sample then, Model.fitPeak).
func TestForecastAlmostAllFilled(t *testing.T) {
	s := Series{Start: monday, Step: 5 * time.Minute, Values: make([]float64, 4*288)}
	s.Observed = make([]bool, s.Len())
	for i := range s.Values {
		s.Values[i] = 10 + 40*float64(i)/float64(s.Len())
	}
	s.Observed[0], s.Observed[s.Len()-1] = true, true
	fc, err := ForecastSeries(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !finite(fc.Peak) || !finite(fc.Upper) || fc.Peak < 0 || fc.Upper < fc.Peak {
		t.Fatalf("forecast %+v", fc)
	}
}
