// Package audit is the policy audit loop: on the elected leader, it
// periodically evaluates the existing HPAs, ScaledObjects, ScaledJobs and
// opted-in workloads from the informer cache against the policies, what
// slipped past admission (made while the webhook was down, or before a
// policy existed), exports mlscale_policy_violations and emits Events on
// the violating objects.
package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
)

// ReasonPolicyViolation is the reason of the Warning Event the audit emits
// on a violating object.
const ReasonPolicyViolation = "PolicyViolation"

// EventSource is the reporting controller named on the audit's Events.
const EventSource = "mlscale-audit"

// DefaultInterval is the default time between two audit rounds.
const DefaultInterval = time.Minute

// Metrics are the audit's Prometheus metrics.
type Metrics struct {
	violations *prometheus.GaugeVec
	rounds     *prometheus.CounterVec
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mlscale_policy_violations",
			Help: "Policy violations of existing objects found by the last audit round, by policy, namespace and kind of the violating object.",
		}, []string{"policy", "namespace", "kind"}),
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlscale_policy_audit_rounds_total",
			Help: "Audit rounds run, by result (ok, error).",
		}, []string{"result"}),
	}
}

// DefaultMetrics returns the metrics registered in controller-runtime's
// metrics.Registry, registering them on first use; several managers in one
// process (tests) share them.
func DefaultMetrics() (*Metrics, error) { return defaultMetrics() }

var defaultMetrics = sync.OnceValues(func() (*Metrics, error) {
	m := NewMetrics()
	for _, c := range []prometheus.Collector{m.violations, m.rounds} {
		if err := crmetrics.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering the audit metrics: %w", err)
		}
	}
	return m, nil
})

// InventorySource gives the objects related to a review (the validating
// webhook's source, webhook/inventory).
type InventorySource interface {
	// Inventory returns the review's inventory.
	Inventory(ctx context.Context, r policy.Review) (policy.Inventory, error)
}

// Auditor is the audit loop, a manager Runnable that needs the leader
// lease.
type Auditor struct {
	// Reader lists the objects, from the informer cache.
	Reader client.Reader
	// Engines holds the current policy engine.
	Engines *policy.Holder
	// Inventory gives each object's related objects.
	Inventory InventorySource
	// Facts returns the cluster facts used to render opted-in workloads;
	// nil means facts.Default().
	Facts facts.Func
	// Recorder emits the Events; nil emits none.
	Recorder events.EventRecorder
	// Metrics; DefaultMetrics when nil.
	Metrics *Metrics
	// Interval is the time between rounds, above 0 (DefaultInterval in
	// `mlscale webhook`).
	Interval time.Duration

	// reported are the findings of the previous round, which get no new
	// Event.
	reported map[findingKey]bool
}

// findingKey identifies a finding across rounds.
type findingKey struct {
	uid, policy, message string
}

// NeedLeaderElection makes the audit run on the elected leader only.
func (a *Auditor) NeedLeaderElection() bool { return true }

