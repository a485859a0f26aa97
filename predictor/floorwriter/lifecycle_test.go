package floorwriter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
)

// patchAnnotations merge-patches the workload's annotations (nil removes).
func patchAnnotations(t *testing.T, obj client.Object, ann map[string]*string) {
	t.Helper()
	b := strings.Builder{}
	b.WriteString(`{"metadata":{"annotations":{`)
	first := true
	for k, v := range ann {
		if !first {
			b.WriteByte(',')
		}
		first = false
		if v == nil {
			fmt.Fprintf(&b, "%q:null", k)
		} else {
			fmt.Fprintf(&b, "%q:%q", k, *v)
		}
	}
	b.WriteString(`}}}`)
	if err := k8s.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(b.String()))); err != nil {
		t.Fatalf("patching %s: %v", obj.GetName(), err)
	}
}

func str(s string) *string { return &s }

// resultFor returns the cycle's result for the Deployment ns/name.
func resultFor(t *testing.T, res []Result, ns, name string) (Result, bool) {
	t.Helper()
	for _, r := range res {
		if r.Workload == "Deployment "+ns+"/"+name {
			return r, true
		}
	}
	return Result{}, false
}

// crane15d is an in-process source over the first 15 days of crane_input9
// and the time of its last sample: a forecast there asks for about 33
// replicas of capacity 10.
func crane15d(t *testing.T) (seriesSource, time.Time) {
	t.Helper()
	trace := loadTrace(t, "crane_input9.csv")
	end := trace.Start.Add(15 * 24 * time.Hour)
	return seriesSource{trace.Slice(0, int(end.Sub(trace.Start)/trace.Step)+1)}, end
}

// TestNoLongerPredictiveClearsFloor: a workload that stops being predictive
// (mlscale.io/predictive removed or "false", or mlscale.io/autoscale off)
// loses its predicted floor and explanation at the next cycle, so that the
// reconciler stops folding a floor nobody updates into minReplicaCount.
// Before, the floor stayed forever and kept minReplicaCount raised.
func TestNoLongerPredictiveClearsFloor(t *testing.T) {
	needCluster(t)
	src, end := crane15d(t)
	for _, tt := range []struct {
		name   string
		change map[string]*string
	}{
		{"predictive removed", map[string]*string{intent.KeyPredictive: nil}},
		{"predictive false", map[string]*string{intent.KeyPredictive: str("false")}},
		{"autoscale false", map[string]*string{intent.KeyAutoscale: str("false")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			d := deployment(ns, "api", predictive(`demand`, 10, 2, 50))
			if err := k8s.Create(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			clk := newClock(end)
			metrics := NewMetrics()
			w := New(k8s, src, DefaultConfig(), Options{Now: clk.now, Metrics: metrics})
			if _, err := w.Cycle(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ann := annotations(t, d); ann[intent.KeyPredictedFloor] == "" || ann[intent.KeyPrediction] == "" {
				t.Fatalf("test setup: no floor written: %v", ann)
			}
			// As if the predictor had kept its state on it, and an
			// earlier build its retired annotation.
			patchAnnotations(t, d, map[string]*string{intent.KeyPredictorState: str(`{"v":1}`), intent.KeyBaselineScores: str(`{"v":1}`)})
			patchAnnotations(t, d, tt.change)
			clk.add(time.Minute)
			res, err := w.Cycle(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r, ok := resultFor(t, res, ns, "api")
			if !ok || !r.Cleared || !r.Patched || r.Err != nil {
				t.Errorf("result %+v (found %v), want a cleared, patched result", r, ok)
			}
			ann := annotations(t, d)
			for _, k := range []string{intent.KeyPredictedFloor, intent.KeyPrediction, intent.KeyPredictorState, intent.KeyBaselineScores} {
				if v, ok := ann[k]; ok {
					t.Errorf("%s = %q is still on the workload after it stopped being predictive", k, v)
				}
			}
			labels := prometheus.Labels{"namespace": ns, "kind": "Deployment", "workload": "api"}
			if metrics.floor.Delete(labels) {
				t.Errorf("mlscale_predictor_floor_replicas%v is still served", labels)
			}
			// Nothing left to clear: the next cycle neither patches nor reports it.
			clk.add(time.Minute)
			res, err = w.Cycle(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := resultFor(t, res, ns, "api"); ok {
				t.Errorf("a workload without a floor got a result: %+v", r)
			}
		})
	}
}

// TestBoundsChangedAfterFloor: a floor follows a lowered maximum or a raised
// minimum at once (the floor is clamped to [min, max]); before, a maximum
// lowered under the floor left the floor, its explanation and
// mlscale_predictor_floor_replicas above the maximum until the slow fall
// caught up.
func TestBoundsChangedAfterFloor(t *testing.T) {
	needCluster(t)
	src, end := crane15d(t)
	for _, tt := range []struct {
		name   string
		change map[string]*string
		want   int32
	}{
		{"max lowered under the floor", map[string]*string{intent.KeyMaxReplicas: str("5")}, 5},
		{"min raised over the floor", map[string]*string{intent.KeyMinReplicas: str("45")}, 45},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			d := deployment(ns, "api", predictive(`demand`, 10, 2, 50))
			if err := k8s.Create(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			clk := newClock(end)
			metrics := NewMetrics()
			w := New(k8s, src, DefaultConfig(), Options{Now: clk.now, Metrics: metrics})
			res, err := w.Cycle(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r, _ := resultFor(t, res, ns, "api")
			if f := r.Explanation.Floor; f <= 5 || f >= 45 {
				t.Fatalf("test setup: first floor %d is not inside (5, 45)", f)
			}
			// As if the predictor had kept its state on it.
			patchAnnotations(t, d, map[string]*string{intent.KeyPredictorState: str(`{"v":1}`)})
			patchAnnotations(t, d, tt.change)
			clk.add(time.Minute)
			res, err = w.Cycle(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r, _ = resultFor(t, res, ns, "api")
			ann := annotations(t, d)
			if r.Explanation.Floor != tt.want || ann[intent.KeyPredictedFloor] != fmt.Sprint(tt.want) {
				t.Errorf("floor %d (annotation %q, reason %q), want %d at once", r.Explanation.Floor, ann[intent.KeyPredictedFloor], r.Explanation.Reason, tt.want)
			}
			labels := prometheus.Labels{"namespace": ns, "kind": "Deployment", "workload": "api"}
			if got := testutil.ToFloat64(metrics.floor.With(labels)); got != float64(tt.want) {
				t.Errorf("mlscale_predictor_floor_replicas = %v, want %d", got, tt.want)
			}
		})
	}
}

// TestHandEditedFloorOverwritten: a predicted floor edited by hand into
// something invalid is the predictor's to overwrite; before, the workload
// counted as invalid and the predictor never wrote its floor again.
func TestHandEditedFloorOverwritten(t *testing.T) {
	needCluster(t)
	src, end := crane15d(t)
	ns := newNamespace(t)
	ann := predictive(`demand`, 10, 2, 50)
	ann[intent.KeyPredictedFloor] = "lots"
	d := deployment(ns, "api", ann)
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	w := New(k8s, src, DefaultConfig(), Options{Now: func() time.Time { return end }})
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := resultFor(t, res, ns, "api")
	got := annotations(t, d)[intent.KeyPredictedFloor]
	if r.Err != nil || !r.Patched || got != fmt.Sprint(r.Explanation.Floor) || r.Explanation.Mode != ModePredicting {
		t.Errorf("result %+v, annotation %q; want the forecast floor written over the hand-edited one", r, got)
	}
}

// logLines is a logger that keeps its lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, prefix+" "+args)
	}, funcr.Options{})
}

// count returns how many lines hold every one of subs.
func (l *logLines) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(line, sub)
		}
		if all {
			n++
		}
	}
	return n
}

