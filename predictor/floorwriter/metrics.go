package floorwriter

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the predictor's Prometheus metrics. Per-workload series carry
// the labels namespace, kind and workload, and are deleted when the workload
// stops being predictive.
type Metrics struct {
	forecast     *prometheus.GaugeVec
	upper        *prometheus.GaugeVec
	actual       *prometheus.GaugeVec
	rollingError *prometheus.GaugeVec
	floor        *prometheus.GaugeVec
	targetUnder  *prometheus.GaugeVec
	under        *prometheus.GaugeVec
	overRatio    *prometheus.GaugeVec
	fallback     *prometheus.GaugeVec
	failures     *prometheus.CounterVec
	cycle        prometheus.Histogram
	workloads    prometheus.Gauge
}

var workloadLabels = []string{"namespace", "kind", "workload"}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, workloadLabels)
	}
	return &Metrics{
		forecast:     gauge("mlscale_predictor_forecast_demand", "Forecast peak demand over the lookahead window, made at the latest sample."),
		upper:        gauge("mlscale_predictor_forecast_upper_demand", "Calibrated upper bound of the forecast peak demand, which the floor provisions for."),
		actual:       gauge("mlscale_predictor_actual_demand", "Latest observed demand (the demand query's last sample)."),
		rollingError: gauge("mlscale_predictor_rolling_error", "Weighted absolute percentage error of the latest evaluated forecasts (0.2 = 20% of demand)."),
		floor:        gauge("mlscale_predictor_floor_replicas", "Replica floor written as mlscale.io/predicted-floor."),
		targetUnder:  gauge("mlscale_predictor_target_under_ratio", "Share of steps in which demand may exceed the floor's capacity, the target the floors are calibrated to (0.02 = 2%)."),
		under:        gauge("mlscale_predictor_under_ratio", "Share of the latest evaluated floors whose capacity was below the actual peak of their window (the achieved rate; compare with mlscale_predictor_target_under_ratio)."),
		overRatio:    gauge("mlscale_predictor_floor_capacity_vs_peak_ratio", "Mean capacity of the latest evaluated floors over the mean actual peak of their windows (above 1: over-provisioning)."),
		fallback: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mlscale_predictor_fallback",
			Help: "1 when the predictor does not raise the workload's floor, by reason: rolling-error (forecasts too wrong), no-data (holding or fallen back to min).",
		}, append(append([]string(nil), workloadLabels...), "reason")),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlscale_predictor_failures_total",
			Help: "Workload forecasts that failed, by stage: query, fit, render, facts, patch.",
		}, append(append([]string(nil), workloadLabels...), "stage")),
		cycle: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mlscale_predictor_cycle_duration_seconds",
			Help:    "Time one predictor cycle over every predictive workload takes.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		workloads: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlscale_predictor_workloads",
			Help: "Predictive workloads seen in the latest cycle.",
		}),
	}
}

// Register registers the metrics with reg. Metrics that reg already holds
// (a second predictor manager in the same process, as in tests, registering
// with controller-runtime's global registry) are adopted, so that both update
// the series reg serves instead of the second failing to start.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	var errs []error
	for _, v := range []**prometheus.GaugeVec{&m.forecast, &m.upper, &m.actual, &m.rollingError, &m.floor, &m.targetUnder, &m.under, &m.overRatio, &m.fallback} {
		errs = append(errs, register(reg, v))
	}
	errs = append(errs, register(reg, &m.failures), register(reg, &m.cycle), register(reg, &m.workloads))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("registering predictor metrics: %w", err)
	}
	return nil
}

// register registers *c with reg, or adopts the collector of the same type
// that reg already holds under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return nil
		}
	}
	return err
}

// Fallback reasons of mlscale_predictor_fallback.
const (
	fallbackRollingError = "rolling-error"
	fallbackNoData       = "no-data"
)

func (m *Metrics) forget(l prometheus.Labels) {
	for _, v := range []*prometheus.GaugeVec{m.forecast, m.upper, m.actual, m.rollingError, m.floor, m.targetUnder, m.under, m.overRatio, m.fallback} {
		v.DeletePartialMatch(l)
	}
	m.failures.DeletePartialMatch(l)
}
