package floorwriter

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
)

// FuzzRestoreState feeds arbitrary text as a workload's
// mlscale.io/predictor-state, for the query and lookahead it was saved
// for: restoring it never panics; a part that does not parse is an error
// that names the annotation and the part; and whatever was restored
// reports figures in range and is saved again without an error (JSON has
// no NaN, so a NaN restored would fail there).
func FuzzRestoreState(f *testing.F) {
	const query = "sum(demand)"
	var (
		sel     predictor.Selector
		rolling = Rolling{Window: 60, FloorWindow: 1440}
		t0      = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	)
	flat := predictor.Series{Start: t0, Step: time.Minute, Values: make([]float64, 200)}
	for i := range flat.Values {
		flat.Values[i] = 100
	}
	for m := range 150 {
		f := predictor.Forecast{Time: t0.Add(time.Duration(m) * time.Minute), Peak: 90, Mixture: 90, Baselines: [predictor.NumBaselines]float64{100, 95, math.NaN(), math.NaN()}}
		rolling.AddForecast(f, 15*time.Minute, float64(90+m%20))
	}
	for _, e := range rolling.Evaluate(flat) {
		sel.Observe(e.Forecast, e.Actual)
	}
	cal, _ := predictor.NewCalibrator(0.02, time.Minute, 15*time.Minute)
	cal.Seed([]float64{1, -2, 3})
	cal.Observe(10, 90, true)
	saved, err := encodeState(&sel, cal, &rolling, query, 15*time.Minute)
	if err != nil || saved == "" {
		f.Fatalf("seed: %q, %v", saved, err)
	}
	f.Add(saved)
	f.Add(`{"v":1,"lookahead":"15m0s","query":"` + queryHash(query) + `","rolling":{"errors":{"n":3,"absErr":1,"actual":0},"floors":{"n":2,"set":2,"under":2,"capacity":0,"actual":5}}}`)
	f.Add(`{"v":1,"lookahead":"15m0s","query":"` + queryHash(query) + `","rolling":{"floors":{"n":1e308,"set":1e308,"under":1e308,"capacity":1e308,"actual":1e308}}}`)
	f.Add(`{"v":2}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var sel predictor.Selector
		rolling := Rolling{Window: 60, FloorWindow: 1440}
		cal, ok, err := restoreState(&sel, &rolling, raw, query, 15*time.Minute, 0.02, time.Minute)
		if err != nil && !strings.HasPrefix(err.Error(), intent.KeyPredictorState+": ") {
			t.Fatalf("error %q does not name %s", err, intent.KeyPredictorState)
		}
		if !ok {
			return
		}
		wape, n := rolling.Error()
		if n < 0 || n > 60 || math.IsNaN(wape) || wape < 0 {
			t.Fatalf("restored rolling error %v over %d forecasts", wape, n)
		}
		under, over, floors := rolling.Provisioning()
		if floors < 0 || floors > 1440 || !(under >= 0 && under <= 1) || (over != nil && (math.IsNaN(*over) || *over < 0)) {
			t.Fatalf("restored provisioning: %v under, %v over, %d floors", under, over, floors)
		}
		if _, err := encodeState(&sel, cal, &rolling, query, 15*time.Minute); err != nil {
			t.Fatalf("what was restored is not saved again: %v", err)
		}
	})
}
