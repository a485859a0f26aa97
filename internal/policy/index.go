package policy

import (
	"context"
	"fmt"
	"slices"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/open-policy-agent/opa/v1/ast"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/workload"
)

// SampleSize is how many objects of each list on one scale target an
// indexed review is evaluated with first (see Engine.EvaluateIndexed).
const SampleSize = 8

// InventoryTarget is the key (TargetKey) under which an inventory source
// finds an HPA or ScaledObject: its scaleTargetRef's kind and name, KEDA's
// default kind Deployment for a ScaledObject. It is what webhook/inventory
// indexes the informer cache by (TargetIndex), and what policy.ScaleTarget
// looks up for a review. Other objects, and references without a name, give
// "" and false.
func InventoryTarget(obj client.Object) (string, bool) {
	switch o := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		if o.Spec.ScaleTargetRef.Name == "" {
			return "", false
		}
		return TargetKey(o.Spec.ScaleTargetRef.Kind, o.Spec.ScaleTargetRef.Name), true
	case *kedav1alpha1.ScaledObject:
		if o.Spec.ScaleTargetRef == nil || o.Spec.ScaleTargetRef.Name == "" {
			return "", false
		}
		kind := o.Spec.ScaleTargetRef.Kind
		if kind == "" {
			kind = workload.KindDeployment
		}
		return TargetKey(kind, o.Spec.ScaleTargetRef.Name), true
	}
	return "", false
}

// Index holds a set of objects (what `mlscale policy eval` reads from
// manifests) as an inventory source reads the cluster: per namespace, its
// ResourceQuotas, and its HPAs and ScaledObjects by scale target
// (InventoryTarget), and its workloads by kind and name (the Target of a
// ScaledObject's inventory). Each object is converted to the policies' Rego
// value once, when added, and each target's inventory value is built once
// and shared by every review on that target, so that evaluating n objects
// costs O(n), not O(n²). ScaledJobs are not indexed: no inventory source
// reads them (they have no scale target). The zero Index is not usable;
// call NewIndex. An Index is not safe for concurrent use.
type Index struct {
	namespaces map[string]*nsIndex
}

// nsIndex is one namespace of an Index.
type nsIndex struct {
	quotas  []*ast.Term
	targets map[string]*targetGroup
	// workloads are the namespace's workloads by workloadKey, the last one
	// added of each: what a ScaledObject scales (Inventory.Target).
	workloads map[string]*workload.Workload
	// quotaTerm is quotas as a Rego array, built on first use.
	quotaTerm *ast.Term
	// hpas are the namespace's HPAs by name (the last one added of each),
	// with their scale targets: the HPA a ScaledObject takes over
	// (TransferredHPA) joins its inventory whatever it scales.
	hpas map[string]namedHPA
}

// namedHPA is an HPA of an nsIndex and its scale target.
type namedHPA struct {
	term   *ast.Term
	target string
}

// targetGroup is the HPAs and ScaledObjects of one namespace on one scale
// target, in the order they were added.
type targetGroup struct {
	hpas, sos []*ast.Term
	// full and sample are the inventory values of a review on the target:
	// with every object, and with the first SampleSize of each list; built
	// on first use.
	full, sample *ast.Term
}

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{namespaces: map[string]*nsIndex{}}
}

// Add adds an HPA, ScaledObject, ResourceQuota or workload (typed, with
// its namespace set) to the index; other objects, and HPAs and
// ScaledObjects without a scale target, are not part of any inventory and
// are left out.
func (ix *Index) Add(obj client.Object) error {
	var gvk schema.GroupVersionKind
	switch obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		gvk = HPAGVK
	case *kedav1alpha1.ScaledObject:
		gvk = ScaledObjectGVK
	case *corev1.ResourceQuota:
		gvk = QuotaGVK
	default:
		if w, err := workload.FromObject(obj); err == nil {
			ix.namespace(w.Namespace).workloads[workloadKey(w.GVK.GroupKind(), w.Name)] = &w
		}
		return nil
	}
	target, ok := InventoryTarget(obj)
	if !ok && gvk != QuotaGVK {
		return nil
	}
	term, err := objectTerm(obj, gvk)
	if err != nil {
		return err
	}
	ns := ix.namespace(obj.GetNamespace())
	if gvk == QuotaGVK {
		ns.quotas, ns.quotaTerm = append(ns.quotas, term), nil
		return nil
	}
	g := ns.targets[target]
	if g == nil {
		g = &targetGroup{}
		ns.targets[target] = g
	}
	if gvk == HPAGVK {
		g.hpas = append(g.hpas, term)
		ns.hpas[obj.GetName()] = namedHPA{term: term, target: target}
	} else {
		g.sos = append(g.sos, term)
	}
	g.full, g.sample = nil, nil
	return nil
}

