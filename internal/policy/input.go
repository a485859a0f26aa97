package policy

import (
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/open-policy-agent/opa/v1/ast"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/workload"
)

// Operations of a review.
const (
	OperationCreate = "CREATE"
	OperationUpdate = "UPDATE"
	OperationDelete = "DELETE"
)

// Kinds of reviewed objects other than workloads.
const (
	KindHPA          = "HorizontalPodAutoscaler"
	KindScaledObject = "ScaledObject"
	KindScaledJob    = "ScaledJob"
	KindQuota        = "ResourceQuota"
)

// GroupVersionKinds of the objects policies read.
var (
	HPAGVK          = autoscalingv2.SchemeGroupVersion.WithKind(KindHPA)
	ScaledObjectGVK = workload.ScaledObjectGVK
	ScaledJobGVK    = workload.ScaledJobGVK
	QuotaGVK        = corev1.SchemeGroupVersion.WithKind(KindQuota)
)

// Review is the object under review: what policies see as input.
type Review struct {
	// Kind is the kind of Object.
	Kind string
	// Operation is OperationCreate or OperationUpdate (a DELETE is not
	// evaluated).
	Operation string
	// Namespace is the namespace of the request.
	Namespace string
	// Object is the object, as JSON-like data with apiVersion and kind.
	Object map[string]any
	// TypedObject is Object as the typed object it was converted from
	// (NewReview sets it); the policies' Go forms read it. A review
	// without it is evaluated in Rego only.
	TypedObject client.Object
	// Rendered is the KEDA object mlscale renders for an annotated
	// workload, or nil.
	Rendered map[string]any
	// RenderedObject is Rendered as a typed *ScaledObject or *ScaledJob.
	RenderedObject client.Object
	// RenderWarnings are the renderer's warnings for an annotated workload,
	// each prefixed as the mutating webhook's admission warnings are read
	// ("mlscale: Deployment ml/llm: ..."); policies do not see them.
	RenderWarnings []string
	// GPUsPerPod is what one pod of the workload (or the ScaledJob's
	// template) holds in GPU devices, counted as the scheduler counts them
	// (workload.GPUsPerPod); 0 when unknown. For a ScaledObject, Input takes
	// it from the inventory's Target.
	GPUsPerPod int64
	// PodsPerReplica is how many pods one replica runs at once: a Job's or
	// a ScaledJob's parallelism; 0 is read as 1.
	PodsPerReplica int64
}

func (r Review) name() string {
	if r.Object == nil && r.TypedObject != nil {
		return r.TypedObject.GetName()
	}
	if meta, ok := r.Object["metadata"].(map[string]any); ok {
		if n, ok := meta["name"].(string); ok {
			return n
		}
	}
	return ""
}

// Inventory is the set of related objects of the review's namespace.
type Inventory struct {
	// HPAs are the namespace's autoscaling/v2 HorizontalPodAutoscalers.
	HPAs []autoscalingv2.HorizontalPodAutoscaler
	// ScaledObjects are the namespace's KEDA ScaledObjects.
	ScaledObjects []kedav1alpha1.ScaledObject
	// ScaledJobs are the namespace's KEDA ScaledJobs.
	ScaledJobs []kedav1alpha1.ScaledJob
	// ResourceQuotas are the namespace's ResourceQuotas.
	ResourceQuotas []corev1.ResourceQuota
	// Target is the workload a reviewed ScaledObject scales, when it is a
	// kind mlscale knows and exists; its pods give the GPUs the budget
	// counts.
	Target *workload.Workload
}

// Add adds an HPA, ScaledObject, ScaledJob or ResourceQuota to its list;
// other objects are not part of an inventory and are left out.
func (inv *Inventory) Add(obj client.Object) {
	switch o := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		inv.HPAs = append(inv.HPAs, *o)
	case *kedav1alpha1.ScaledObject:
		inv.ScaledObjects = append(inv.ScaledObjects, *o)
	case *kedav1alpha1.ScaledJob:
		inv.ScaledJobs = append(inv.ScaledJobs, *o)
	case *corev1.ResourceQuota:
		inv.ResourceQuotas = append(inv.ResourceQuotas, *o)
	}
}

