package cli

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/mlscale/mlscale/predictor"
)

// The layout of `mlscale backtest --png`: a title across the top, the
// panels below it on the left, top to bottom, and the legend in a column of
// its own on the right, off the data. A trace longer than detailAbove gets
// a panel of its last detailDays days above the panel of the whole trace.
const (
	chartWidth         = 16 * vg.Inch
	chartTitleHeight   = 0.5 * vg.Inch
	chartPanelHeight   = 4.25 * vg.Inch
	chartLegendWidth   = 2.2 * vg.Inch
	chartPad           = 0.15 * vg.Inch
	detailDays         = 7
	detailAbove        = 14 * 24 * time.Hour
	tickLabelGap       = 0.2 * vg.Inch // the least space between two tick labels
	secondsPerDay      = 24 * 3600
	unixMondayDay      = 4             // 1970-01-05, the first Monday after the Unix epoch, in days
	chartAxisAllowance = 1.2 * vg.Inch // the Y axis and padding of a panel, for choosing ticks
)

// The legend's entries for the shaded parts of the whole-trace panel.
const (
	legendTraining = "training history"
	legendDetail   = "days of the panel above"
)

// Colours of the chart.
var (
	demandColor   = color.RGBA{R: 60, G: 60, B: 60, A: 255}
	forecastColor = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	floorColor    = color.RGBA{R: 230, G: 120, B: 20, A: 255}
	trainColor    = color.RGBA{R: 225, G: 225, B: 225, A: 255}
	detailColor   = color.RGBA{R: 255, G: 243, B: 176, A: 255}
)

// backtestChart is the PNG of a backtest, laid out and ready to draw.
type backtestChart struct {
	canvas *vgimg.Canvas
	// title is the chart's title, drawn in titleBox.
	title    string
	titleBox vg.Rectangle
	// legend is drawn in legendBox, right of the panels.
	legend    plot.Legend
	legendBox vg.Rectangle
	// panels are top to bottom: the detail week (if any), the whole trace.
	panels []chartPanel
}

// chartPanel is one plot of the chart.
type chartPanel struct {
	plot *plot.Plot
	// from and to are the times the panel shows.
	from, to time.Time
	// everyDays is the number of days between labelled ticks.
	everyDays int
	// canvas is where the panel is drawn, axes and title included.
	canvas draw.Canvas
}

// dataArea returns the rectangle of the panel's data (inside the axes).
func (p chartPanel) dataArea() vg.Rectangle { return p.plot.DataCanvas(p.canvas).Rectangle }

// chartLines are the lines of a chart, X in Unix seconds.
type chartLines struct {
	demand, forecast, floor plotter.XYs
	// trainEnd is when the first forecast is made, the end of the history.
	trainEnd float64
}

// newChartLines turns a backtest into lines: the demand over the whole
// trace, and each forecast peak and floor capacity drawn one step after it
// was made, at the start of the window it is for.
func newChartLines(s predictor.Series, rep predictor.Report) chartLines {
	l := chartLines{
		demand:   make(plotter.XYs, s.Len()),
		forecast: make(plotter.XYs, len(rep.Forecasts)),
		floor:    make(plotter.XYs, len(rep.Forecasts)),
		trainEnd: float64(s.Time(rep.TrainPoints - 1).Unix()),
	}
	for i, v := range s.Values {
		l.demand[i] = plotter.XY{X: float64(s.Time(i).Unix()), Y: v}
	}
	for k, r := range rep.Forecasts {
		x := float64(r.Time.Add(s.Step).Unix())
		l.forecast[k] = plotter.XY{X: x, Y: r.Peak}
		l.floor[k] = plotter.XY{X: x, Y: float64(r.Floor) * rep.CapacityPerReplica}
	}
	return l
}

