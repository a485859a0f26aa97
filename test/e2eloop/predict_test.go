package e2eloop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/predictor/floorwriter"
	"github.com/mlscale/mlscale/test/kedaenv"
)

// The demand trace of scenario 3, the same every day: a base of 5 with a
// daily swing of +-3, and at one time of day a ramp to 30 within a minute,
// held for 12 minutes. One replica serves 10, so the base needs 1 replica
// and the peak 3 (predictNeed).
const (
	traceBase      = 5.0
	traceSwing     = 3.0
	tracePeak      = 30.0
	traceRamp      = time.Minute
	tracePlateau   = 12 * time.Minute
	predictCap     = 10
	predictMax     = 4
	predictNeed    = 3               // ceil(tracePeak / predictCap)
	predictLead    = 4 * time.Minute // from the start of the scenario to the ramp
	predictLook    = 3 * time.Minute // mlscale.io/lookahead
	predictHistory = 14 * 24 * time.Hour
)

// rampTrace is the demand at t of a daily trace whose ramp starts at ramp
// (and at the same time on every other day).
func rampTrace(ramp time.Time) func(time.Time) float64 {
	const day = 24 * time.Hour
	return func(t time.Time) float64 {
		since := t.Sub(ramp)
		phase := since % day
		if phase < 0 {
			phase += day
		}
		base := traceBase + traceSwing*math.Sin(2*math.Pi*float64(since)/float64(day))
		switch {
		case phase < traceRamp:
			return base + (tracePeak-base)*float64(phase)/float64(traceRamp)
		case phase < traceRamp+tracePlateau:
			return tracePeak
		}
		return base
	}
}

// copyFigures are what Prometheus says of one copy over the window.
type copyFigures struct {
	name            string
	gpuHours        float64
	unservedMinutes float64
	readyAtRamp     float64
	fullyReady      time.Time
	predictedFloor  string
}

// TestPredictiveReadyBeforeRamp is scenario 3, prediction in the loop: two
// copies of the same GPU server get the same demand, replayed from a trace
// whose two weeks of history were backfilled into a Prometheus of their
// own; the trace ramps up 4 minutes after the scenario starts, at the time
// of day at which it ramped every day before. The reactive copy scales on
// the demand only; the predictive copy also has mlscale's predictor
// (floorwriter, in process) writing its floor. The predictive copy has the
// peak's 3 replicas Ready at the ramp; the reactive one catches up a cold
// start and more later. From Prometheus: GPU-hours and unserved demand-minutes of
// each over the same window; the predictive copy must leave less demand
// unserved, for at most (max - base replicas) x (lookahead + 1 minute) of
// extra GPU time.
func TestPredictiveReadyBeforeRamp(t *testing.T) {
	env(t)
	t.Parallel()
	ctx := context.Background()
	start := time.Now()
	ramp := start.Add(predictLead)
	trace := rampTrace(ramp)
	ns := namespace(t, "loop-predict", true)
	copies := []string{"reactive", "predictive"}
	for _, name := range copies {
		suite.replay.Add(kedaenv.Workload{Name: name, Namespace: ns, Selector: map[string]string{"app": name}, CapacityPerReplica: predictCap, Series: trace})
	}
	prom := startHistoryPrometheus(t, copies, trace, start)
	stopPredictor := startPredictor(t, prom.URL)
	defer stopPredictor()

	server := fmt.Sprintf("http://prometheus-operated.monitoring.svc:%d", prom.Port)
	for _, name := range copies {
		extra := map[string]string{
			"mlscale.io/prometheus-server": server,
			"mlscale.io/max-replicas":      strconv.Itoa(predictMax),
			"mlscale.io/cooldown":          "5m",
		}
		if name == "predictive" {
			extra["mlscale.io/predictive"] = "true"
			extra["mlscale.io/demand-query"] = fmt.Sprintf(`sum(%s{workload=%q})`, kedaenv.MetricDemand, name)
			extra["mlscale.io/capacity-per-replica"] = strconv.Itoa(predictCap)
			extra["mlscale.io/lookahead"] = predictLook.String()
		}
		mustKubectl(t, gpuServer(ns, name, 1, 1, demandAnnotations(name, predictCap, extra)), "apply", "-f", "-")
	}
	for _, name := range copies {
		waitReady(t, 2*time.Minute, ns, name)
	}
	stopTimeline := watchTimeline(t, ns, copies)
	// The window: both copies settled at the base, then the ramp and two
	// minutes of the plateau.
	from, to := ramp.Add(-150*time.Second), ramp.Add(2*time.Minute)
	if d := time.Until(to.Add(3 * time.Second)); d > 0 {
		t.Logf("waiting %s for the ramp at %s and the window's end", d.Round(time.Second), ramp.Format(time.TimeOnly))
		time.Sleep(d)
	}
	var figs []copyFigures
	for _, name := range copies {
		figs = append(figs, figures(ctx, t, prom.URL, ns, name, from, to, ramp))
	}
	reportFigures(t, figs, from, to, ramp)
	for _, ev := range stopTimeline() {
		t.Logf("%+6ds  %s", int(ev.at.Sub(ramp).Seconds()), ev.what)
	}
	reactive, predictive := figs[0], figs[1]
	if predictive.readyAtRamp < predictNeed {
		t.Errorf("the predictive copy had %g Ready replicas at the ramp, want %d", predictive.readyAtRamp, predictNeed)
	}
	if !(predictive.unservedMinutes < reactive.unservedMinutes) {
		t.Errorf("unserved demand-minutes: predictive %.2f, reactive %.2f: prediction did not help", predictive.unservedMinutes, reactive.unservedMinutes)
	}
	extraBound := float64(predictMax-1) * (predictLook + time.Minute).Hours()
	if extra := predictive.gpuHours - reactive.gpuHours; extra > extraBound {
		t.Errorf("the predictive copy spent %.3f GPU-hours more than the reactive one, more than the stated %.3f", extra, extraBound)
	}
	for _, name := range copies {
		mustKubectl(t, "", "delete", "deployment", "-n", ns, name, "--wait=false")
	}
}

