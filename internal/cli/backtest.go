package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/mlscale/mlscale/predictor"
)

// Output formats of `mlscale backtest`.
const outputText = "text"

// backtestConfig is the configuration of `mlscale backtest`.
type backtestConfig struct {
	// Trace is the CSV file to replay.
	Trace string
	// Train is the initial history: a sample count ("5000") or a fraction
	// of the trace ("0.5"); half the trace when empty.
	Train string
	// Lookahead is the forecast window.
	Lookahead time.Duration
	// CapacityPerReplica is the demand one replica serves; 0 derives it
	// from the history.
	CapacityPerReplica float64
	// ColdStart is the simulated replica start time.
	ColdStart time.Duration
	// Output is outputText or outputJSON.
	Output string
	// ForecastsOut, when set, receives one CSV row per evaluated step.
	ForecastsOut string
	// PNG, when set, receives a chart of demand, forecast and floor.
	PNG string
}

func newBacktestCmd() *cobra.Command {
	cfg := backtestConfig{Lookahead: predictor.DefaultLookahead, ColdStart: predictor.DefaultColdStart}
	cmd := &cobra.Command{
		Use:   "backtest --trace FILE",
		Short: "Replay a demand trace through the predictor and reactive scaling, offline",
		Long:  backtestHelp,
		Example: `  mlscale backtest --trace nyc_taxi.csv
  mlscale backtest --trace crane_input9.csv --train 0.6 --lookahead 30m -o json
  mlscale backtest --trace demand.csv --capacity-per-replica 40 --forecasts-out forecasts.csv --png backtest.png`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(); err != nil {
				return err
			}
			return runBacktest(cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Trace, "trace", "", `demand trace, CSV with header "timestamp,value" (NAB) or "ts,value" (Crane)`)
	f.StringVar(&cfg.Train, "train", "", "initial history: a number of samples, or a fraction of the trace such as 0.5 (default: half)")
	f.DurationVar(&cfg.Lookahead, "lookahead", cfg.Lookahead, "forecast window")
	f.Float64Var(&cfg.CapacityPerReplica, "capacity-per-replica", 0, "demand one replica serves (default: a tenth of the history's 95th percentile)")
	f.DurationVar(&cfg.ColdStart, "cold-start", cfg.ColdStart, "time a new replica takes to become ready (0s: ready at once)")
	f.StringVarP(&cfg.Output, "output", "o", outputText, "output format: text or json")
	f.StringVar(&cfg.ForecastsOut, "forecasts-out", "", "write mlscale's forecasts to this CSV file")
	f.StringVar(&cfg.PNG, "png", "", "draw demand, forecast and floor to this PNG file")
	return cmd
}

func (c backtestConfig) validate() error {
	switch {
	case c.Trace == "":
		return usagef("no trace: give --trace FILE")
	case c.Output != outputText && c.Output != outputJSON:
		return usagef("-o %q is not supported; allowed: text, json", c.Output)
	case c.Lookahead <= 0:
		return usagef("--lookahead must be positive, not %s", c.Lookahead)
	case c.ColdStart < 0:
		return usagef("--cold-start must not be negative, not %s", c.ColdStart)
	case c.CapacityPerReplica < 0:
		return usagef("--capacity-per-replica must not be negative, not %g", c.CapacityPerReplica)
	}
	if _, err := trainSamples(c.Train, 100); err != nil {
		return err
	}
	return nil
}

// trainSamples turns --train into a sample count for a trace of n samples.
func trainSamples(v string, n int) (int, error) {
	if v == "" {
		return n / 2, nil
	}
	if i, err := strconv.Atoi(v); err == nil {
		if i <= 0 {
			return 0, usagef("--train %q must be a positive number of samples or a fraction in (0, 1)", v)
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f >= 1 {
		return 0, usagef("--train %q must be a positive number of samples or a fraction in (0, 1)", v)
	}
	return int(f * float64(n)), nil
}

// backtestOutput is the JSON output of backtest.
type backtestOutput struct {
	Trace string `json:"trace"`
	predictor.Report
}

func runBacktest(cfg backtestConfig, out io.Writer) error {
	s, err := predictor.LoadTrace(cfg.Trace)
	if err != nil {
		return err
	}
	train, err := trainSamples(cfg.Train, s.Len())
	if err != nil {
		return err
	}
	bc := predictor.DefaultBacktestConfig()
	bc.Train, bc.CapacityPerReplica, bc.ColdStart = train, cfg.CapacityPerReplica, cfg.ColdStart
	bc.Options.Lookahead = cfg.Lookahead
	rep, err := predictor.Backtest(s, bc)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Trace, err)
	}
	if cfg.ForecastsOut != "" {
		if err := writeForecasts(cfg.ForecastsOut, rep.Forecasts); err != nil {
			return err
		}
	}
	if cfg.PNG != "" {
		if err := drawBacktest(cfg.PNG, cfg.Trace, s, rep); err != nil {
			return err
		}
	}
	if cfg.Output == outputJSON {
		b, err := json.MarshalIndent(backtestOutput{Trace: cfg.Trace, Report: rep}, "", "  ")
		if err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	return printBacktest(out, cfg.Trace, rep)
}

// drawBacktest draws the evaluated part's demand, mlscale's forecast peak
// and its floor's capacity to a PNG file.
func drawBacktest(path, trace string, s predictor.Series, rep predictor.Report) error {
	demand := make(plotter.XYs, 0, len(rep.Forecasts))
	forecast := make(plotter.XYs, 0, len(rep.Forecasts))
	floor := make(plotter.XYs, 0, len(rep.Forecasts))
	first := rep.TrainPoints - 1
	for k, r := range rep.Forecasts {
		x := float64(r.Time.Unix())
		demand = append(demand, plotter.XY{X: x, Y: s.Values[first+k]})
		// The forecast is for the window after r.Time: draw it there.
		ahead := float64(r.Time.Add(s.Step).Unix())
		forecast = append(forecast, plotter.XY{X: ahead, Y: r.Peak})
		floor = append(floor, plotter.XY{X: ahead, Y: float64(r.Floor) * rep.CapacityPerReplica})
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("mlscale backtest: %s (lookahead %s)", trace, rep.Lookahead)
	p.X.Label.Text = "time (UTC)"
	p.Y.Label.Text = "demand"
	p.X.Tick.Marker = plot.TimeTicks{Format: "2006-01-02\n15:04"}
	p.Legend.Top = true
	if err := plotutil.AddLines(p, "demand", demand, "forecast peak", forecast, "floor capacity", floor); err != nil {
		return fmt.Errorf("drawing %s: %w", path, err)
	}
	if err := p.Save(16*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("drawing %s: %w", path, err)
	}
	return nil
}

// writeForecasts writes rows as CSV: time,forecast_peak,floor.
func writeForecasts(path string, rows []predictor.ForecastRow) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing forecasts: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("writing forecasts: %w", cerr)
		}
	}()
	w := csv.NewWriter(f)
	if err := w.Write([]string{"time", "forecast_peak", "floor"}); err != nil {
		return fmt.Errorf("writing forecasts: %w", err)
	}
	for _, r := range rows {
		rec := []string{
			strconv.FormatInt(r.Time.Unix(), 10),
			strconv.FormatFloat(r.Peak, 'f', -1, 64),
			strconv.FormatInt(int64(r.Floor), 10),
		}
		if err := w.Write(rec); err != nil {
			return fmt.Errorf("writing forecasts: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("writing forecasts: %w", err)
	}
	return nil
}

// printBacktest writes the report as text tables.
func printBacktest(out io.Writer, trace string, rep predictor.Report) error {
	fmt.Fprintf(out, "trace %s: step %s, %d training samples, %d evaluated steps, lookahead %s (%d steps)\n",
		trace, rep.Step, rep.TrainPoints, rep.TestPoints, rep.Lookahead, rep.HorizonSteps)
	fmt.Fprintf(out, "cycle: %s; capacity per replica %.4g; cold start %s\n\n", rep.Cycle, rep.CapacityPerReplica, rep.ColdStart)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "forecaster\tMAE\tsMAPE %%\tMASE\tunder %%\tover (replicas)\t\n")
	row := func(name string, m predictor.Metrics) {
		fmt.Fprintf(tw, "%s\t%.4g\t%.2f\t%.3f\t%.2f\t%.3f\t\n", name, m.MAE, m.SMAPE, m.MASE, m.UnderPct, m.OverMean)
	}
	row("mlscale", rep.MLScale)
	names := make([]string, 0, len(rep.Baselines))
	for name := range rep.Baselines {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		row(name, rep.Baselines[name])
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "simulation\treplica-hours\tunder-provisioned minutes\t\n")
	for _, name := range []string{predictor.SimStatic, predictor.SimReactive, predictor.SimPredictive} {
		r := rep.Simulation[name]
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t\n", name, r.ReplicaHours, r.UnderMinutes)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