// layoutBacktestChart lays out the chart of a backtest of s.
func layoutBacktestChart(trace string, s predictor.Series, rep predictor.Report) (*backtestChart, error) {
	lines := newChartLines(s, rep)
	start, end := s.Start, s.End()
	ranges := [][2]time.Time{{start, end}}
	if end.Sub(start) > detailAbove {
		from := ceilDay(end.Add(-detailDays * 24 * time.Hour))
		ranges = [][2]time.Time{{from, end}, {start, end}}
	}
	height := chartTitleHeight + vg.Length(len(ranges))*chartPanelHeight
	c := &backtestChart{
		canvas: vgimg.New(chartWidth, height),
		title:  fmt.Sprintf("mlscale backtest: %s (step %s, lookahead %s, capacity per replica %.4g)", trace, rep.Step, rep.Lookahead, rep.CapacityPerReplica),
		legend: plot.NewLegend(),
	}
	c.legend.Left, c.legend.Top = true, true
	c.legend.Padding = 0.08 * vg.Inch
	// The legend's width, from its longest entry.
	sizer := c.legend
	for _, name := range []string{"demand", "forecast peak", "floor capacity", legendTraining, legendDetail} {
		sizer.Add(name)
	}
	legendWidth := sizer.Rectangle(draw.Canvas{}).Size().X + 2*chartPad
	panelWidth := chartWidth - legendWidth
	c.titleBox = vg.Rectangle{Min: vg.Point{X: 0, Y: height - chartTitleHeight}, Max: vg.Point{X: chartWidth, Y: height}}
	c.legendBox = vg.Rectangle{Min: vg.Point{X: panelWidth, Y: 0}, Max: vg.Point{X: chartWidth, Y: height - chartTitleHeight}}
	var legendItems []legendItem
	plots := make([][]*plot.Plot, len(ranges))
	for i, r := range ranges {
		detail := len(ranges) > 1 && i == 0
		p, every, items, err := newChartPanel(lines, r[0], r[1], panelWidth, detail, len(ranges) > 1)
		if err != nil {
			return nil, err
		}
		if i == len(ranges)-1 {
			legendItems = items
		}
		plots[i] = []*plot.Plot{p}
		c.panels = append(c.panels, chartPanel{plot: p, from: r[0], to: r[1], everyDays: every})
	}
	area := draw.Canvas{Canvas: c.canvas, Rectangle: vg.Rectangle{Max: vg.Point{X: panelWidth, Y: height - chartTitleHeight}}}
	tiles := draw.Tiles{Rows: len(ranges), Cols: 1, PadY: 2 * chartPad, PadLeft: chartPad, PadRight: chartPad, PadBottom: chartPad}
	for i, cv := range plot.Align(plots, tiles, area) {
		c.panels[i].canvas = cv[0]
	}
	for _, it := range legendItems {
		c.legend.Add(it.name, it.thumb)
	}
	return c, nil
}

// legendItem is an entry of the chart's legend.
type legendItem struct {
	name  string
	thumb plot.Thumbnailer
}