// Len is the number of objects in the inventory.
func (inv Inventory) Len() int {
	return len(inv.HPAs) + len(inv.ScaledObjects) + len(inv.ScaledJobs) + len(inv.ResourceQuotas)
}

// Input is what the engine evaluates: the review's fields, and the
// inventory under "inventory" (bound to data.inventory).
func Input(r Review, inv Inventory) (map[string]any, error) {
	r, err := r.withData()
	if err != nil {
		return nil, err
	}
	gpus, pods := podCounts(r, inv.Target)
	in := map[string]any{
		"kind":           r.Kind,
		"operation":      r.Operation,
		"namespace":      r.Namespace,
		"object":         r.Object,
		"gpusPerPod":     gpus,
		"podsPerReplica": pods,
	}
	if r.Rendered != nil {
		in["rendered"] = r.Rendered
	}
	data, err := InventoryData(inv)
	if err != nil {
		return nil, err
	}
	in["inventory"] = data
	return in, nil
}

// podCounts are input.gpusPerPod and input.podsPerReplica: the review's,
// or for a ScaledObject without them its target workload's.
func podCounts(r Review, target *workload.Workload) (gpus, pods int64) {
	gpus, pods = r.GPUsPerPod, max(r.PodsPerReplica, 1)
	if gpus == 0 && r.Kind == KindScaledObject && target != nil {
		gpus, pods = target.GPUsPerPod().Count, target.PodsPerReplica()
	}
	return gpus, pods
}

// Keys of the input object, made once.
var (
	keyKind           = ast.StringTerm("kind")
	keyOperation      = ast.StringTerm("operation")
	keyNamespace      = ast.StringTerm("namespace")
	keyObject         = ast.StringTerm("object")
	keyRendered       = ast.StringTerm("rendered")
	keyGPUsPerPod     = ast.StringTerm("gpusPerPod")
	keyPodsPerReplica = ast.StringTerm("podsPerReplica")
	keyInventory      = ast.StringTerm("inventory")
	keyHPAs           = ast.StringTerm("horizontalPodAutoscalers")
	keyScaledObjects  = ast.StringTerm("scaledObjects")
	keyScaledJobs     = ast.StringTerm("scaledJobs")
	keyQuotas         = ast.StringTerm("resourceQuotas")
)

// inputValue is Input(r, inv) as the Rego value the policies evaluate,
// built directly rather than through the map.
func inputValue(r Review, inv Inventory) (ast.Value, error) {
	r, err := r.withData()
	if err != nil {
		return nil, err
	}
	items, err := reviewItems(r, inv.Target)
	if err != nil {
		return nil, err
	}
	inventory, err := inventoryValue(inv)
	if err != nil {
		return nil, err
	}
	return ast.NewObject(append(items, ast.Item(keyInventory, inventory))...), nil
}

// reviewItems are the items of Input(r, Inventory{Target: target}) but
// the inventory, as Rego terms.
func reviewItems(r Review, target *workload.Workload) ([][2]*ast.Term, error) {
	gpus, pods := podCounts(r, target)
	object, err := ast.InterfaceToValue(r.Object)
	if err != nil {
		return nil, fmt.Errorf("converting the input of %s %s/%s: %w", r.Kind, r.Namespace, r.name(), err)
	}
	items := make([][2]*ast.Term, 0, 8)
	items = append(items,
		ast.Item(keyKind, ast.StringTerm(r.Kind)),
		ast.Item(keyOperation, ast.StringTerm(r.Operation)),
		ast.Item(keyNamespace, ast.StringTerm(r.Namespace)),
		ast.Item(keyObject, ast.NewTerm(object)),
		ast.Item(keyGPUsPerPod, ast.NewTerm(ast.MustInterfaceToValue(gpus))),
		ast.Item(keyPodsPerReplica, ast.NewTerm(ast.MustInterfaceToValue(pods))),
	)
	if r.Rendered != nil {
		rendered, err := ast.InterfaceToValue(r.Rendered)
		if err != nil {
			return nil, fmt.Errorf("converting the input of %s %s/%s: %w", r.Kind, r.Namespace, r.name(), err)
		}
		items = append(items, ast.Item(keyRendered, ast.NewTerm(rendered)))
	}
	return items, nil
}

