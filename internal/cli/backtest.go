package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/predictor"
	"github.com/mlscale/mlscale/predictor/promsource"
)

// Output formats of `mlscale backtest`.
const outputText = "text"

// backtestConfig is the configuration of `mlscale backtest`.
type backtestConfig struct {
	// Trace is the CSV file to replay.
	Trace string
	// Column names the trace's value column; empty: the second column of
	// two, or the one named value (see predictor.ReadTraceColumn).
	Column string
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
	// TargetUnder is the floors' target under-provisioning, as a
	// percentage ("2%").
	TargetUnder string
	// BusinessHours is the mlscale.io/business-hours calendar the model
	// and the floors expect load in ("": none).
	BusinessHours string
	// Hysteresis, DownDelay and DownInterval tune how the floors fall, as
	// mlscale predictor's flags of the same names do.
	Hysteresis              float64
	DownDelay, DownInterval time.Duration
	// Output is outputText or outputJSON.
	Output string
	// ForecastsOut, when set, receives one CSV row per evaluated step.
	ForecastsOut string
	// PNG, when set, receives a chart of demand, forecast and floor.
	PNG string
	// PrometheusServer and DemandQuery, instead of Trace: the history of
	// the query on that server, over Window up to End ("": now) every
	// Step.
	PrometheusServer, DemandQuery, End string
	Window, Step                       time.Duration
	// TraceOut, with DemandQuery, receives the history read, as a trace
	// file that replays the same backtest.
	TraceOut string
	// Workload ("deployment/NAME" or "statefulset/NAME"), instead of
	// DemandQuery: a predictive workload whose annotations give the demand
	// query, the capacity per replica, the lookahead and the target, as
	// the predictor reads them (a flag given overrides its annotation).
	// Namespace, Kubeconfig and Context find it as kubectl's flags do.
	Workload, Namespace, Kubeconfig, Context string
	// workload names the workload read ("Deployment ml/api"), once read.
	workload string
}

// Defaults and bounds of a backtest of a query's history.
const (
	// backtestWindow is two weeks, as the predictor reads (--history).
	backtestWindow = 14 * 24 * time.Hour
	// backtestMaxPoints bounds the samples read: three months at a
	// 10-second step is 777,600.
	backtestMaxPoints = 1_000_000
)