// workloadKey keys a namespace's workloads.
func workloadKey(gk schema.GroupKind, name string) string { return gk.String() + "/" + name }

// target is the workload a reviewed ScaledObject scales (TargetWorkload),
// when the index holds it, as an inventory source reads it.
func (ns *nsIndex) target(r Review) *workload.Workload {
	kind, name, ok := TargetWorkload(r)
	if !ok {
		return nil
	}
	return ns.workloads[workloadKey(kind.GVK.GroupKind(), name)]
}

func (ix *Index) namespace(name string) *nsIndex {
	ns := ix.namespaces[name]
	if ns == nil {
		ns = &nsIndex{targets: map[string]*targetGroup{}, workloads: map[string]*workload.Workload{}, hpas: map[string]namedHPA{}}
		ix.namespaces[name] = ns
	}
	return ns
}

// objectTerm converts a typed object to its Rego value, with apiVersion
// and kind, as InventoryData does.
func objectTerm(obj client.Object, gvk schema.GroupVersionKind) (*ast.Term, error) {
	d, err := toData(obj, gvk)
	if err != nil {
		return nil, err
	}
	v, err := ast.InterfaceToValue(d)
	if err != nil {
		return nil, fmt.Errorf("converting %s %s/%s for the policies: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return ast.NewTerm(v), nil
}

// reviewInventory is the inventory of one review: its Rego values, and
// whether the sample leaves objects out.
type reviewInventory struct {
	// full is what an inventory source would give the review; sample is
	// full with at most SampleSize objects of each list on the target
	// (full itself when the target has no more); alone has the
	// namespace's ResourceQuotas only.
	full, sample, alone *ast.Term
	// onTarget counts the HPAs and ScaledObjects on the review's target.
	onTarget int
	// target is the review's scale target (TargetKey), or "".
	target string
	// workload is Inventory.Target: the workload a reviewed ScaledObject
	// scales, or nil.
	workload *workload.Workload
}

// sampled reports whether the sample leaves objects out.
func (ri reviewInventory) sampled() bool { return ri.sample != ri.full }

// inventory returns the review's inventory: the namespace's
// ResourceQuotas, and the HPAs and ScaledObjects on the review's scale
// target (ScaleTarget), as webhook/inventory's Source reads them.
func (ix *Index) inventory(r Review) reviewInventory {
	ns := ix.namespaces[r.Namespace]
	if ns == nil {
		ns = &nsIndex{}
	}
	if ns.quotaTerm == nil {
		ns.quotaTerm = ast.ArrayTerm(ns.quotas...)
	}
	alone := inventoryTerm(nil, nil, ns.quotaTerm)
	out := reviewInventory{full: alone, sample: alone, alone: alone, workload: ns.target(r)}
	target, ok := ScaleTarget(r)
	g := ns.targets[target]
	if name, transfers := TransferredHPA(r); ok && transfers {
		if h, found := ns.hpas[name]; found && h.target != target {
			// The HPA taken over scales another workload: it joins this
			// review's inventory (not cached; such reviews are few).
			var hpas, sos []*ast.Term
			if g != nil {
				hpas, sos = g.hpas, g.sos
			}
			full := inventoryTerm(append(slices.Clone(hpas), h.term), sos, ns.quotaTerm)
			out.full, out.sample, out.onTarget, out.target = full, full, len(hpas)+len(sos), target
			return out
		}
	}
	if !ok || g == nil {
		return out
	}
	if g.full == nil {
		g.full = inventoryTerm(g.hpas, g.sos, ns.quotaTerm)
		g.sample = g.full
		if len(g.hpas) > SampleSize || len(g.sos) > SampleSize {
			g.sample = inventoryTerm(g.hpas[:min(len(g.hpas), SampleSize)], g.sos[:min(len(g.sos), SampleSize)], ns.quotaTerm)
		}
	}
	out.full, out.sample, out.onTarget, out.target = g.full, g.sample, len(g.hpas)+len(g.sos), target
	return out
}

// inventoryTerm is data.inventory with the lists, as InventoryData gives
// it (ScaledJobs empty: no inventory source reads them).
func inventoryTerm(hpas, sos []*ast.Term, quotas *ast.Term) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(ast.StringTerm("horizontalPodAutoscalers"), ast.ArrayTerm(hpas...)),
		ast.Item(ast.StringTerm("scaledObjects"), ast.ArrayTerm(sos...)),
		ast.Item(ast.StringTerm("scaledJobs"), ast.ArrayTerm()),
		ast.Item(ast.StringTerm("resourceQuotas"), quotas),
	)
}

