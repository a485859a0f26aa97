package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/promtest"
)

// TestBacktestFromPrometheus: a backtest of a demand query's history, read
// from a real Prometheus (test/promtest) backfilled with nyc_taxi, gives
// the same report as the trace file, and so does the file --trace-out
// writes. With rows missing from what Prometheus holds, the gap is filled
// and counted as in the file without those rows.
func TestBacktestFromPrometheus(t *testing.T) {
	s, err := predictor.LoadTrace(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	// gappy lacks samples 6000..6009, as does the file gappy.csv.
	lines := strings.SplitAfter(string(src), "\n")
	gappyFile := append(append([]string{}, lines[:6001]...), lines[6011:]...)
	var gappy promtest.Series
	gappy.Name, gappy.Labels = "demand", map[string]string{"w": "gappy"}
	for i, v := range s.Values {
		if i < 6000 || i >= 6010 {
			gappy.Samples = append(gappy.Samples, promtest.Sample{Time: s.Time(i), Value: v})
		}
	}
	srv := promtest.Start(t, promtest.Regular("demand", map[string]string{"w": "nyc"}, s.Start, s.Step, s.Values), gappy)
	dir := t.TempDir()
	gappyPath := filepath.Join(dir, "gappy.csv")
	if err := os.WriteFile(gappyPath, []byte(strings.Join(gappyFile, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	query := func(q, out string, extra ...string) result {
		t.Helper()
		args := append([]string{"backtest", "--prometheus-server", srv.URL, "--demand-query", q, "--step", "30m",
			"--end", s.End().Format(time.RFC3339), "--window", (s.End().Sub(s.Start)).String(), "--trace-out", out}, extra...)
		r := runCLI(t, "", args...)
		if r.Code != ExitOK {
			t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
		}
		return r
	}
	// The report from its cycle line on (the trace line names the
	// source), without the files written.
	tables := func(out string) string {
		_, rest, _ := strings.Cut(out, "\ncycle ")
		rest, _, _ = strings.Cut(rest, "\nwrote ")
		return strings.TrimSpace(rest)
	}
	fromFile := func(path string) result {
		t.Helper()
		r := runCLI(t, "", "backtest", "--trace", path)
		if r.Code != ExitOK {
			t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
		}
		return r
	}

	nycOut := filepath.Join(dir, "nyc.csv")
	r := query(`demand{w="nyc"}`, nycOut)
	want := fromFile(nycTrace)
	if tables(r.Out) == "" || tables(r.Out) != tables(want.Out) || strings.SplitN(r.Out, "\n", 2)[0] != strings.SplitN(want.Out, "\n", 2)[0] {
		t.Errorf("from Prometheus:\n%s\nwant as the file:\n%s", r.Out, want.Out)
	}
	if !strings.Contains(r.Out, `trace query "demand{w=\"nyc\"}" at `+srv.URL) || !strings.Contains(r.Out, "wrote trace: "+nycOut) {
		t.Errorf("the report does not name the query and the trace written:\n%s", r.Out)
	}
	if again := fromFile(nycOut); tables(again.Out) != tables(want.Out) {
		t.Errorf("--trace-out replayed:\n%s\nwant:\n%s", again.Out, want.Out)
	}

	gappyOut := filepath.Join(dir, "gappy-out.csv")
	r = query(`demand{w="gappy"}`, gappyOut, "-o", "json")
	var got struct {
		Trace, DemandQuery string
		Filled             int    `json:"samples_filled"`
		Query              string `json:"demand_query"`
		Server             string `json:"prometheus_server"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || got.Filled != 10 || got.Query != `demand{w="gappy"}` || got.Server != srv.URL {
		t.Errorf("JSON samples_filled %d, demand_query %q, prometheus_server %q (%v); want 10, the query and the server", got.Filled, got.Query, got.Server, err)
	}
	wantGappy, gotGappy := fromFile(gappyPath), query(`demand{w="gappy"}`, gappyOut)
	if tables(gotGappy.Out) != tables(wantGappy.Out) {
		t.Errorf("with a gap, from Prometheus:\n%s\nwant as the file:\n%s", gotGappy.Out, wantGappy.Out)
	}
	if again := fromFile(gappyOut); tables(again.Out) != tables(wantGappy.Out) {
		t.Errorf("with a gap, --trace-out replayed:\n%s\nwant:\n%s", again.Out, wantGappy.Out)
	}

	// The response of a range query as curl saves it: one series chosen
	// by a label replays as the file does, gap included.
	saved := filepath.Join(dir, "query_range.json")
	rangeURL := srv.URL + "/api/v1/query_range?" + url.Values{"query": {"demand"}, "start": {strconv.FormatInt(s.Start.Unix(), 10)},
		"end": {strconv.FormatInt(s.End().Unix(), 10)}, "step": {"1800"}}.Encode()
	resp, err := http.Get(rangeURL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", rangeURL, resp.StatusCode, err)
	}
	if err := os.WriteFile(saved, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "backtest", "-f", saved); r.Code != ExitFailure || !strings.Contains(r.ErrOut, `data.result holds 2 series (demand{w="gappy"}, demand{w="nyc"})`) {
		t.Errorf("a response of two series: exit %d, stderr %q; want a failure naming both", r.Code, r.ErrOut)
	}
	for _, tt := range []struct {
		column string
		want   result
	}{{"w=nyc", want}, {`w="gappy"`, wantGappy}} {
		r := runCLI(t, "", "backtest", "-f", saved, "--column", tt.column)
		if r.Code != ExitOK || tables(r.Out) != tables(tt.want.Out) {
			t.Errorf("the saved response, --column %s: exit %d, stderr %q\n%s\nwant as the file:\n%s", tt.column, r.Code, r.ErrOut, r.Out, tt.want.Out)
		}
	}

	// What Prometheus refuses, or does not have, is an error that says so.
	for _, tt := range []struct{ query, want string }{
		{`sum(demand`, "bad PromQL query"},
		{`demand{w="none"}`, "no data"},
		{`demand`, "query returns more than one series"},
	} {
		r := runCLI(t, "", "backtest", "--prometheus-server", srv.URL, "--demand-query", tt.query, "--step", "30m", "--end", s.End().Format(time.RFC3339))
		if r.Code != ExitFailure || !strings.Contains(r.ErrOut, tt.want) || !strings.Contains(r.ErrOut, "reading the demand history from "+srv.URL) {
			t.Errorf("%s: exit %d, stderr %q; want a failure saying %q", tt.query, r.Code, r.ErrOut, tt.want)
		}
	}
}

// TestBacktestQueryFlags: the flags of a backtest of a query's history are
// checked before anything is read, and the message names the fix.
func TestBacktestQueryFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no trace: give -f FILE, or --prometheus-server URL and --demand-query PROMQL or --workload KIND/NAME"},
		{[]string{"-f", nycTrace, "--demand-query", "x"}, "and --demand-query or --workload both give the demand; give one"},
		{[]string{"-f", nycTrace, "--workload", "deploy/api"}, "and --demand-query or --workload both give the demand; give one"},
		{[]string{"--demand-query", "x"}, "--demand-query and --workload need --prometheus-server URL"},
		{[]string{"--workload", "job/train", "--prometheus-server", "http://p:9090"}, `--workload "job/train": allowed: deployment/NAME or statefulset/NAME (deploy/NAME, sts/NAME for short)`},
		{[]string{"--workload", "deploy/API_1", "--prometheus-server", "http://p:9090"}, `--workload "deploy/API_1": "API_1" is not a valid object name`},
		{[]string{"-f", nycTrace, "-n", "ml"}, "-n/--namespace goes with --demand-query or --workload"},
		{[]string{"-f", nycTrace, "--business-hours", "Mon-Fri 25:00-18:00"}, `--business-hours "Mon-Fri 25:00-18:00" has a bad time "25:00" (use HH:MM, 00:00 to 24:00); allowed: DAYS HH:MM-HH:MM [TIME ZONE]`},
		{[]string{"--demand-query", "x", "--prometheus-server", "localhost:9090"}, "--prometheus-server is not an http(s) URL"},
		{[]string{"--demand-query", "x", "--prometheus-server", "http://p:9090", "--column", "v"}, "--column picks a trace file's column; a demand query returns one series"},
		{[]string{"--demand-query", "x", "--prometheus-server", "http://p:9090", "--step", "500ms"}, "allowed: a step of at least 1s"},
		{[]string{"--demand-query", "x", "--prometheus-server", "http://p:9090", "--window", "8760h", "--step", "10s"}, "is 3153600 points; allowed: at most 1000000, e.g. --step 32s"},
		{[]string{"--demand-query", "x", "--prometheus-server", "http://p:9090", "--end", "yesterday"}, `--end "yesterday": allowed: an RFC 3339 time`},
		{[]string{"-f", nycTrace, "--trace-out", "x.csv"}, "--trace-out goes with --demand-query or --workload"},
		{[]string{"-f", nycTrace, "--prometheus-server", "http://p:9090"}, "--prometheus-server goes with --demand-query or --workload"},
	} {
		r := runCLI(t, "", append([]string{"backtest"}, tt.args...)...)
		if r.Code != ExitUsage || !strings.Contains(r.ErrOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want a usage error with %q", tt.args, r.Code, r.ErrOut, tt.want)
		}
	}
}

// TestBacktestWorkload: --workload reads a predictive Deployment from a
// real API server (envtest) and backtests its demand query, capacity per
// replica, lookahead and target, from a real Prometheus (test/promtest);
// a flag given overrides its annotation. A workload that is not
// predictive, or not there, is an error that says so.
func TestBacktestWorkload(t *testing.T) {
	s, err := predictor.LoadTrace(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	const craneTrace = "../../predictor/testdata/traces/crane_input9.csv"
	crane, err := predictor.LoadTrace(craneTrace)
	if err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, promtest.Regular("demand", map[string]string{"w": "nyc"}, s.Start, s.Step, s.Values),
		promtest.Regular("demand", map[string]string{"w": "crane9"}, crane.Start, crane.Step, crane.Values))
	cfg, k8s := startAPIServerClient(t)
	kubetest.Namespace(t, k8s, "ml", nil)
	kubeconfig := writeKubeconfig(t, cfg, "ml")
	deploy := func(name string, ann map[string]string) {
		t.Helper()
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml", Annotations: ann},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c"}}},
				},
			},
		}
		if err := k8s.Create(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	deploy("api", map[string]string{
		intent.KeyAutoscale: "true", intent.KeyCPUTarget: "70", intent.KeyPredictive: "true",
		intent.KeyDemandQuery: `demand{w="nyc"}`, intent.KeyCapacityPerReplica: "3000", intent.KeyTargetUnder: "5%",
		intent.KeyFloorDownDelay: "2m", intent.KeyFloorDownInterval: "1m",
		"mlscale.io/from-a-later-build": "x",
	})
	deploy("plain", map[string]string{intent.KeyAutoscale: "true", intent.KeyCPUTarget: "70"})
	deploy("busy", map[string]string{
		intent.KeyAutoscale: "true", intent.KeyCPUTarget: "70", intent.KeyPredictive: "true",
		intent.KeyDemandQuery: `demand{w="crane9"}`, intent.KeyCapacityPerReplica: "5", intent.KeyBusinessHours: "Mon-Fri 08:00-18:00",
	})
	backtest := func(args ...string) result {
		t.Helper()
		return runCLI(t, "", append([]string{"backtest", "--kubeconfig", kubeconfig, "--prometheus-server", srv.URL, "--step", "30m",
			"--end", s.End().Format(time.RFC3339), "--window", s.End().Sub(s.Start).String()}, args...)...)
	}
	tables := func(out string) string {
		_, rest, _ := strings.Cut(out, "\ncycle ")
		return strings.TrimSpace(rest)
	}

	r := backtest("--workload", "deploy/api", "-o", "json")
	var got struct {
		Workload string  `json:"workload"`
		Query    string  `json:"demand_query"`
		Capacity float64 `json:"capacity_per_replica"`
		Headline struct {
			Target float64 `json:"target_under_pct"`
		} `json:"headline"`
		Falls predictor.FloorFalls `json:"floor_falls"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); r.Code != ExitOK || err != nil {
		t.Fatalf("exit %d, stderr %q, %v", r.Code, r.ErrOut, err)
	}
	if got.Workload != "Deployment ml/api" || got.Query != `demand{w="nyc"}` || got.Capacity != 3000 || got.Headline.Target != 5 {
		t.Errorf("workload %q, query %q, capacity %v, target %v%%; want Deployment ml/api, its query, 3000 and 5%%", got.Workload, got.Query, got.Capacity, got.Headline.Target)
	}
	if got.Falls.DownDelay != "2m0s" || got.Falls.DownInterval != "1m0s" {
		t.Errorf("floor_falls %+v, want the workload's down delay 2m0s and interval 1m0s", got.Falls)
	}
	// The same as the trace file with the workload's settings.
	text := backtest("--workload", "deployment/api", "-n", "ml")
	want := runCLI(t, "", "backtest", "-f", nycTrace, "--capacity-per-replica", "3000", "--target-under", "5%", "--down-delay", "2m", "--down-interval", "1m")
	if text.Code != ExitOK || tables(text.Out) == "" || tables(text.Out) != tables(want.Out) {
		t.Errorf("--workload:\n%s%s\nwant as the file with its settings:\n%s", text.Out, text.ErrOut, want.Out)
	}
	if !strings.Contains(text.Out, `trace Deployment ml/api: query "demand{w=\"nyc\"}" at `+srv.URL) {
		t.Errorf("the report does not name the workload:\n%s", text.Out)
	}
	// A flag given wins over the annotation.
	over := backtest("--workload", "deploy/api", "--capacity-per-replica", "2487", "--target-under", "2%", "--down-delay", "10m", "--down-interval", "5m")
	if want := runCLI(t, "", "backtest", "-f", nycTrace); tables(over.Out) != tables(want.Out) {
		t.Errorf("--workload with flags:\n%s%s\nwant as the file with those flags:\n%s", over.Out, over.ErrOut, want.Out)
	}

	// Its business hours, which crane_input9's daily forecasts use.
	busy := runCLI(t, "", "backtest", "--kubeconfig", kubeconfig, "--prometheus-server", srv.URL, "--workload", "deploy/busy",
		"--end", crane.End().Format(time.RFC3339), "--window", crane.End().Sub(crane.Start).String())
	withHours := runCLI(t, "", "backtest", "-f", craneTrace, "--capacity-per-replica", "5", "--business-hours", "Mon-Fri 08:00-18:00")
	without := runCLI(t, "", "backtest", "-f", craneTrace, "--capacity-per-replica", "5")
	if busy.Code != ExitOK || tables(busy.Out) == "" || tables(busy.Out) != tables(withHours.Out) {
		t.Errorf("--workload with business hours:\n%s%s\nwant as the file with them:\n%s", busy.Out, busy.ErrOut, withHours.Out)
	}
	if tables(without.Out) == tables(withHours.Out) {
		t.Error("test setup: crane_input9's backtest is the same with and without business hours")
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "deploy/plain"}, `Deployment ml/plain is not predictive (it needs mlscale.io/autoscale: "true", mlscale.io/predictive: "true" and mlscale.io/demand-query): give --demand-query and --capacity-per-replica instead`},
		{[]string{"--workload", "sts/api"}, "reading StatefulSet ml/api: statefulsets.apps \"api\" not found"},
		{[]string{"--workload", "deploy/api", "-n", "nowhere"}, "reading Deployment nowhere/api"},
	} {
		r := backtest(tt.args...)
		if r.Code != ExitFailure || !strings.Contains(r.ErrOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want a failure with %q", tt.args, r.Code, r.ErrOut, tt.want)
		}
	}
}
