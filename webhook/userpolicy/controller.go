package userpolicy

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mlscale/mlscale/internal/policy"
)

// The loader reads the policy ConfigMaps of its namespace and reports on
// them with Events; `make manifests` turns the markers into
// config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups="",namespace=mlscale-system,resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// Event reasons on policy ConfigMaps.
const (
	// ReasonPolicyLoaded: the ConfigMap's policies passed their tests and
	// are active.
	ReasonPolicyLoaded = "PolicyLoaded"
	// ReasonPolicyRejected: the ConfigMap's current version did not parse,
	// compile or pass its tests; its previous good version (if any) stays
	// active.
	ReasonPolicyRejected = "PolicyRejected"
)

// EventSource is the reporting controller named on the loader's Events.
const EventSource = "mlscale-policy-loader"

// Metrics are the loader's Prometheus metrics.
type Metrics struct {
	loadErrors *prometheus.GaugeVec
	policies   prometheus.Gauge
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		loadErrors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mlscale_policy_load_errors",
			Help: "1 while the current version of a policy ConfigMap is rejected (parse, compile or test failure; its previous good version stays active), 0 while it is active.",
		}, []string{"namespace", "configmap"}),
		policies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlscale_policies_active",
			Help: "Policies the admission webhook evaluates: built-in and user policies.",
		}),
	}
}

// DefaultMetrics returns the metrics registered in controller-runtime's
// metrics.Registry, registering them on first use; several managers in one
// process (tests) share them.
func DefaultMetrics() (*Metrics, error) { return defaultMetrics() }

var defaultMetrics = sync.OnceValues(func() (*Metrics, error) {
	m := NewMetrics()
	for _, c := range []prometheus.Collector{m.loadErrors, m.policies} {
		if err := crmetrics.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering the user policy metrics: %w", err)
		}
	}
	return m, nil
})

// Options configure the loader.
type Options struct {
	// Namespace holds the policy ConfigMaps.
	Namespace string
	// Builtin are the built-in policy modules (policy.BuiltinModules).
	Builtin map[string]*ast.Module
	// Config is the policy configuration of every engine built.
	Config policy.Config
	// Engines receives each new engine.
	Engines *policy.Holder
	// Metrics; DefaultMetrics when nil.
	Metrics *Metrics
}

// Loader is the controller that rebuilds the engine when a policy
// ConfigMap changes. It runs on every replica (each serves admission).
type Loader struct {
	reader   client.Reader
	recorder events.EventRecorder
	opts     Options
	set      *Set
	// known are the ConfigMaps with a metric series, so that the series of
	// deleted ConfigMaps can be removed.
	known map[string]bool
}

// SetupWithManager registers the loader with mgr. The manager's cache must
// watch ConfigMaps in opts.Namespace (see CacheByObject).
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Metrics == nil {
		m, err := DefaultMetrics()
		if err != nil {
			return err
		}
		opts.Metrics = m
	}
	l := &Loader{
		reader:   mgr.GetClient(),
		recorder: mgr.GetEventRecorder(EventSource),
		opts:     opts,
		set:      NewSet(opts.Builtin, opts.Config),
		known:    map[string]bool{},
	}
	// Every change maps to one request: the loader rebuilds from all the
	// ConfigMaps at once.
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: opts.Namespace, Name: "policies"}}}
	})
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == opts.Namespace && o.GetLabels()[Label] == "true"
	})
	err := ctrl.NewControllerManagedBy(mgr).
		Named("mlscale-policy-loader").
		Watches(&corev1.ConfigMap{}, all, builder.WithPredicates(inNamespace)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 1}).
		Complete(l)
	if err != nil {
		return fmt.Errorf("setting up the policy loader: %w", err)
	}
	return nil
}

// Reconcile rebuilds the engine from the built-ins and every policy
// ConfigMap of the namespace.
func (l *Loader) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	logger := logf.FromContext(ctx)
	var list corev1.ConfigMapList
	if err := l.reader.List(ctx, &list, client.InNamespace(l.opts.Namespace), client.MatchingLabels{Label: "true"}); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing the policy ConfigMaps of namespace %s: %w", l.opts.Namespace, err)
	}
	sources := make([]Source, 0, len(list.Items))
	byKey := map[string]*corev1.ConfigMap{}
	for i := range list.Items {
		cm := &list.Items[i]
		if cm.DeletionTimestamp != nil {
			continue
		}
		src := Source{Namespace: cm.Namespace, Name: cm.Name, Version: cm.ResourceVersion, Files: cm.Data}
		sources = append(sources, src)
		byKey[src.Key()] = cm
	}
	engine, statuses, err := l.set.Update(ctx, sources)
	present := map[string]bool{}
	for _, st := range statuses {
		key := st.Namespace + "/" + st.Name
		present[key] = true
		if st.Err != nil {
			l.opts.Metrics.loadErrors.WithLabelValues(st.Namespace, st.Name).Set(1)
		} else {
			l.opts.Metrics.loadErrors.WithLabelValues(st.Namespace, st.Name).Set(0)
		}
		if !st.Checked {
			continue
		}
		cm := byKey[key]
		if st.Err != nil {
			kept := "no earlier version of it is active"
			if st.ActiveVersion != "" {
				kept = fmt.Sprintf("its previous version (resourceVersion %s) stays active", st.ActiveVersion)
			}
			logger.Error(st.Err, "policy ConfigMap rejected", "configmap", key, "resourceVersion", st.Version, "kept", st.ActiveVersion)
			l.recorder.Eventf(cm, nil, corev1.EventTypeWarning, ReasonPolicyRejected, "Load",
				"policies not activated: %v; %s; the built-in policies are unaffected", st.Err, kept)
			continue
		}
		logger.Info("policy ConfigMap loaded", "configmap", key, "resourceVersion", st.Version, "policies", st.Policies)
		l.recorder.Eventf(cm, nil, corev1.EventTypeNormal, ReasonPolicyLoaded, "Load",
			"policies %v passed their tests and are active", st.Policies)
	}
	for key := range l.known {
		if !present[key] {
			ns, name, _ := strings.Cut(key, "/")
			l.opts.Metrics.loadErrors.DeleteLabelValues(ns, name)
			delete(l.known, key)
		}
	}
	for key := range present {
		l.known[key] = true
	}
	if err != nil {
		// The previous engine stays in use.
		return reconcile.Result{}, err
	}
	l.opts.Engines.Store(engine)
	l.opts.Metrics.policies.Set(float64(len(engine.Policies())))
	return reconcile.Result{}, nil
}
