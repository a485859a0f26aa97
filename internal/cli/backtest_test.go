package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/predictor"
)

const (
	nycTrace    = "../../predictor/testdata/traces/nyc_taxi.csv"
	crane9Trace = "../../predictor/testdata/traces/crane_input9.csv"
)

func TestBacktestText(t *testing.T) {
	r := runCLI(t, "", "backtest", "-f", crane9Trace)
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	first, _, _ := strings.Cut(r.Out, "\n")
	for _, want := range []string{
		"headline: peak-forecast MAE ", " x the best baseline (holt_winters; lower is better)",
		"floors under-provisioned ", "% of steps (target 2%; lower is better), mean floor capacity ", " x the actual peak",
		"replica-hours ", " x static, ", " x reactive (lower is better)",
	} {
		if !strings.HasPrefix(first, "headline: ") || !strings.Contains(first, want) {
			t.Errorf("first line lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(r.Out, "note:") || strings.Contains(r.Out, "wrote") {
		t.Errorf("a note or a file written without cause:\n%s", r.Out)
	}
	for _, want := range []string{
		"lookahead 15m0s (15 steps)", "cycle (of the training part): daily", "mlscale", predictor.BaselinePersistence,
		predictor.BaselineSeasonalNaiveDay, predictor.BaselineSeasonalNaiveWeek, predictor.BaselineHoltWinters,
		"replica-hours", predictor.SimStatic, predictor.SimReactive, predictor.SimPredictive,
		"(lower is better in every column)", "(lower is better in both columns)",
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
	objects["headline"] = []string{"mae_vs_best_baseline", "under_pct", "target_under_pct", "floor_capacity_vs_peak", "replica_hours_vs_static", "replica_hours_vs_reactive"}
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
			v, ok := m[k].(float64)
			if !ok {
				t.Errorf("%s.%s is %v, want a number", path, k, m[k])
			}
			if predictor.RoundFigure(v) != v {
				t.Errorf("%s.%s is %v, not rounded to 4 significant digits", path, k, v)
			}
		}
	}
	if h, _ := got["headline"].(map[string]any); h["best_baseline"] != predictor.BaselineHoltWinters {
		t.Errorf("headline %v, want Holt-Winters as the best baseline", h)
	}
	if got["rows_merged"] != 0.0 || got["forecasts_out"] != out {
		t.Errorf("rows_merged %v, forecasts_out %v; want 0 and %s", got["rows_merged"], got["forecasts_out"], out)
	}
	if strings.TrimSpace(r.ErrOut) != "wrote forecasts: "+out {
		t.Errorf("stderr %q, want the forecasts file named", r.ErrOut)
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
		// The JSON's figures are rounded to 4 significant digits.
		if reported := ml[name].(float64); math.Abs(recomputed-reported) > 5e-4*max(1, reported) {
			t.Errorf("%s from the forecasts file %g, reported %g", name, recomputed, reported)
		}
	}
}

func TestBacktestErrors(t *testing.T) {
	// Three idle days: nothing to derive a replica's capacity from.
	var b strings.Builder
	b.WriteString("ts,value\n")
	for i := range 3 * 288 {
		fmt.Fprintf(&b, "%d,0\n", 1633651200+300*i)
	}
	zeros := filepath.Join(t.TempDir(), "zeros.csv")
	if err := os.WriteFile(zeros, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no trace", nil, ExitUsage, "no trace: give -f FILE"},
		{"bad output", []string{"--trace", nycTrace, "-o", "yaml"}, ExitUsage, `-o "yaml"`},
		{"bad train fraction", []string{"--trace", nycTrace, "--train", "1.5"}, ExitUsage, "--train"},
		{"bad train", []string{"--trace", nycTrace, "--train", "half"}, ExitUsage, `--train "half": allowed: a number of samples (2016), a fraction (0.6) or percentage (60%)`},
		{"train of 100%", []string{"--trace", nycTrace, "--train", "100%"}, ExitUsage, `--train "100%": allowed:`},
		{"negative train duration", []string{"--trace", nycTrace, "--train", "-3h"}, ExitUsage, `--train "-3h": allowed:`},
		{"bad lookahead", []string{"--trace", nycTrace, "--lookahead", "0s"}, ExitUsage, "--lookahead"},
		{"negative capacity", []string{"--trace", nycTrace, "--capacity-per-replica", "-1"}, ExitUsage, "--capacity-per-replica"},
		{"capacity NaN", []string{"--trace", nycTrace, "--capacity-per-replica", "NaN"}, ExitUsage, "--capacity-per-replica must be a finite number, 0 or more (0: derived from the trace), not NaN"},
		{"capacity Inf", []string{"--trace", nycTrace, "--capacity-per-replica", "Inf"}, ExitUsage, "--capacity-per-replica must be a finite number"},
		// The model needs eight lookaheads of history, not a day's.
		{"lookahead longer than the training part allows", []string{"--trace", nycTrace, "--lookahead", "24h", "--train", "300"}, ExitFailure, "must be at least a day plus the lookahead, and eight lookaheads (387)"},
		{"unwritable PNG, before the run", []string{"--trace", nycTrace, "--png", "/nonexistent/dir/x.png"}, ExitUsage, "--png /nonexistent/dir/x.png: directory /nonexistent/dir does not exist"},
		{"unwritable forecasts, before the run", []string{"--trace", nycTrace, "--forecasts-out", "/nonexistent/dir/f.csv"}, ExitUsage, "--forecasts-out /nonexistent/dir/f.csv: directory /nonexistent/dir does not exist"},
		{"target without percent", []string{"--trace", nycTrace, "--target-under", "0.02"}, ExitUsage, `--target-under "0.02" is not a percentage (it needs the % sign); allowed: a percentage above 0% and at most 50%`},
		{"hysteresis of 1", []string{"--trace", nycTrace, "--hysteresis", "1"}, ExitUsage, "--hysteresis must be in [0, 1), not 1"},
		{"negative down delay", []string{"--trace", nycTrace, "--down-delay", "-1m"}, ExitUsage, "--down-delay must be 0 or more, not -1m0s"},
		{"negative down interval", []string{"--trace", nycTrace, "--down-interval", "-5m"}, ExitUsage, "--down-interval must be 0 or more, not -5m0s"},
		{"target too high", []string{"--trace", nycTrace, "--target-under", "75%"}, ExitUsage, `--target-under "75%" is out of range`},
		{"missing file", []string{"--trace", "nope.csv"}, ExitFailure, "nope.csv"},
		{"training too short", []string{"--trace", nycTrace, "--train", "10"}, ExitFailure, "training part"},
		{"no demand to size replicas from", []string{"--trace", zeros}, ExitFailure, "the training history has no positive value, so no capacity per replica can be derived from it; set the capacity per replica with --capacity-per-replica"},
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
	if !strings.HasSuffix(r.Out, "\nwrote PNG: "+out+"\n") {
		t.Errorf("output does not end with the PNG's path:\n%s", r.Out)
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
	// nyc_taxi spans 7 months: a week's panel above the whole trace.
	if b := img.Bounds(); b.Dx() != 1536 || b.Dy() != 864 {
		t.Errorf("image is only %dx%d", b.Dx(), b.Dy())
	}
	r = runCLI(t, "", "backtest", "--trace", nycTrace, "--train", "0.9", "--png", filepath.Join(t.TempDir(), "no", "such", "dir.png"))
	if r.Code != ExitUsage || !strings.Contains(r.ErrOut, "dir.png") {
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

// TestBacktestFloorFalls: --hysteresis, --down-delay and --down-interval
// tune the backtest's floor policy as they tune the predictor's: the
// report says what it ran with, and floors that fall without waiting hold
// fewer replicas over the actual peak than the default slow falls.
func TestBacktestFloorFalls(t *testing.T) {
	type falls struct {
		Hysteresis   float64 `json:"hysteresis"`
		DownDelay    string  `json:"down_delay"`
		DownInterval string  `json:"down_interval"`
	}
	run := func(args ...string) (falls, float64) {
		t.Helper()
		r := runCLI(t, "", append([]string{"backtest", "--trace", crane9Trace, "-o", "json"}, args...)...)
		if r.Code != ExitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, r.Code, r.ErrOut)
		}
		var got struct {
			FloorFalls falls `json:"floor_falls"`
			MLScale    struct {
				OverMean float64 `json:"over_mean"`
			} `json:"mlscale"`
		}
		if err := json.Unmarshal([]byte(r.Out), &got); err != nil {
			t.Fatal(err)
		}
		return got.FloorFalls, got.MLScale.OverMean
	}
	def, defOver := run()
	if want := (falls{0.1, "10m0s", "5m0s"}); def != want {
		t.Errorf("default floor_falls %+v, want %+v (mlscale predictor's defaults)", def, want)
	}
	fast, fastOver := run("--down-delay", "0s", "--down-interval", "0s", "--hysteresis", "0.05")
	if want := (falls{0.05, "0s", "0s"}); fast != want {
		t.Errorf("floor_falls %+v, want %+v", fast, want)
	}
	if !(fastOver < defOver) {
		t.Errorf("mean over-provisioning %.3f replicas with falls without waiting, %.3f with the default falls; want fewer", fastOver, defOver)
	}
	r := runCLI(t, "", "backtest", "--trace", crane9Trace, "--down-delay", "2m")
	if want := "floors fall after 2m0s below a band of 10% of the floor (or the forecast's error), a step per 5m0s"; !strings.Contains(r.Out, want) {
		t.Errorf("text output lacks %q:\n%s", want, r.Out)
	}
}

// backtestsAlike backtests path and ref and checks that path's report
// opens with the headline and then notes, and otherwise reads as ref's.
func backtestsAlike(t *testing.T, path, ref string, notes ...string) {
	t.Helper()
	r := runCLI(t, "", "backtest", "--trace", path)
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	outLines := strings.Split(r.Out, "\n")
	if !strings.HasPrefix(outLines[0], "headline: ") || !slices.Equal(outLines[1:1+len(notes)], notes) {
		t.Errorf("want the headline, then the notes %q:\n%s", notes, r.Out)
	}
	want := runCLI(t, "", "backtest", "--trace", ref)
	if want.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", want.Code, want.ErrOut)
	}
	// From the cycle line on (the trace line names the file).
	_, tables, _ := strings.Cut(r.Out, "\ncycle ")
	_, wantTables, _ := strings.Cut(want.Out, "\ncycle ")
	if tables == "" || tables != wantTables || outLines[0] != strings.SplitN(want.Out, "\n", 2)[0] {
		t.Errorf("%s:\n%s\nwant as %s:\n%s", path, r.Out, ref, want.Out)
	}
}

// TestBacktestRepeatedTimestamps: rows that repeat the previous row's time
// are merged keeping the maximum, and a note says how many; the result is
// that of the trace with the higher of each pair alone.
func TestBacktestRepeatedTimestamps(t *testing.T) {
	src, err := os.ReadFile(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(src), "\n")
	// Rows 5000 and 6000 (one in the training part, one evaluated) get a
	// twin: at 5000 a higher one after it, at 6000 a lower one.
	higher := func(row string, by float64) string {
		ts, v, _ := strings.Cut(strings.TrimSpace(row), ",")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatal(err)
		}
		return ts + "," + strconv.FormatFloat(f+by, 'f', -1, 64) + "\n"
	}
	var dup, maxRows []string
	for i, l := range lines {
		switch i {
		case 5000:
			dup = append(dup, l, higher(l, 5000))
			maxRows = append(maxRows, higher(l, 5000))
		case 6000:
			dup = append(dup, l, higher(l, -100))
			maxRows = append(maxRows, l)
		default:
			dup, maxRows = append(dup, l), append(maxRows, l)
		}
	}
	dir := t.TempDir()
	dupPath, maxPath := filepath.Join(dir, "dup.csv"), filepath.Join(dir, "max.csv")
	for path, rows := range map[string][]string{dupPath: dup, maxPath: maxRows} {
		if err := os.WriteFile(path, []byte(strings.Join(rows, "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	backtestsAlike(t, dupPath, maxPath, "note: 2 rows with a repeated timestamp merged (kept the maximum)")

	r := runCLI(t, "", "backtest", "--trace", dupPath, "-o", "json")
	var got struct {
		RowsMerged int `json:"rows_merged"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || got.RowsMerged != 2 {
		t.Errorf("JSON rows_merged %d (%v), want 2", got.RowsMerged, err)
	}
	if strings.TrimSpace(r.ErrOut) != "note: 2 rows with a repeated timestamp merged (kept the maximum)" {
		t.Errorf("stderr %q, want the note", r.ErrOut)
	}
}

// TestBacktestSpreadsheetExports: the same trace written newest first, or
// with semicolons between columns and decimal commas (as a spreadsheet set
// to a language with a decimal comma exports it), gives the same backtest
// as the trace itself, and so does it without a header or with pandas'
// unnamed index column; rows newest first get a note and
// rows_newest_first in JSON, a file without a header a note and no_header.
func TestBacktestSpreadsheetExports(t *testing.T) {
	src, err := os.ReadFile(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(src)), "\n")
	header, rows := lines[0], lines[1:]
	// Values with a fraction, so that the decimal comma matters.
	var ref, semi []string
	for _, row := range rows {
		ts, v, _ := strings.Cut(row, ",")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatal(err)
		}
		x := strconv.FormatFloat(f/8, 'f', -1, 64)
		ref = append(ref, ts+","+x)
		semi = append(semi, ts+";"+strings.Replace(x, ".", ",", 1))
	}
	newest := slices.Clone(rows)
	slices.Reverse(newest)
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newestPath := write("newest.csv", append([]string{header}, newest...)...)
	backtestsAlike(t, newestPath, nycTrace, "note: the rows are newest first; read oldest first")
	r := runCLI(t, "", "backtest", "--trace", newestPath, "-o", "json")
	var got struct {
		NewestFirst bool `json:"rows_newest_first"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || !got.NewestFirst {
		t.Errorf("JSON rows_newest_first %v (%v), want true", got.NewestFirst, err)
	}
	refPath := write("ref.csv", append([]string{"timestamp,value"}, ref...)...)
	backtestsAlike(t, write("semicolons.csv", append([]string{"sep=;", "timestamp;value"}, semi...)...), refPath)
	noHeader := write("noheader.csv", ref...)
	backtestsAlike(t, noHeader, refPath, "note: the file has no header; read the first column as the time and the second as the value")
	r = runCLI(t, "", "backtest", "--trace", noHeader, "-o", "json")
	var noHeaderJSON struct {
		NoHeader bool `json:"no_header"`
	}
	if err := json.Unmarshal([]byte(r.Out), &noHeaderJSON); err != nil || !noHeaderJSON.NoHeader {
		t.Errorf("JSON no_header %v (%v), want true", noHeaderJSON.NoHeader, err)
	}
	backtestsAlike(t, write("pandas.csv", append([]string{",value"}, ref...)...), refPath)
}

// TestBacktestRowsBetweenSamples: a row between two of a trace's samples
// (10 minutes after a row of a 30-minute trace) is not a sample, the
// backtest is that of the trace without it, and a note says how many rows
// were not used.
func TestBacktestRowsBetweenSamples(t *testing.T) {
	src, err := os.ReadFile(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(src), "\n")
	var extra []string
	for i, l := range lines {
		extra = append(extra, l)
		if i == 4000 || i == 8000 {
			ts, v, _ := strings.Cut(strings.TrimSpace(l), ",")
			at, err := time.Parse(time.DateTime, ts)
			if err != nil {
				t.Fatal(err)
			}
			extra = append(extra, at.Add(10*time.Minute).Format(time.DateTime)+","+v+"\n")
		}
	}
	path := filepath.Join(t.TempDir(), "extra.csv")
	if err := os.WriteFile(path, []byte(strings.Join(extra, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	const note = "note: 2 of 10322 rows closer together than the step (30m0s) fell between two samples and were not used"
	backtestsAlike(t, path, nycTrace, note)
	r := runCLI(t, "", "backtest", "--trace", path, "-o", "json")
	var got struct {
		RowsUnused int `json:"rows_unused"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || got.RowsUnused != 2 {
		t.Errorf("JSON rows_unused %d (%v), want 2", got.RowsUnused, err)
	}
}

// TestBacktestStepNotDividingADay: at a step over an hour that does not
// divide a day no cycle can be found, and a note says so and what to do.
func TestBacktestStepNotDividingADay(t *testing.T) {
	var b strings.Builder
	b.WriteString("ts,value\n")
	for i := range 400 {
		fmt.Fprintf(&b, "%d,%g\n", 7*3600*i, 100+10*math.Sin(float64(i)))
	}
	path := filepath.Join(t.TempDir(), "7h.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "backtest", "--trace", path)
	if r.Code != ExitOK || !strings.Contains(r.Out, "note: the step 7h0m0s is over an hour and does not divide a day: no daily or weekly cycle can be found; resample") {
		t.Errorf("exit %d, stdout %q, want the note on the step", r.Code, r.Out)
	}
}

// TestBacktestRowsWithoutValue: rows whose value is empty, NaN or null
// (as exports write a missing sample) are gaps, as if the rows were not
// there, and a note says how many.
func TestBacktestRowsWithoutValue(t *testing.T) {
	src, err := os.ReadFile(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(src), "\n")
	blank := map[int]string{3000: "", 3001: "NaN", 3002: "null", 7000: "NaN"}
	var withGaps, without []string
	for i, l := range lines {
		v, ok := blank[i]
		if !ok {
			withGaps, without = append(withGaps, l), append(without, l)
			continue
		}
		ts, _, _ := strings.Cut(l, ",")
		withGaps = append(withGaps, ts+","+v+"\n")
	}
	dir := t.TempDir()
	gapsPath, withoutPath := filepath.Join(dir, "gaps.csv"), filepath.Join(dir, "without.csv")
	for path, rows := range map[string][]string{gapsPath: withGaps, withoutPath: without} {
		if err := os.WriteFile(path, []byte(strings.Join(rows, "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const note = "note: 4 of 10320 rows without a value (empty, NaN, null or infinite) filled from their neighbours"
	const filled = "note: 4 of 10320 samples filled in gaps; a forecast made in a gap sees only the samples up to the last observed one, and is scored against the observed samples of its window (not at all when it holds none)"
	backtestsAlike(t, gapsPath, withoutPath, note, filled)

	r := runCLI(t, "", "backtest", "--trace", gapsPath, "-o", "json")
	var got struct {
		RowsWithoutValue int `json:"rows_without_value"`
		SamplesFilled    int `json:"samples_filled"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || got.RowsWithoutValue != 4 || got.SamplesFilled != 4 {
		t.Errorf("JSON rows_without_value %d, samples_filled %d (%v), want 4 and 4", got.RowsWithoutValue, got.SamplesFilled, err)
	}
	if strings.TrimSpace(r.ErrOut) != note+"\n"+filled {
		t.Errorf("stderr %q, want the notes", r.ErrOut)
	}
}

// TestBacktestValueColumn: a trace with more columns than a time and a
// value is read from the column named value, or the one --column names,
// and backtests as the two-column trace of that column does; without
// either, the error names the columns and the flag.
func TestBacktestValueColumn(t *testing.T) {
	src, err := os.ReadFile(nycTrace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSpace(string(src)), "\n")
	var labelled, series []string
	for i, l := range lines {
		ts, v, _ := strings.Cut(strings.TrimSpace(l), ",")
		if i == 0 {
			labelled = append(labelled, "timestamp,is_anomaly,value\n")
			series = append(series, "Time,gpu0,gpu1\n")
			continue
		}
		labelled = append(labelled, ts+",0,"+v+"\n")
		series = append(series, ts+",1,"+v+"\n")
	}
	dir := t.TempDir()
	labelledPath, seriesPath := filepath.Join(dir, "labelled.csv"), filepath.Join(dir, "series.csv")
	for path, rows := range map[string][]string{labelledPath: labelled, seriesPath: series} {
		if err := os.WriteFile(path, []byte(strings.Join(rows, "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	backtestsAlike(t, labelledPath, nycTrace, "note: values from column value, one of 3; give another with --column")

	r := runCLI(t, "", "backtest", "--trace", seriesPath)
	const want = `header "Time,gpu0,gpu1" has 3 columns and none is named value: more than one column may hold the values; name the value column (one of "gpu0", "gpu1") with --column`
	if r.Code != ExitFailure || !strings.Contains(r.ErrOut, want) {
		t.Errorf("exit %d, stderr %q; want exit %d and %q", r.Code, r.ErrOut, ExitFailure, want)
	}
	r = runCLI(t, "", "backtest", "--trace", seriesPath, "--column", "gpu1", "-o", "json")
	ref := runCLI(t, "", "backtest", "--trace", nycTrace, "-o", "json")
	var got, wantOut struct {
		Column   string          `json:"column"`
		Headline json.RawMessage `json:"headline"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil {
		t.Fatalf("%v: %s %s", err, r.Out, r.ErrOut)
	}
	if err := json.Unmarshal([]byte(ref.Out), &wantOut); err != nil {
		t.Fatal(err)
	}
	if got.Column != "gpu1" || string(got.Headline) != string(wantOut.Headline) || wantOut.Column != "value" {
		t.Errorf("column %q, headline %s; want gpu1 and %s (column %q)", got.Column, got.Headline, wantOut.Headline, wantOut.Column)
	}
	if strings.TrimSpace(r.ErrOut) != "note: values from column gpu1, one of 3; give another with --column" {
		t.Errorf("stderr %q, want the note", r.ErrOut)
	}
}

func TestBacktestHelp(t *testing.T) {
	r := runCLI(t, "", "backtest", "--help")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	for _, want := range []string{
		"lower is better", "MASE       mean absolute scaled error", "in-sample MAE", "Below 1 beats",
		"sMAPE      symmetric mean absolute percentage error", "200%", "previous step's",
		"headline", "repeat the previous row's timestamp", "highest", "4 significant digits",
		"last 7 days", "midnights",
	} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestBacktestConstantHistoryMASE: over a constant history the
// seasonal-naive error that scales MASE is 0; the table says n/a, as the
// JSON says null, not +Inf.
func TestBacktestConstantHistoryMASE(t *testing.T) {
	var b strings.Builder
	b.WriteString("ts,value\n")
	for i := range 4032 {
		v := 42
		if i >= 3000 {
			v = 60
		}
		fmt.Fprintf(&b, "%d,%d\n", 1_700_000_000+300*i, v)
	}
	path := filepath.Join(t.TempDir(), "flat.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "backtest", "-f", path)
	if r.Code != ExitOK {
		t.Fatalf("exit %d: %s", r.Code, r.ErrOut)
	}
	for _, line := range strings.Split(r.Out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 6 && (fields[0] == "mlscale" || fields[0] == "persistence") {
			if fields[3] != "n/a" {
				t.Errorf("%s's MASE %q, want n/a", fields[0], fields[3])
			}
		}
	}
	if strings.Contains(r.Out, "Inf") || strings.Contains(r.Out, "NaN") {
		t.Errorf("report has Inf or NaN:\n%s", r.Out)
	}
}

// TestBacktestSaysBaselinesBlended: on bursty demand, where persistence
// forecasts better than the model week after week, the report says on
// how many steps a baseline was blended into mlscale's forecast; on
// crane_input9 (TestBacktestText), where the model is best, it says
// nothing of them.
func TestBacktestSaysBaselinesBlended(t *testing.T) {
	var b strings.Builder
	b.WriteString("ts,value\n")
	r := rand.New(rand.NewPCG(8, 17))
	vals := make([]float64, 14*1440)
	for range 42 {
		start, n, level := r.IntN(len(vals)), 10+r.IntN(31), 50+150*r.Float64()
		for j := start; j < min(len(vals), start+n); j++ {
			vals[j] = level * (0.8 + 0.4*r.Float64())
		}
	}
	for i, v := range vals {
		fmt.Fprintf(&b, "%d,%.1f\n", 1767571200+60*i, v)
	}
	path := filepath.Join(t.TempDir(), "bursts.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, "", "backtest", "--trace", path)
	line := regexp.MustCompile(`(?m)^a baseline blended into mlscale's forecast on [0-9.]+% of the steps \(it forecast better over the week before, or, in the first day, over the history replayed\), mean weight (0\.[0-9][1-9]|0\.[1-9][0-9]|1\.00)$`)
	if out.Code != ExitOK || !line.MatchString(out.Out) {
		t.Errorf("exit %d, stdout %q, want the line on blended baselines", out.Code, out.Out)
	}
	if plain := runCLI(t, "", "backtest", "-f", crane9Trace); strings.Contains(plain.Out, "blended") {
		t.Errorf("crane_input9 reports blended baselines:\n%s", plain.Out)
	}
}

// TestBacktestSaysPlainMargin: on demand with heavy-tailed spikes at a
// 5% target, the report says on how many steps the plain margin set the
// floors, and the JSON has the share; at the default 2% it says nothing
// of it (the plain margin does not run there).
func TestBacktestSaysPlainMargin(t *testing.T) {
	var b strings.Builder
	b.WriteString("ts,value\n")
	r := rand.New(rand.NewPCG(6, 23))
	for i := range 14 * 1440 {
		v := 100 + 50*math.Sin(2*math.Pi*float64(i)/1440) + 5*r.NormFloat64()
		if r.Float64() < 0.01 {
			v += 50 / math.Pow(1-r.Float64(), 1/1.2) // Pareto, shape 1.2
		}
		fmt.Fprintf(&b, "%d,%.2f\n", 1767571200+60*i, max(0, v))
	}
	path := filepath.Join(t.TempDir(), "spikes.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, "", "backtest", "-f", path, "--target-under", "5%")
	line := regexp.MustCompile(`(?m)^the plain margin \(the residual score alone\) set the floors on [1-9][0-9.]*% of the steps: the main margins cost more on this demand's spikes$`)
	if out.Code != ExitOK || !line.MatchString(out.Out) {
		t.Errorf("exit %d, stdout %q, want the line on the plain margin", out.Code, out.Out)
	}
	js := runCLI(t, "", "backtest", "-f", path, "--target-under", "5%", "-o", "json")
	var got struct {
		PlainMarginPct float64 `json:"plain_margin_pct"`
	}
	if err := json.Unmarshal([]byte(js.Out), &got); err != nil || got.PlainMarginPct <= 0 {
		t.Errorf("JSON plain_margin_pct %v (%v), want a share above 0", got.PlainMarginPct, err)
	}
	if tight := runCLI(t, "", "backtest", "-f", path); strings.Contains(tight.Out, "plain margin") {
		t.Errorf("the report at 2%% mentions the plain margin:\n%s", tight.Out)
	}
}

// TestBacktestSaysDemandOutgrewTheCeiling: demand that grows far past the
// training part's peak meets the floors' ceiling; the report says on how
// many steps and at how many replicas, and the JSON has both; crane_input9
// never reaches it, and its report says nothing of it.
func TestBacktestSaysDemandOutgrewTheCeiling(t *testing.T) {
	n := 14 * 288
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = 100 + 40*math.Sin(2*math.Pi*float64(i)/288)
		if i >= n/2 {
			vals[i] *= 1 + 4*float64(i-n/2)/float64(n/2)
		}
	}
	path := traceCSV(t, "growth.csv", 300, vals)
	out := runCLI(t, "", "backtest", "-f", path)
	line := regexp.MustCompile(`(?m)^on [1-9][0-9.]*% of the steps the floor was at its ceiling, [0-9]+ replicas \(twice the training part's peak, where a workload has its mlscale\.io/max-replicas\), and under the actual peak: demand outgrew the training part, and these steps count in the floors' under-provisioning$`)
	if out.Code != ExitOK || !line.MatchString(out.Out) {
		t.Errorf("exit %d, stdout %q, want the line on the ceiling", out.Code, out.Out)
	}
	js := runCLI(t, "", "backtest", "-f", path, "-o", "json")
	var got struct {
		Ceiling int     `json:"floor_ceiling"`
		Under   float64 `json:"under_at_ceiling_pct"`
	}
	if err := json.Unmarshal([]byte(js.Out), &got); err != nil || got.Ceiling <= 0 || got.Under <= 0 {
		t.Errorf("JSON floor_ceiling %d, under_at_ceiling_pct %v (%v), want both above 0", got.Ceiling, got.Under, err)
	}
	if plain := runCLI(t, "", "backtest", "-f", crane9Trace); strings.Contains(plain.Out, "ceiling") {
		t.Errorf("crane_input9 reports its floors at the ceiling:\n%s", plain.Out)
	}
}

// TestBacktestSaysFarRuns: a scrape that read a million on a daily sine
// of 100 +- 40, in the evaluated part, is a far run: the report says that
// one evaluated sample was left out of the forecasts and the calibration,
// and the JSON counts it; crane_input9's report says nothing of it.
func TestBacktestSaysFarRuns(t *testing.T) {
	vals := make([]float64, 8*288)
	for i := range vals {
		vals[i] = 100 + 40*math.Sin(2*math.Pi*float64(i)/288)
	}
	vals[6*288] = 1e6
	path := traceCSV(t, "glitch.csv", 300, vals)
	out := runCLI(t, "", "backtest", "-f", path)
	line := regexp.MustCompile(`(?m)^1 evaluated sample over a hundred times anything of the week before \(a scrape gone wrong, in runs of one or two\): the forecasts made at them did not provision for them and the floors' calibration left them out; the errors and under-provisioning below count them$`)
	if out.Code != ExitOK || !line.MatchString(out.Out) {
		t.Errorf("exit %d, stdout %q, want the line on the far run", out.Code, out.Out)
	}
	js := runCLI(t, "", "backtest", "-f", path, "-o", "json")
	var got struct {
		Far *int `json:"far_run_samples"`
	}
	if err := json.Unmarshal([]byte(js.Out), &got); err != nil || got.Far == nil || *got.Far != 1 {
		t.Errorf("JSON far_run_samples %v (%v), want 1", got.Far, err)
	}
	if plain := runCLI(t, "", "backtest", "-f", crane9Trace); strings.Contains(plain.Out, "scrape gone wrong") {
		t.Errorf("crane_input9 reports a far run:\n%s", plain.Out)
	}
}

// TestTrainSamples: --train as a count, a fraction, a percentage or a
// duration of a trace of 1,000 five-minute samples.
func TestTrainSamples(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 500, true}, {"300", 300, true}, {"0.6", 600, true}, {"60%", 600, true}, {"12.5 %", 125, true},
		{"24h", 288, true}, {"7m", 1, true}, {"1h2m", 12, true}, {"7d", 2016, true}, {"1w", 2016, true}, {"1d12h", 432, true},
		{"0", 0, false}, {"-5", 0, false}, {"1", 1, true}, {"1.0", 0, false}, {"0%", 0, false}, {"100%", 0, false},
		{"150%", 0, false}, {"%", 0, false}, {"0s", 0, false}, {"4m", 0, false}, {"NaN", 0, false}, {"half", 0, false},
	} {
		got, err := trainSamples(tt.in, 1000, 5*time.Minute)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("--train %q: %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestBacktestTrainForms: --train as a fraction, a percentage, a count and
// a duration of the same history gives the same report.
func TestBacktestTrainForms(t *testing.T) {
	// nyc_taxi: 10,320 half-hour samples; 60% is 6,192 of them, 3,096 hours.
	var want string
	for _, train := range []string{"0.6", "60%", "6192", "3096h"} {
		r := runCLI(t, "", "backtest", "--trace", nycTrace, "--train", train, "-o", "json")
		if r.Code != ExitOK {
			t.Fatalf("--train %s: exit %d, stderr %q", train, r.Code, r.ErrOut)
		}
		if !strings.Contains(r.Out, `"train_points": 6192`) {
			t.Errorf("--train %s: want 6192 training samples in %s", train, r.Out[:min(len(r.Out), 600)])
		}
		if want == "" {
			want = r.Out
		} else if r.Out != want {
			t.Errorf("--train %s: report differs from --train 0.6's", train)
		}
	}
}

// TestBacktestNotesCountMerged: the merge note says "1 row" or "1
// sample" for one, as the held-out NAB occupancy trace with two samples
// at 05:33 has, and the plural for more.
func TestBacktestNotesCountMerged(t *testing.T) {
	s := predictor.Series{Start: time.Unix(0, 0), Step: time.Minute, Values: make([]float64, 10)}
	for _, tt := range []struct {
		merged int
		query  string
		want   string
	}{
		{1, "", "note: 1 row with a repeated timestamp merged (kept the maximum)"},
		{3, "", "note: 3 rows with a repeated timestamp merged (kept the maximum)"},
		{1, "up", "note: 1 sample on a step that had one merged (kept the maximum)"},
		{2, "up", "note: 2 samples on a step that had one merged (kept the maximum)"},
	} {
		notes := backtestNotes(backtestConfig{DemandQuery: tt.query}, s, predictor.TraceInfo{Merged: tt.merged, Rows: 10})
		if !slices.Contains(notes, tt.want) {
			t.Errorf("merged %d, query %q: notes %q, want %q", tt.merged, tt.query, notes, tt.want)
		}
	}
}

// TestBacktestRepeatedHour: a trace exported in local time repeats an hour
// when the clocks go back (NAB's machine_temperature_system_failure has
// one): the backtest puts the few rows out of time order in order, says
// so in a note naming the first one, and counts them in JSON.
func TestBacktestRepeatedHour(t *testing.T) {
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	start := time.Date(2024, 10, 20, 0, 0, 0, 0, time.UTC)
	row := func(i int, v float64) {
		fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), v)
	}
	for i := range 7 * 288 {
		row(i, 50+20*math.Sin(2*math.Pi*float64(i)/288))
		if i == 1800+11 {
			for j := 1800; j < 1800+11; j++ {
				row(j, 60)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "local.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "backtest", "-f", path, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("backtest: exit %d\n%s", r.Code, r.ErrOut)
	}
	var got struct {
		RowsOutOfOrder int `json:"rows_out_of_order"`
		RowsMerged     int `json:"rows_merged"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || got.RowsOutOfOrder != 11 || got.RowsMerged != 11 {
		t.Errorf("JSON rows_out_of_order %d, rows_merged %d (%v); want 11 and 11", got.RowsOutOfOrder, got.RowsMerged, err)
	}
	want := "note: 11 rows out of time order put in order (the first at line 1814, 2024-10-26 06:00:00 after a row at 2024-10-26 06:55:00)"
	if !strings.Contains(r.ErrOut, want) {
		t.Errorf("stderr %q, want %q", r.ErrOut, want)
	}
}

// traceCSV writes vals as a "ts,value" trace, in Unix seconds from
// 2026-01-05 00:00 UTC every step seconds and values to two decimals, to
// name in a temporary directory, and returns its path.
func traceCSV(t *testing.T, name string, step int, vals []float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("ts,value\n")
	for i, v := range vals {
		fmt.Fprintf(&b, "%d,%.2f\n", 1767571200+step*i, v)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBacktestWeekBaselineShortOfAWeek: with a training part three samples
// short of a week, the week baseline stays in the table and a line says on
// how many steps it took the day-ago window; the JSON counts them.
func TestBacktestWeekBaselineShortOfAWeek(t *testing.T) {
	r := runCLI(t, "", "backtest", "-f", crane9Trace, "--train", "10077")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	for _, want := range []string{
		"seasonal_naive_week took the day-ago window on 3 evaluated steps, whose week-ago window starts before the trace",
		"  " + predictor.BaselineSeasonalNaiveWeek + " ",
	} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Out)
		}
	}
	r = runCLI(t, "", "backtest", "-f", crane9Trace, "--train", "10077", "-o", "json")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	var got struct {
		DaySteps  int            `json:"week_baseline_day_steps"`
		Baselines map[string]any `json:"baselines"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Baselines[predictor.BaselineSeasonalNaiveWeek]; !ok || got.DaySteps != 3 {
		t.Errorf("JSON: week baseline present %v, week_baseline_day_steps %d; want true, 3", ok, got.DaySteps)
	}
}
