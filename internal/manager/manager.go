// Package manager is the process wiring that mlscale's two in-cluster
// processes, `mlscale webhook` and `mlscale predictor`, share: the REST
// configuration, the scheme, one controller-runtime manager with leader
// election, a small informer cache, metrics and health probes. Each process
// adds its own runnables to the manager it gets.
package manager

import (
	"fmt"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
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

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

// Options configure the manager of an in-cluster process. Each process has
// its own defaults (ports, Lease name); the fields mean the same in both.
type Options struct {
	// RESTConfig reaches the API server; nil means Kubeconfig, or else
	// controller-runtime's lookup (KUBECONFIG, in-cluster, ~/.kube/config).
	RESTConfig *rest.Config
	// Kubeconfig is a kubeconfig file, used when RESTConfig is nil.
	Kubeconfig string

	// MetricsAddr is the metrics endpoint's address ("0" disables it).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz ("0" disables them).
	ProbeAddr string

	// LeaderElection runs the runnables that need the lease (reconciler,
	// audit, floor writer) on one elected replica only; the webhook server,
	// metrics and probes run on every replica.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease; empty means the pod's own
	// namespace (in a cluster).
	LeaderElectionNamespace string
	// LeaderElectionID names the Lease.
	LeaderElectionID string

	// GracefulShutdown bounds how long runnables get to stop.
	GracefulShutdown time.Duration
}

// DefaultGracefulShutdown is Options.GracefulShutdown's default.
const DefaultGracefulShutdown = 30 * time.Second

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

// RESTConfig returns the configuration that reaches the API server:
// o.RESTConfig, else o.Kubeconfig, else controller-runtime's lookup. The
// client's rate limit is left to the API server's priority and fairness
// (client-go's default of 5 QPS made 1,000 workloads take ten times longer
// to converge).
func RESTConfig(o Options) (*rest.Config, error) {
	if o.RESTConfig != nil {
		return o.RESTConfig, nil
	}
	if o.Kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %w", o.Kubeconfig, err)
		}
		if c.QPS == 0 {
			c.QPS = -1 // as ctrl.GetConfig does
		}
		return c, nil
	}
	c, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the API server (set --kubeconfig or KUBECONFIG, or run in a cluster): %w", err)
	}
	return c, nil
}

// Extras are what one process adds to the shared manager.
type Extras struct {
	// Cache configures the informer cache; its DefaultTransform is
	// CacheTransform when unset.
	Cache cache.Options
	// WebhookServer serves admission; nil for a process without webhooks.
	// With one, /readyz waits until it serves.
	WebhookServer webhook.Server
}

// New builds a manager with the scheme, leader election, metrics and the
// health probes (/healthz answers at once; /readyz once the webhook server
// serves, when there is one), ready for the process's runnables.
func New(o Options, x Extras) (crmanager.Manager, error) {
	restConfig, err := RESTConfig(o)
	if err != nil {
		return nil, err
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	if x.Cache.DefaultTransform == nil {
		x.Cache.DefaultTransform = CacheTransform
	}
	graceful := o.GracefulShutdown
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         x.Cache,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		WebhookServer:                 x.WebhookServer,
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &graceful,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	ready, name := healthz.Ping, "ping"
	if x.WebhookServer != nil {
		ready, name = x.WebhookServer.StartedChecker(), "webhook"
	}
	if err := mgr.AddReadyzCheck(name, ready); err != nil {
		return nil, fmt.Errorf("adding the readiness check: %w", err)
	}
	return mgr, nil
}

// HasAnnotations reports whether an object carries any mlscale.io/
// annotation: the workloads mlscale looks at.
func HasAnnotations(obj client.Object) bool {
	for k := range obj.GetAnnotations() {
		if strings.HasPrefix(k, intent.Prefix) {
			return true
		}
	}
	return false
}

// LastAppliedAnnotation is where `kubectl apply` keeps a whole copy of
// the object it applied; CacheTransform drops it.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// CacheTransform is the informer cache's default transform. It keeps the
// cache small in clusters with many workloads: it drops from every object
// what no reader of the cache looks at, managedFields and the
// LastAppliedAnnotation (often as large as the rest of the object); the
// status of HPAs, KEDA objects and annotated workloads (mlscale reads their
// metadata and spec; the policies' inventory and the audit's reviews
// therefore carry no status); and spec and status from Deployments,
// StatefulSets and Jobs without mlscale.io/ annotations. Of those, the
// metadata is kept, enough to see them opt in (the watch then delivers the
// full object), and what the GPU budget reads of a hand-written
// ScaledObject's target: the containers' GPU resources
// (workload.GPUFields) and a GPU Job's parallelism. A workload without GPUs
// keeps no spec at all.
//
// Readers of the shared cache therefore see unannotated workloads without
// the rest of their spec, and no status; read those through the API reader
// when they are needed. Objects of the cache are never written back whole
// (mlscale's writes are patches and server-side applies of objects it
// builds), so nothing dropped here is lost on the server.
func CacheTransform(obj any) (any, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil
	}
	o.SetManagedFields(nil)
	if ann := o.GetAnnotations(); ann[LastAppliedAnnotation] != "" {
		delete(ann, LastAppliedAnnotation)
	}
	if HasAnnotations(o) {
		dropStatus(obj)
		return obj, nil
	}
	switch t := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler, *kedav1alpha1.ScaledObject, *kedav1alpha1.ScaledJob:
		dropStatus(t)
	case *appsv1.Deployment:
		tpl := gpuTemplate(t.Spec.Template)
		t.Spec, t.Status = appsv1.DeploymentSpec{Template: tpl}, appsv1.DeploymentStatus{}
	case *appsv1.StatefulSet:
		tpl := gpuTemplate(t.Spec.Template)
		t.Spec, t.Status = appsv1.StatefulSetSpec{Template: tpl}, appsv1.StatefulSetStatus{}
	case *batchv1.Job:
		spec := batchv1.JobSpec{Template: gpuTemplate(t.Spec.Template)}
		if len(spec.Template.Spec.Containers) > 0 {
			spec.Parallelism = t.Spec.Parallelism
		}
		t.Spec, t.Status = spec, batchv1.JobStatus{}
	}
	return obj, nil
}

// dropStatus empties the status of the kinds whose status no reader of
// the cache looks at: HPAs, KEDA objects, workloads.
func dropStatus(obj any) {
	switch t := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		t.Status = autoscalingv2.HorizontalPodAutoscalerStatus{}
	case *kedav1alpha1.ScaledObject:
		t.Status = kedav1alpha1.ScaledObjectStatus{}
	case *kedav1alpha1.ScaledJob:
		t.Status = kedav1alpha1.ScaledJobStatus{}
	case *appsv1.Deployment:
		t.Status = appsv1.DeploymentStatus{}
	case *appsv1.StatefulSet:
		t.Status = appsv1.StatefulSetStatus{}
	case *batchv1.Job:
		t.Status = batchv1.JobStatus{}
	}
}

// gpuTemplate is the part of a pod template the cache keeps of an
// unannotated workload.
func gpuTemplate(tpl corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: workload.GPUFields(tpl.Spec)}
}
