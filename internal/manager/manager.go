// Package manager wires the long-running `mlscale webhook` process: one
// controller-runtime manager serving the admission webhook (on every
// replica), running the reconciler (on the elected leader only), and serving
// metrics and health probes.
package manager

import (
	"context"
	"fmt"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmanager "sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/mlscale/mlscale/internal/audit"
	"github.com/mlscale/mlscale/internal/controller"
	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/inventory"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/userpolicy"
	"github.com/mlscale/mlscale/internal/webhook/mutate"
	"github.com/mlscale/mlscale/internal/webhook/validate"
)

// Defaults of Config.
const (
	DefaultCertDir          = "/tmp/k8s-webhook-server/serving-certs"
	DefaultPort             = 9443
	DefaultMetricsAddr      = ":8080"
	DefaultProbeAddr        = ":8081"
	DefaultLeaderElectionID = "mlscale-reconciler"
)

// Leader election needs a Lease in the manager's namespace; `make manifests`
// turns this marker into a Role in config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=mlscale-system,resources=leases,verbs=get;list;watch;create;update;patch;delete

// The mutating webhook for workloads; `make manifests` turns this marker into
// config/webhook/manifests.yaml (config/default adds the namespaceSelector).
//
// +kubebuilder:webhook:path=/mutate-mlscale-workloads,mutating=true,failurePolicy=ignore,sideEffects=None,groups=apps;batch,resources=deployments;statefulsets;jobs,verbs=create;update,versions=v1,name=mutate.mlscale.io,admissionReviewVersions=v1,reinvocationPolicy=Never,timeoutSeconds=5

// The validating webhook (policies), one entry per failurePolicy choice
// (docs/policies.md explains them): HPAs fail open (KEDA's operator and
// every HPA user must never wait on mlscale; the audit loop reports what
// slipped through); a new ScaledObject or ScaledJob fails closed (the
// credential and endpoint rules protect the KEDA operator); updates of KEDA
// objects fail open (KEDA's operator adds and removes its finalizer with
// updates); annotated workloads fail open, as the mutating webhook does.
//
// +kubebuilder:webhook:path=/validate-mlscale-policies,mutating=false,failurePolicy=ignore,sideEffects=None,groups=autoscaling,resources=horizontalpodautoscalers,verbs=create;update,versions=v2,name=hpa.policies.mlscale.io,admissionReviewVersions=v1,timeoutSeconds=5
// +kubebuilder:webhook:path=/validate-mlscale-policies,mutating=false,failurePolicy=fail,sideEffects=None,groups=keda.sh,resources=scaledobjects;scaledjobs,verbs=create,versions=v1alpha1,name=keda-create.policies.mlscale.io,admissionReviewVersions=v1,timeoutSeconds=5
// +kubebuilder:webhook:path=/validate-mlscale-policies,mutating=false,failurePolicy=ignore,sideEffects=None,groups=keda.sh,resources=scaledobjects;scaledjobs,verbs=update,versions=v1alpha1,name=keda-update.policies.mlscale.io,admissionReviewVersions=v1,timeoutSeconds=5
// +kubebuilder:webhook:path=/validate-mlscale-policies,mutating=false,failurePolicy=ignore,sideEffects=None,groups=apps;batch,resources=deployments;statefulsets;jobs,verbs=create;update,versions=v1,name=workloads.policies.mlscale.io,admissionReviewVersions=v1,timeoutSeconds=5

// Config configures `mlscale webhook`.
type Config struct {
	// RESTConfig reaches the API server; nil means Kubeconfig, or else
	// controller-runtime's lookup (KUBECONFIG, in-cluster, ~/.kube/config).
	RESTConfig *rest.Config
	// Kubeconfig is a kubeconfig file, used when RESTConfig is nil.
	Kubeconfig string

	// CertDir holds the webhook's serving certificate and key (tls.crt and
	// tls.key, or CertName and KeyName); they are reloaded when they
	// change (controller-runtime's certwatcher).
	CertDir           string
	CertName, KeyName string
	// Host and Port are where the webhook server listens; "" is every
	// interface.
	Host string
	Port int

	// MetricsAddr is the metrics endpoint's address ("0" disables it).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz ("0" disables it).
	ProbeAddr string

	// LeaderElection runs the reconciler on one elected replica; the
	// webhook is served by every replica either way.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease; empty means the pod's own
	// namespace (in-cluster).
	LeaderElectionNamespace string
	// LeaderElectionID names the Lease; DefaultLeaderElectionID when empty.
	LeaderElectionID string

	// Facts are the static cluster facts (cluster domain, default
	// Prometheus server, GPU budget); each namespace's ResourceQuotas can
	// lower the GPU budget further.
	Facts render.Facts

	// GracefulShutdown bounds how long runnables get to stop; 30s when zero.
	GracefulShutdown time.Duration

	// Policy is the policy configuration: enforcement actions, GPU
	// budgets, the trigger endpoint allowlist. Actions may name user
	// policies that are not loaded yet.
	Policy policy.Config
	// PolicyNamespace holds the user policy ConfigMaps (label
	// mlscale.io/policy=true); empty disables user policies.
	PolicyNamespace string
	// AuditInterval is the time between two policy audit rounds (on the
	// leader); 0 disables the audit.
	AuditInterval time.Duration
}

// DefaultConfig returns the defaults `mlscale webhook` starts from.
func DefaultConfig() Config {
	return Config{
		CertDir:          DefaultCertDir,
		Port:             DefaultPort,
		MetricsAddr:      DefaultMetricsAddr,
		ProbeAddr:        DefaultProbeAddr,
		LeaderElection:   true,
		LeaderElectionID: DefaultLeaderElectionID,
		Facts:            render.DefaultFacts(),
		AuditInterval:    audit.DefaultInterval,
	}
}