// TestInvalidPredictorAnnotations: a predictive workload whose predictor
// inputs are missing or invalid gets no floor; the result names the
// annotation and its allowed values, the log says so once at the default
// level (before, only at debug level), and
// mlscale_predictor_failures_total{stage="render"} counts every cycle.
func TestInvalidPredictorAnnotations(t *testing.T) {
	needCluster(t)
	src, end := crane15d(t)
	for _, tt := range []struct {
		name   string
		change map[string]string // nil value: removed
		key    string
		want   string
	}{
		{"capacity missing", map[string]string{intent.KeyCapacityPerReplica: ""}, intent.KeyCapacityPerReplica, "is required"},
		{"capacity zero", map[string]string{intent.KeyCapacityPerReplica: "0"}, intent.KeyCapacityPerReplica, "a number above 0"},
		{"capacity not a number", map[string]string{intent.KeyCapacityPerReplica: "12rps"}, intent.KeyCapacityPerReplica, "a number above 0"},
		{"demand query missing", map[string]string{intent.KeyDemandQuery: ""}, intent.KeyDemandQuery, "is required"},
		{"lookahead not a duration", map[string]string{intent.KeyLookahead: "soon"}, intent.KeyLookahead, `from 1m to 24h, such as "5m" or "15m"`},
		{"lookahead too short", map[string]string{intent.KeyLookahead: "10s"}, intent.KeyLookahead, "from 1m"},
		{"business hours bad", map[string]string{intent.KeyBusinessHours: "weekdays 9-5"}, intent.KeyBusinessHours, "Mon-Fri 08:00-18:00"},
		// Not a boolean: a bad annotation, as the reconciler reads it (it
		// keeps the ScaledObject, floor and all), not "not predictive".
		{"predictive not a boolean", map[string]string{intent.KeyPredictive: "yes"}, intent.KeyPredictive, `"true" or "false"`},
		{"autoscale not a boolean", map[string]string{intent.KeyAutoscale: "True"}, intent.KeyAutoscale, `"true" or "false"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			ann := predictive(`demand`, 10, 2, 50)
			for k, v := range tt.change {
				if v == "" {
					delete(ann, k)
				} else {
					ann[k] = v
				}
			}
			d := deployment(ns, "api", ann)
			if err := k8s.Create(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			logs := &logLines{}
			metrics := NewMetrics()
			clk := newClock(end)
			w := New(k8s, src, DefaultConfig(), Options{Now: clk.now, Metrics: metrics, Log: logs.logger()})
			for range 3 {
				res, err := w.Cycle(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				r, ok := resultFor(t, res, ns, "api")
				if !ok || r.Err == nil || !strings.Contains(r.Err.Error(), tt.key) || !strings.Contains(r.Err.Error(), tt.want) || r.Patched {
					t.Fatalf("result %+v, want an unpatched result whose error names %s and %q", r, tt.key, tt.want)
				}
				clk.add(time.Minute)
			}
			if _, ok := annotations(t, d)[intent.KeyPredictedFloor]; ok {
				t.Errorf("a floor was written for invalid annotations")
			}
			if n := logs.count(ns+"/api", tt.key, "invalid"); n != 1 {
				t.Errorf("%d log lines naming the workload and %s in 3 cycles, want exactly 1: %q", n, tt.key, logs.lines)
			}
			labels := prometheus.Labels{"namespace": ns, "kind": "Deployment", "workload": "api", "stage": "render"}
			if got := testutil.ToFloat64(metrics.failures.With(labels)); got != 3 {
				t.Errorf("mlscale_predictor_failures_total{stage=render} = %v after 3 cycles, want 3", got)
			}
		})
	}
}

// switchingSource is an in-process Source whose series a test replaces
// between cycles.
type switchingSource struct{ s *predictor.Series }

func (m switchingSource) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (predictor.Series, error) {
	return seriesSource{*m.s}.Range(ctx, query, start, end, step)
}

// TestWorkloadFloorFallTiming: a workload's mlscale.io/floor-down-delay and
// mlscale.io/floor-down-interval take the place of the predictor's
// --down-delay and --down-interval for its floor alone. Two workloads on
// one demand, on a real API server: when the forecast drops, the one with
// both at "0s" falls a step at every cycle, the one without waits (the
// predictor's defaults: 10 minutes below the band).
func TestWorkloadFloorFallTiming(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t)
	slow := deployment(ns, "slow", predictive(`demand`, 10, 1, 20))
	fastAnn := predictive(`demand`, 10, 1, 20)
	fastAnn[intent.KeyFloorDownDelay], fastAnn[intent.KeyFloorDownInterval] = "0s", "0s"
	fast := deployment(ns, "fast", fastAnn)
	for _, d := range []*appsv1.Deployment{slow, fast} {
		if err := k8s.Create(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	end, high := flatDemand()
	series := &high
	clk := newClock(end)
	w := New(k8s, switchingSource{series}, DefaultConfig(), Options{Now: clk.now})
	cycle := func() (slowR, fastR Result) {
		t.Helper()
		res, err := w.Cycle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		slowR, ok1 := resultFor(t, res, ns, "slow")
		fastR, ok2 := resultFor(t, res, ns, "fast")
		if !ok1 || !ok2 || slowR.Err != nil || fastR.Err != nil {
			t.Fatalf("results %+v and %+v", slowR, fastR)
		}
		return slowR, fastR
	}
	s1, f1 := cycle()
	if s1.Explanation.Floor < 10 || f1.Explanation.Floor != s1.Explanation.Floor {
		t.Fatalf("floors %d and %d on demand of 100 at 10 a replica; want the same, at least 10", s1.Explanation.Floor, f1.Explanation.Floor)
	}
	// The demand is now 20 throughout: the forecast drops to about two
	// replicas' worth.
	_, low := flatDemand()
	for i := range low.Values {
		low.Values[i] = 20
	}
	low.Start = low.Start.Add(time.Minute)
	*series = low
	// Two cycles a minute apart: the fast workload's floor falls a step
	// (a tenth of its 20 replicas) at each, the other's waits.
	for k, want := range []int32{s1.Explanation.Floor - 2, s1.Explanation.Floor - 4} {
		clk.set(end.Add(time.Duration(k+1) * time.Minute))
		s2, f2 := cycle()
		if s2.Explanation.Floor != s1.Explanation.Floor || s2.Explanation.Reason != predictor.ReasonWaitDown {
			t.Errorf("minute %d, without the annotations: floor %d (%s), want %d, waiting to fall", k+1, s2.Explanation.Floor, s2.Explanation.Reason, s1.Explanation.Floor)
		}
		if f2.Explanation.Floor != want || f2.Explanation.Reason != predictor.ReasonFall {
			t.Errorf("minute %d, with floor-down-delay and floor-down-interval \"0s\": floor %d (%s), want %d, a fall", k+1, f2.Explanation.Floor, f2.Explanation.Reason, want)
		}
		if got := annotations(t, fast)[intent.KeyPredictedFloor]; got != strconv.Itoa(int(f2.Explanation.Floor)) {
			t.Errorf("minute %d: the fast workload's %s is %q, want %d", k+1, intent.KeyPredictedFloor, got, f2.Explanation.Floor)
		}
	}
}

// TestConfigExplicitZero: Config takes every field as it is: DefaultConfig
// gives the default floor policy, and zero Hysteresis, DownDelay and
// DownInterval mean none (what `mlscale predictor --hysteresis 0` etc. ask
// for). Before, an explicit 0 on the command line silently became the
// default.
func TestConfigExplicitZero(t *testing.T) {
	def := predictor.DefaultFloorPolicy(1, 50)
	for _, tt := range []struct {
		name   string
		cfg    Config
		policy predictor.FloorPolicy
	}{
		{"defaults", DefaultConfig(), def},
		{"set", configWith(func(c *Config) { c.Hysteresis, c.DownDelay, c.DownInterval = 0.3, time.Minute, 2*time.Minute }),
			predictor.FloorPolicy{Hysteresis: 0.3, DownDelay: time.Minute, DownInterval: 2 * time.Minute}},
		{"zero: none", configWith(func(c *Config) { c.Hysteresis, c.DownDelay, c.DownInterval = 0, 0, 0 }), predictor.FloorPolicy{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Check(); err != nil {
				t.Fatal(err)
			}
			p := tt.cfg.floorPolicy(1, 50)
			if p.Hysteresis != tt.policy.Hysteresis || p.DownDelay != tt.policy.DownDelay || p.DownInterval != tt.policy.DownInterval {
				t.Errorf("policy hysteresis %g down-delay %s down-interval %s, want %g %s %s",
					p.Hysteresis, p.DownDelay, p.DownInterval, tt.policy.Hysteresis, tt.policy.DownDelay, tt.policy.DownInterval)
			}
			if p.Min != 1 || p.Max != 50 || p.HoldFor != DefaultHold || p.DownStep != def.DownStep {
				t.Errorf("policy %+v: bounds, hold or step changed", p)
			}
		})
	}
}

// configWith returns DefaultConfig changed by edit.
func configWith(edit func(*Config)) Config {
	c := DefaultConfig()
	edit(&c)
	return c
}

// TestRefitEveryCycle: RefitEvery 0 refits every model every cycle; the
// default reuses them for an hour.
func TestRefitEveryCycle(t *testing.T) {
	needCluster(t)
	trace := loadTrace(t, "crane_input9.csv")
	src, end := seriesSource{trace}, trace.Start.Add(15*24*time.Hour)
	ns := newNamespace(t)
	if err := k8s.Create(context.Background(), deployment(ns, "api", predictive(`demand`, 10, 2, 50))); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		refit time.Duration
		times int // fits in three cycles, in fits of the first
	}{{DefaultRefitEvery, 1}, {0, 3}} {
		// Other tests' workloads share the API server (and this source):
		// compare with the fits of the first cycle.
		clk := newClock(end)
		w := New(k8s, src, configWith(func(c *Config) { c.RefitEvery = tt.refit }), Options{Now: clk.now})
		first := 0
		for i := range 3 {
			if _, err := w.Cycle(context.Background()); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = w.cache.Fits()
			}
			clk.add(time.Minute)
		}
		if got := w.cache.Fits(); first == 0 || got != tt.times*first {
			t.Errorf("RefitEvery %s: %d fits in 3 cycles, %d in the first; want %d times as many", tt.refit, got, first, tt.times)
		}
	}
}

// scrape returns the text exposition at url.
func scrape(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestMetricsServed runs the predictor as `mlscale predictor
// --leader-elect=false` builds it (NewManager, controller-runtime's
// registry) twice in a row in one process, against a real Prometheus and
// API server, and scrapes the metrics endpoint: every metric the help names
// is served, per workload with the labels namespace, kind and workload.
// Before, the second manager failed to start (the metrics were already
// registered).
func TestMetricsServed(t *testing.T) {
	needCluster(t)
	srv, trace := backfillTrace(t, "crane_input9.csv")
	ns := newNamespace(t)
	if err := k8s.Create(context.Background(), deployment(ns, "api", predictive(`demand{trace="crane_input9.csv"}`, 40, 1, 50))); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(context.Background(), deployment(ns, "bad", predictive(`sum({"demand"})`, 40, 1, 50))); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		addr := freeAddr(t)
		cfg := DefaultRunConfig()
		cfg.RESTConfig = restConfig
		cfg.MetricsAddr, cfg.ProbeAddr = addr, "0"
		cfg.LeaderElection = false
		cfg.Source.URL, cfg.Source.Timeout, cfg.Source.Retries = srv.URL, 10*time.Second, 0
		now := trace.End().Add(time.Duration(round) * time.Minute)
		cfg.Now = func() time.Time { return now }
		mgr, _, err := NewManager(cfg)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		stop := sync.OnceValue(func() error { cancel(); return <-done })
		t.Cleanup(func() { _ = stop() })

		// series is a metric with the workload's labels (and one more),
		// in the exposition's (alphabetical) label order.
		series := func(metric, name, k, v string) string {
			labels := map[string]string{"namespace": ns, "kind": "Deployment", "workload": name}
			if k != "" {
				labels[k] = v
			}
			keys := make([]string, 0, len(labels))
			for k := range labels {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
			}
			return metric + "{" + strings.Join(parts, ",") + "}"
		}
		want := []string{
			series("mlscale_predictor_forecast_demand", "api", "", ""),
			series("mlscale_predictor_forecast_upper_demand", "api", "", ""),
			series("mlscale_predictor_actual_demand", "api", "", ""),
			series("mlscale_predictor_floor_replicas", "api", "", ""),
			series("mlscale_predictor_floor_replicas", "bad", "", "") + " 1",
			series("mlscale_predictor_fallback", "api", "reason", "no-data") + " 0",
			series("mlscale_predictor_fallback", "api", "reason", "rolling-error") + " 0",
			series("mlscale_predictor_fallback", "bad", "reason", "no-data") + " 1",
			series("mlscale_predictor_failures_total", "bad", "stage", "query"),
			"mlscale_predictor_cycle_duration_seconds_count",
			"mlscale_predictor_workloads",
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			body, err := scrape("http://" + addr + "/metrics")
			missing := fmt.Sprint(err)
			if err == nil {
				missing = ""
			}
			for _, w := range want {
				if missing == "" && !strings.Contains(body, w) {
					missing = w
					break
				}
			}
			if missing == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %s not served within 60s; mlscale lines:\n%s", round, missing, grepLines(body, "mlscale_predictor_"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := stop(); err != nil {
			t.Fatalf("round %d: stopping: %v", round, err)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFloorNotWrittenOnReplacedWorkload: a workload deleted and made again
// under its name while its forecast ran is another object: the floor made
// for the old one is not written on it (the patch carries the old uid),
// and that is not a failure. Before, the new object got the old floor
// until the next cycle.
func TestFloorNotWrittenOnReplacedWorkload(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t)
	old := deployment(ns, "api", predictive(`demand`, 40, 1, 50))
	if err := k8s.Create(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	fresh := deployment(ns, "api", map[string]string{"example.com/owner": "team-a"})
	if err := k8s.Create(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	w := New(k8s, nil, DefaultConfig(), Options{})
	patched, err := w.write(context.Background(), old, Explanation{Floor: 7, Mode: ModePredicting, Time: time.Now().UTC()}, nil, time.Now())
	if err != nil || patched {
		t.Errorf("write on a replaced workload: patched %v, err %v; want neither", patched, err)
	}
	if got := annotations(t, fresh); got[intent.KeyPredictedFloor] != "" {
		t.Errorf("the new workload got the old one's floor %q", got[intent.KeyPredictedFloor])
	}

	// Deleted and not made again: not written, not a failure either.
	gone := deployment(ns, "gone", predictive(`demand`, 40, 1, 50))
	if err := k8s.Create(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if patched, err := w.write(context.Background(), gone, Explanation{Floor: 7, Mode: ModePredicting, Time: time.Now().UTC()}, nil, time.Now()); err != nil || patched {
		t.Errorf("write on a deleted workload: patched %v, err %v; want neither", patched, err)
	}

	// Refused for another reason (annotations over the API server's 256
	// KiB): a failure, not "replaced".
	live := deployment(ns, "live", predictive(`demand`, 40, 1, 50))
	if err := k8s.Create(context.Background(), live); err != nil {
		t.Fatal(err)
	}
	huge := Explanation{Floor: 7, Mode: ModePredicting, Time: time.Now().UTC(), Reason: strings.Repeat("x", 300<<10)}
	if patched, err := w.write(context.Background(), live, huge, nil, time.Now()); err == nil || patched {
		t.Errorf("write refused as too large: patched %v, err %v; want an error", patched, err)
	}
}

// TestFloorWithinGPUBudget: the floor is bounded by max as the reconciler
// renders it, the namespace's GPU budget (its ResourceQuota) included: 3
// replicas of 1 GPU under a quota of 3, though demand asks for 10. Before,
// the predictor rendered without the quotas and wrote 10.
func TestFloorWithinGPUBudget(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t)
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gpus"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("3")}},
	}
	if err := k8s.Create(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	d := deployment(ns, "gpuw", predictive(`demand`, 10, 1, 20))
	d.Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	end, flat := flatDemand()
	w := New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: func() time.Time { return end }, Facts: facts.FromCluster(k8s, DefaultConfig().Facts)})
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := resultFor(t, res, ns, "gpuw")
	if !ok || r.Err != nil {
		t.Fatalf("result %+v", r)
	}
	if r.Explanation.Floor != 3 {
		t.Errorf("floor %d (reason %s), want 3: the GPU budget's max", r.Explanation.Floor, r.Explanation.Reason)
	}
	if got := annotations(t, d)[intent.KeyPredictedFloor]; got != "3" {
		t.Errorf("mlscale.io/predicted-floor %q, want 3", got)
	}
}

// TestFactsFailureIsNotBadAnnotations: when the namespace's ResourceQuotas
// cannot be read, the workload is not reported as having invalid
// annotations: the failure counts as stage "facts", the floor already
// written stays, and the next cycle that reads the facts writes a floor.
// Before, it was logged as "its annotations are invalid" and counted as
// stage "render".
func TestFactsFailureIsNotBadAnnotations(t *testing.T) {
	ns, _, end, flat := flatWorkload(t)
	refuse := true
	quotas := func(ctx context.Context, namespace string) (facts.Facts, error) {
		if refuse {
			return facts.Facts{}, errors.New("resourcequotas is forbidden")
		}
		return DefaultConfig().Facts, nil
	}
	logs := &logLines{}
	metrics := NewMetrics()
	w := New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: func() time.Time { return end }, Facts: quotas, Metrics: metrics, Log: logs.logger()})
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := resultFor(t, res, ns, "api")
	if !ok || r.Err == nil || !strings.Contains(r.Err.Error(), "resourcequotas is forbidden") || r.Patched {
		t.Fatalf("result %+v, want an unpatched result naming the facts failure", r)
	}
	if n := logs.count(ns+"/api", "invalid"); n != 0 {
		t.Errorf("the facts failure was logged as invalid annotations: %q", logs.lines)
	}
	base := prometheus.Labels{"namespace": ns, "kind": "Deployment", "workload": "api"}
	if got := testutil.ToFloat64(metrics.failures.With(with(base, "stage", "facts"))); got != 1 {
		t.Errorf("failures{stage=facts} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(metrics.failures.With(with(base, "stage", "render"))); got != 0 {
		t.Errorf("failures{stage=render} = %v, want 0", got)
	}
	refuse = false
	res, err = w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := resultFor(t, res, ns, "api"); !ok || r.Err != nil || !r.Patched {
		t.Fatalf("result after the facts came back %+v, want a written floor", r)
	}
}

// TestReplacedWorkloadStartsAnew: a workload deleted and made again under
// its name is another object: it does not take over the old one's state
// (its error fallback, rolling error and floor). Before, the state was
// kept by name.
func TestReplacedWorkloadStartsAnew(t *testing.T) {
	ns, old, end, flat := flatWorkload(t)
	w := New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: func() time.Time { return end }})
	if _, err := w.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	key := "Deployment/" + ns + "/api"
	st := w.states[key]
	if st == nil || st.uid != old.GetUID() {
		t.Fatalf("state after the first cycle: %+v", st)
	}
	st.degraded = true // as if its forecasts had been too wrong

	if err := k8s.Delete(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	fresh := deployment(ns, "api", predictive(`demand`, 10, 1, 20))
	if err := k8s.Create(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := w.states[key]; st == nil || st.uid != fresh.GetUID() {
		t.Fatalf("state after the workload was replaced: %+v, want the new object's", st)
	}
	if r, ok := resultFor(t, res, ns, "api"); !ok || r.Explanation.Mode == ModeErrorFallback {
		t.Errorf("the new workload took over the old one's error fallback: %+v", r)
	}
}

// flatDemand is 15 days of demand at 100 every minute, ending at end.
func flatDemand() (end time.Time, flat predictor.Series) {
	end = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	flat = predictor.Series{Start: end.Add(-15 * 24 * time.Hour), Step: time.Minute, Values: make([]float64, 15*1440+1)}
	for i := range flat.Values {
		flat.Values[i] = 100
	}
	return end, flat
}

// persistenceWon feeds st's Selector three days of forecasts before end, every
// 15 minutes, in which the model missed by 20 and persistence by 1.
func persistenceWon(st *state, end time.Time) {
	for k := 3 * 24 * 4; k >= 1; k-- {
		f := predictor.Forecast{Time: end.Add(-time.Duration(k) * 15 * time.Minute), Mixture: 120, Baselines: [predictor.NumBaselines]float64{101, 130, 130, 130}}
		st.sel.Observe(f, 100)
	}
}

// TestSelectorWeighsBaselines: a workload whose baselines forecast better
// than the model over the last week gets them blended into its forecast,
// and its explanation says how much they weigh (baselineShare; written as
// the rest of the explanation).
func TestSelectorWeighsBaselines(t *testing.T) {
	ns, d, end, flat := flatWorkload(t)
	w := New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: func() time.Time { return end }})
	if _, err := w.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ex := explanation(t, annotations(t, d)); ex.BaselineShare != nil {
		t.Fatalf("baselineShare %v before any forecast was scored", *ex.BaselineShare)
	}
	persistenceWon(w.states["Deployment/"+ns+"/api"], end)
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := resultFor(t, res, ns, "api")
	if !ok || r.Err != nil || r.Explanation.BaselineShare == nil || *r.Explanation.BaselineShare < 0.99 {
		t.Fatalf("result %+v, want a baselineShare of about 1", r)
	}
}

// TestFirstCycleBlendsByReplay: a new workload whose demand jumps between
// levels at random, which persistence forecasts better than the model,
// gets persistence blended into its very first forecast, by the model's
// forecasts replayed over its history (predictor.Selector.Seed); the
// replayed forecasts are not saved on the workload (a new process replays
// them again).
func TestFirstCycleBlendsByReplay(t *testing.T) {
	ns, d, end, s := flatWorkload(t)
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < s.Len(); {
		level, n := 20+180*r.Float64(), 30+r.IntN(150)
		for ; n > 0 && i < s.Len(); n, i = n-1, i+1 {
			s.Values[i] = level
		}
	}
	w := New(k8s, seriesSource{s}, DefaultConfig(), Options{Now: func() time.Time { return end }})
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, ok := resultFor(t, res, ns, "api")
	if !ok || got.Err != nil || got.Explanation.BaselineShare == nil {
		t.Fatalf("result %+v (found %v), want persistence blended into the first forecast", got, ok)
	}
	if !w.states["Deployment/"+ns+"/api"].sel.Seeded() {
		t.Error("the selector is not seeded")
	}
	if saved := annotations(t, d)[intent.KeyPredictorState]; saved != "" {
		t.Errorf("%s %s, want none: no forecast was evaluated", intent.KeyPredictorState, saved)
	}
}

// TestFloorAtMostRecentPeak: on a real API server, a workload whose
// forecasts missed by 40 over flat demand of 100 gets a bound of 110, 1.1
// times the last two days' peak, and a floor of 11 replicas of 10, not the
// 14 the margin alone would set; with a minute at 150 a day ago, the bound
// is the forecast plus the margin again.
func TestFloorAtMostRecentPeak(t *testing.T) {
	ns, d, end, flat := flatWorkload(t)
	key := "Deployment/" + ns + "/api"
	run := func(s predictor.Series) Result {
		t.Helper()
		w := New(k8s, seriesSource{s}, DefaultConfig(), Options{Now: func() time.Time { return end }})
		if _, err := w.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		calibratorMissed(w.states[key])
		patchAnnotations(t, d, map[string]*string{intent.KeyPrediction: nil})
		res, err := w.Cycle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r, ok := resultFor(t, res, ns, "api")
		if !ok || r.Err != nil || r.Explanation.ForecastUpper == nil || r.Explanation.ForecastPeak == nil {
			t.Fatalf("result %+v (found %v), want a forecast with its bound", r, ok)
		}
		return r
	}
	r := run(flat)
	if got := *r.Explanation.ForecastUpper; math.Abs(got-110) > 1e-6 || r.Explanation.Floor != 11 {
		t.Errorf("flat demand of 100: forecastUpper %v, floor %d; want 110 (1.1 times the recent peak) and 11", got, r.Explanation.Floor)
	}
	if got := ptr.Deref(r.Explanation.RecentPeak, 0); got != 100 {
		t.Errorf("flat demand of 100: recentPeak %v in the explanation, want 100", got)
	}
	flat.Values[flat.Len()-1440] = 150
	r = run(flat)
	if got := ptr.Deref(r.Explanation.RecentPeak, 0); got != 150 {
		t.Errorf("a minute at 150 a day ago: recentPeak %v in the explanation, want 150", got)
	}
	if peak, got := *r.Explanation.ForecastPeak, *r.Explanation.ForecastUpper; got < peak+35 || got > 165 {
		t.Errorf("a minute at 150 a day ago: forecastUpper %v over a forecast of %v, want the margin of about 40 under the cap of 165", got, peak)
	}
}

// TestNewLookaheadStartsAnew: after the workload's lookahead changes, the
// Selector and the Calibrator learn from forecasts of the new window only:
// the week in which persistence beat the model over 15-minute windows no
// longer blends persistence into its 30-minute forecasts. Before, both
// kept the old window's errors (the Selector for a week).
func TestNewLookaheadStartsAnew(t *testing.T) {
	ns, d, end, flat := flatWorkload(t)
	w := New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: func() time.Time { return end }})
	if _, err := w.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.states["Deployment/"+ns+"/api"]
	persistenceWon(st, end)
	cal := st.cal
	patchAnnotations(t, d, map[string]*string{intent.KeyLookahead: ptr.To("30m")})
	res, err := w.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := resultFor(t, res, ns, "api")
	if !ok || r.Err != nil || r.Explanation.Lookahead != "30m0s" {
		t.Fatalf("result %+v, want a forecast 30m ahead", r)
	}
	if r.Explanation.BaselineShare != nil {
		t.Errorf("baselineShare %v: the Selector kept the 15-minute forecasts' errors", *r.Explanation.BaselineShare)
	}
	if st.cal == cal || st.lookahead != 30*time.Minute {
		t.Errorf("calibrator kept (%v) or lookahead %v: want a new calibrator for 30m", st.cal == cal, st.lookahead)
	}
}