// startHistoryPrometheus writes two weeks of the trace before now for each
// copy into an OpenMetrics file, and starts a Prometheus backfilled with it
// (promtool) that scrapes the replayer every second from then on.
func startHistoryPrometheus(t *testing.T, copies []string, trace func(time.Time) float64, now time.Time) *kedaenv.Prometheus {
	t.Helper()
	file := filepath.Join(t.TempDir(), "history.om")
	step := time.Minute
	from := now.Add(-predictHistory).Truncate(step)
	if err := os.WriteFile(file, []byte(kedaenv.OpenMetrics(copies, trace, from, now, step)), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	prom, err := suite.KEDA.StartPrometheus(context.Background(), kedaenv.PrometheusOptions{
		Name: "prometheus-history", Backfill: file, Scrape: []string{suite.replay.Addr}, ScrapeInterval: scrapeInterval,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Prometheus with %s of history (%d series, one sample a minute) up in %s at %s", predictHistory, len(copies), time.Since(t0).Round(time.Millisecond), prom.URL)
	return prom
}

// startPredictor runs mlscale's predictor (floorwriter, as `mlscale
// predictor` runs it) in this process: a cycle every 5s, two weeks of
// history at one-minute steps, the default floor policy (a floor falls
// after 10 minutes below its band), no rolling-error fallback.
func startPredictor(t *testing.T, promURL string) (stop func()) {
	t.Helper()
	cfg := floorwriter.DefaultRunConfig()
	cfg.Options = manager.Options{RESTConfig: suite.Cluster.Config, MetricsAddr: "0", ProbeAddr: "0", GracefulShutdown: 5 * time.Second}
	cfg.Source.URL = promURL
	cfg.Writer.Interval = 5 * time.Second
	cfg.Writer.History = predictHistory
	cfg.Writer.Step = time.Minute
	cfg.Writer.Lookahead = predictLook
	// The rolling-error fallback judges an hour of scored forecasts; here
	// the few scored before the ramp (minutes of them, some early by the
	// one-minute step) would decide it. Turn it off.
	cfg.Writer.ErrorThreshold = 100
	cfg.Registry = prometheus.NewRegistry()
	mgr, _, err := floorwriter.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("predictor: %v", err)
		}
	}
}

// figures reads one copy's figures from Prometheus.
func figures(ctx context.Context, t *testing.T, promURL, ns, name string, from, to, ramp time.Time) copyFigures {
	t.Helper()
	window := fmt.Sprintf("%ds", int(to.Sub(from).Seconds()))
	sel := fmt.Sprintf(`{workload=%q}`, name)
	f := copyFigures{name: name}
	var err error
	if f.gpuHours, err = promQuery(ctx, promURL, fmt.Sprintf("sum_over_time(%s%s[%s:1s]) / 3600", kedaenv.MetricGPUs, sel, window), to); err != nil {
		t.Fatal(err)
	}
	if f.unservedMinutes, err = promQuery(ctx, promURL, fmt.Sprintf("sum_over_time(%s%s[%s:1s]) / 60", kedaenv.MetricUnserved, sel, window), to); err != nil {
		t.Fatal(err)
	}
	if f.readyAtRamp, err = promQuery(ctx, promURL, kedaenv.MetricReady+sel, ramp); err != nil {
		t.Fatal(err)
	}
	if f.fullyReady, err = firstAtLeast(ctx, promURL, kedaenv.MetricReady+sel, predictNeed, from, to); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(t, "", "get", "deployment", "-n", ns, name, "-o", `jsonpath={.metadata.annotations.mlscale\.io/predicted-floor}`); err == nil {
		f.predictedFloor = out
	}
	return f
}

// reportFigures prints the comparison.
func reportFigures(t *testing.T, figs []copyFigures, from, to, ramp time.Time) {
	t.Helper()
	t.Logf("trace: base %g +- %g (daily), ramp to %g over %s, held %s; one replica serves %d; 1 GPU per replica, max %d; cold start %s; lookahead %s",
		traceBase, traceSwing, tracePeak, traceRamp, tracePlateau, predictCap, predictMax, simulation.ColdStart, predictLook)
	t.Logf("window %s - %s (%s), ramp at %s", from.Format(time.TimeOnly), to.Format(time.TimeOnly), to.Sub(from), ramp.Format(time.TimeOnly))
	t.Logf("%-10s  %9s  %23s  %13s  %-17s  %s", "copy", "GPU-hours", "unserved demand-minutes", "Ready at ramp", fmt.Sprintf("%d Ready (vs ramp)", predictNeed), "predicted-floor now")
	for _, f := range figs {
		rel := "never"
		if !f.fullyReady.IsZero() {
			rel = fmt.Sprintf("%+ds", int(f.fullyReady.Sub(ramp).Seconds()))
		}
		t.Logf("%-10s  %9.3f  %23.2f  %13g  %-17s  %s", f.name, f.gpuHours, f.unservedMinutes, f.readyAtRamp, rel, f.predictedFloor)
	}
}

// event is a moment of the timeline of scenario 3.
type event struct {
	at   time.Time
	what string
}

// watchTimeline records, every 500ms until stopped, when each copy's
// spec.replicas and Ready pods first reach the peak's replicas, and each
// value the predicted floor takes.
func watchTimeline(t *testing.T, ns string, copies []string) (stop func() []event) {
	t.Helper()
	done := make(chan struct{})
	result := make(chan []event, 1)
	go func() {
		var evs []event
		seen := map[string]bool{}
		note := func(key, what string) {
			if !seen[key] {
				seen[key] = true
				evs = append(evs, event{time.Now(), what})
			}
		}
		for {
			for _, name := range copies {
				d := &appsv1.Deployment{}
				if err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
					continue
				}
				if f := d.Annotations["mlscale.io/predicted-floor"]; f != "" {
					note(name+"/floor/"+f, fmt.Sprintf("%s: mlscale.io/predicted-floor %s (%s)", name, f, d.Annotations["mlscale.io/prediction"]))
				}
				if d.Spec.Replicas != nil && *d.Spec.Replicas >= predictNeed {
					note(name+"/replicas", fmt.Sprintf("%s: spec.replicas %d", name, *d.Spec.Replicas))
				}
				if d.Status.ReadyReplicas >= predictNeed {
					note(name+"/ready", fmt.Sprintf("%s: %d Ready", name, d.Status.ReadyReplicas))
				}
			}
			select {
			case <-done:
				result <- evs
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return func() []event {
		close(done)
		return <-result
	}
}
