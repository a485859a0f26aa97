package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
	"github.com/mlscale/mlscale/predictor/floorwriter"
	"github.com/mlscale/mlscale/predictor/promsource"
)

// newPredictorCmd is `mlscale predictor`: the sidecar that writes predicted
// floors. Flags map one to one onto floorwriter.RunConfig.
func newPredictorCmd() *cobra.Command {
	return predictorCmd(floorwriter.Run)
}

// predictorCmd is `mlscale predictor` running run with the checked
// configuration.
func predictorCmd(run func(context.Context, floorwriter.RunConfig) error) *cobra.Command {
	cfg := floorwriter.DefaultRunConfig()
	var (
		debug       bool
		targetUnder string
		quantile    float64
		gpuBudget   int64
	)
	cmd := &cobra.Command{
		Use:   "predictor --prometheus-server URL",
		Short: "Forecast demand from Prometheus and write predicted replica floors (in the cluster)",
		Long:  predictorHelp,
		Example: `  mlscale predictor --prometheus-server http://prometheus.monitoring.svc:9090 --leader-election-namespace mlscale-system
  mlscale predictor --kubeconfig ~/.kube/config --leader-elect=false --prometheus-server http://127.0.0.1:9090 --interval 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := setTargetUnder(&cfg.Writer, targetUnder, quantile, cmd.Flags().Changed("quantile") && !cmd.Flags().Changed("target-under")); err != nil {
				return err
			}
			budget, err := gpuBudgetFlag(cmd, gpuBudget)
			if err != nil {
				return err
			}
			cfg.Writer.Facts.GPUBudget = budget
			if err := checkPredictorFlags(&cfg); err != nil {
				return err
			}
			setLogger(cmd, debug)
			return run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	w := &cfg.Writer
	f.StringVar(&cfg.Source.URL, "prometheus-server", "", "base URL (http or https) of the Prometheus server the demand queries run on (required)")
	// The flag's first name, kept so that existing deployments still start.
	f.StringVar(&cfg.Source.URL, "prometheus-url", "", "")
	_ = f.MarkDeprecated("prometheus-url", "use --prometheus-server, as the other mlscale commands do")
	durationVar(f, &w.Interval, "interval", w.Interval, "time between two predictor cycles")
	durationVar(f, &w.History, "history", w.History, "demand history read for each forecast (two weeks lets the model see weekly cycles)")
	durationVar(f, &w.Step, "step", w.Step, "resolution of the history (the range query's step)")
	durationVar(f, &w.Lookahead, "lookahead", w.Lookahead, "forecast window for workloads without mlscale.io/lookahead")
	f.StringVar(&targetUnder, "target-under", intent.FormatTargetUnder(w.TargetUnder), "share of steps in which demand may exceed a floor's capacity, for workloads without mlscale.io/target-under: the floors are calibrated to it on each workload's recent forecast errors ("+intent.TargetUnderAllowed+")")
	// The flag's first form: an upper quantile q, the same as a target of 1-q.
	f.Float64Var(&quantile, "quantile", 0, "")
	_ = f.MarkDeprecated("quantile", "use --target-under, which --quantile Q sets to 1-Q (0.98 is 2%)")
	f.Float64Var(&w.ErrorThreshold, "error-threshold", w.ErrorThreshold, "rolling forecast error (weighted absolute percentage error, 0.5 = 50% of demand) above which a workload falls back to reactive scaling")
	f.IntVar(&w.ErrorWindow, "error-window", w.ErrorWindow, "how many evaluated forecasts the rolling error covers")
	f.IntVar(&w.MinEvaluations, "min-evaluations", w.MinEvaluations, "evaluated forecasts needed before the rolling error can trigger the fallback")
	durationVar(f, &w.Hold, "hold", w.Hold, "how long the last good floor is kept without a forecast before it falls back to the workload's minimum")
	durationVar(f, &w.MaxStaleness, "max-staleness", w.MaxStaleness, "newest sample age beyond which the data counts as missing")
	durationVar(f, &w.RefitEvery, "refit-every", w.RefitEvery, "how long a fitted model is reused before refitting (forecasts always use the newest data); 0 refits every cycle")
	durationVar(f, &w.RefreshEvery, "refresh-every", w.RefreshEvery, "rewrite an unchanged explanation this often (a changed floor is written at once)")
	f.IntVar(&w.Concurrency, "concurrency", w.Concurrency, "workloads forecast at once")
	f.Float64Var(&w.Hysteresis, "hysteresis", w.Hysteresis, "band below the floor, as a fraction of it in [0, 1) (rounded down, and at least the forecast's recent mean absolute error, rounded to whole replicas), that the forecast must leave before the floor falls")
	durationVar(f, &w.DownDelay, "down-delay", w.DownDelay, "how long the forecast must stay below the band before the floor falls, for workloads without mlscale.io/floor-down-delay; 0 falls at once")
	durationVar(f, &w.DownInterval, "down-interval", w.DownInterval, "least time between two falls of the floor, and the time per step (max(1, max-replicas/10) replicas), for workloads without mlscale.io/floor-down-interval: a fall later than that takes a step per interval passed; 0 for no spacing")
	durationVar(f, &cfg.Source.Timeout, "query-timeout", cfg.Source.Timeout, "timeout of one Prometheus request")
	f.IntVar(&cfg.Source.Retries, "retries", cfg.Source.Retries, "retries of a failed Prometheus request, with exponential backoff (bad PromQL is never retried)")
	f.StringVar(&w.Facts.ClusterDomain, "cluster-domain", w.Facts.ClusterDomain, "cluster DNS domain (as mlscale webhook's), used to resolve each workload's min and max replicas")
	f.Int64Var(&gpuBudget, "gpu-budget", 0, "GPU budget per namespace in devices, as mlscale webhook's (default: none; namespaces' ResourceQuotas on GPU resources lower it): a workload's max replicas, and so its floor, as the reconciler renders them")
	addUnknownAnnotationsFlag(f, &w.Facts)
	addManagerFlags(f, &cfg.Options, "write floors from one elected replica only (with a Lease of its own, not mlscale webhook's)")
	f.BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}

// setTargetUnder sets w.TargetUnder from --target-under, or from the
// deprecated --quantile when only that was given (useQuantile).
func setTargetUnder(w *floorwriter.Config, targetUnder string, quantile float64, useQuantile bool) error {
	if useQuantile {
		t := 1 - quantile
		if !(quantile > 0 && quantile < 1) || predictor.CheckTargetUnder("--quantile", t) != nil {
			return usagef("--quantile must be at least 0.5 and below 1 (it sets --target-under to 1-Q), not %g", quantile)
		}
		w.TargetUnder = t
		return nil
	}
	t, err := intent.ParseTargetUnder(targetUnder)
	if err != nil {
		return usagef("--target-under %q %v; allowed: %s", targetUnder, err, intent.TargetUnderAllowed)
	}
	w.TargetUnder = t
	return nil
}

// checkPredictorFlags validates the flags of `mlscale predictor`, each
// problem naming its flag (exit code 2).
func checkPredictorFlags(cfg *floorwriter.RunConfig) error {
	w := &cfg.Writer
	if cfg.Source.URL == "" {
		return usagef("--prometheus-server is required")
	}
	if _, err := promsource.CheckURL(cfg.Source.URL); err != nil {
		return usagef("--prometheus-server: %w", err)
	}
	if err := checkClusterDomain(w.Facts.ClusterDomain); err != nil {
		return err
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
		least time.Duration
	}{
		{"--interval", w.Interval, 1},
		{"--history", w.History, 1},
		{"--step", w.Step, time.Second},
		{"--lookahead", w.Lookahead, 1},
		{"--hold", w.Hold, 1},
		{"--max-staleness", w.MaxStaleness, 1},
		{"--refresh-every", w.RefreshEvery, 1},
		{"--query-timeout", cfg.Source.Timeout, 1},
		{"--refit-every", w.RefitEvery, 0},
		{"--down-delay", w.DownDelay, 0},
		{"--down-interval", w.DownInterval, 0},
	} {
		switch {
		case d.value >= d.least:
		case d.least == 0:
			return usagef("%s must be 0 or more, not %s", d.flag, d.value)
		case d.least == time.Second:
			return usagef("%s must be at least 1s, not %s", d.flag, d.value)
		default:
			return usagef("%s must be above 0, not %s", d.flag, d.value)
		}
	}
	for _, n := range []struct {
		flag  string
		value int
		least int
	}{
		{"--error-window", w.ErrorWindow, 1},
		{"--min-evaluations", w.MinEvaluations, 1},
		{"--concurrency", w.Concurrency, 1},
		{"--retries", cfg.Source.Retries, 0},
	} {
		if n.value < n.least {
			return usagef("%s must be at least %d, not %d", n.flag, n.least, n.value)
		}
	}
	switch {
	case w.Step%time.Second != 0:
		return usagef("--step must be a whole number of seconds, not %s", w.Step)
	case w.History < 2*w.Lookahead:
		return usagef("--history (%s) must be at least twice --lookahead (%s)", w.History, w.Lookahead)
	case w.Step > w.Lookahead:
		return usagef("--step (%s) must not be longer than --lookahead (%s)", w.Step, w.Lookahead)
	case int(w.History/w.Step)+1 < predictor.MinSamples(w.Step, w.Lookahead):
		need := time.Duration(predictor.MinSamples(w.Step, w.Lookahead)-1) * w.Step
		return usagef("--history (%s) holds %d samples at --step %s, and a model with --lookahead %s needs at least %d (eight lookahead windows and more); allowed: --history %s or more (default %s)",
			w.History, int(w.History/w.Step)+1, w.Step, w.Lookahead, predictor.MinSamples(w.Step, w.Lookahead), need, floorwriter.DefaultHistory)
	case !(w.ErrorThreshold > 0):
		return usagef("--error-threshold must be above 0, not %g", w.ErrorThreshold)
	case w.MinEvaluations > w.ErrorWindow:
		return usagef("--min-evaluations (%d) must not exceed --error-window (%d): the rolling error never covers more than --error-window forecasts, so the fallback could never trigger", w.MinEvaluations, w.ErrorWindow)
	case !(w.Hysteresis >= 0 && w.Hysteresis < 1):
		return usagef("--hysteresis must be in [0, 1), not %g", w.Hysteresis)
	}
	return checkManagerOptions(&cfg.Options)
}
