package floorwriter

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmanager "sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mlscale/mlscale/internal/controller"
	"github.com/mlscale/mlscale/internal/promsource"
)

// The predictor runs as a sidecar under the webhook's ServiceAccount; it
// reads annotated workloads and patches their predicted-floor annotations,
// records Events, and holds its own Lease (the manager's Role covers Leases).
// `make manifests` merges these markers into config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Defaults of RunConfig.
const (
	DefaultMetricsAddr      = ":8082"
	DefaultProbeAddr        = ":8083"
	DefaultLeaderElectionID = "mlscale-predictor"
)

// RunConfig configures the `mlscale predictor` process.
type RunConfig struct {
	// Writer configures the cycles.
	Writer Config
	// Source configures the Prometheus client (Source.URL is required).
	Source promsource.Config

	// RESTConfig reaches the API server; nil means Kubeconfig, or else
	// controller-runtime's lookup (KUBECONFIG, in-cluster, ~/.kube/config).
	RESTConfig *rest.Config
	// Kubeconfig is a kubeconfig file, used when RESTConfig is nil.
	Kubeconfig string
	// MetricsAddr serves the metrics ("0" disables it); ProbeAddr serves
	// /healthz and /readyz ("0" disables them).
	MetricsAddr, ProbeAddr string
	// LeaderElection makes only the elected replica write floors, with the
	// Lease LeaderElectionID in LeaderElectionNamespace (the pod's own
	// namespace when empty).
	LeaderElection          bool
	LeaderElectionNamespace string
	LeaderElectionID        string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registry receives the predictor's metrics; controller-runtime's
	// registry (served on MetricsAddr) when nil.
	Registry prometheus.Registerer
}

// DefaultRunConfig returns the defaults `mlscale predictor` starts from.
func DefaultRunConfig() RunConfig {
	return RunConfig{
		MetricsAddr:      DefaultMetricsAddr,
		ProbeAddr:        DefaultProbeAddr,
		LeaderElection:   true,
		LeaderElectionID: DefaultLeaderElectionID,
	}
}

// NewManager builds a controller-runtime manager running a Writer (on the
// leader only), metrics and health probes, ready to Start. Workloads are read
// from the manager's informer cache (unannotated ones as metadata only).
func NewManager(cfg RunConfig) (crmanager.Manager, *Writer, error) {
	restConfig := cfg.RESTConfig
	if restConfig == nil {
		var err error
		if cfg.Kubeconfig != "" {
			restConfig, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		} else {
			restConfig, err = ctrl.GetConfig()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("loading the Kubernetes client configuration: %w", err)
		}
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, nil, fmt.Errorf("registering Kubernetes types: %w", err)
	}
	if cfg.LeaderElectionID == "" {
		cfg.LeaderElectionID = DefaultLeaderElectionID
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme: scheme,
		// Unannotated workloads are cached as metadata only.
		Cache:                         cache.Options{DefaultTransform: controller.CacheTransform},
		Metrics:                       metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:        cfg.ProbeAddr,
		LeaderElection:                cfg.LeaderElection,
		LeaderElectionNamespace:       cfg.LeaderElectionNamespace,
		LeaderElectionID:              cfg.LeaderElectionID,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the manager: %w", err)
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
	})
	if err := mgr.Add(w); err != nil {
		return nil, nil, fmt.Errorf("adding the predictor: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, fmt.Errorf("adding the ready check: %w", err)
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
