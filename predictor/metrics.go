package predictor

import (
	"encoding/json"
	"math"
)

// Metrics are the accuracy and provisioning figures of one forecaster over
// a backtest.
type Metrics struct {
	// MAE is the mean absolute error of the forecast peak.
	MAE float64 `json:"mae"`
	// SMAPE is the symmetric mean absolute percentage error, 0..200.
	SMAPE float64 `json:"smape"`
	// MASE is MAE divided by the in-sample MAE of the daily seasonal-naive
	// peak forecast on the training part; below 1 beats it.
	MASE float64 `json:"mase"`
	// UnderPct is the percentage of steps where the floor's capacity was
	// below the actual peak.
	UnderPct float64 `json:"under_pct"`
	// OverMean is the mean number of replicas the floor held beyond those
	// the actual peak needed.
	OverMean float64 `json:"over_mean"`
}

// MarshalJSON writes the metrics, with null for a figure that is not a
// finite number: MASE is undefined when the training part is constant (the
// seasonal-naive error it is scaled by is 0), and JSON has no infinity.
func (m Metrics) MarshalJSON() ([]byte, error) {
	finite := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		MAE      *float64 `json:"mae"`
		SMAPE    *float64 `json:"smape"`
		MASE     *float64 `json:"mase"`
		UnderPct *float64 `json:"under_pct"`
		OverMean *float64 `json:"over_mean"`
	}{finite(m.MAE), finite(m.SMAPE), finite(m.MASE), finite(m.UnderPct), finite(m.OverMean)})
}

// accuracy returns MAE and sMAPE of forecasts against actuals.
func accuracy(forecast, actual []float64) (mae, smape float64) {
	for i, f := range forecast {
		a := actual[i]
		mae += math.Abs(f - a)
		if d := math.Abs(f) + math.Abs(a); d > 0 {
			smape += 200 * math.Abs(f-a) / d
		}
	}
	n := float64(len(forecast))
	return mae / n, smape / n
}

// provisioning returns the percentage of steps whose floor capacity is below
// the actual peak, and the mean over-provisioning in replicas.
func provisioning(floors []int, actual []float64, capacity float64) (underPct, overMean float64) {
	var under int
	for i, f := range floors {
		need := replicasFor(actual[i], capacity)
		if float64(f)*capacity < actual[i] {
			under++
		}
		overMean += float64(max(0, f-need))
	}
	n := float64(len(floors))
	return 100 * float64(under) / n, overMean / n
}

// replicasFor returns the replicas that serve demand at capacity each.
func replicasFor(demand, capacity float64) int {
	if demand <= 0 {
		return 0
	}
	// A demand far beyond the capacity (an outlier row, a tiny
	// --capacity-per-replica) is held at MaxSimReplicas rather than
	// overflowing int.
	return int(min(math.Ceil(demand/capacity-1e-9), MaxSimReplicas))
}

// MaxSimReplicas is the most replicas the backtest's floors and
// simulations count: far above what a workload may ask for
// (mlscale.io/max-replicas is at most 10,000).
const MaxSimReplicas = 1 << 30
