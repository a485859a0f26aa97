// Package audit is the policy audit loop: on the elected leader, it
// periodically evaluates the existing HPAs, ScaledObjects, ScaledJobs and
// opted-in workloads from the informer cache against the policies, what
// slipped past admission (made while the webhook was down, or before a
// policy existed), exports mlscale_policy_violations and emits Events on
// the violating objects.
//
// Its cost is bounded at any scale three ways:
//
//   - it reads the cache one kind at a time, from the informer's store when
//     the reader is the manager's cache (no list, no copy of any object),
//     and skips workloads that have not opted in before it builds anything;
//   - a round re-evaluates only the objects whose inputs changed since the
//     round that last evaluated them (see Auditor.Round for the rule), plus
//     a slice of the others that renews every object's verdict at least
//     every ResyncRounds rounds; the other objects keep their findings;
//   - rounds are paced by their own duration: after a round of duration d
//     the next one starts no sooner than PaceFactor * d after its end, so
//     the audit takes at most 1/(1+PaceFactor) of the time of the one core
//     it runs on, however long rounds get.
package audit

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/inventory"
)

// ReasonPolicyViolation is the reason of the Warning Event the audit emits
// on a violating object.
const ReasonPolicyViolation = "PolicyViolation"

// EventSource is the reporting controller named on the audit's Events.
const EventSource = "mlscale-audit"

// DefaultInterval is the default time between two audit rounds.
const DefaultInterval = time.Minute

// DefaultPaceFactor is the pace factor `mlscale webhook` runs with
// (--audit-pace): after a round of duration d the audit waits at least
// 4 * d, so it uses at most a fifth of a core.
const DefaultPaceFactor = 4

// DefaultResyncRounds is Auditor.ResyncRounds' default: every object is
// evaluated again at least every 10 rounds, changed or not.
const DefaultResyncRounds = 10

// Metrics are the audit's Prometheus metrics.
type Metrics struct {
	violations *prometheus.GaugeVec
	rounds     *prometheus.CounterVec
	reviews    *prometheus.CounterVec
	duration   prometheus.Gauge
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
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlscale_policy_audit_reviews_total",
			Help: "Objects the audit rounds looked at, by outcome: evaluated (their inputs changed, or their turn to be evaluated again came) or reused (unchanged: the previous verdict stands).",
		}, []string{"outcome"}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlscale_policy_audit_round_seconds",
			Help: "Duration of the last audit round, in seconds; the next round waits at least --audit-pace times as long.",
		}),
	}
}

// DefaultMetrics returns the metrics registered in controller-runtime's
// metrics.Registry, registering them on first use; several managers in one
// process (tests) share them.
func DefaultMetrics() (*Metrics, error) { return defaultMetrics() }