// Scheme returns the types mlscale reads and writes: Kubernetes' built-in
// types and KEDA's.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering Kubernetes types: %w", err)
	}
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering KEDA types: %w", err)
	}
	return s, nil
}

// New builds the manager with the webhook, the reconciler, metrics and
// probes registered, ready to Start.
func New(cfg Config) (crmanager.Manager, error) {
	restConfig, err := cfg.restConfig()
	if err != nil {
		return nil, err
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	if cfg.LeaderElectionID == "" {
		cfg.LeaderElectionID = DefaultLeaderElectionID
	}
	graceful := cfg.GracefulShutdown
	if graceful == 0 {
		graceful = 30 * time.Second
	}
	cacheOpts := cache.Options{
		// Unannotated workloads are cached as metadata only.
		DefaultTransform: controller.CacheTransform,
	}
	if cfg.PolicyNamespace != "" {
		// Only the policy ConfigMaps are watched, not every ConfigMap.
		cacheOpts.ByObject = map[client.Object]cache.ByObject{&corev1.ConfigMap{}: {
			Namespaces: map[string]cache.Config{cfg.PolicyNamespace: {}},
			Label:      labels.SelectorFromSet(labels.Set{userpolicy.Label: "true"}),
		}}
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:  scheme,
		Cache:   cacheOpts,
		Metrics: metricsserver.Options{BindAddress: cfg.MetricsAddr},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: cfg.Host, Port: cfg.Port, CertDir: cfg.CertDir, CertName: cfg.CertName, KeyName: cfg.KeyName,
		}),
		HealthProbeBindAddress: cfg.ProbeAddr,
		// The controllers need the lease; the webhook server, metrics and
		// probes do not (they are not LeaderElectionRunnables that ask
		// for it), so every replica answers admission.
		LeaderElection:                cfg.LeaderElection,
		LeaderElectionNamespace:       cfg.LeaderElectionNamespace,
		LeaderElectionID:              cfg.LeaderElectionID,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &graceful,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}

	// Admission reads the namespace's ResourceQuotas and the policies'
	// inventory on every replica: start their informers with the cache,
	// not on the first request.
	ctx := context.Background()
	if err := inventory.SetupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{&corev1.ResourceQuota{}, &autoscalingv2.HorizontalPodAutoscaler{}, &kedav1alpha1.ScaledObject{}, &kedav1alpha1.ScaledJob{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return nil, fmt.Errorf("watching %T: %w", obj, err)
		}
	}
	factsFn := facts.FromCluster(mgr.GetClient(), cfg.Facts)
	mgr.GetWebhookServer().Register(mutate.Path, mutate.Webhook(&mutate.Handler{Facts: factsFn}))
	if err := setupPolicies(ctx, mgr, cfg, factsFn); err != nil {
		return nil, err
	}
	if err := controller.SetupWithManager(mgr, controller.Options{Facts: factsFn}); err != nil {
		return nil, fmt.Errorf("setting up the reconciler: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return nil, fmt.Errorf("adding the webhook readiness check: %w", err)
	}
	return mgr, nil
}

// setupPolicies registers the validating webhook, the user policy loader
// and the audit loop.
func setupPolicies(ctx context.Context, mgr crmanager.Manager, cfg Config, factsFn func(context.Context, string) (render.Facts, error)) error {
	builtin, err := policy.BuiltinModules()
	if err != nil {
		return err
	}
	engine, err := policy.NewFromModules(ctx, builtin, cfg.Policy)
	if err != nil {
		return err
	}
	log := mgr.GetLogger().WithName("policies")
	if unknown := cfg.Policy.UnknownPolicies(engine.Policies()); len(unknown) > 0 {
		log.Info("the policy configuration sets actions of policies that are not built in; they apply once user policies of these names load", "policies", unknown)
	}
	engines := policy.NewHolder(engine)
	inv := inventory.Source{Reader: mgr.GetCache()}
	admissionMetrics, err := validate.DefaultMetrics()
	if err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(validate.Path, validate.Webhook(&validate.Handler{Engines: engines, Inventory: inv, Facts: validate.FactsFunc(factsFn), Metrics: admissionMetrics}))
	if cfg.PolicyNamespace != "" {
		err := userpolicy.SetupWithManager(mgr, userpolicy.Options{Namespace: cfg.PolicyNamespace, Builtin: builtin, Config: cfg.Policy, Engines: engines})
		if err != nil {
			return err
		}
	}
	if cfg.AuditInterval > 0 {
		a := &audit.Auditor{
			Reader: mgr.GetCache(), Engines: engines, Inventory: inv, Facts: factsFn,
			Recorder: mgr.GetEventRecorder(audit.EventSource), Interval: cfg.AuditInterval,
		}
		if err := mgr.Add(a); err != nil {
			return fmt.Errorf("adding the policy audit: %w", err)
		}
	}
	return nil
}

// Run builds the manager and runs it until ctx is cancelled.
func Run(ctx context.Context, cfg Config) error {
	mgr, err := New(cfg)
	if err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}

func (cfg Config) restConfig() (*rest.Config, error) {
	if cfg.RESTConfig != nil {
		return cfg.RESTConfig, nil
	}
	if cfg.Kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
		if c.QPS == 0 {
			// As ctrl.GetConfig does: rely on the API server's priority and
			// fairness instead of client-go's default of 5 QPS, which made
			// 1,000 workloads take 10x longer to converge.
			c.QPS = -1
		}
		return c, nil
	}
	c, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the API server (set --kubeconfig or KUBECONFIG, or run in a cluster): %w", err)
	}
	return c, nil
}