// inventoryValue is InventoryData(inv) as a Rego term.
func inventoryValue(inv Inventory) (*ast.Term, error) {
	hpas, err := listTerm(inv.HPAs, HPAGVK)
	if err != nil {
		return nil, err
	}
	sos, err := listTerm(inv.ScaledObjects, ScaledObjectGVK)
	if err != nil {
		return nil, err
	}
	sjs, err := listTerm(inv.ScaledJobs, ScaledJobGVK)
	if err != nil {
		return nil, err
	}
	quotas, err := listTerm(inv.ResourceQuotas, QuotaGVK)
	if err != nil {
		return nil, err
	}
	return ast.ObjectTerm(
		ast.Item(keyHPAs, hpas),
		ast.Item(keyScaledObjects, sos),
		ast.Item(keyScaledJobs, sjs),
		ast.Item(keyQuotas, quotas),
	), nil
}

// listTerm converts each item as listData does, into a Rego array.
func listTerm[T any, PT interface {
	*T
	client.Object
}](items []T, gvk schema.GroupVersionKind) (*ast.Term, error) {
	terms := make([]*ast.Term, 0, len(items))
	for i := range items {
		t, err := objectTerm(PT(&items[i]), gvk)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	return ast.ArrayTerm(terms...), nil
}

// InventoryData is what policies see as data.inventory: each list of the
// inventory as JSON-like objects with apiVersion and kind.
func InventoryData(inv Inventory) (map[string]any, error) {
	hpas, err := listData(inv.HPAs, HPAGVK)
	if err != nil {
		return nil, err
	}
	sos, err := listData(inv.ScaledObjects, ScaledObjectGVK)
	if err != nil {
		return nil, err
	}
	sjs, err := listData(inv.ScaledJobs, ScaledJobGVK)
	if err != nil {
		return nil, err
	}
	quotas, err := listData(inv.ResourceQuotas, QuotaGVK)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"horizontalPodAutoscalers": hpas,
		"scaledObjects":            sos,
		"scaledJobs":               sjs,
		"resourceQuotas":           quotas,
	}, nil
}