// newChartPanel makes the plot of data over [from, to], ticks on whole
// days chosen to fit width. The whole-trace panel (not detail) shades the
// training history and, when the chart has a detail panel (withDetail), the
// detail week. It returns the legend's entries for what it draws.
func newChartPanel(data chartLines, from, to time.Time, width vg.Length, detail, withDetail bool) (*plot.Plot, int, []legendItem, error) {
	p := plot.New()
	lo, hi := float64(from.Unix()), float64(to.Unix())
	p.X.Min, p.X.Max = lo, hi
	days := to.Sub(from).Hours() / 24
	if detail {
		p.Title.Text = fmt.Sprintf("last %d days, %s to %s (UTC)", detailDays, from.Format(time.DateOnly), to.Format(time.DateOnly))
	} else {
		p.Title.Text = fmt.Sprintf("whole trace, %s to %s (UTC), %.0f days", from.Format(time.DateOnly), to.Format(time.DateOnly), days)
	}
	p.X.Label.Text = "time (UTC)"
	p.Y.Label.Text = "demand"
	every, layout := tickDays(days, width-chartAxisAllowance, p.X.Tick.Label)
	p.X.Tick.Marker = dayTicker(every, layout)

	demand, forecast, floor := within(data.demand, lo, hi), within(data.forecast, lo, hi), within(data.floor, lo, hi)
	ymin, ymax := yRange(demand, forecast, floor)
	p.Y.Min, p.Y.Max = ymin, ymax
	p.Y.Tick.Marker = plot.TickerFunc(niceTicks)
	var shades []legendItem
	if !detail {
		train, err := band(float64(from.Unix()), min(hi, data.trainEnd), ymin, ymax, trainColor)
		if err != nil {
			return nil, 0, nil, err
		}
		p.Add(train)
		shades = append(shades, legendItem{legendTraining, train})
		if withDetail {
			week, err := band(float64(ceilDay(to.Add(-detailDays*24*time.Hour)).Unix()), hi, ymin, ymax, detailColor)
			if err != nil {
				return nil, 0, nil, err
			}
			p.Add(week)
			shades = append(shades, legendItem{legendDetail, week})
		}
	}
	lines := []struct {
		name  string
		xys   plotter.XYs
		color color.Color
		step  plotter.StepKind
		dash  []vg.Length
	}{
		{"demand", demand, demandColor, plotter.NoStep, nil},
		{"forecast peak", forecast, forecastColor, plotter.NoStep, nil},
		{"floor capacity", floor, floorColor, plotter.PostStep, []vg.Length{vg.Points(4), vg.Points(2)}},
	}
	items := make([]legendItem, len(lines))
	// Drawn from the last to the first, so that demand is on top.
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		line, err := plotter.NewLine(l.xys)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("drawing %s: %w", l.name, err)
		}
		line.Color, line.StepStyle, line.Dashes, line.Width = l.color, l.step, l.dash, vg.Points(1)
		p.Add(line)
		items[i] = legendItem{l.name, line}
	}
	return p, every, append(items, shades...), nil
}

// within returns the points of xys from the last one before lo to the first
// one after hi, so that lines reach the edges of a panel.
func within(xys plotter.XYs, lo, hi float64) plotter.XYs {
	i, j := 0, len(xys)
	for i+1 < len(xys) && xys[i+1].X <= lo {
		i++
	}
	for j-1 > i && xys[j-2].X >= hi {
		j--
	}
	if i >= j {
		return nil
	}
	return xys[i:j]
}

// yRange returns the Y range of a panel: from 0 (or the least value, if
// below) to a little above the highest.
func yRange(lines ...plotter.XYs) (lo, hi float64) {
	lo, hi = 0, math.Inf(-1)
	for _, l := range lines {
		for _, p := range l {
			lo, hi = min(lo, p.Y), max(hi, p.Y)
		}
	}
	if math.IsInf(hi, -1) || hi <= lo {
		hi = lo + 1
	}
	return lo, hi + 0.05*(hi-lo)
}

