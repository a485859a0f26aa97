package cli

import (
	"strings"
	"testing"
)

func TestPredictorHelpListsFlags(t *testing.T) {
	r := runCLI(t, "", "predictor", "--help")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	for _, flag := range []string{
		"--prometheus-url", "--interval", "--history", "--step", "--lookahead", "--quantile",
		"--error-threshold", "--error-window", "--min-evaluations", "--hold", "--max-staleness",
		"--refit-every", "--refresh-every", "--concurrency", "--hysteresis", "--down-delay",
		"--down-interval", "--query-timeout", "--retries", "--leader-elect", "--leader-election-id",
		"--metrics-bind-address", "mlscale.io/predicted-floor", "mlscale.io/prediction",
	} {
		if !strings.Contains(r.Out, flag) {
			t.Errorf("predictor --help does not mention %s", flag)
		}
	}
	if root := runCLI(t, "", "--help"); !strings.Contains(root.Out, "predictor") {
		t.Errorf("mlscale --help does not list predictor:\n%s", root.Out)
	}
}

func TestPredictorUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "--prometheus-url is required"},
		{[]string{"--prometheus-url", "http://p:9090", "--quantile", "1.5"}, "--quantile"},
		{[]string{"--prometheus-url", "http://p:9090", "--step", "100ms"}, "--step at least 1s"},
		{[]string{"--prometheus-url", "http://p:9090", "--history", "20m"}, "--history"},
		{[]string{"--prometheus-url", "http://p:9090", "--error-threshold", "0"}, "--error-threshold"},
		{[]string{"--prometheus-url", "http://p:9090", "--interval", "0s"}, "--interval"},
		{[]string{"--prometheus-url", "http://p:9090", "extra"}, "extra"},
	} {
		r := runCLI(t, "", append([]string{"predictor"}, tt.args...)...)
		if r.Code != ExitUsage || !strings.Contains(r.ErrOut, tt.want) {
			t.Errorf("predictor %v: exit %d, stderr %q; want exit %d mentioning %q", tt.args, r.Code, r.ErrOut, ExitUsage, tt.want)
		}
	}
}
