package validate

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mlscale/mlscale/internal/policy"
)

// Metrics count the policy violations the validating webhook finds at
// admission.
type Metrics struct {
	violations *prometheus.CounterVec
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlscale_policy_admission_violations_total",
			Help: "Policy violations found at admission (dry runs not counted), by policy, action (deny: the request was refused; warn; audit), namespace and kind of the object.",
		}, []string{"policy", "action", "namespace", "kind"}),
	}
}

// Register registers the metrics with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	if err := reg.Register(m.violations); err != nil {
		return fmt.Errorf("registering the admission policy metrics: %w", err)
	}
	return nil
}

// DefaultMetrics returns the metrics registered in controller-runtime's
// metrics.Registry, registering them on first use; several managers in one
// process (tests) share them.
func DefaultMetrics() (*Metrics, error) { return defaultMetrics() }

var defaultMetrics = sync.OnceValues(func() (*Metrics, error) {
	m := NewMetrics()
	return m, m.Register(crmetrics.Registry)
})

// observe counts the violations of one admission review.
func (m *Metrics) observe(namespace, kind string, vs []policy.Violation) {
	if m == nil {
		return
	}
	for _, v := range vs {
		m.violations.WithLabelValues(v.Policy, string(v.Action), namespace, kind).Inc()
	}
}