var defaultMetrics = sync.OnceValues(func() (*Metrics, error) {
	m := NewMetrics()
	for _, c := range []prometheus.Collector{m.violations, m.rounds, m.reviews, m.duration} {
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
	// Reader reads the objects from the informer cache. When it is a
	// cache.Cache whose informers expose their store (the manager's cache),
	// the audit iterates the stores; otherwise it lists one kind at a time
	// without deep copies.
	Reader client.Reader
	// Engines holds the current policy engine.
	Engines *policy.Holder
	// Inventory gives each object's related objects. Round's rule of what
	// to evaluate again assumes the inventory of webhook/inventory: the
	// namespace's ResourceQuotas, the HPAs and ScaledObjects on the
	// object's scale target and, for a ScaledObject, that target.
	Inventory InventorySource
	// Facts returns the cluster facts used to render opted-in workloads;
	// nil means facts.Default(). Only the namespace's ResourceQuotas may
	// change what it returns while the process runs.
	Facts facts.Func
	// Recorder emits the Events; nil emits none.
	Recorder events.EventRecorder
	// Metrics; DefaultMetrics when nil.
	Metrics *Metrics
	// Interval is the time from the start of a round to the start of the
	// next, above 0 (DefaultInterval in `mlscale webhook`), unless
	// PaceFactor makes it longer.
	Interval time.Duration
	// PaceFactor makes the pause after a round at least PaceFactor times
	// the round's duration (DefaultPaceFactor in `mlscale webhook`); 0 or
	// less: rounds start every Interval whatever they take.
	PaceFactor float64
	// ResyncRounds bounds how long an unchanged object keeps its verdict:
	// each round also evaluates the unchanged objects whose turn it is
	// (about 1/ResyncRounds of them, picked by UID), so that every object
	// is evaluated again at least every ResyncRounds rounds, for policies
	// that read more than the object and its inventory. 0 means
	// DefaultResyncRounds; 1 evaluates every object every round.
	ResyncRounds int

	// reported are the findings of the previous round, which get no new
	// Event.
	reported map[findingKey]bool
	// evaluated is what the previous rounds found per object (by UID), with
	// the digest of the inputs they were evaluated with.
	evaluated map[types.UID]verdict
	// engine is the engine the verdicts in evaluated come from.
	engine *policy.Engine
	// rounds counts rounds, for the resync turns.
	rounds uint64
}

// verdict is an object's last evaluation.
type verdict struct {
	// inputs is the digest of what the evaluation read: see inputDigest.
	inputs uint64
	// violations are what the policies found.
	violations []policy.Violation
	// seen is the last round that saw the object.
	seen uint64
}

// findingKey identifies a finding across rounds.
type findingKey struct {
	uid, policy, message string
}

// NeedLeaderElection makes the audit run on the elected leader only.
func (a *Auditor) NeedLeaderElection() bool { return true }

// Start runs a round at once and then another each time the pause that
// Pause gives has passed, until ctx ends. A failed round is logged and
// counted; the loop goes on.
func (a *Auditor) Start(ctx context.Context) error {
	if err := a.init(); err != nil {
		return err
	}
	interval := a.Interval
	if interval <= 0 {
		return fmt.Errorf("the audit interval must be above 0, not %s", interval)
	}
	logger := logf.FromContext(ctx).WithName("audit")
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := time.Now()
		found, stats, err := a.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		took := time.Since(start)
		a.Metrics.duration.Set(took.Seconds())
		switch {
		case err != nil:
			a.Metrics.rounds.WithLabelValues("error").Inc()
			logger.Error(err, "policy audit round failed")
		default:
			a.Metrics.rounds.WithLabelValues("ok").Inc()
		}
		pause := Pause(interval, took, a.PaceFactor)
		logger.V(1).Info("policy audit round", "violations", len(found), "evaluated", stats.evaluated,
			"reused", stats.reused, "took", took, "next", pause)
		t.Reset(pause)
	}
}

// Pause is how long the audit waits after a round that took took: what is
// left of interval (counted from the round's start), and at least factor
// times took, so that rounds take at most 1/(1+factor) of the time however
// long they get. A factor of 0 or less leaves the interval alone.
func Pause(interval, took time.Duration, factor float64) time.Duration {
	wait := max(interval-took, 0)
	if factor > 0 {
		wait = max(wait, time.Duration(factor*float64(took)))
	}
	return wait
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

// roundStats count a round's objects by outcome.
type roundStats struct {
	evaluated, reused int
}

// Round audits every HPA, ScaledObject, ScaledJob and opted-in workload
// once, replaces the violations metric with what it found (so fixed
// violations disappear), emits an Event per finding that the previous round
// did not find and returns the findings. Objects that cannot be evaluated
// are skipped and their errors joined into the returned error; the metric
// then holds what was found, and they are evaluated again next round.
//
// An object is evaluated again only when something its evaluation reads
// changed since the round that last evaluated it; otherwise its previous
// violations stand. What an evaluation reads, and counts as changed:
//
//   - the object: its generation (which the API server raises on every
//     change of spec; its resourceVersion where it keeps no generation),
//     labels, annotations, owner references and finalizers. Status is not
//     read: the cache drops it (manager.CacheTransform);
//   - its scale target's group in the namespace (for HPAs, ScaledObjects
//     and workloads): the HPAs and ScaledObjects on the same target and the
//     workload of that kind and name, opted in or not, with the same
//     fingerprint as the object; an object joining or leaving the group is
//     a change;
//   - the namespace's ResourceQuotas (names and spec, which also give the
//     facts' GPU budget); status.used is not a change;
//   - the policy engine: a new one (user policies loaded or changed)
//     evaluates every object again.
//
// Besides, each round evaluates the unchanged objects whose resync turn it
// is (see ResyncRounds).
func (a *Auditor) Round(ctx context.Context) ([]Finding, error) {
	findings, _, err := a.round(ctx)
	return findings, err
}

func (a *Auditor) round(ctx context.Context) ([]Finding, roundStats, error) {
	var stats roundStats
	if err := a.init(); err != nil {
		return nil, stats, err
	}
	engine := a.Engines.Load()
	if engine == nil {
		return nil, stats, errors.New("no policy engine")
	}
	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, stats, err
	}
	if engine != a.engine || a.evaluated == nil {
		a.evaluated = make(map[types.UID]verdict, len(snap.items))
		a.engine = engine
	}
	a.rounds++
	resync := uint64(a.ResyncRounds)
	if a.ResyncRounds <= 0 {
		resync = DefaultResyncRounds
	}
	var findings []Finding
	var errs []error
	for _, it := range snap.items {
		if err := ctx.Err(); err != nil {
			// Stopping (the lease lost, the process ending): the round is
			// abandoned, the metric and the Events left as they were.
			return nil, stats, err
		}
		uid := it.obj.GetUID()
		inputs := snap.inputDigest(it)
		v, ok := a.evaluated[uid]
		if ok && v.inputs == inputs && !dueForResync(uid, a.rounds, resync) {
			v.seen = a.rounds
			a.evaluated[uid] = v
			stats.reused++
			findings = appendFindings(findings, it, v.violations)
			continue
		}
		stats.evaluated++
		vs, err := a.evaluate(ctx, engine, it)
		if err != nil {
			delete(a.evaluated, uid)
			errs = append(errs, err)
			continue
		}
		a.evaluated[uid] = verdict{inputs: inputs, violations: vs, seen: a.rounds}
		findings = appendFindings(findings, it, vs)
	}
	for uid, v := range a.evaluated {
		if v.seen != a.rounds {
			delete(a.evaluated, uid)
		}
	}
	a.Metrics.reviews.WithLabelValues("evaluated").Add(float64(stats.evaluated))
	a.Metrics.reviews.WithLabelValues("reused").Add(float64(stats.reused))
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
	return findings, stats, errors.Join(errs...)
}

func appendFindings(findings []Finding, it item, vs []policy.Violation) []Finding {
	for _, v := range vs {
		findings = append(findings, Finding{Object: it.obj, Kind: it.kind, Violation: v})
	}
	return findings
}

// dueForResync reports whether an unchanged object is evaluated again in
// this round: one round in every resync, spread over the objects by UID.
func dueForResync(uid types.UID, round, resync uint64) bool {
	if resync <= 1 {
		return true
	}
	return hashString(string(uid))%resync == round%resync
}

// evaluate builds the object's review and evaluates it; nil violations for
// an object that is not evaluated (see review).
func (a *Auditor) evaluate(ctx context.Context, engine *policy.Engine, it item) ([]policy.Violation, error) {
	review, ok, err := a.review(ctx, it)
	if err != nil || !ok {
		return nil, err
	}
	inv, err := a.Inventory.Inventory(ctx, review)
	if err != nil {
		return nil, err
	}
	return engine.Evaluate(ctx, review, inv)
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
	// fp is the object's fingerprint (fingerprint).
	fp uint64
	// group is the hash of the object's scale target group (namespace and
	// policy.TargetKey), 0 for none.
	group uint64
}

// snapshot is what a round reads of the cache: the objects to audit and
// the digests of what their evaluations read.
type snapshot struct {
	items []item
	// groups is the digest of each scale target group's members (by group
	// hash): the HPAs and ScaledObjects on the target and the workload.
	groups map[uint64]uint64
	// quotas is the digest of each namespace's ResourceQuotas.
	quotas map[string]uint64
}

// inputDigest is the digest of everything the object's evaluation reads:
// its own fingerprint, its group's and its namespace's quotas'.
func (s *snapshot) inputDigest(it item) uint64 {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[0:], it.fp)
	binary.LittleEndian.PutUint64(b[8:], it.group)
	binary.LittleEndian.PutUint64(b[16:], s.groups[it.group])
	binary.LittleEndian.PutUint64(b[24:], s.quotas[it.obj.GetNamespace()])
	h := fnv.New64a()
	_, _ = h.Write(b[:])
	return h.Sum64()
}