func newBacktestCmd() *cobra.Command {
	defaults := predictor.DefaultBacktestConfig()
	cfg := backtestConfig{
		Lookahead: predictor.DefaultLookahead, ColdStart: predictor.DefaultColdStart, TargetUnder: intent.FormatTargetUnder(predictor.DefaultTargetUnder),
		Hysteresis: defaults.Hysteresis, DownDelay: defaults.DownDelay, DownInterval: defaults.DownInterval,
		Window: backtestWindow, Step: time.Minute,
	}
	cmd := &cobra.Command{
		Use:   "backtest -f FILE | --prometheus-server URL (--demand-query PROMQL | --workload KIND/NAME)",
		Short: "Replay a demand trace through the predictor and reactive scaling, offline",
		Long:  backtestHelp,
		Example: `  mlscale backtest -f nyc_taxi.csv
  mlscale backtest -f crane_input9.csv --train 0.6 --lookahead 30m -o json
  mlscale backtest -f demand.csv --capacity-per-replica 40 --forecasts-out forecasts.csv --png backtest.png
  mlscale backtest --prometheus-server http://localhost:9090 --demand-query 'sum(rate(http_requests_total{app="api"}[5m]))' --window 672h --trace-out api.csv
  mlscale backtest --prometheus-server http://localhost:9090 --workload deployment/llm-server -n ml`,
		Args: noArgsButFiles,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(); err != nil {
				return err
			}
			if cfg.Workload != "" {
				if err := cfg.fromWorkload(cmd.Context(), cmd.Flags().Changed, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			return runBacktest(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Trace, "filename", "f", "", `demand trace, CSV of a time and a value under a header such as "timestamp,value" (the time column named timestamp, ts, time, date, datetime, epoch, _time, @timestamp or ds, or unnamed; no header for two columns); times in Unix seconds (or milliseconds to nanoseconds), YYYY-MM-DD HH:MM[:SS] (UTC), RFC 3339 or YYYY-MM-DD; or the JSON response of Prometheus's /api/v1/query_range`)
	// --trace, the flag's first name, still works.
	f.StringVar(&cfg.Trace, "trace", "", `the same as -f`)
	f.StringVar(&cfg.Column, "column", "", "the trace's value column, by its name in the header, when it has more than a time and a value column (default: the column named value); in a Prometheus response of several series, the series, by a label: LABEL=VALUE")
	f.StringVar(&cfg.Train, "train", "", "initial history: a number of samples, a fraction or percentage of the trace (0.6, 60%), or a duration (168h) (default: half)")
	durationVar(f, &cfg.Lookahead, "lookahead", cfg.Lookahead, "forecast window")
	f.Float64Var(&cfg.CapacityPerReplica, "capacity-per-replica", 0, "demand one replica serves (default: a tenth of the history's 95th percentile, or of its maximum when that is 0)")
	durationVar(f, &cfg.ColdStart, "cold-start", cfg.ColdStart, "time a new replica takes to become ready (0s: ready at once)")
	f.StringVar(&cfg.TargetUnder, "target-under", cfg.TargetUnder, "share of steps in which demand may exceed a floor's capacity; the floors are calibrated to it ("+intent.TargetUnderAllowed+")")
	f.StringVar(&cfg.BusinessHours, "business-hours", "", "busy hours the predictor expects load in, as mlscale.io/business-hours: "+intent.BusinessHoursSyntax)
	f.Float64Var(&cfg.Hysteresis, "hysteresis", cfg.Hysteresis, "as mlscale predictor's: band below the floor, as a fraction of it in [0, 1) (rounded down, and at least the forecast's recent mean absolute error, rounded to whole replicas), that the forecast must leave before the floor falls")
	durationVar(f, &cfg.DownDelay, "down-delay", cfg.DownDelay, "as mlscale predictor's (or a --workload's mlscale.io/floor-down-delay): how long the forecast must stay below the band before the floor falls; 0 falls at once")
	durationVar(f, &cfg.DownInterval, "down-interval", cfg.DownInterval, "as mlscale predictor's (or a --workload's mlscale.io/floor-down-interval): least time between two falls of the floor, and the time per step (a tenth of the floors' ceiling, at least 1 replica); 0 for no spacing")
	f.StringVarP(&cfg.Output, "output", "o", outputText, "output format: text or json")
	f.StringVar(&cfg.ForecastsOut, "forecasts-out", "", "write mlscale's forecasts to this CSV file")
	f.StringVar(&cfg.PNG, "png", "", "draw demand, forecast peak and floor capacity to this PNG file")
	f.StringVar(&cfg.PrometheusServer, "prometheus-server", "", "instead of a trace file: the Prometheus base URL (http or https) that --demand-query runs on")
	f.StringVar(&cfg.DemandQuery, "demand-query", "", "instead of a trace file: the PromQL query of the demand (one series, as mlscale.io/demand-query), read from --prometheus-server")
	durationVar(f, &cfg.Window, "window", cfg.Window, "with --demand-query: the length of the history to read")
	durationVar(f, &cfg.Step, "step", cfg.Step, "with --demand-query: the resolution of the history (the range query's step)")
	f.StringVar(&cfg.End, "end", "", "with --demand-query: the end of the history, RFC 3339 (default: now)")
	f.StringVar(&cfg.TraceOut, "trace-out", "", "with --demand-query: write the history read to this CSV file, which -f replays the same")
	f.StringVar(&cfg.Workload, "workload", "", "instead of --demand-query: a predictive deployment/NAME or statefulset/NAME whose mlscale.io/ annotations give the demand query, capacity per replica, lookahead, target, business hours and floor fall timing (flags given override them)")
	f.StringVarP(&cfg.Namespace, "namespace", "n", "", "with --workload: its namespace; default: the context's namespace")
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "with --workload: kubeconfig file; default: KUBECONFIG, ~/.kube/config, or the in-cluster service account")
	f.StringVar(&cfg.Context, "context", "", "with --workload: kubeconfig context to use; default: the current context")
	return cmd
}

func (c backtestConfig) validate() error {
	switch {
	case c.Trace == "" && c.DemandQuery == "" && c.Workload == "":
		return usagef("no trace: give -f FILE, or --prometheus-server URL and --demand-query PROMQL or --workload KIND/NAME")
	case c.Trace != "" && (c.DemandQuery != "" || c.Workload != ""):
		return usagef("-f %s and --demand-query or --workload both give the demand; give one", c.Trace)
	case c.Output != outputText && c.Output != outputJSON:
		return usagef("-o %q is not supported; allowed: text, json", c.Output)
	case c.Lookahead <= 0:
		return usagef("--lookahead must be positive, not %s", c.Lookahead)
	case c.ColdStart < 0:
		return usagef("--cold-start must not be negative, not %s", c.ColdStart)
	case c.CapacityPerReplica < 0 || math.IsNaN(c.CapacityPerReplica) || math.IsInf(c.CapacityPerReplica, 0):
		return usagef("--capacity-per-replica must be a finite number, 0 or more (0: derived from the trace), not %g", c.CapacityPerReplica)
	case !(c.Hysteresis >= 0 && c.Hysteresis < 1):
		return usagef("--hysteresis must be in [0, 1), not %g", c.Hysteresis)
	case c.DownDelay < 0:
		return usagef("--down-delay must be 0 or more, not %s", c.DownDelay)
	case c.DownInterval < 0:
		return usagef("--down-interval must be 0 or more, not %s", c.DownInterval)
	}
	if err := c.validateQuery(); err != nil {
		return err
	}
	// Output files are written after the run: a directory that is not
	// there fails now, not after minutes of work.
	for _, out := range []struct{ flag, path string }{{"--png", c.PNG}, {"--forecasts-out", c.ForecastsOut}, {"--trace-out", c.TraceOut}} {
		if out.path == "" {
			continue
		}
		if info, err := os.Stat(filepath.Dir(out.path)); err != nil || !info.IsDir() {
			return usagef("%s %s: directory %s does not exist", out.flag, out.path, filepath.Dir(out.path))
		}
	}
	if _, err := trainSamples(c.Train, 100, time.Nanosecond); err != nil {
		return err
	}
	if _, err := intent.ParseTargetUnder(c.TargetUnder); err != nil {
		return usagef("--target-under %q %v; allowed: %s", c.TargetUnder, err, intent.TargetUnderAllowed)
	}
	if _, err := c.businessHours(); err != nil {
		return err
	}
	return nil
}

// businessHours parses --business-hours; nil when it is not set.
func (c backtestConfig) businessHours() (*intent.BusinessHours, error) {
	if c.BusinessHours == "" {
		return nil, nil
	}
	bh, err := intent.ParseBusinessHours(c.BusinessHours)
	if err != nil {
		return nil, usagef("--business-hours %q %v; allowed: %s", c.BusinessHours, err, intent.BusinessHoursSyntax)
	}
	return &bh, nil
}

// validateQuery checks the flags of a backtest of a query's history; with
// a trace file, that none of them is given.
func (c backtestConfig) validateQuery() error {
	if c.DemandQuery == "" && c.Workload == "" {
		for _, f := range []struct {
			flag string
			set  bool
		}{{"--prometheus-server", c.PrometheusServer != ""}, {"--end", c.End != ""}, {"--trace-out", c.TraceOut != ""}, {"-n/--namespace", c.Namespace != ""}, {"--kubeconfig", c.Kubeconfig != ""}, {"--context", c.Context != ""}} {
			if f.set {
				return usagef("%s goes with --demand-query or --workload; a trace file (-f) holds its own history", f.flag)
			}
		}
		return nil
	}
	if c.Workload != "" {
		if _, _, err := workloadRef(c.Workload); err != nil {
			return err
		}
	}
	if c.Column != "" {
		return usagef("--column picks a trace file's column; a demand query returns one series")
	}
	if c.PrometheusServer == "" {
		return usagef("--demand-query and --workload need --prometheus-server URL (where the demand query runs)")
	}
	if _, err := promsource.CheckURL(c.PrometheusServer); err != nil {
		// The value is not repeated: it may hold a password.
		return usagef("--prometheus-server is not an http(s) URL; allowed: an http or https base URL such as http://prometheus.monitoring.svc:9090")
	}
	if c.Step < time.Second || c.Window < c.Step {
		return usagef("--step %v and --window %v: allowed: a step of at least 1s and a window of at least one step", c.Step, c.Window)
	}
	if points := c.Window / c.Step; points > backtestMaxPoints {
		return usagef("--window %v at --step %v is %d points; allowed: at most %d, e.g. --step %v", c.Window, c.Step, points, backtestMaxPoints, (c.Window/backtestMaxPoints + time.Second).Truncate(time.Second))
	}
	if _, err := c.end(); err != nil {
		return err
	}
	return nil
}

// end returns the end of the query's history: --end, or now.
func (c backtestConfig) end() (time.Time, error) {
	if c.End == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, c.End)
	if err != nil {
		return time.Time{}, usagef("--end %q: allowed: an RFC 3339 time such as 2026-11-29T12:00:00Z", c.End)
	}
	return t, nil
}

// trainAllowed lists the forms --train takes, for its errors.
const trainAllowed = "allowed: a number of samples (2016), a fraction (0.6) or percentage (60%) of the trace above 0 and below 1 (100%), or a duration (168h or 7d)"

// trainSamples turns --train into a sample count for a trace of n samples
// at step: a count, a fraction or a percentage of the trace, or a
// duration of history (rounded down to whole steps).
func trainSamples(v string, n int, step time.Duration) (int, error) {
	if v == "" {
		return n / 2, nil
	}
	bad := func() (int, error) { return 0, usagef("--train %q: %s", v, trainAllowed) }
	if i, err := strconv.Atoi(v); err == nil {
		if i <= 0 {
			return bad()
		}
		return i, nil
	}
	if d, err := parseDuration(v); err == nil {
		if d <= 0 || step <= 0 || d < step {
			return bad()
		}
		return int(d / step), nil
	}
	num, scale := v, 1.0
	if p, ok := strings.CutSuffix(v, "%"); ok {
		num, scale = strings.TrimSpace(p), 100
	}
	f, err := strconv.ParseFloat(num, 64)
	if f /= scale; err != nil || !(f > 0 && f < 1) {
		return bad()
	}
	return int(f * float64(n)), nil
}

// backtestOutput is the JSON output of backtest: the report, its figures
// rounded (predictor.Report.Rounded).
type backtestOutput struct {
	Trace string `json:"trace"`
	// DemandQuery and PrometheusServer (its password hidden) are where
	// the history was read, for a backtest of a query's history; Workload
	// the workload whose annotations gave the query ("Deployment ml/api").
	Workload         string `json:"workload,omitempty"`
	DemandQuery      string `json:"demand_query,omitempty"`
	PrometheusServer string `json:"prometheus_server,omitempty"`
	// Column is the value column read.
	Column string `json:"column"`
	// RowsMerged is the number of trace rows merged into the previous row,
	// whose time they repeated.
	RowsMerged int `json:"rows_merged"`
	// RowsWithoutValue is the number of trace rows whose value was empty,
	// NaN, null or infinite: gaps, filled from their neighbours.
	RowsWithoutValue int `json:"rows_without_value"`
	// RowsNegative is the number of trace rows with a negative value,
	// read as 0.
	RowsNegative int `json:"rows_negative"`
	// RowsUnused is the number of trace rows no sample took: rows closer
	// together than the step, between two samples.
	RowsUnused int `json:"rows_unused"`
	// SamplesFilled is the number of samples filled in gaps (rows missing
	// or without a value).
	SamplesFilled int `json:"samples_filled"`
	// NoHeader is true when the trace file had no header (two columns,
	// the time then the value).
	NoHeader bool `json:"no_header,omitempty"`
	// RowsNewestFirst is true when the trace's rows were newest first
	// (read in reverse).
	RowsNewestFirst bool `json:"rows_newest_first"`
	// RowsOutOfOrder is the number of trace rows out of time order that
	// were put in order (at most 1% of the rows).
	RowsOutOfOrder int `json:"rows_out_of_order"`
	// PNG, ForecastsOut and TraceOut are the files written, if any.
	PNG          string `json:"png,omitempty"`
	ForecastsOut string `json:"forecasts_out,omitempty"`
	TraceOut     string `json:"trace_out,omitempty"`
	predictor.Report
}

// runBacktest runs a backtest and writes its report to out: text, or JSON
// alone (notes then go to errOut).
func runBacktest(ctx context.Context, cfg backtestConfig, out, errOut io.Writer) error {
	s, info, name, err := loadDemand(ctx, cfg)
	if err != nil {
		return err
	}
	train, err := trainSamples(cfg.Train, s.Len(), s.Step)
	if err != nil {
		return err
	}
	bc := predictor.DefaultBacktestConfig()
	bc.Train, bc.CapacityPerReplica, bc.ColdStart = train, cfg.CapacityPerReplica, cfg.ColdStart
	bc.Options.Lookahead = cfg.Lookahead
	bc.Hysteresis, bc.DownDelay, bc.DownInterval = cfg.Hysteresis, cfg.DownDelay, cfg.DownInterval
	if bc.Options.TargetUnder, err = intent.ParseTargetUnder(cfg.TargetUnder); err != nil {
		return usagef("--target-under %q %v; allowed: %s", cfg.TargetUnder, err, intent.TargetUnderAllowed)
	}
	if bc.Options.BusinessHours, err = cfg.businessHours(); err != nil {
		return err
	}
	rep, err := predictor.Backtest(s, bc)
	if errors.Is(err, predictor.ErrNoCapacity) {
		return fmt.Errorf("%s: %w with --capacity-per-replica", name, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if cfg.ForecastsOut != "" {
		if err := writeForecasts(cfg.ForecastsOut, rep.Forecasts); err != nil {
			return err
		}
	}
	if cfg.PNG != "" {
		if err := drawBacktest(cfg.PNG, name, s, rep); err != nil {
			return err
		}
	}
	notes, written := backtestNotes(cfg, s, info), backtestWritten(cfg)
	if cfg.Output != outputJSON {
		return printBacktest(out, name, rep, notes, written)
	}
	for _, line := range append(notes, written...) {
		fmt.Fprintln(errOut, line)
	}
	b, err := json.MarshalIndent(backtestOutput{
		Trace: name, Workload: cfg.workload, DemandQuery: cfg.DemandQuery, PrometheusServer: redactedServer(cfg.PrometheusServer), Column: info.Column, RowsMerged: info.Merged, RowsWithoutValue: info.Missing, RowsNegative: info.Negative, RowsUnused: info.Unused, SamplesFilled: info.Filled, RowsNewestFirst: info.NewestFirst, RowsOutOfOrder: info.Reordered, NoHeader: info.NoHeader, PNG: cfg.PNG, ForecastsOut: cfg.ForecastsOut, TraceOut: cfg.TraceOut, Report: rep.Rounded(),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
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

// headline is the first line of the text report: mlscale against the best
// baseline, its floors against the actual peaks, and the replica-hours of
// its floors (with reactive scaling above them) against static and
// reactive scaling alone.
func headline(h predictor.Headline) string {
	x := func(r *float64) string {
		if r == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", *r)
	}
	return fmt.Sprintf("headline: peak-forecast MAE %s x the best baseline (%s; lower is better); "+
		"floors under-provisioned %.2f%% of steps (target %g%%; lower is better), mean floor capacity %s x the actual peak (above 1: over-provisioned); "+
		"replica-hours %s x static, %s x reactive (lower is better)",
		x(h.MAEVsBest), h.BestBaseline, h.UnderPct, predictor.RoundFigure(h.TargetUnderPct), x(h.FloorVsPeak), x(h.ReplicaHoursVsStatic), x(h.ReplicaHoursVsReactive))
}

// printBacktest writes the report as text: the headline, notes, tables,
// and the files written.
func printBacktest(out io.Writer, trace string, rep predictor.Report, notes, written []string) error {
	fmt.Fprintln(out, headline(rep.Headline))
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	fmt.Fprintln(out)
	scored := ""
	if rep.ScoredPoints != rep.TestPoints {
		scored = fmt.Sprintf(" (%d scored: the others' windows hold no observed sample)", rep.ScoredPoints)
	}
	steps := "steps"
	if rep.HorizonSteps == 1 {
		steps = "step"
	}
	fmt.Fprintf(out, "trace %s: step %s, %d training samples, %d evaluated steps%s, lookahead %s (%d %s)\n",
		trace, rep.Step, rep.TrainPoints, rep.TestPoints, scored, rep.Lookahead, rep.HorizonSteps, steps)
	fmt.Fprintf(out, "cycle (of the training part): %s; over the whole trace: %s\n", rep.Cycle, rep.CycleWhole)
	fmt.Fprintf(out, "capacity per replica %.4g; cold start %s\n", rep.CapacityPerReplica, rep.ColdStart)
	ff := rep.FloorFalls
	fmt.Fprintf(out, "floors fall after %s below a band of %g%% of the floor (or the forecast's error), a step per %s (--down-delay, --hysteresis, --down-interval)\n",
		ff.DownDelay, 100*ff.Hysteresis, ff.DownInterval)
	if rep.BaselineBlendPct > 0 {
		fmt.Fprintf(out, "a baseline blended into mlscale's forecast on %.1f%% of the steps (it forecast better over the week before, or, in the first day, over the history replayed), mean weight %.2f\n",
			rep.BaselineBlendPct, rep.BaselineShareMean)
	}
	if rep.PlainMarginPct > 0 {
		fmt.Fprintf(out, "the plain margin (the residual score alone) set the floors on %.1f%% of the steps: the main margins cost more on this demand's spikes\n", rep.PlainMarginPct)
	}
	if rep.UnderAtCeilingPct > 0 {
		fmt.Fprintf(out, "on %.2f%% of the steps the floor was at its ceiling, %d replicas (twice the training part's peak, where a workload has its mlscale.io/max-replicas), and under the actual peak: demand outgrew the training part, and these steps count in the floors' under-provisioning\n",
			rep.UnderAtCeilingPct, rep.FloorCeiling)
	}
	if rep.FarRunSamples > 0 {
		fmt.Fprintf(out, "%s over a hundred times anything of the week before (a scrape gone wrong, in runs of one or two): the forecasts made at them did not provision for them and the floors' calibration left them out; the errors and under-provisioning below count them\n",
			counted(rep.FarRunSamples, "evaluated sample"))
	}
	if rep.WeekBaselineDaySteps > 0 {
		fmt.Fprintf(out, "seasonal_naive_week took the day-ago window on %s, whose week-ago window starts before the trace: the training part is less than a week (--train 168h, or a longer trace, avoids it)\n",
			counted(rep.WeekBaselineDaySteps, "evaluated step"))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "peak forecasts and their floors (lower is better in every column):")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "forecaster\tMAE\tsMAPE %%\tMASE\tunder %%\tover (replicas)\t\n")
	row := func(name string, m predictor.Metrics) {
		// MASE has no value where the history's seasonal-naive error is 0
		// (a constant history), as in the JSON (null).
		mase := "n/a"
		if !math.IsNaN(m.MASE) && !math.IsInf(m.MASE, 0) {
			mase = fmt.Sprintf("%.3f", m.MASE)
		}
		fmt.Fprintf(tw, "%s\t%.4g\t%.2f\t%s\t%.2f\t%.3f\t\n", name, m.MAE, m.SMAPE, mase, m.UnderPct, m.OverMean)
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
	fmt.Fprintln(out, "capacity simulations (lower is better in both columns):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "simulation\treplica-hours\tunder-provisioned minutes\t\n")
	for _, name := range []string{predictor.SimStatic, predictor.SimReactive, predictor.SimPredictive} {
		r := rep.Simulation[name]
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t\n", name, r.ReplicaHours, r.UnderMinutes)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if len(written) > 0 {
		fmt.Fprintln(out)
	}
	for _, w := range written {
		fmt.Fprintln(out, w)
	}
	return nil
}

// loadDemand reads the demand to replay: the trace file, or the history
// of the demand query (then written to --trace-out, if given). name says
// which, in the report and in errors.
func loadDemand(ctx context.Context, cfg backtestConfig) (s predictor.Series, info predictor.TraceInfo, name string, err error) {
	if cfg.DemandQuery == "" {
		s, info, err = predictor.LoadTraceColumn(cfg.Trace, cfg.Column)
		if errors.Is(err, predictor.ErrValueColumn) {
			err = fmt.Errorf("%w with --column", err)
		}
		return s, info, cfg.Trace, err
	}
	redacted := redactedServer(cfg.PrometheusServer)
	name = fmt.Sprintf("query %q at %s", cfg.DemandQuery, redacted)
	if cfg.workload != "" {
		name = cfg.workload + ": " + name
	}
	end, err := cfg.end()
	if err != nil {
		return s, info, name, err
	}
	pc := promsource.DefaultConfig()
	pc.URL = cfg.PrometheusServer
	src, err := promsource.New(pc)
	if err != nil {
		return s, info, name, usagef("--prometheus-server %s: %v", redacted, err)
	}
	h, err := src.History(ctx, cfg.DemandQuery, end.Add(-cfg.Window), end, cfg.Step)
	if err != nil {
		return s, info, name, fmt.Errorf("reading the demand history from %s: %w", redacted, err)
	}
	info = predictor.TraceInfo{Rows: h.Len(), Merged: h.Merged, Observed: h.Observed}
	for _, o := range h.Observed {
		if !o {
			info.Filled++
		}
	}
	if cfg.TraceOut != "" {
		if err := writeHistory(cfg.TraceOut, h); err != nil {
			return s, info, name, err
		}
	}
	return h.Series, info, name, nil
}

// redactedServer returns a Prometheus URL with its password hidden ("" for
// none).
func redactedServer(raw string) string {
	if raw == "" {
		return ""
	}
	r, err := promsource.CheckURL(raw)
	if err != nil {
		return "(not a URL)"
	}
	return r
}

// writeHistory writes a query's history as a trace file: a row per step,
// the time in Unix seconds, the value empty where it was filled, so that
// the file reads back as the same series with the same gaps.
func writeHistory(path string, h promsource.History) error {
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for i, v := range h.Values {
		b.WriteString(strconv.FormatInt(h.Time(i).Unix(), 10))
		b.WriteByte(',')
		if h.Observed == nil || h.Observed[i] {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing --trace-out: %w", err)
	}
	return nil
}

// backtestNotes returns the notes on how the demand was read (see
// predictor.TraceInfo) that follow the headline.
func backtestNotes(cfg backtestConfig, s predictor.Series, info predictor.TraceInfo) []string {
	var notes []string
	if info.NoHeader {
		notes = append(notes, "note: the file has no header; read the first column as the time and the second as the value")
	}
	if info.NewestFirst {
		notes = append(notes, "note: the rows are newest first; read oldest first")
	}
	if info.Reordered > 0 {
		notes = append(notes, fmt.Sprintf("note: %s out of time order put in order (the first at %s); a local-time export repeats an hour when the clocks go back: export in UTC, or with the zone's offset", counted(info.Reordered, "row"), info.ReorderedFirst))
	}
	if info.Columns > 2 {
		notes = append(notes, fmt.Sprintf("note: values from column %s, one of %d; give another with --column", info.Column, info.Columns))
	}
	switch {
	case info.Merged > 0 && cfg.DemandQuery != "":
		notes = append(notes, fmt.Sprintf("note: %s on a step that had one merged (kept the maximum)", counted(info.Merged, "sample")))
	case info.Merged > 0:
		notes = append(notes, fmt.Sprintf("note: %s with a repeated timestamp merged (kept the maximum)", counted(info.Merged, "row")))
	}
	if info.Missing > 0 {
		notes = append(notes, fmt.Sprintf("note: %d of %d rows without a value (empty, NaN, null or infinite) filled from their neighbours", info.Missing, info.Rows))
	}
	if info.Negative > 0 {
		notes = append(notes, fmt.Sprintf("note: %d of %d rows with a negative value read as 0 (demand is 0 or more)", info.Negative, info.Rows))
	}
	if s.Step > predictor.CycleBin && predictor.Day%s.Step != 0 {
		notes = append(notes, fmt.Sprintf("note: the step %s is over an hour and does not divide a day: no daily or weekly cycle can be found; resample the trace to a step that divides a day (such as 1h, 2h, 3h, 4h, 6h, 8h or 12h)", s.Step))
	}
	if info.Unused > 0 {
		notes = append(notes, fmt.Sprintf("note: %d of %d rows closer together than the step (%s) fell between two samples and were not used", info.Unused, info.Rows, s.Step))
	}
	if info.Filled > 0 {
		notes = append(notes, fmt.Sprintf("note: %d of %d samples filled in gaps; a forecast made in a gap sees only the samples up to the last observed one, and is scored against the observed samples of its window (not at all when it holds none)", info.Filled, s.Len()))
	}
	return notes
}

// counted returns n and the noun, plural unless n is 1: "1 row", "2 rows".
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// backtestWritten returns a line per file the backtest wrote.
func backtestWritten(cfg backtestConfig) []string {
	var written []string
	if cfg.PNG != "" {
		written = append(written, "wrote PNG: "+cfg.PNG)
	}
	if cfg.ForecastsOut != "" {
		written = append(written, "wrote forecasts: "+cfg.ForecastsOut)
	}
	if cfg.TraceOut != "" {
		written = append(written, "wrote trace: "+cfg.TraceOut)
	}
	return written
}

// workloadRef parses --workload: a kind and a name, the kind one that a
// ScaledObject scales (Deployment, StatefulSet), as kubectl writes it
// (deployment, deployments, deploy; statefulset, statefulsets, sts).
func workloadRef(ref string) (workload.Kind, string, error) {
	kind, name, ok := strings.Cut(ref, "/")
	want := map[string]schema.GroupVersionKind{
		"deployment": workload.DeploymentGVK, "deployments": workload.DeploymentGVK, "deploy": workload.DeploymentGVK,
		"statefulset": workload.StatefulSetGVK, "statefulsets": workload.StatefulSetGVK, "sts": workload.StatefulSetGVK,
	}
	gvk, known := want[strings.ToLower(kind)]
	if !ok || !known || name == "" {
		return workload.Kind{}, "", usagef("--workload %q: allowed: deployment/NAME or statefulset/NAME (deploy/NAME, sts/NAME for short)", ref)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return workload.Kind{}, "", usagef("--workload %q: %q is not a valid object name: %s", ref, name, strings.Join(errs, "; "))
	}
	k, _ := workload.KindOf(gvk.GroupKind())
	return k, name, nil
}

// fromWorkload reads the workload --workload names and takes from its
// annotations what a flag given (changed) does not set: the demand query,
// the capacity per replica, the lookahead, the target under, the
// business hours and the floors' fall timing.
func (c *backtestConfig) fromWorkload(ctx context.Context, changed func(string) bool, warnings io.Writer) error {
	kind, name, err := workloadRef(c.Workload)
	if err != nil {
		return err
	}
	cl, ns, err := statusClient(statusConfig{Kubeconfig: c.Kubeconfig, Context: c.Context, Namespace: c.Namespace}, warnings)
	if err != nil {
		return err
	}
	obj := kind.New()
	c.workload = fmt.Sprintf("%s %s/%s", kind.GVK.Kind, ns, name)
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return fmt.Errorf("reading %s: %w", c.workload, err)
	}
	// Keys this build does not know are not the backtest's business.
	in, _, err := intent.ParseWith(obj.GetAnnotations(), intent.Options{AllowUnknownKeys: true})
	if err != nil {
		return fmt.Errorf("%s: its annotations do not parse: %w", c.workload, err)
	}
	if !in.Enabled || !in.Predictive || in.DemandQuery == "" {
		if changed("demand-query") {
			return nil
		}
		return fmt.Errorf("%s is not predictive (it needs %s: \"true\", %s: \"true\" and %s): give --demand-query and --capacity-per-replica instead",
			c.workload, intent.KeyAutoscale, intent.KeyPredictive, intent.KeyDemandQuery)
	}
	if !changed("demand-query") {
		c.DemandQuery = in.DemandQuery
	}
	if !changed("capacity-per-replica") && in.CapacityPerReplica != nil {
		c.CapacityPerReplica = *in.CapacityPerReplica
	}
	if !changed("lookahead") && in.Lookahead != nil {
		c.Lookahead = *in.Lookahead
	}
	if !changed("target-under") && in.TargetUnder != nil {
		c.TargetUnder = intent.FormatTargetUnder(*in.TargetUnder)
	}
	if !changed("business-hours") && in.BusinessHours != nil {
		c.BusinessHours = obj.GetAnnotations()[intent.KeyBusinessHours]
	}
	if !changed("down-delay") && in.FloorDownDelay != nil {
		c.DownDelay = *in.FloorDownDelay
	}
	if !changed("down-interval") && in.FloorDownInterval != nil {
		c.DownInterval = *in.FloorDownInterval
	}
	return nil
}
