package cli

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mlscale/mlscale/internal/recommend"
	"github.com/mlscale/mlscale/predictor/promsource"
)

func newRecommendCmd() *cobra.Command {
	opts := recommend.DefaultOptions()
	q := recommend.Query{Window: 7 * 24 * time.Hour, Step: 5 * time.Minute}
	var (
		server, end, output string
	)
	cmd := &cobra.Command{
		Use:   "recommend -n NAMESPACE --workload NAME",
		Short: "Suggest autoscaling annotations for a GPU workload from its Prometheus history",
		Long:  recommendHelp,
		Example: `  mlscale recommend --prometheus-server http://localhost:9090 -n ml --workload llm-server
  mlscale recommend -n ml --workload transcriber --gpus-per-replica 0.25 --window 336h -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Namespace == "" || q.Workload == "" {
				return usagef("-n/--namespace and --workload are required")
			}
			if err := checkNamespaceFlag("-n/--namespace", q.Namespace); err != nil {
				return err
			}
			if errs := validation.IsDNS1123Subdomain(q.Workload); len(errs) > 0 {
				return usagef("--workload %q is not a valid object name: %s", q.Workload, strings.Join(errs, "; "))
			}
			if output != outputText && output != outputJSON {
				return usagef("-o %q: allowed: %s or %s", output, outputText, outputJSON)
			}
			if q.Step < time.Second || q.Window < q.Step {
				return usagef("--step %v and --window %v: allowed: a step of at least 1s and a window of at least one step", q.Step, q.Window)
			}
			if points := q.Window / q.Step; points > recommend.MaxPoints {
				return usagef("--window %v at --step %v is %d points; allowed: at most %d (Prometheus' limit per series), e.g. --step %v",
					q.Window, q.Step, points, recommend.MaxPoints, minStep(q.Window))
			}
			q.End = time.Now()
			if end != "" {
				t, err := time.Parse(time.RFC3339, end)
				if err != nil {
					return usagef("--end %q: allowed: an RFC 3339 time such as 2026-11-29T12:00:00Z", end)
				}
				q.End = t
			}
			if err := opts.Validate(); err != nil {
				return usageError{err}
			}
			redacted, err := promsource.CheckURL(server)
			if err != nil {
				// The value is not repeated: it may hold a password.
				return usagef("--prometheus-server is not an http(s) URL; allowed: an http or https base URL such as http://prometheus.monitoring.svc:9090")
			}
			// A server that never answers must not hold the command.
			client, err := api.NewClient(api.Config{Address: server, Client: &http.Client{Timeout: clientTimeout}})
			if err != nil {
				return usagef("--prometheus-server %s: %v", redacted, err)
			}
			h, err := recommend.Fetch(cmd.Context(), v1.NewAPI(client), q)
			if err != nil {
				return fmt.Errorf("reading the history from %s: %w", redacted, err)
			}
			r, err := recommend.Recommend(h, opts)
			if err != nil {
				return err
			}
			if output == outputJSON {
				return recommend.WriteJSON(cmd.OutOrStdout(), q, r)
			}
			return recommend.WriteText(cmd.OutOrStdout(), q, r)
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "prometheus-server", "http://localhost:9090", "Prometheus base URL (with mlscale's recording rules loaded)")
	f.StringVarP(&q.Namespace, "namespace", "n", "", "the workload's namespace (required)")
	f.StringVar(&q.Workload, "workload", "", "the workload's name (required)")
	f.StringVar(&q.DemandQuery, "demand-query", "", "PromQL query of the workload's demand, one series; default: its recorded vLLM request rate")
	durationVar(f, &q.Window, "window", q.Window, "length of the history to read")
	durationVar(f, &q.Step, "step", q.Step, "resolution of the history")
	f.StringVar(&end, "end", "", "end of the history, RFC 3339 (default: now)")
	f.Float64Var(&opts.GPUsPerReplica, "gpus-per-replica", opts.GPUsPerReplica, "GPUs one replica holds (a MIG slice as a fraction, e.g. 0.25)")
	f.Float64Var(&opts.TargetUtilization, "gpu-target", opts.TargetUtilization, "GPU utilisation (percent) to scale to")
	f.Float64Var(&opts.IdleThreshold, "idle-threshold", opts.IdleThreshold, "GPU utilisation (percent) under which a step without demand data is idle")
	durationVar(f, &opts.MinIdleStretch, "min-idle", opts.MinIdleStretch, "shortest idle period worth scaling to zero for")
	f.Float64Var(&opts.Headroom, "headroom", opts.Headroom, "fraction added to the peak replica count for max-replicas")
	f.StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}

// minStep returns the shortest whole-minute step at which window fits in
// recommend.MaxPoints points.
func minStep(window time.Duration) time.Duration {
	step := (window/recommend.MaxPoints + time.Minute - 1).Truncate(time.Minute)
	if step > window/recommend.MaxPoints+time.Second && window/recommend.MaxPoints < time.Minute {
		// Under a minute: whole seconds, so the step never passes the
		// window.
		step = (window/recommend.MaxPoints + time.Second - 1).Truncate(time.Second) + time.Second
	}
	return max(step, time.Second)
}
