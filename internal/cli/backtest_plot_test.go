package cli

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/mlscale/mlscale/predictor"
)

// syntheticBacktest returns a daily-shaped trace of days days at step from
// start, and a report of a backtest of it as Backtest would give, with the
// forecast equal to the next sample and the floor its replicas.
func syntheticBacktest(start time.Time, days int, step time.Duration) (predictor.Series, predictor.Report) {
	n := int(time.Duration(days) * 24 * time.Hour / step)
	s := predictor.Series{Start: start, Step: step, Values: make([]float64, n)}
	for i := range s.Values {
		h := float64(s.Time(i).Hour()) + float64(s.Time(i).Minute())/60
		s.Values[i] = 100 - 50*math.Cos(2*math.Pi*h/24)
	}
	rep := predictor.Report{Step: step.String(), TrainPoints: n / 2, Lookahead: "15m0s", CapacityPerReplica: 10}
	for i := n/2 - 1; i+1 < n; i++ {
		rep.Forecasts = append(rep.Forecasts, predictor.ForecastRow{Time: s.Time(i), Peak: s.Values[i+1], Floor: int32(math.Ceil(s.Values[i+1] / 10))})
	}
	rep.TestPoints = len(rep.Forecasts)
	return s, rep
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// TestBacktestChartThreeMonths lays out and draws the chart of a
// three-month trace: a one-week detail panel above the whole trace, the
// legend off both panels' data, ticks on midnights whose labels do not
// collide, and the PNG of the size laid out.
func TestBacktestChartThreeMonths(t *testing.T) {
	s, rep := syntheticBacktest(time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC), 92, 30*time.Minute)
	c, err := layoutBacktestChart("three-months.csv", s, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.panels) != 2 {
		t.Fatalf("%d panels, want a detail panel and the whole trace", len(c.panels))
	}
	detail, whole := c.panels[0], c.panels[1]
	if d := detail.to.Sub(detail.from); !detail.to.Equal(s.End()) || d > 7*24*time.Hour || d <= 6*24*time.Hour || detail.from.Truncate(24*time.Hour) != detail.from {
		t.Errorf("detail panel %s..%s, want the last week of the trace from a midnight, ending at %s", detail.from, detail.to, s.End())
	}
	if !whole.from.Equal(s.Start) || !whole.to.Equal(s.End()) {
		t.Errorf("whole-trace panel %s..%s, want %s..%s", whole.from, whole.to, s.Start, s.End())
	}
	if detail.canvas.Min.Y < whole.canvas.Max.Y {
		t.Errorf("detail panel %v is not above the whole trace %v", detail.canvas.Rectangle, whole.canvas.Rectangle)
	}
	for i, p := range c.panels {
		if overlaps(c.legendBox, p.canvas.Rectangle) || overlaps(c.titleBox, p.canvas.Rectangle) {
			t.Errorf("panel %d %v overlaps the legend %v or the title %v", i, p.canvas.Rectangle, c.legendBox, c.titleBox)
		}
		checkDayTicks(t, p)
	}
	if detail.everyDays != 1 || whole.everyDays < 2 {
		t.Errorf("labelled ticks every %d and %d days, want every day in the detail and fewer in the whole trace", detail.everyDays, whole.everyDays)
	}

	path := filepath.Join(t.TempDir(), "chart.png")
	if err := drawBacktest(path, "three-months.csv", s, rep); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	w, h := c.canvas.Size()
	if b := img.Bounds(); b.Dx() != int(w.Dots(96)) || b.Dy() != int(h.Dots(96)) || b.Dy() < 800 {
		t.Errorf("image %dx%d, want %gx%g", b.Dx(), b.Dy(), w.Dots(96), h.Dots(96))
	}
}

// checkDayTicks checks a panel's X ticks: at least three labelled ones,
// all at midnight UTC, everyDays apart, and far enough apart for their
// labels not to touch.
func checkDayTicks(t *testing.T, p chartPanel) {
	t.Helper()
	lo, hi := float64(p.from.Unix()), float64(p.to.Unix())
	width := p.dataArea().Size().X
	var prev float64
	var labels int
	for _, tick := range p.plot.X.Tick.Marker.Ticks(lo, hi) {
		if tick.Value < lo || tick.Value > hi {
			t.Errorf("tick %v outside %v..%v", tick.Value, lo, hi)
		}
		if tick.Label == "" {
			continue
		}
		if int64(tick.Value)%secondsPerDay != 0 {
			t.Errorf("labelled tick %q at %s, not at midnight", tick.Label, time.Unix(int64(tick.Value), 0).UTC())
		}
		if labels > 0 {
			if d := tick.Value - prev; d != float64(p.everyDays*secondsPerDay) {
				t.Errorf("labelled ticks %gs apart, want %d days", d, p.everyDays)
			}
			gap := vg.Length((tick.Value-prev)/(hi-lo)) * width
			if lw := p.plot.X.Tick.Label.Rectangle(tick.Label).Size().X; gap < lw+0.1*vg.Inch {
				t.Errorf("labels %q are %v apart, each %v wide: they collide", tick.Label, gap, lw)
			}
		}
		prev = tick.Value
		labels++
	}
	if labels < 3 {
		t.Errorf("%d labelled ticks over %s..%s, want at least 3", labels, p.from, p.to)
	}
}

// TestBacktestChartShortTrace: a trace of two weeks or less gets one panel,
// with a labelled tick every day.
func TestBacktestChartShortTrace(t *testing.T) {
	s, rep := syntheticBacktest(time.Date(2021, 10, 8, 7, 0, 0, 0, time.UTC), 8, time.Minute)
	c, err := layoutBacktestChart("short.csv", s, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.panels) != 1 || c.panels[0].everyDays != 1 {
		t.Fatalf("%d panels, ticks every %d days; want one panel, ticks every day", len(c.panels), c.panels[0].everyDays)
	}
	checkDayTicks(t, c.panels[0])
}

func TestDayTicker(t *testing.T) {
	day := float64(secondsPerDay)
	monday := float64(time.Date(1969, 12, 29, 0, 0, 0, 0, time.UTC).Unix()) // before the Unix epoch
	tests := []struct {
		every      int
		lo, hi     float64
		wantLabels []float64
		wantTicks  int
	}{
		{1, monday - 3600, monday + 2*day + 3600, []float64{monday, monday + day, monday + 2*day}, 9},
		{7, monday - 3*day, monday + 15*day, []float64{monday, monday + 7*day, monday + 14*day}, 19},
		{2, 0, 5 * day, []float64{0, 2 * day, 4 * day}, 6},
	}
	for _, tt := range tests {
		var labels []float64
		ticks := dayTicker(tt.every, "2006-01-02").Ticks(tt.lo, tt.hi)
		for _, tick := range ticks {
			if tick.Label != "" {
				labels = append(labels, tick.Value)
			}
		}
		if len(ticks) != tt.wantTicks || len(labels) != len(tt.wantLabels) {
			t.Errorf("every %d: %d ticks, labelled at %v; want %d, at %v", tt.every, len(ticks), labels, tt.wantTicks, tt.wantLabels)
			continue
		}
		for i := range labels {
			if labels[i] != tt.wantLabels[i] {
				t.Errorf("every %d: labelled at %v, want %v", tt.every, labels, tt.wantLabels)
				break
			}
		}
	}
}
