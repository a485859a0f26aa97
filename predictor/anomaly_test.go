package predictor

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
	"time"
)

// anomalyWindows reads NAB's labelled anomaly windows of one trace.
func anomalyWindows(t *testing.T, nabPath string) [][2]time.Time {
	t.Helper()
	b, err := os.ReadFile("testdata/traces/combined_windows.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string][][2]string
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	var out [][2]time.Time
	for _, w := range all[nabPath] {
		var tw [2]time.Time
		for k := range w {
			if tw[k], err = time.Parse("2006-01-02 15:04:05.000000", w[k]); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, tw)
	}
	if len(out) == 0 {
		t.Fatalf("no anomaly windows for %s", nabPath)
	}
	return out
}

// weekErrors holds one forecaster's mean absolute error of the peak in the
// week after each labelled window, and over an ordinary week.
type weekErrors struct {
	// after is per window, NaN where nothing was evaluated; afterOutside
	// leaves out the forecasts made inside a labelled window (the week
	// after Christmas holds the New Year window).
	after, afterOutside []float64
	ordinary            float64
}

// anomalyWeekErrors scores peak forecasts (peaks[k] made at times[k] for the
// window (times[k], times[k]+lookahead] of horizon steps) against s: for each
// labelled window, the mean absolute error of the forecasts made in the week
// after the window ends; and the median of the same error over the ordinary
// weeks: the seven-day blocks of the evaluated part, counted from its first
// forecast, that overlap no window nor the week after one.
func anomalyWeekErrors(t *testing.T, s Series, horizon int, times []time.Time, peaks []float64, windows [][2]time.Time) weekErrors {
	t.Helper()
	errs := make([]float64, len(times))
	for k, at := range times {
		i := int(at.Sub(s.Start) / s.Step)
		actual := math.Inf(-1)
		for h := 1; h <= horizon; h++ {
			actual = max(actual, s.Values[i+h])
		}
		errs[k] = math.Abs(peaks[k] - actual)
	}
	inWindow := func(at time.Time) bool {
		return slices.ContainsFunc(windows, func(w [2]time.Time) bool { return at.After(w[0]) && !at.After(w[1]) })
	}
	meanIn := func(from, to time.Time, outside bool) (float64, int) {
		var sum float64
		n := 0
		for k, at := range times {
			if at.After(from) && !at.After(to) && !(outside && inWindow(at)) {
				sum += errs[k]
				n++
			}
		}
		return sum / float64(n), n
	}
	first, last := times[0], times[len(times)-1]
	var ordinary []float64
	for from := first.Add(-s.Step); from.Add(Week).Before(last); from = from.Add(Week) {
		to := from.Add(Week)
		if slices.ContainsFunc(windows, func(w [2]time.Time) bool { return from.Before(w[1].Add(Week)) && to.After(w[0]) }) {
			continue
		}
		e, _ := meanIn(from, to, false)
		ordinary = append(ordinary, e)
	}
	if len(ordinary) < 3 {
		t.Fatalf("only %d ordinary weeks", len(ordinary))
	}
	slices.Sort(ordinary)
	out := weekErrors{ordinary: ordinary[len(ordinary)/2]}
	for _, w := range windows {
		for _, outside := range []bool{false, true} {
			e, n := meanIn(w[1], w[1].Add(Week), outside)
			if n == 0 {
				e = math.NaN()
			}
			if outside {
				out.afterOutside = append(out.afterOutside, e)
			} else {
				out.after = append(out.after, e)
			}
		}
	}
	return out
}

// nycTaxiWeekErrors replays nyc_taxi with Backtest's defaults and scores
// mlscale and, at the same steps, each baseline.
func nycTaxiWeekErrors(t *testing.T) (windows [][2]time.Time, ml weekErrors, baselines map[string]weekErrors) {
	t.Helper()
	s := loadTrace(t, "nyc_taxi.csv")
	windows = anomalyWindows(t, "realKnownCause/nyc_taxi.csv")
	rep, err := Backtest(s, DefaultBacktestConfig())
	if err != nil {
		t.Fatal(err)
	}
	h := rep.HorizonSteps
	times := make([]time.Time, len(rep.Forecasts))
	peaks := make([]float64, len(rep.Forecasts))
	for k, r := range rep.Forecasts {
		times[k], peaks[k] = r.Time, r.Peak
	}
	ml = anomalyWeekErrors(t, s, h, times, peaks, windows)
	day, week := int(Day/s.Step), int(Week/s.Step)
	hw := fitHoltWinters(s.Values, nil, day, h, rep.TrainPoints)
	fcs := map[string]peakForecaster{
		BaselinePersistence:       persistence(s.Values, func(i int) int { return i }),
		BaselineSeasonalNaiveDay:  seasonalNaive(s.Values, day, h),
		BaselineSeasonalNaiveWeek: seasonalNaive(s.Values, week, h),
		BaselineHoltWinters:       func(i int) float64 { return hw[i] },
	}
	baselines = map[string]weekErrors{}
	for name, f := range fcs {
		bp := make([]float64, len(times))
		for k, at := range times {
			bp[k] = max(0, f(int(at.Sub(s.Start)/s.Step)))
		}
		baselines[name] = anomalyWeekErrors(t, s, h, times, bp, windows)
	}
	return windows, ml, baselines
}

// TestAnomalyWeeksNYCTaxi checks that a labelled anomaly is not learned as
// the new normal: the week after each of nyc_taxi's windows is forecast
// about as well as an ordinary week (the bar: at most 1.2 times
// its error), and better than by every baseline.
//
// The bar holds for the marathon, Thanksgiving, New Year and the blizzard
// (of whose week only three days are in the trace). It does not hold for
// Christmas as such (1.42 when this was written): the week after it is
// the New Year window itself, whose half-hours around midnight on New
// Year's Eve (a drop to two thirds of the demand at 23:00, then a surge
// to twice it by 00:30, on no earlier day of the trace) alone add 0.18 to
// the ratio: with every other forecast of that night (18:00 to 06:00)
// exact, the week would still score 1.21. Leaving out the forecasts made inside the New Year window,
// the week after Christmas meets the bar; as a whole it is held to a
// regression guard, and TestAnomaliesNotLearnedNYCTaxi shows that its
// error does not come from having learned Christmas.
func TestAnomalyWeeksNYCTaxi(t *testing.T) {
	windows, ml, baselines := nycTaxiWeekErrors(t)
	const bar = 1.2
	for k, w := range windows {
		day := w[0].Format(time.DateOnly)
		ratio, outside := ml.after[k]/ml.ordinary, ml.afterOutside[k]/ml.ordinary
		t.Logf("window %s..%s: week after / ordinary week = %.2f (%.2f outside labelled windows); mean absolute error %.0f, ordinary %.0f",
			day, w[1].Format(time.DateOnly), ratio, outside, ml.after[k], ml.ordinary)
		limit := bar
		switch day {
		case "2014-10-30", "2014-11-25", "2014-12-29", "2015-01-24":
			// marathon, Thanksgiving, New Year, blizzard
		case "2014-12-23":
			limit = 1.45 // Christmas, whose week after holds New Year: regression guard
		default:
			t.Fatalf("unexpected window starting %s", day)
		}
		if math.IsNaN(ratio) || ratio > limit {
			t.Errorf("the week after the window %s..%s is forecast %.2f times worse than an ordinary week, limit %.2f", day, w[1].Format(time.DateOnly), ratio, limit)
		}
		if math.IsNaN(outside) || outside > bar {
			t.Errorf("outside labelled windows, the week after the window %s..%s is forecast %.2f times worse than an ordinary week, limit %.1f", day, w[1].Format(time.DateOnly), outside, bar)
		}
		for name, b := range baselines {
			if !(ml.after[k] < b.after[k]) {
				t.Errorf("the week after the window %s: mlscale's mean absolute error %.0f is not below %s's %.0f", day, ml.after[k], name, b.after[k])
			}
		}
	}
}

// TestAnomaliesNotLearnedNYCTaxi compares, for each labelled window, the
// forecasts of the week after it with those the same replay makes when the
// window's samples are replaced by an ordinary week's at the same times:
// had the anomaly been learned as the new normal, the first would be the
// worse by far. The 1.2 is the bar.
func TestAnomaliesNotLearnedNYCTaxi(t *testing.T) {
	s := loadTrace(t, "nyc_taxi.csv")
	windows := anomalyWindows(t, "realKnownCause/nyc_taxi.csv")
	for _, w := range windows {
		withIt, standIn := weekAfterWithStandIn(t, s, w, windows)
		ratio := withIt / standIn
		t.Logf("window %s..%s: week after, mean absolute error %.0f with the window in the history, %.0f with an ordinary week in its place (%.2f)",
			w[0].Format(time.DateOnly), w[1].Format(time.DateOnly), withIt, standIn, ratio)
		if !(ratio <= 1.2) {
			t.Errorf("the window %s..%s makes the week after it %.2f times worse than an ordinary week in its place would, limit 1.2", w[0].Format(time.DateOnly), w[1].Format(time.DateOnly), ratio)
		}
	}
}

// weekAfterWithStandIn returns mlscale's mean absolute peak error over the
// week after window w, as replayed on s, and as replayed on a copy of s in
// which the window's samples are replaced by those at the same times of the
// nearest earlier week that overlaps no labelled window.
func weekAfterWithStandIn(t *testing.T, s Series, w [2]time.Time, windows [][2]time.Time) (withIt, standIn float64) {
	t.Helper()
	from, to := int(w[0].Sub(s.Start)/s.Step), int(w[1].Sub(s.Start)/s.Step)
	week := int(Week / s.Step)
	lag := week
	for ; from-lag >= 0; lag += week {
		a, b := w[0].Add(-time.Duration(lag)*s.Step), w[1].Add(-time.Duration(lag)*s.Step)
		if !slices.ContainsFunc(windows, func(o [2]time.Time) bool { return a.Before(o[1]) && b.After(o[0]) }) {
			break
		}
	}
	if from-lag < 0 {
		t.Fatalf("no ordinary week before the window %s", w[0])
	}
	alt := Series{Start: s.Start, Step: s.Step, Values: append([]float64(nil), s.Values...)}
	for i := from; i <= to && i < alt.Len(); i++ {
		alt.Values[i] = s.Values[i-lag]
	}
	weekAfter := func(s Series) float64 {
		rep, err := Backtest(s, DefaultBacktestConfig())
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		n := 0
		for _, r := range rep.Forecasts {
			if !r.Time.After(w[1]) || r.Time.After(w[1].Add(Week)) {
				continue
			}
			i := int(r.Time.Sub(s.Start) / s.Step)
			actual := math.Inf(-1)
			for h := 1; h <= rep.HorizonSteps; h++ {
				actual = max(actual, s.Values[i+h])
			}
			sum += math.Abs(r.Peak - actual)
			n++
		}
		return sum / float64(n)
	}
	return weekAfter(s), weekAfter(alt)
}