// listData converts each item; T is a struct type whose pointer is a
// runtime.Object.
func listData[T any, PT interface {
	*T
	runtime.Object
}](items []T, gvk schema.GroupVersionKind) ([]any, error) {
	out := make([]any, 0, len(items))
	for i := range items {
		d, err := toData(PT(&items[i]), gvk)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// toData converts a typed object to JSON-like data and sets apiVersion and
// kind, which objects from an informer cache lack.
func toData(obj runtime.Object, gvk schema.GroupVersionKind) (map[string]any, error) {
	d, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %s for the policies: %w", gvk.Kind, err)
	}
	d["apiVersion"], d["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return d, nil
}

// transferAnnotation is KEDA's annotation for taking an existing HPA over.
const transferAnnotation = "scaledobject.keda.sh/transfer-hpa-ownership"

// TransferredHPA returns the name of the HPA that the review's ScaledObject
// (or the one rendered for an opted-in workload) takes over with KEDA's
// ownership transfer (the annotation and
// spec.advanced.horizontalPodAutoscalerConfig.name), and false when it
// takes none over. Inventory sources add that HPA, whatever it scales:
// scaledobject_foreign_hpa refuses taking over the HPA of another workload.
func TransferredHPA(r Review) (string, bool) {
	var obj any
	switch {
	case r.Kind == KindScaledObject && r.Object == nil:
		obj = r.TypedObject
	case r.Kind == KindScaledObject:
		obj = r.Object
	case r.Rendered == nil:
		obj = r.RenderedObject
	default:
		obj = r.Rendered
	}
	if so, ok := obj.(*kedav1alpha1.ScaledObject); ok {
		if so == nil || so.Annotations[transferAnnotation] != "true" || so.Spec.Advanced == nil ||
			so.Spec.Advanced.HorizontalPodAutoscalerConfig == nil || so.Spec.Advanced.HorizontalPodAutoscalerConfig.Name == "" {
			return "", false
		}
		return so.Spec.Advanced.HorizontalPodAutoscalerConfig.Name, true
	}
	data, ok := obj.(map[string]any)
	if !ok {
		return "", false
	}
	on, _, _ := unstructured.NestedString(data, "metadata", "annotations", transferAnnotation)
	name, _, _ := unstructured.NestedString(data, "spec", "advanced", "horizontalPodAutoscalerConfig", "name")
	return name, on == "true" && name != ""
}

// ScaleTarget returns the workload a review is about, as "Kind/name" in the
// review's namespace: an HPA's or ScaledObject's scaleTargetRef (KEDA
// defaults its kind to Deployment), or an annotated workload itself. A
// ScaledJob, or an object without a target, gives "" and false. Inventory
// sources use it to fetch only the HPAs and ScaledObjects that can conflict
// with the review.
func ScaleTarget(r Review) (string, bool) {
	switch r.Kind {
	case KindHPA, KindScaledObject:
		name, kind, _ := scaleTargetRef(r)
		if name == "" {
			return "", false
		}
		if kind == "" {
			if r.Kind == KindHPA {
				return "", false
			}
			kind = workload.KindDeployment
		}
		return TargetKey(kind, name), true
	}
	if workload.Handles(r.Kind) {
		if name := r.name(); name != "" {
			return TargetKey(r.Kind, name), true
		}
	}
	return "", false
}

// TargetWorkload returns the workload kind and name a reviewed ScaledObject
// scales, when its scaleTargetRef names one of workload.Kinds (KEDA's
// defaults: apiVersion apps/v1, kind Deployment).
func TargetWorkload(r Review) (workload.Kind, string, bool) {
	if r.Kind != KindScaledObject {
		return workload.Kind{}, "", false
	}
	name, kind, api := scaleTargetRef(r)
	if api == "" {
		api = "apps/v1"
	}
	if kind == "" {
		kind = workload.KindDeployment
	}
	gv, err := schema.ParseGroupVersion(api)
	if name == "" || err != nil {
		return workload.Kind{}, "", false
	}
	k, ok := workload.KindOf(gv.WithKind(kind).GroupKind())
	return k, name, ok
}

// scaleTargetRef returns the name, kind and apiVersion of the
// spec.scaleTargetRef of an HPA or ScaledObject under review ("" for what
// it lacks), from the typed object when the review has no JSON-like one.
func scaleTargetRef(r Review) (name, kind, api string) {
	if r.Object == nil {
		switch o := r.TypedObject.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := o.Spec.ScaleTargetRef
			return ref.Name, ref.Kind, ref.APIVersion
		case *kedav1alpha1.ScaledObject:
			if ref := o.Spec.ScaleTargetRef; ref != nil {
				return ref.Name, ref.Kind, ref.APIVersion
			}
		}
		return "", "", ""
	}
	spec, _ := r.Object["spec"].(map[string]any)
	ref, _ := spec["scaleTargetRef"].(map[string]any)
	name, _ = ref["name"].(string)
	kind, _ = ref["kind"].(string)
	api, _ = ref["apiVersion"].(string)
	return name, kind, api
}

// TargetKey is how a scale target is keyed in inventory indexes: "Kind/name"
// (the namespace is the indexed object's own).
func TargetKey(kind, name string) string { return kind + "/" + name }