// calibratorMissed feeds st's calibrator 300 evaluated forecasts that
// missed by 40, far more than the flat demand's fit errs, with the floor
// under in one in 50, so that the margin it learned is its own.
func calibratorMissed(st *state) {
	for i := range 300 {
		st.cal.Observe(40, 100, i%50 == 0)
	}
}

// rollingScored gives st's Rolling two hours of evaluated forecasts before
// end, one a minute, that missed the flat demand of 100 by 10, every tenth
// floor under it.
func rollingScored(st *state, end time.Time, flat predictor.Series) {
	for k := 140; k > 20; k-- {
		capacity := 120.0
		if k%10 == 0 {
			capacity = 90
		}
		st.rolling.Add(end.Add(-time.Duration(k)*time.Minute), 15*time.Minute, 90, capacity)
	}
	st.rolling.Evaluate(flat)
}

// TestRestartKeepsThePredictorState: what the Selector, the Calibrator
// and the rolling windows learned goes into mlscale.io/predictor-state
// with the explanation, and a new process (a restart, a new leader)
// restores it: it blends persistence in at once, as its predecessor did,
// sets the same margin, and explains the same rolling error and achieved
// under-provisioning. A state of another lookahead, a calibration of another target,
// or a part that does not parse is not restored, and is replaced. Before,
// a new process forecast with the model alone for a day, and calibrated
// the floors from the fit's in-sample errors (on a restart a day, that
// doubled the mean floor capacity of crane_input1 and Twitter_volume_AMZN
// in backtest).
func TestRestartKeepsThePredictorState(t *testing.T) {
	ns, d, end, flat := flatWorkload(t)
	// One minute at 150 a day ago: the calibrated bound may go up to 1.1
	// times the last two days' peak (predictor.Calibrator.Upper), and the
	// misses calibratorMissed feeds it are 40 over a forecast of 100.
	flat.Values[flat.Len()-1440] = 150
	key := "Deployment/" + ns + "/api"
	cycle := func(w *Writer) Result {
		t.Helper()
		// With no explanation on it, the workload is written this cycle.
		patchAnnotations(t, d, map[string]*string{intent.KeyPrediction: nil})
		res, err := w.Cycle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r, ok := resultFor(t, res, ns, "api")
		if !ok || r.Err != nil || !r.Patched {
			t.Fatalf("result %+v (found %v), want a written forecast", r, ok)
		}
		return r
	}
	share := func(r Result) float64 {
		if r.Explanation.BaselineShare == nil {
			return 0
		}
		return *r.Explanation.BaselineShare
	}
	upper := func(r Result) float64 {
		t.Helper()
		if r.Explanation.ForecastUpper == nil {
			t.Fatalf("explanation %+v has no forecastUpper", r.Explanation)
		}
		return *r.Explanation.ForecastUpper
	}
	opts := Options{Now: func() time.Time { return end }}
	w := New(k8s, seriesSource{flat}, DefaultConfig(), opts)
	// What an earlier build wrote, under the key this one retired.
	patchAnnotations(t, d, map[string]*string{intent.KeyBaselineScores: ptr.To(`{"v":1,"lookahead":"15m0s","query":"37ac8a66dc081cde","first":"2026-12-01T12:00:00Z","days":[]}`)})
	first := cycle(w)
	ann := annotations(t, d)
	if _, ok := ann[intent.KeyPredictorState]; ok {
		t.Fatalf("%s written before any forecast was scored", intent.KeyPredictorState)
	}
	if v, ok := ann[intent.KeyBaselineScores]; ok {
		t.Fatalf("the retired %s = %q is still on the workload after a write", intent.KeyBaselineScores, v)
	}
	persistenceWon(w.states[key], end)
	calibratorMissed(w.states[key])
	rollingScored(w.states[key], end, flat)
	r := cycle(w)
	if share(r) < 0.99 || upper(r) < upper(first)+30 {
		t.Fatalf("test setup: baselineShare %v, upper %v; want about 1, and 30 over %v", share(r), upper(r), upper(first))
	}
	saved := annotations(t, d)[intent.KeyPredictorState]
	var sv savedState
	want := len(w.states[key].sel.State().Days)
	if err := json.Unmarshal([]byte(saved), &sv); err != nil || sv.Selector == nil || len(sv.Selector.Days) != want || want < 3 || sv.Lookahead != "15m0s" || sv.Calibration == nil || sv.Calibration.Observed != 300 ||
		sv.Rolling == nil || sv.Rolling.Errors == nil || sv.Rolling.Errors.N != 60 || sv.Rolling.Floors == nil || sv.Rolling.Floors.Set != 120 {
		t.Fatalf("%s = %q (%v), want the %d days persistence won, 300 evaluated floors and the rolling windows (60 errors, 120 floors), for 15m0s", intent.KeyPredictorState, saved, err, want)
	}
	if ex := r.Explanation; ex.Evaluated != 60 || ex.EvaluatedFloors != 120 || ptr.Deref(ex.AchievedUnder, 0) != 0.1 || ptr.Deref(ex.RollingError, 0) != 0.1 {
		t.Fatalf("test setup: explanation %+v, want a rolling error of 0.1 over 60 forecasts and 0.1 under over 120 floors", ex)
	}

	restarted := New(k8s, seriesSource{flat}, DefaultConfig(), opts)
	got := cycle(restarted)
	if share(got) < 0.99 {
		t.Errorf("after a restart: baselineShare %v, want about 1 (the saved scores)", share(got))
	}
	if math.Abs(upper(got)-upper(r)) > 0.01*upper(r) {
		t.Errorf("after a restart: upper %v, want %v (the saved calibration)", upper(got), upper(r))
	}
	if a, b := got.Explanation, r.Explanation; a.Evaluated != b.Evaluated || *a.RollingError != *b.RollingError || a.EvaluatedFloors != b.EvaluatedFloors || *a.AchievedUnder != *b.AchievedUnder || *a.FloorVsPeak != *b.FloorVsPeak {
		t.Errorf("after a restart: rolling error %v over %d, %v under at %v over %d floors; want %v over %d, %v at %v over %d (the saved windows)",
			*a.RollingError, a.Evaluated, *a.AchievedUnder, *a.FloorVsPeak, a.EvaluatedFloors, *b.RollingError, b.Evaluated, *b.AchievedUnder, *b.FloorVsPeak, b.EvaluatedFloors)
	}
	if got := annotations(t, d)[intent.KeyPredictorState]; got != saved {
		t.Errorf("after a restart, %s changed:\n%s\nwas\n%s", intent.KeyPredictorState, got, saved)
	}

	// The scores an earlier build kept under the retired key: restored,
	// and moved to the new key.
	var doc map[string]any
	_ = json.Unmarshal([]byte(saved), &doc)
	sel, _ := doc["selector"].(map[string]any)
	old, _ := json.Marshal(map[string]any{"v": 1, "lookahead": doc["lookahead"], "query": doc["query"], "first": sel["first"], "days": sel["days"]})
	patchAnnotations(t, d, map[string]*string{intent.KeyPredictorState: nil, intent.KeyBaselineScores: ptr.To(string(old))})
	if got := cycle(New(k8s, seriesSource{flat}, DefaultConfig(), opts)); share(got) < 0.99 {
		t.Errorf("after an upgrade from %s: baselineShare %v, want about 1", intent.KeyBaselineScores, share(got))
	}
	ann = annotations(t, d)
	if _, ok := ann[intent.KeyBaselineScores]; ok || !strings.Contains(ann[intent.KeyPredictorState], `"selector"`) {
		t.Errorf("after an upgrade: %s %q, %s %q; want the scores moved to the new key", intent.KeyBaselineScores, ann[intent.KeyBaselineScores], intent.KeyPredictorState, ann[intent.KeyPredictorState])
	}
	patchAnnotations(t, d, map[string]*string{intent.KeyPredictorState: &saved})

	// Another target: the blend is restored, the margin is learned again.
	patchAnnotations(t, d, map[string]*string{intent.KeyTargetUnder: ptr.To("5%")})
	other := New(k8s, seriesSource{flat}, DefaultConfig(), opts)
	if got := cycle(other); share(got) < 0.99 || upper(got) > upper(first)+20 {
		t.Errorf("after a restart with a new target: baselineShare %v, upper %v; want about 1, and the fit's margin (about %v)", share(got), upper(got), upper(first))
	}
	if st := other.states[key]; st.cal == nil || st.cal.Target() != 0.05 {
		t.Errorf("calibrator %+v, want one for 5%%", st.cal)
	}
	patchAnnotations(t, d, map[string]*string{intent.KeyTargetUnder: nil, intent.KeyPredictorState: &saved})

	// Another lookahead: the state is of other windows.
	patchAnnotations(t, d, map[string]*string{intent.KeyLookahead: ptr.To("30m")})
	if got := share(cycle(New(k8s, seriesSource{flat}, DefaultConfig(), opts))); got != 0 {
		t.Errorf("after a restart with a new lookahead: baselineShare %v, want none", got)
	}
	if got, ok := annotations(t, d)[intent.KeyPredictorState]; ok {
		t.Errorf("%s of the old lookahead kept: %q", intent.KeyPredictorState, got)
	}

	// A selector that does not parse: logged, not restored, replaced; the
	// calibration is restored all the same.
	patchAnnotations(t, d, map[string]*string{intent.KeyLookahead: nil, intent.KeyPredictorState: ptr.To(strings.Replace(saved, `"n":`, `"n":-`, 1))})
	logs := &logLines{}
	bad := New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: opts.Now, Log: logs.logger()})
	if got := cycle(bad); share(got) != 0 || math.Abs(upper(got)-upper(r)) > 0.01*upper(r) {
		t.Errorf("after a bad selector: baselineShare %v, upper %v; want none, and %v", share(got), upper(got), upper(r))
	}
	if logs.count(ns+"/api", "ignoring the saved predictor state") != 1 || logs.count(ns+"/api", "selector.days[0].n: -") != 1 {
		t.Errorf("no log line names the bad field: %q", logs.lines)
	}
	if sv := annotations(t, d)[intent.KeyPredictorState]; strings.Contains(sv, `"n":-`) || !strings.Contains(sv, `"calibration"`) {
		t.Errorf("bad %s kept, or the calibration lost: %q", intent.KeyPredictorState, sv)
	}

	// A calibration that does not parse: the same.
	patchAnnotations(t, d, map[string]*string{intent.KeyPredictorState: ptr.To(strings.Replace(saved, `"observed":300`, `"observed":-300`, 1))})
	logs = &logLines{}
	if got := cycle(New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: opts.Now, Log: logs.logger()})); share(got) < 0.99 || upper(got) > upper(first)+20 {
		t.Errorf("after a bad calibration: baselineShare %v, upper %v; want about 1, and the fit's margin (about %v)", share(got), upper(got), upper(first))
	}
	if logs.count(ns+"/api", "calibration.observed: -300") != 1 {
		t.Errorf("no log line names the bad field: %q", logs.lines)
	}

	// Rolling windows that do not parse: the same; the explanation counts
	// the new process's evaluations only (none yet).
	patchAnnotations(t, d, map[string]*string{intent.KeyPredictorState: ptr.To(strings.Replace(saved, `"under":12`, `"under":130`, 1))})
	logs = &logLines{}
	got = cycle(New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: opts.Now, Log: logs.logger()}))
	if share(got) < 0.99 || got.Explanation.Evaluated != 0 || got.Explanation.EvaluatedFloors != 0 {
		t.Errorf("after bad rolling windows: baselineShare %v, %d forecasts and %d floors evaluated; want about 1, and none", share(got), got.Explanation.Evaluated, got.Explanation.EvaluatedFloors)
	}
	if logs.count(ns+"/api", "rolling.floors.under: 130, want at most set (120)") != 1 {
		t.Errorf("no log line names the bad field: %q", logs.lines)
	}
}

