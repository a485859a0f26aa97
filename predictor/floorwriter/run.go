package floorwriter

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	crmanager "sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/predictor/promsource"
)

// The predictor runs as a sidecar under the webhook's ServiceAccount; it
// reads annotated workloads and patches their predicted-floor annotations,
// records Events, and holds its own Lease (the manager's Role covers Leases).
// `make manifests` merges these markers into config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=resourcequotas,verbs=get;list;watch

// Defaults of RunConfig.
const (
	DefaultMetricsAddr      = ":8082"
	DefaultProbeAddr        = ":8083"
	DefaultLeaderElectionID = "mlscale-predictor"
)

// RunConfig configures the `mlscale predictor` process.
type RunConfig struct {
	// Options are the manager's: API server, metrics, probes, leader
	// election (only the elected replica writes floors).
	manager.Options
	// Writer configures the cycles.
	Writer Config
	// Source configures the Prometheus client (Source.URL is required).
	Source promsource.Config
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registry receives the predictor's metrics; controller-runtime's
	// registry (served on MetricsAddr) when nil.
	Registry prometheus.Registerer
}

// DefaultRunConfig returns the defaults `mlscale predictor` starts from
// (without a Prometheus URL).
func DefaultRunConfig() RunConfig {
	return RunConfig{
		Options: manager.Options{
			MetricsAddr:      DefaultMetricsAddr,
			ProbeAddr:        DefaultProbeAddr,
			LeaderElection:   true,
			LeaderElectionID: DefaultLeaderElectionID,
			GracefulShutdown: manager.DefaultGracefulShutdown,
		},
		Writer: DefaultConfig(),
		Source: promsource.DefaultConfig(),
	}
}

// NewManager builds a manager (internal/manager) running a Writer (on the
// leader only), metrics and health probes, ready to Start. Workloads are read
// from the manager's informer cache (unannotated ones as metadata only).
func NewManager(cfg RunConfig) (crmanager.Manager, *Writer, error) {
	if err := cfg.Writer.Check(); err != nil {
		return nil, nil, fmt.Errorf("predictor configuration: %w", err)
	}
	mgr, err := manager.New(cfg.Options, manager.Extras{})
	if err != nil {
		return nil, nil, err
	}
	src, err := promsource.New(cfg.Source)
	if err != nil {
		return nil, nil, err
	}
	metrics := NewMetrics()
	reg := cfg.Registry
	if reg == nil {
		reg = crmetrics.Registry
	}
	if err := metrics.Register(reg); err != nil {
		return nil, nil, err
	}
	w := New(mgr.GetClient(), src, cfg.Writer, Options{
		Now: cfg.Now, Metrics: metrics, Recorder: mgr.GetEventRecorder(EventSource),
		Log: ctrl.Log.WithName("predictor"),
		// Each namespace's GPU budget from its ResourceQuotas (the
		// manager's cache), as the webhook and the reconciler read it.
		Facts: facts.FromCluster(mgr.GetClient(), cfg.Writer.Facts),
	})
	if err := mgr.Add(w); err != nil {
		return nil, nil, fmt.Errorf("adding the predictor: %w", err)
	}
	return mgr, w, nil
}

// Run runs the predictor until ctx ends.
func Run(ctx context.Context, cfg RunConfig) error {
	mgr, _, err := NewManager(cfg)
	if err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the predictor: %w", err)
	}
	return nil
}
