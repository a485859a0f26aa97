package cli

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mlscale/mlscale/predictor"
)

const (
	nycTrace    = "../../predictor/testdata/traces/nyc_taxi.csv"
	crane9Trace = "../../predictor/testdata/traces/crane_input9.csv"
)

func TestBacktestText(t *testing.T) {
	r := runCLI(t, "", "backtest", "--trace", crane9Trace)
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	for _, want := range []string{
		"lookahead 15m0s (15 steps)", "cycle: daily", "mlscale", predictor.BaselinePersistence,
		predictor.BaselineSeasonalNaiveDay, predictor.BaselineSeasonalNaiveWeek, predictor.BaselineHoltWinters,
		"replica-hours", predictor.SimStatic, predictor.SimReactive, predictor.SimPredictive,
	} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Out)
		}
	}
}

func TestBacktestJSONAndForecasts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "forecasts.csv")
	r := runCLI(t, "", "backtest", "--trace", nycTrace, "-o", "json", "--forecasts-out", out, "--capacity-per-replica", "2500", "--train", "0.6")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.Out)
	}
	metrics := []string{"mae", "smape", "mase", "under_pct", "over_mean"}
	objects := map[string][]string{"mlscale": metrics}
	for _, b := range []string{"persistence", "seasonal_naive_day", "seasonal_naive_week", "holt_winters"} {
		objects["baselines."+b] = metrics
	}
	for _, s := range []string{"static", "reactive", "predictive"} {
		objects["simulation."+s] = []string{"replica_hours", "under_minutes"}
	}
	for path, keys := range objects {
		var obj any = got
		for p := range strings.SplitSeq(path, ".") {
			m, _ := obj.(map[string]any)
			obj = m[p]
		}
		m, ok := obj.(map[string]any)
		if !ok {
			t.Errorf("no object %s in %s", path, r.Out)
			continue
		}
		for _, k := range keys {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s.%s is %v, want a number", path, k, m[k])
			}
		}
	}
	if got["capacity_per_replica"] != 2500.0 {
		t.Errorf("capacity_per_replica %v, want 2500", got["capacity_per_replica"])
	}

	// Recompute mlscale's MAE from the forecasts file and the trace.
	s, err := predictor.LoadTrace(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "time,forecast_peak,floor" {
		t.Fatalf("header %v", rows[0])
	}
	rows = rows[1:]
	if want := got["test_points"].(float64); float64(len(rows)) != want {
		t.Fatalf("%d rows, want %g", len(rows), want)
	}
	if first, _ := strconv.ParseInt(rows[0][0], 10, 64); first != s.Time(int(0.6*float64(s.Len()))-1).Unix() {
		t.Errorf("first forecast at %d, want the last training sample's time", first)
	}
	const capacity = 2500.0
	var sum, under, over float64
	for _, row := range rows {
		ts, _ := strconv.ParseInt(row[0], 10, 64)
		peak, err := strconv.ParseFloat(row[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		floor, err := strconv.Atoi(row[2])
		if err != nil {
			t.Fatalf("floor %q: %v", row[2], err)
		}
		// nyc_taxi's step (30m) exceeds the lookahead: the window is the next sample.
		i := int((ts - s.Start.Unix()) / int64(s.Step.Seconds()))
		actual := s.Values[i+1]
		sum += math.Abs(peak - actual)
		if float64(floor)*capacity < actual {
			under++
		}
		over += max(0, float64(floor)-math.Ceil(actual/capacity))
	}
	n := float64(len(rows))
	ml := got["mlscale"].(map[string]any)
	for name, recomputed := range map[string]float64{"mae": sum / n, "under_pct": 100 * under / n, "over_mean": over / n} {
		if reported := ml[name].(float64); math.Abs(recomputed-reported) > 1e-6*max(1, reported) {
			t.Errorf("%s from the forecasts file %g, reported %g", name, recomputed, reported)
		}
	}
}

func TestBacktestErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no trace", nil, ExitUsage, "--trace"},
		{"bad output", []string{"--trace", nycTrace, "-o", "yaml"}, ExitUsage, `-o "yaml"`},
		{"bad train fraction", []string{"--trace", nycTrace, "--train", "1.5"}, ExitUsage, "--train"},
		{"bad train", []string{"--trace", nycTrace, "--train", "half"}, ExitUsage, "--train"},
		{"bad lookahead", []string{"--trace", nycTrace, "--lookahead", "0s"}, ExitUsage, "--lookahead"},
		{"negative capacity", []string{"--trace", nycTrace, "--capacity-per-replica", "-1"}, ExitUsage, "--capacity-per-replica"},
		{"missing file", []string{"--trace", "nope.csv"}, ExitFailure, "nope.csv"},
		{"training too short", []string{"--trace", nycTrace, "--train", "10"}, ExitFailure, "training part"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"backtest"}, tt.args...)...)
			if r.Code != tt.code || !strings.Contains(r.ErrOut, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.Code, r.ErrOut, tt.code, tt.wantErr)
			}
		})
	}
}

func TestBacktestPNG(t *testing.T) {
	out := filepath.Join(t.TempDir(), "backtest.png")
	r := runCLI(t, "", "backtest", "--trace", nycTrace, "--train", "0.9", "--png", out)
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 200 {
		t.Errorf("image is only %dx%d", b.Dx(), b.Dy())
	}
	r = runCLI(t, "", "backtest", "--trace", nycTrace, "--train", "0.9", "--png", filepath.Join(t.TempDir(), "no", "such", "dir.png"))
	if r.Code != ExitFailure || !strings.Contains(r.ErrOut, "dir.png") {
		t.Errorf("unwritable PNG: exit %d, stderr %q", r.Code, r.ErrOut)
	}
}

// TestBacktestColdStart checks that --cold-start is honoured, zero
// included: replicas that are ready at once leave reactive scaling less
// under-provisioned than a 10-minute start does.
func TestBacktestColdStart(t *testing.T) {
	underReactive := func(coldStart string) (float64, string) {
		t.Helper()
		r := runCLI(t, "", "backtest", "--trace", crane9Trace, "-o", "json", "--cold-start", coldStart)
		if r.Code != ExitOK {
			t.Fatalf("--cold-start %s: exit %d, stderr %q", coldStart, r.Code, r.ErrOut)
		}
		var got struct {
			ColdStart  string `json:"cold_start"`
			Simulation map[string]struct {
				UnderMinutes float64 `json:"under_minutes"`
			} `json:"simulation"`
		}
		if err := json.Unmarshal([]byte(r.Out), &got); err != nil {
			t.Fatal(err)
		}
		return got.Simulation[predictor.SimReactive].UnderMinutes, got.ColdStart
	}
	zero, zeroReported := underReactive("0s")
	slow, slowReported := underReactive("10m")
	if zeroReported != "0s" || slowReported != "10m0s" {
		t.Errorf("cold_start reported as %q and %q, want 0s and 10m0s", zeroReported, slowReported)
	}
	if !(zero < slow) {
		t.Errorf("reactive under-provisioned minutes %.0f with no cold start, %.0f with 10m; want fewer without", zero, slow)
	}
}
