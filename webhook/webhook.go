// Package webhook is the admission side of mlscale and the wiring of the
// `mlscale webhook` process: one controller-runtime manager (internal/manager)
// serving the mutating and validating admission webhooks on every replica
// (webhook/mutate and webhook/validate), running the reconciler
// (webhook/reconciler) and the policy audit (webhook/audit) on the elected
// leader, loading user policies (webhook/userpolicy), and reading the
// policies' inventory from the informer cache (webhook/inventory).
package webhook

import (
	"context"
	"fmt"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmanager "sigs.k8s.io/controller-runtime/pkg/manager"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/vap"
	"github.com/mlscale/mlscale/webhook/audit"
	"github.com/mlscale/mlscale/webhook/inventory"
	"github.com/mlscale/mlscale/webhook/mutate"
	"github.com/mlscale/mlscale/webhook/querycheck"
	"github.com/mlscale/mlscale/webhook/reconciler"
	"github.com/mlscale/mlscale/webhook/userpolicy"
	"github.com/mlscale/mlscale/webhook/validate"
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
	// Options are the manager's: API server, metrics, probes, leader
	// election (the reconciler and the audit need the lease; the webhook is
	// served by every replica either way).
	manager.Options

	// CertDir holds the webhook's serving certificate and key (CertName and
	// KeyName); they are reloaded when they change (controller-runtime's
	// certwatcher).
	CertDir           string
	CertName, KeyName string
	// Host and Port are where the webhook server listens; "" is every
	// interface.
	Host string
	Port int

	// Facts are the static cluster facts (cluster domain, default
	// Prometheus server, GPU budget); each namespace's ResourceQuotas can
	// lower the GPU budget further.
	Facts facts.Facts

	// Reconciler configures the reconciler.
	Reconciler reconciler.Options

	// Policy is the policy configuration: enforcement actions, GPU
	// budgets, the trigger endpoint allowlist. Actions may name user
	// policies that are not loaded yet.
	Policy policy.Config
	// PolicyNamespace holds the user policy ConfigMaps (label
	// mlscale.io/policy=true); empty disables user policies.
	PolicyNamespace string
	// AuditInterval is the time between the starts of two policy audit
	// rounds (on the leader); 0 disables the audit.
	AuditInterval time.Duration
	// AuditPace makes the pause after an audit round at least AuditPace
	// times the round's duration, so that the audit takes at most
	// 1/(1+AuditPace) of a core however many objects there are; 0: rounds
	// start every AuditInterval whatever they take (audit.Auditor's
	// PaceFactor).
	AuditPace float64
	// TriggerCheck configures the check of the Prometheus triggers' queries
	// (on the leader); an Interval of 0 disables it. Its DefaultServer and
	// Allowed come from Facts and Policy.
	TriggerCheck querycheck.Options
	// APIServerPolicies says that the ValidatingAdmissionPolicies of
	// internal/vap are installed: the validating webhook leaves their
	// policies on HPAs, ScaledObjects and ScaledJobs to the API server
	// (the audit still evaluates every policy).
	APIServerPolicies bool
}

// DefaultConfig returns the defaults `mlscale webhook` starts from.
func DefaultConfig() Config {
	return Config{
		Options: manager.Options{
			MetricsAddr:      DefaultMetricsAddr,
			ProbeAddr:        DefaultProbeAddr,
			LeaderElection:   true,
			LeaderElectionID: DefaultLeaderElectionID,
			GracefulShutdown: manager.DefaultGracefulShutdown,
		},
		CertDir:       DefaultCertDir,
		CertName:      "tls.crt",
		KeyName:       "tls.key",
		Port:          DefaultPort,
		Facts:         facts.Default(),
		Reconciler:    reconciler.DefaultOptions(),
		AuditInterval: audit.DefaultInterval,
		AuditPace:     audit.DefaultPaceFactor,
		TriggerCheck:  querycheck.DefaultOptions(),
	}
}

// New builds the manager with the webhooks, the reconciler, the policy
// audit, metrics and probes registered, ready to Start.
func New(cfg Config) (crmanager.Manager, error) {
	cacheOpts := cache.Options{}
	if cfg.PolicyNamespace != "" {
		// Only the policy ConfigMaps are watched, not every ConfigMap.
		cacheOpts.ByObject = map[client.Object]cache.ByObject{&corev1.ConfigMap{}: {
			Namespaces: map[string]cache.Config{cfg.PolicyNamespace: {}},
			Label:      labels.SelectorFromSet(labels.Set{userpolicy.Label: "true"}),
		}}
	}
	mgr, err := manager.New(cfg.Options, manager.Extras{
		Cache: cacheOpts,
		WebhookServer: crwebhook.NewServer(crwebhook.Options{
			Host: cfg.Host, Port: cfg.Port, CertDir: cfg.CertDir, CertName: cfg.CertName, KeyName: cfg.KeyName,
		}),
	})
	if err != nil {
		return nil, err
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
	rec := cfg.Reconciler
	rec.Facts = factsFn
	if cfg.TriggerCheck.Interval > 0 {
		checker, err := newChecker(mgr, cfg)
		if err != nil {
			return nil, err
		}
		rec.Observer = checker
	}
	if err := reconciler.SetupWithManager(mgr, rec); err != nil {
		return nil, fmt.Errorf("setting up the reconciler: %w", err)
	}
	return mgr, nil
}

// newChecker adds the trigger check to the manager: it queries the default
// Prometheus server and the allowed endpoints only.
func newChecker(mgr crmanager.Manager, cfg Config) (*querycheck.Checker, error) {
	metrics, err := querycheck.DefaultMetrics()
	if err != nil {
		return nil, fmt.Errorf("registering the trigger check's metrics: %w", err)
	}
	o := cfg.TriggerCheck
	o.DefaultServer = cfg.Facts.PrometheusServer
	o.Allowed = cfg.Policy.EndpointAllowed
	checker := querycheck.New(mgr.GetCache(), mgr.GetClient(), mgr.GetEventRecorder(querycheck.FieldOwner), metrics, mgr.GetLogger().WithName("trigger-check"), o)
	if err := mgr.Add(checker); err != nil {
		return nil, fmt.Errorf("adding the trigger check: %w", err)
	}
	return checker, nil
}

// setupPolicies registers the validating webhook, the user policy loader
// and the audit loop.
func setupPolicies(ctx context.Context, mgr crmanager.Manager, cfg Config, factsFn facts.Func) error {
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
	inv := inventory.Source{Reader: mgr.GetCache(), Live: mgr.GetAPIReader()}
	admissionMetrics, err := validate.DefaultMetrics()
	if err != nil {
		return err
	}
	validator := &validate.Handler{Engines: engines, Inventory: inv, Facts: factsFn, Metrics: admissionMetrics}
	if cfg.APIServerPolicies {
		validator.APIServer = vap.Enforces
	}
	mgr.GetWebhookServer().Register(validate.Path, validate.Webhook(validator))
	if cfg.PolicyNamespace != "" {
		err := userpolicy.SetupWithManager(mgr, userpolicy.Options{Namespace: cfg.PolicyNamespace, Builtin: builtin, Config: cfg.Policy, Engines: engines})
		if err != nil {
			return err
		}
	}
	if cfg.AuditInterval > 0 {
		a := &audit.Auditor{
			Reader: mgr.GetCache(), Engines: engines, Inventory: inv, Facts: factsFn,
			Recorder: mgr.GetEventRecorder(audit.EventSource), Interval: cfg.AuditInterval, PaceFactor: cfg.AuditPace,
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