// niceTicks returns about five labelled ticks over [lo, hi] at multiples
// of 1, 2 or 5 times a power of ten, and a minor tick between each two.
func niceTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	for k := math.Ceil(lo / step * 2); k/2*step <= hi; k++ {
		v := k / 2 * step
		t := plot.Tick{Value: v}
		if math.Mod(k, 2) == 0 {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// band returns a shaded rectangle over [x0, x1] from y0 to y1.
func band(x0, x1, y0, y1 float64, c color.Color) (*plotter.Polygon, error) {
	x1 = max(x0, x1)
	poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
	if err != nil {
		return nil, fmt.Errorf("drawing a band: %w", err)
	}
	poly.Color, poly.Width = c, 0
	return poly, nil
}

// ceilDay returns the first midnight (UTC) at or after t.
func ceilDay(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	if d.Before(t) {
		d = d.Add(24 * time.Hour)
	}
	return d
}

// tickDays returns the days between labelled ticks for a panel of days
// days and width wide, and the layout of the labels: every day ("Mon
// 2006-01-02") when they fit, else every 2, 7, 14, 28, 91, 182, 364, ...
// days ("2006-01-02"; Mondays when a multiple of 7), the fewest that leave
// tickLabelGap between labels.
func tickDays(days float64, width vg.Length, sty draw.TextStyle) (every int, layout string) {
	fits := func(every int, layout string) bool {
		pitch := sty.Rectangle(time.Date(2006, 12, 30, 0, 0, 0, 0, time.UTC).Format(layout)).Size().X + tickLabelGap
		return vg.Length(days/float64(every))*pitch <= width
	}
	if long := "Mon 2006-01-02"; fits(1, long) {
		return 1, long
	}
	const short = "2006-01-02"
	for _, every := range []int{2, 7, 14, 28, 91, 182} {
		if fits(every, short) {
			return every, short
		}
	}
	every = 364
	for !fits(every, short) {
		every *= 2
	}
	return every, short
}

// dayTicker returns ticks at midnights (UTC), X in Unix seconds: labelled
// every `every` days (on Mondays when every is a multiple of 7, else on
// days since the Unix epoch that are multiples of every), minor ticks at
// every other midnight, or every 6 hours when every is 1, or on Mondays when
// there would be more than 400 midnights.
func dayTicker(every int, layout string) plot.Ticker {
	offset := int64(0)
	if every%7 == 0 {
		offset = unixMondayDay
	}
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		minor := int64(secondsPerDay)
		minorOffset := int64(0)
		switch {
		case every == 1:
			minor = secondsPerDay / 4
		case (hi-lo)/secondsPerDay > 400:
			minor, minorOffset = 7*secondsPerDay, unixMondayDay*secondsPerDay
		}
		var ticks []plot.Tick
		first := int64(math.Ceil((lo-float64(minorOffset))/float64(minor)))*minor + minorOffset
		for t := first; float64(t) <= hi; t += minor {
			tick := plot.Tick{Value: float64(t)}
			if day := floorDiv(t, secondsPerDay); t%secondsPerDay == 0 && mod(day-offset, int64(every)) == 0 {
				tick.Label = time.Unix(t, 0).UTC().Format(layout)
			}
			ticks = append(ticks, tick)
		}
		return ticks
	})
}

// floorDiv is a/b rounded down; mod is a modulo b in [0, b).
func floorDiv(a, b int64) int64 { return (a - mod(a, b)) / b }
func mod(a, b int64) int64      { return ((a % b) + b) % b }

// draw draws the chart on its canvas.
func (c *backtestChart) draw() {
	dc := draw.New(c.canvas)
	sty := draw.TextStyle{Font: font.From(plot.DefaultFont, 14), Handler: plot.DefaultTextHandler, YAlign: draw.YCenter}
	dc.FillText(sty, vg.Point{X: c.titleBox.Min.X + chartPad, Y: (c.titleBox.Min.Y + c.titleBox.Max.Y) / 2}, c.title)
	for _, p := range c.panels {
		p.plot.Draw(p.canvas)
	}
	top := c.panels[0].dataArea().Max.Y
	legend := draw.Canvas{Canvas: c.canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: c.legendBox.Min.X + chartPad, Y: c.legendBox.Min.Y},
		Max: vg.Point{X: c.legendBox.Max.X - chartPad, Y: top},
	}}
	c.legend.Draw(legend)
}

// drawBacktest draws the chart of a backtest of s to a PNG file.
func drawBacktest(path, trace string, s predictor.Series, rep predictor.Report) (err error) {
	c, err := layoutBacktestChart(trace, s, rep)
	if err != nil {
		return fmt.Errorf("drawing %s: %w", path, err)
	}
	c.draw()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("drawing %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("drawing %s: %w", path, cerr)
		}
	}()
	if _, err := (vgimg.PngCanvas{Canvas: c.canvas}).WriteTo(f); err != nil {
		return fmt.Errorf("drawing %s: %w", path, err)
	}
	return nil
}