// TestRestartKeepsTheRollingError: a workload whose forecasts missed by
// twice the demand is in error-fallback; after it lost its data (its
// explanation says holding) and the predictor restarted, the restored
// rolling error puts it back in error-fallback at the first forecast.
// Before, the rolling error started empty and the floor was raised from
// the forecast until --min-evaluations new forecasts were scored.
func TestRestartKeepsTheRollingError(t *testing.T) {
	ns, d, end, flat := flatWorkload(t)
	key := "Deployment/" + ns + "/api"
	opts := Options{Now: func() time.Time { return end }}
	cycle := func(w *Writer) Result {
		t.Helper()
		res, err := w.Cycle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r, ok := resultFor(t, res, ns, "api")
		if !ok || r.Err != nil {
			t.Fatalf("result %+v (found %v), want a forecast", r, ok)
		}
		return r
	}
	w := New(k8s, seriesSource{flat}, DefaultConfig(), opts)
	cycle(w)
	st := w.states[key]
	for k := 80; k > 20; k-- {
		st.rolling.Add(end.Add(-time.Duration(k)*time.Minute), 15*time.Minute, 300, 300)
	}
	st.rolling.Evaluate(flat)
	patchAnnotations(t, d, map[string]*string{intent.KeyPrediction: nil})
	if r := cycle(w); r.Explanation.Mode != ModeErrorFallback || !r.Patched {
		t.Fatalf("test setup: mode %q (patched %v), want %q", r.Explanation.Mode, r.Patched, ModeErrorFallback)
	}
	var ex Explanation
	if err := json.Unmarshal([]byte(annotations(t, d)[intent.KeyPrediction]), &ex); err != nil {
		t.Fatal(err)
	}
	ex.Mode = ModeHolding
	held, _ := json.Marshal(ex)
	patchAnnotations(t, d, map[string]*string{intent.KeyPrediction: ptr.To(string(held))})

	r := cycle(New(k8s, seriesSource{flat}, DefaultConfig(), opts))
	if r.Explanation.Mode != ModeErrorFallback || r.Explanation.Evaluated != 60 || ptr.Deref(r.Explanation.RollingError, 0) != 2 {
		t.Errorf("after a restart: mode %q, rolling error %v over %d forecasts; want %q, 2 over 60 (the saved window)",
			r.Explanation.Mode, ptr.Deref(r.Explanation.RollingError, 0), r.Explanation.Evaluated, ModeErrorFallback)
	}
}

