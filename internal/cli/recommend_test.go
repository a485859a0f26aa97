package cli

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/internal/recommend"
	"github.com/mlscale/mlscale/test/promtest"
)

// TestRecommendAgainstPrometheus runs `mlscale recommend` against a real
// Prometheus (test/promtest) over a backfilled day of recorded series.
func TestRecommendAgainstPrometheus(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	step := 5 * time.Minute
	llm := map[string]string{"namespace": "ml", "workload": "llm"}
	flat := func(v float64, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	srv := promtest.Start(t,
		promtest.Regular(recommend.GPUsSeries, llm, start, step, flat(4, 288)),
		promtest.Regular(recommend.UtilizationSeries, llm, start, step, append(flat(35, 144), flat(0, 144)...)),
		promtest.Regular(recommend.VLLMDemandSeries, llm, start, step, append(flat(10, 144), flat(0, 144)...)),
	)
	end := start.Add(287 * step).Format(time.RFC3339)
	r := runCLI(t, "", "recommend", "--prometheus-server", srv.URL, "-n", "ml", "--workload", "llm", "--window", "24h", "--end", end)
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
	for _, want := range []string{
		"Suggested annotations for ml/llm (history: 24h0m0s at 5m0s)",
		`mlscale.io/min-replicas: "0"`, `mlscale.io/max-replicas: "3"`, `mlscale.io/gpu-target: "70"`, `mlscale.io/scale-to-zero: "true"`,
		"idle 50% of the window", "96.0 held, 24.0 with these settings: 72.0 saved (504.0 per week)",
	} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Out)
		}
	}
	j := runCLI(t, "", "recommend", "--prometheus-server", srv.URL, "-n", "ml", "--workload", "llm", "--window", "24h", "--end", end, "-o", "json")
	if j.Code != ExitOK || !strings.Contains(j.Out, `"mlscale.io/scale-to-zero": "true"`) {
		t.Errorf("-o json: exit %d, stdout:\n%s\nstderr:\n%s", j.Code, j.Out, j.ErrOut)
	}
	m := runCLI(t, "", "recommend", "--prometheus-server", srv.URL, "-n", "ml", "--workload", "nope", "--window", "24h", "--end", end)
	if m.Code != ExitFailure || !strings.Contains(m.ErrOut, "no GPU history for ml/nope") {
		t.Errorf("unknown workload: exit %d, stderr:\n%s", m.Code, m.ErrOut)
	}
	// A password in --prometheus-server is never echoed (Prometheus ignores
	// the basic auth it was not configured for).
	withPassword := strings.Replace(srv.URL, "http://", "http://reader:s3cret@", 1)
	p := runCLI(t, "", "recommend", "--prometheus-server", withPassword, "-n", "ml", "--workload", "nope", "--window", "24h", "--end", end)
	if p.Code != ExitFailure || strings.Contains(p.ErrOut, "s3cret") || !strings.Contains(p.ErrOut, "no GPU history for ml/nope") {
		t.Errorf("server with a password: exit %d, stderr:\n%s", p.Code, p.ErrOut)
	}
}

// TestRecommendHidesToken: a token in the query string of
// --prometheus-server (as some proxies take it) is not repeated when the
// server cannot be reached; the HTTP client's error names the request URL.
func TestRecommendHidesToken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	p := runCLI(t, "", "recommend", "--prometheus-server", "http://"+addr+"/?token=s3cret", "-n", "ml", "--workload", "w", "--window", "24h")
	if p.Code != ExitFailure || strings.Contains(p.ErrOut, "s3cret") || !strings.Contains(p.ErrOut, addr) {
		t.Errorf("exit %d, stderr:\n%s\nwant a failure naming %s without the token", p.Code, p.ErrOut, addr)
	}
}

func TestRecommendUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"recommend", "-n", "ml"}, "--workload are required"},
		{[]string{"recommend", "-n", "Bad_NS", "--workload", "w"}, `-n/--namespace "Bad_NS" is not a valid namespace name`},
		{[]string{"recommend", "-n", "ml", "--workload", "W W"}, `--workload "W W" is not a valid object name`},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "-o", "xml"}, `-o "xml"`},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--end", "yesterday"}, "--end"},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--gpu-target", "0"}, "--gpu-target"},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--step", "0s"}, "--step"},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--window", "336h", "--step", "1m"}, "at most 11000 (Prometheus' limit per series), e.g. --step 2m"},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--window", "30s", "--step", "1ms"}, "--step 1ms and --window 30s: allowed: a step of at least 1s"},
		// Under a minute's worth, the step suggested is whole seconds
		// (it was at least a minute: over a 30s window, one that fails).
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--window", "30h", "--step", "1s"}, "at most 11000 (Prometheus' limit per series), e.g. --step 11s"},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--prometheus-server", "localhost:9090"}, "--prometheus-server is not an http(s) URL"},
		{[]string{"recommend", "-n", "ml", "--workload", "w", "--prometheus-server", "::bad"}, "--prometheus-server is not an http(s) URL"},
	} {
		r := runCLI(t, "", tc.args...)
		if r.Code != ExitUsage || !strings.Contains(r.ErrOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %s", tc.args, r.Code, r.ErrOut, ExitUsage, tc.want)
		}
	}
	// One mistake, one message: a bad --gpu-target does not also fail the
	// default --idle-threshold against it.
	r := runCLI(t, "", "recommend", "-n", "ml", "--workload", "w", "--gpu-target", "0")
	if strings.Contains(r.ErrOut, "--idle-threshold") {
		t.Errorf("stderr %q also blames --idle-threshold", r.ErrOut)
	}
}

func TestCollectorUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"collector", "--idle-threshold", "0"}, "--idle-threshold"},
		{[]string{"collector", "--gpu-price", "H100"}, "--gpu-price"},
		{[]string{"collector", "--pod-resources-socket", ""}, "--pod-resources-socket"},
		{[]string{"collector", "--prices-file", "testdata/does-not-exist.yaml"}, "--prices-file"},
		{[]string{"collector", "--sample-interval", "1ms"}, "--sample-interval"},
		{[]string{"collector", "--default-gpu-price", "-1"}, "--default-gpu-price -1 is invalid; allowed"},
		{[]string{"collector", "--listen-address", "bogus"}, "--listen-address \"bogus\""},
	} {
		r := runCLI(t, "", tc.args...)
		if r.Code != ExitUsage || !strings.Contains(r.ErrOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %s", tc.args, r.Code, r.ErrOut, ExitUsage, tc.want)
		}
	}
}
