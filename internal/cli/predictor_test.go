package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlscale/mlscale/predictor/floorwriter"
	"github.com/mlscale/mlscale/predictor/promsource"
)

func TestPredictorHelpListsFlags(t *testing.T) {
	r := runCLI(t, "", "predictor", "--help")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	for _, flag := range []string{
		"--prometheus-server", "--interval", "--history", "--step", "--lookahead", "--target-under",
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
	// Outside a pod, so that leader election needs its namespace.
	saved := serviceAccountNamespaceFile
	serviceAccountNamespaceFile = filepath.Join(t.TempDir(), "namespace")
	t.Cleanup(func() { serviceAccountNamespaceFile = saved })
	url := []string{"--prometheus-server", "http://p:9090", "--leader-elect=false"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "--prometheus-server is required"},
		{[]string{"--prometheus-server", "not-a-url"}, "--prometheus-server"},
		{[]string{"--prometheus-server", "prometheus:9090"}, "--prometheus-server"},
		{[]string{"--prometheus-server", "ftp://p:9090"}, "--prometheus-server"},
		{[]string{"--prometheus-server", "http://user:s3cret@p:9090/%zz"}, "--prometheus-server: is not a URL"},
		{append(url, "--quantile", "1.5"), "--quantile must be at least 0.5 and below 1"},
		{append(url, "--quantile", "0"), "--quantile"},
		{append(url, "--quantile", "NaN"), "--quantile"},
		{append(url, "--target-under", "2"), `--target-under "2" is not a percentage (it needs the % sign); allowed: a percentage above 0% and at most 50%`},
		{append(url, "--target-under", "0%"), `--target-under "0%" is out of range`},
		{append(url, "--target-under", "80%"), `--target-under "80%" is out of range`},
		{append(url, "--step", "100ms"), "--step must be at least 1s"},
		{append(url, "--step", "1500ms"), "--step must be a whole number of seconds, not 1.5s"},
		{append(url, "--cluster-domain", "bad domain"), `--cluster-domain "bad domain" is not a valid DNS domain`},
		{append(url, "--cluster-domain", ""), `--cluster-domain "" is not a valid DNS domain`},
		{append(url, "--history", "20m"), "--history"},
		{append(url, "--history", "-1h"), "--history must be above 0"},
		{append(url, "--error-threshold", "0"), "--error-threshold"},
		{append(url, "--interval", "0s"), "--interval must be above 0"},
		// The model could never fit 31 samples with a 15-minute lookahead.
		{append(url, "--history", "30m"), "--history (30m0s) holds 31 samples at --step 1m0s, and a model with --lookahead 15m0s needs at least 127"},
		{append(url, "--lookahead", "1h", "--history", "8h"), "--history (8h0m0s) holds 481 samples"},
		{append(url, "--interval", "-1m"), "--interval must be above 0"},
		{append(url, "--lookahead", "-15m"), "--lookahead must be above 0"},
		{append(url, "--hold", "-1m"), "--hold must be above 0"},
		{append(url, "--max-staleness", "0s"), "--max-staleness must be above 0"},
		{append(url, "--refresh-every", "-1s"), "--refresh-every must be above 0"},
		{append(url, "--query-timeout", "0s"), "--query-timeout must be above 0"},
		{append(url, "--refit-every", "-1h"), "--refit-every must be 0 or more"},
		{append(url, "--down-delay", "-1m"), "--down-delay must be 0 or more"},
		{append(url, "--down-interval", "-5m"), "--down-interval must be 0 or more"},
		{append(url, "--error-window", "0"), "--error-window must be at least 1"},
		{append(url, "--min-evaluations", "0"), "--min-evaluations must be at least 1"},
		{append(url, "--min-evaluations", "61"), "--min-evaluations (61) must not exceed --error-window (60)"},
		{append(url, "--concurrency", "-1"), "--concurrency must be at least 1"},
		{append(url, "--retries", "-1"), "--retries must be at least 0"},
		{append(url, "--hysteresis", "1"), "--hysteresis must be in [0, 1)"},
		{append(url, "--hysteresis", "-0.1"), "--hysteresis"},
		{[]string{"--prometheus-server", "http://p:9090"}, "--leader-elect needs --leader-election-namespace when not running in a pod"},
		{append(url, "extra"), "extra"},
	} {
		r := runCLI(t, "", append([]string{"predictor"}, tt.args...)...)
		if r.Code != ExitUsage || !strings.Contains(r.ErrOut, tt.want) {
			t.Errorf("predictor %v: exit %d, stderr %q; want exit %d mentioning %q", tt.args, r.Code, r.ErrOut, ExitUsage, tt.want)
		}
		if strings.Contains(r.ErrOut, "s3cret") {
			t.Errorf("predictor %v: stderr %q repeats the password", tt.args, r.ErrOut)
		}
	}
}

// TestPredictorFlagsExplicitZero: --refit-every, --hysteresis, --down-delay,
// --down-interval and --retries 0 mean none, and reach floorwriter.Config
// and promsource.Config as 0; before, 0 silently became the default (a
// model reused for an hour, a 10% band, falls after 10 minutes and at most
// every 5).
func TestPredictorFlagsExplicitZero(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		want    floorwriter.Config
		retries int
	}{
		{"zero: none", []string{"--refit-every", "0s", "--hysteresis", "0", "--down-delay", "0s", "--down-interval", "0s", "--retries", "0"},
			floorwriter.Config{}, 0},
		{"unset: defaults", nil, floorwriter.DefaultConfig(), promsource.DefaultRetries},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cfg floorwriter.RunConfig
			cmd := predictorCmd(func(_ context.Context, c floorwriter.RunConfig) error { cfg = c; return nil })
			cmd.SetArgs(append([]string{"--prometheus-server", "http://p:9090", "--leader-elect=false"}, tt.args...))
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			w := cfg.Writer
			if w.RefitEvery != tt.want.RefitEvery || w.DownDelay != tt.want.DownDelay || w.DownInterval != tt.want.DownInterval || w.Hysteresis != tt.want.Hysteresis {
				t.Errorf("refit %s down-delay %s down-interval %s hysteresis %g; want %s %s %s %g",
					w.RefitEvery, w.DownDelay, w.DownInterval, w.Hysteresis, tt.want.RefitEvery, tt.want.DownDelay, tt.want.DownInterval, tt.want.Hysteresis)
			}
			if cfg.Source.Retries != tt.retries {
				t.Errorf("retries %d, want %d", cfg.Source.Retries, tt.retries)
			}
		})
	}
}

// TestPredictorFormerURLFlag: --prometheus-url, the flag's former name,
// still sets the server (deployments made before the rename start), with a
// deprecation warning naming --prometheus-server.
func TestPredictorFormerURLFlag(t *testing.T) {
	var cfg floorwriter.RunConfig
	cmd := predictorCmd(func(_ context.Context, c floorwriter.RunConfig) error { cfg = c; return nil })
	var stderr bytes.Buffer
	cmd.SetErr(&stderr)
	cmd.SetOut(&stderr)
	cmd.SetArgs([]string{"--prometheus-url", "http://p:9090", "--leader-elect=false"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if cfg.Source.URL != "http://p:9090" || !strings.Contains(stderr.String(), "--prometheus-server") {
		t.Errorf("URL %q, output %q", cfg.Source.URL, stderr.String())
	}
}