// TestAPIWarningsNameTheWorkload: a warning the API server returns on the
// floor's patch (here from a ValidatingAdmissionPolicy in Warn mode, as
// mlscale's own webhook warns on a workload whose annotations it renders
// with a warning) is logged with the workload's name. Before, the client's
// warning logger wrote it without one.
func TestAPIWarningsNameTheWorkload(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t)
	ctx := context.Background()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "warn-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: "demo policy warns on every update"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "warn-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
	}
	d := deployment(ns, "api", predictive(`demand`, 10, 1, 20))
	if err := k8s.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	end, flat := flatDemand()
	logs := &logLines{}
	w := New(k8s, seriesSource{flat}, DefaultConfig(), Options{Now: func() time.Time { return end }, Log: logs.logger()})
	// The policy takes effect once the API server has loaded it.
	deadline := time.Now().Add(30 * time.Second)
	for logs.count(ns+"/api", "demo policy warns") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no log line names the workload and the policy's warning: %q", logs.lines)
		}
		// A changed floor makes the next cycle patch again.
		if err := k8s.Patch(ctx, d, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"mlscale.io/predicted-floor":null,"mlscale.io/prediction":null}}}`))); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flatWorkload creates the predictive Deployment "api" (capacity 10 per
// replica, 1 to 20 replicas) in a new namespace, with flatDemand for its
// demand.
func flatWorkload(t *testing.T) (ns string, d *appsv1.Deployment, end time.Time, flat predictor.Series) {
	t.Helper()
	needCluster(t)
	ns = newNamespace(t)
	d = deployment(ns, "api", predictive(`demand`, 10, 1, 20))
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	end, flat = flatDemand()
	return ns, d, end, flat
}