// Start runs a round at once and then every Interval, until ctx ends. A
// failed round is logged and counted; the loop goes on.
func (a *Auditor) Start(ctx context.Context) error {
	if err := a.init(); err != nil {
		return err
	}
	interval := a.Interval
	if interval <= 0 {
		return fmt.Errorf("the audit interval must be above 0, not %s", interval)
	}
	logger := logf.FromContext(ctx).WithName("audit")
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		found, err := a.Round(ctx)
		switch {
		case err != nil:
			a.Metrics.rounds.WithLabelValues("error").Inc()
			logger.Error(err, "policy audit round failed")
		default:
			a.Metrics.rounds.WithLabelValues("ok").Inc()
			logger.V(1).Info("policy audit round", "violations", len(found))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Finding is one violation of one existing object.
type Finding struct {
	// Object is the violating object.
	Object client.Object
	// Kind is the object's kind.
	Kind string
	// Violation is the policy's verdict.
	Violation policy.Violation
}

// Round evaluates every HPA, ScaledObject, ScaledJob and opted-in workload
// once, replaces the violations metric with what it found (so fixed
// violations disappear), emits an Event per finding that the previous round
// did not find and returns the findings. Objects that cannot be evaluated are skipped and their errors
// joined into the returned error; the metric then holds what was found.
func (a *Auditor) Round(ctx context.Context) ([]Finding, error) {
	if err := a.init(); err != nil {
		return nil, err
	}
	engine := a.Engines.Load()
	if engine == nil {
		return nil, errors.New("no policy engine")
	}
	items, err := a.objects(ctx)
	if err != nil {
		return nil, err
	}
	var findings []Finding
	var errs []error
	for _, it := range items {
		review, ok, err := a.review(ctx, it)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		inv, err := a.Inventory.Inventory(ctx, review)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vs, err := engine.Evaluate(ctx, review, inv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, v := range vs {
			findings = append(findings, Finding{Object: it.obj, Kind: it.kind, Violation: v})
		}
	}
	counts := Count(findings)
	a.Metrics.violations.Reset()
	for k, n := range counts {
		a.Metrics.violations.WithLabelValues(k.Policy, k.Namespace, k.Kind).Set(float64(n))
	}
	now := make(map[findingKey]bool, len(findings))
	for _, f := range findings {
		k := findingKey{uid: string(f.Object.GetUID()), policy: f.Violation.Policy, message: f.Violation.Message}
		now[k] = true
		if a.Recorder != nil && !a.reported[k] {
			a.Recorder.Eventf(f.Object, nil, corev1.EventTypeWarning, ReasonPolicyViolation, "Audit",
				"%s (enforcement action: %s)", f.Violation.Message, f.Violation.Action)
		}
	}
	a.reported = now
	return findings, errors.Join(errs...)
}

// init fills in the default metrics.
func (a *Auditor) init() error {
	if a.Metrics != nil {
		return nil
	}
	m, err := DefaultMetrics()
	if err != nil {
		return err
	}
	a.Metrics = m
	return nil
}

// CountKey is a label set of mlscale_policy_violations.
type CountKey struct {
	// Policy, Namespace and Kind are the metric's labels.
	Policy, Namespace, Kind string
}

// Count counts findings per policy, namespace and kind.
func Count(findings []Finding) map[CountKey]int {
	out := map[CountKey]int{}
	for _, f := range findings {
		out[CountKey{Policy: f.Violation.Policy, Namespace: f.Object.GetNamespace(), Kind: f.Kind}]++
	}
	return out
}

// item is one object to audit.
type item struct {
	obj  client.Object
	kind string
}

// objects lists what the audit evaluates, from the cache: every object of
// the kinds the policies review. They are the cache's own objects, not
// copies (a round holds every object of a cluster at once, and a copy of
// 10,000 workloads was a third of the process's heap): the audit only
// reads them, and the informers replace objects rather than change them.
func (a *Auditor) objects(ctx context.Context) ([]item, error) {
	var out []item
	for _, k := range policy.ReviewedKinds {
		list := k.NewList()
		if err := a.Reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing %ss from the cache: %w", k.GVK.Kind, err)
		}
		objs, err := apimeta.ExtractList(list)
		if err != nil {
			return nil, fmt.Errorf("reading the list of %ss: %w", k.GVK.Kind, err)
		}
		for _, o := range objs {
			if obj, ok := o.(client.Object); ok && obj.GetDeletionTimestamp() == nil {
				out = append(out, item{obj: obj, kind: k.GVK.Kind})
			}
		}
	}
	return out, nil
}

// review builds the policy review of an object; ok is false for workloads
// that have not opted in or whose annotations do not render (the
// reconciler reports those).
func (a *Auditor) review(ctx context.Context, it item) (policy.Review, bool, error) {
	if workload.Handles(it.kind) && !intent.Enabled(it.obj.GetAnnotations()) {
		return policy.Review{}, false, nil
	}
	r, err := policy.NewReview(ctx, policy.OperationUpdate, it.obj, a.Facts)
	var renderErr *policy.RenderError
	switch {
	case errors.As(err, &renderErr):
		return r, false, nil
	case err != nil:
		return r, false, fmt.Errorf("%s %s/%s: %w", it.kind, it.obj.GetNamespace(), it.obj.GetName(), err)
	}
	return r, true, nil
}