// Finding is one line of what the policies found in one review: a
// violation, standing for itself or, for a conflict with other objects on
// the review's scale target, for all the policy's messages about such
// conflicts (More of them besides this one). A conflict among many objects
// on one target is thus one Finding per object and policy, not one per
// pair of objects.
type Finding struct {
	Violation
	// More counts the further conflict messages of the policy on the
	// review that this Finding stands for; with Sampled, those found in
	// the sample, and there may be more.
	More int
	// Sampled is set when the policy found conflicts in the sample of the
	// review's crowded target and was not evaluated with every object on
	// it (see Engine.EvaluateIndexed).
	Sampled bool
	// OnTarget counts the HPAs and ScaledObjects of the review's namespace
	// on its scale target, the review's own object included; Target names
	// that target ("Kind/name"; "" when the review has none).
	OnTarget int
	Target   string
}

// EvaluateIndexed runs every policy that reviews the review's kind (see
// KindsRule) on the review with the inventory an inventory source would
// read for it if ix's objects were the cluster (see Index), and returns the
// findings in policy and message order.
//
// A policy's messages that do not depend on the objects on the review's
// scale target (found with an inventory of the namespace's ResourceQuotas
// only) are one Finding each; the others, conflicts with objects on the
// target, are one Finding together.
//
// The review is evaluated with the sample of its target first: all its
// objects when each list holds at most SampleSize, the first SampleSize of
// each list otherwise. A policy without violations on the sample is
// evaluated again with every object on the target, so that whether a
// policy finds anything (for one whose violations only grow with the
// inventory, as the built-in ones) is what admission would find; a policy
// with violations on the sample keeps them, without the quadratic work of
// comparing every pair of a large conflict.
func (e *Engine) EvaluateIndexed(ctx context.Context, r Review, ix *Index) ([]Finding, error) {
	if r.Operation == OperationDelete {
		return nil, nil
	}
	inv := ix.inventory(r)
	if !e.Reviews(r.Kind) {
		return nil, nil
	}
	base, err := reviewValue(r, inv.workload)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, p := range e.policiesFor(r.Kind) {
		msgs, sampled, err := e.evalSampled(ctx, p, r, base, inv)
		if err != nil {
			return nil, err
		}
		var own []string
		if len(msgs) > 1 || (len(msgs) == 1 && sampled) {
			if own, err = e.evalPolicy(ctx, p, r, withInventory(base, inv.alone)); err != nil {
				return nil, err
			}
		}
		out = append(out, e.findings(p.name, msgs, own, sampled, inv)...)
	}
	return out, nil
}

// evalSampled evaluates a policy with the sample of the review's target
// and, when the sample leaves objects out and the policy finds nothing in
// it, with every object; sampled reports that msgs come from the sample
// only.
func (e *Engine) evalSampled(ctx context.Context, p compiledPolicy, r Review, base ast.Object, inv reviewInventory) (msgs []string, sampled bool, err error) {
	msgs, err = e.evalPolicy(ctx, p, r, withInventory(base, inv.sample))
	if err != nil || len(msgs) > 0 || !inv.sampled() {
		return msgs, inv.sampled(), err
	}
	msgs, err = e.evalPolicy(ctx, p, r, withInventory(base, inv.full))
	return msgs, false, err
}

// findings turns a policy's sorted messages into findings: one for each
// message among own (found without the objects on the target), one for the
// rest together.
func (e *Engine) findings(policy string, msgs, own []string, sampled bool, inv reviewInventory) []Finding {
	var out []Finding
	conflict := -1
	for _, m := range msgs {
		if slices.Contains(own, m) || (len(msgs) == 1 && !sampled) {
			out = append(out, Finding{Violation: Violation{Policy: policy, Message: m, Action: e.cfg.ActionFor(policy)}})
			continue
		}
		if conflict >= 0 {
			out[conflict].More++
			continue
		}
		conflict = len(out)
		out = append(out, Finding{
			Violation: Violation{Policy: policy, Message: m, Action: e.cfg.ActionFor(policy)},
			Sampled:   sampled,
			OnTarget:  inv.onTarget,
			Target:    inv.target,
		})
	}
	return out
}

// reviewValue is Input(r, ...) without the inventory lists, as a Rego
// object: what Input makes of the review and of the inventory's Target.
func reviewValue(r Review, target *workload.Workload) (ast.Object, error) {
	r, err := r.withData()
	if err != nil {
		return nil, err
	}
	items, err := reviewItems(r, target)
	if err != nil {
		return nil, err
	}
	return ast.NewObject(items...), nil
}

// withInventory is the input base with an inventory already converted.
func withInventory(base ast.Object, inventory *ast.Term) ast.Value {
	items := make([][2]*ast.Term, 0, base.Len()+1)
	base.Foreach(func(k, v *ast.Term) { items = append(items, [2]*ast.Term{k, v}) })
	return ast.NewObject(append(items, ast.Item(ast.StringTerm("inventory"), inventory))...)
}