// snapshot reads the cache one kind at a time: the ResourceQuotas, the
// HPAs and KEDA objects, then the workloads, keeping the objects to audit
// (not copies: the audit only reads them, and the informers replace
// objects rather than change them) and the digests of their inputs.
// Workloads that have not opted in are only fingerprinted, and only when a
// ScaledObject scales them.
func (a *Auditor) snapshot(ctx context.Context) (*snapshot, error) {
	s := &snapshot{groups: map[uint64]uint64{}, quotas: map[string]uint64{}}
	err := a.each(ctx, "ResourceQuota", &corev1.ResourceQuota{}, &corev1.ResourceQuotaList{}, func(o client.Object) {
		if q, ok := o.(*corev1.ResourceQuota); ok {
			s.quotas[q.Namespace] += member(q.UID, quotaFingerprint(q))
		}
	})
	if err != nil {
		return nil, err
	}
	// Groups a ScaledObject scales: their workloads are part of the
	// ScaledObject's inventory even when they have not opted in. The KEDA
	// objects are read before the workloads for that.
	targeted := map[uint64]bool{}
	kinds := slices.Clone(policy.ReviewedKinds)
	slices.SortStableFunc(kinds, func(x, y policy.ReviewedKind) int {
		return cmp.Compare(b2i(workload.Handles(x.GVK.Kind)), b2i(workload.Handles(y.GVK.Kind)))
	})
	for _, k := range kinds {
		kind := k.GVK.Kind
		isWorkload := workload.Handles(kind)
		err := a.each(ctx, kind, k.New(), k.NewList(), func(obj client.Object) {
			var key string
			switch {
			case isWorkload:
				key = policy.TargetKey(kind, obj.GetName())
			case kind == policy.KindHPA:
				key = first(inventory.HPATarget(obj))
			case kind == policy.KindScaledObject:
				key = first(inventory.ScaledObjectTarget(obj))
			}
			var group uint64
			if key != "" {
				group = groupHash(obj.GetNamespace(), key)
			}
			enabled := !isWorkload || intent.Enabled(obj.GetAnnotations())
			if !enabled && !targeted[group] {
				return
			}
			fp := fingerprint(obj)
			if group != 0 {
				// Objects being deleted are still in the inventory.
				s.groups[group] += member(obj.GetUID(), fp)
				if kind == policy.KindScaledObject {
					targeted[group] = true
				}
			}
			if enabled && obj.GetDeletionTimestamp() == nil {
				s.items = append(s.items, item{obj: obj, kind: kind, fp: fp, group: group})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func first(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// informerSource is what the audit needs of a cache.Cache to read an
// informer's store.
type informerSource interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// storeInformer is a cache.Informer that exposes its store (client-go's
// SharedIndexInformer, what controller-runtime's cache hands out).
type storeInformer interface {
	GetStore() toolscache.Store
}

// each calls fn with every cached object of obj's kind: from the informer's
// store when the Reader is a cache that exposes it, else from a List
// without deep copies. Either way fn gets the cache's own objects, which it
// must not change, and only one kind's objects are referenced at a time.
func (a *Auditor) each(ctx context.Context, kind string, obj client.Object, list client.ObjectList, fn func(client.Object)) error {
	if src, ok := a.Reader.(informerSource); ok {
		inf, err := src.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("getting the informer of %ss: %w", kind, err)
		}
		if st, ok := inf.(storeInformer); ok {
			for _, o := range st.GetStore().List() {
				if co, ok := o.(client.Object); ok {
					fn(co)
				}
			}
			return nil
		}
	}
	if err := a.Reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing %ss from the cache: %w", kind, err)
	}
	return apimeta.EachListItem(list, func(o runtime.Object) error {
		if co, ok := o.(client.Object); ok {
			fn(co)
		}
		return nil
	})
}

// fingerprint digests what the policies can read of an object apart from
// its spec, and its generation for the spec (the resourceVersion when the
// API server keeps no generation for it, as for objects of a fake client).
func fingerprint(obj client.Object) uint64 {
	h := fnv.New64a()
	var b [8]byte
	if g := obj.GetGeneration(); g > 0 {
		binary.LittleEndian.PutUint64(b[:], uint64(g))
		_, _ = h.Write([]byte("g"))
		_, _ = h.Write(b[:])
	} else {
		_, _ = h.Write([]byte("r" + obj.GetResourceVersion()))
	}
	for _, m := range []map[string]string{obj.GetLabels(), obj.GetAnnotations()} {
		binary.LittleEndian.PutUint64(b[:], mapDigest(m))
		_, _ = h.Write(b[:])
	}
	for _, r := range obj.GetOwnerReferences() {
		ctl := r.Controller != nil && *r.Controller
		_, _ = fmt.Fprintf(h, "\x00o%s\x00%s\x00%s\x00%s\x00%t", r.APIVersion, r.Kind, r.Name, r.UID, ctl)
	}
	for _, f := range obj.GetFinalizers() {
		_, _ = h.Write([]byte("\x00f" + f))
	}
	return h.Sum64()
}

// quotaFingerprint digests what the policies and the facts read of a
// ResourceQuota: its name and spec. Its status (the usage, which changes
// with every pod) is not read by the built-in policies.
func quotaFingerprint(q *corev1.ResourceQuota) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(q.Name))
	names := make([]string, 0, len(q.Spec.Hard))
	for n := range q.Spec.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		v := q.Spec.Hard[corev1.ResourceName(n)]
		_, _ = h.Write([]byte("\x00h" + n + "=" + v.String()))
	}
	for _, sc := range q.Spec.Scopes {
		_, _ = h.Write([]byte("\x00s" + string(sc)))
	}
	if sel := q.Spec.ScopeSelector; sel != nil {
		_, _ = fmt.Fprintf(h, "\x00S%v", sel.MatchExpressions)
	}
	return h.Sum64()
}

// mapDigest digests a map independently of its order.
func mapDigest(m map[string]string) uint64 {
	var sum uint64
	for k, v := range m {
		sum += hashString(k + "\x00" + v)
	}
	return sum
}

// member is an object's share of a group's or a namespace's digest, which
// sums its members' shares: adding, removing or changing a member changes
// the sum.
func member(uid types.UID, fp uint64) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], fp)
	_, _ = h.Write(b[:])
	return h.Sum64()
}

// groupHash identifies a scale target group; never 0 (0 is no group). Two
// groups with the same hash are one for the audit, which only makes it
// evaluate more.
func groupHash(namespace, key string) uint64 {
	return max(hashString(namespace+"\x00"+key), 1)
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// review builds the policy review of an object (typed: converted to the
// JSON-like form only if a policy in Rego reads it); ok is false for workloads
// that have not opted in or whose annotations do not render (the
// reconciler reports those).
func (a *Auditor) review(ctx context.Context, it item) (policy.Review, bool, error) {
	if workload.Handles(it.kind) && !intent.Enabled(it.obj.GetAnnotations()) {
		return policy.Review{}, false, nil
	}
	r, err := policy.NewTypedReview(ctx, policy.OperationUpdate, it.obj, a.Facts)
	var renderErr *policy.RenderError
	switch {
	case errors.As(err, &renderErr):
		return r, false, nil
	case err != nil:
		return r, false, fmt.Errorf("%s %s/%s: %w", it.kind, it.obj.GetNamespace(), it.obj.GetName(), err)
	}
	return r, true, nil
}
