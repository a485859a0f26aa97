package policy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/kubejson"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// ReviewedKind is one kind of object the policies review.
type ReviewedKind struct {
	// GVK is the kind's group, version and kind.
	GVK schema.GroupVersionKind
	// New returns an empty object of the kind; NewList an empty list.
	New     func() client.Object
	NewList func() client.ObjectList
}

// ReviewedKinds are the kinds the policies review, in the order the audit
// lists them: HorizontalPodAutoscalers, KEDA ScaledObjects and ScaledJobs,
// and the workloads of workload.Kinds (with the KEDA object mlscale renders
// for them).
var ReviewedKinds = append([]ReviewedKind{
	{
		GVK:     HPAGVK,
		New:     func() client.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList: func() client.ObjectList { return &autoscalingv2.HorizontalPodAutoscalerList{} },
	},
	{
		GVK:     ScaledObjectGVK,
		New:     func() client.Object { return &kedav1alpha1.ScaledObject{} },
		NewList: func() client.ObjectList { return &kedav1alpha1.ScaledObjectList{} },
	},
	{
		GVK:     ScaledJobGVK,
		New:     func() client.Object { return &kedav1alpha1.ScaledJob{} },
		NewList: func() client.ObjectList { return &kedav1alpha1.ScaledJobList{} },
	},
}, workloadKinds()...)

func workloadKinds() []ReviewedKind {
	out := make([]ReviewedKind, 0, len(workload.Kinds))
	for _, k := range workload.Kinds {
		out = append(out, ReviewedKind{GVK: k.GVK, New: k.New, NewList: k.NewList})
	}
	return out
}

// Reviewed reports whether the policies review objects of the exact group,
// version and kind (the API server sends the versions the webhook
// configuration names).
func Reviewed(gvk schema.GroupVersionKind) bool {
	return slices.ContainsFunc(ReviewedKinds, func(k ReviewedKind) bool { return k.GVK == gvk })
}

// hpaV1GVK is autoscaling/v1 HorizontalPodAutoscaler, what `kubectl
// autoscale` writes.
var hpaV1GVK = autoscalingv1.SchemeGroupVersion.WithKind(KindHPA)

// ErrNotReviewed is wrapped by Decode's error for an object whose kind the
// policies do not review.
var ErrNotReviewed = errors.New("not reviewed by the policies")

// Decode reads an object of a reviewed kind from JSON into its typed form.
// An autoscaling/v1 HPA is converted to autoscaling/v2, as the API server
// converts it before calling the webhook; other HPA versions are an error
// that says so. Any other kind gives an error wrapping ErrNotReviewed.
func Decode(gvk schema.GroupVersionKind, raw []byte) (client.Object, error) {
	if len(raw) == 0 {
		return nil, errors.New("the request has no object")
	}
	if gvk == hpaV1GVK {
		var v1 autoscalingv1.HorizontalPodAutoscaler
		if err := kubejson.Unmarshal(raw, &v1); err != nil {
			return nil, fmt.Errorf("decoding the object: %w", err)
		}
		return hpaV1ToV2(&v1), nil
	}
	i := slices.IndexFunc(ReviewedKinds, func(k ReviewedKind) bool { return k.GVK == gvk })
	switch {
	case i < 0 && gvk.GroupKind() == HPAGVK.GroupKind():
		return nil, fmt.Errorf("%s %s is not evaluated: the API server serves HorizontalPodAutoscalers as autoscaling/v2 (and converts autoscaling/v1); write it as autoscaling/v2", gvk.GroupVersion(), gvk.Kind)
	case i < 0:
		return nil, fmt.Errorf("%s: %w", gvk, ErrNotReviewed)
	}
	obj := ReviewedKinds[i].New()
	if err := kubejson.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("decoding the object: %w", err)
	}
	return obj, nil
}

// hpaV1ToV2 converts an autoscaling/v1 HPA to autoscaling/v2 as the API
// server does (matchPolicy: Equivalent sends it to the validating webhook as
// v2): the target CPU utilization becomes a Resource metric.
func hpaV1ToV2(in *autoscalingv1.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	out := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: in.ObjectMeta,
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				Kind:       in.Spec.ScaleTargetRef.Kind,
				Name:       in.Spec.ScaleTargetRef.Name,
				APIVersion: in.Spec.ScaleTargetRef.APIVersion,
			},
			MinReplicas: in.Spec.MinReplicas,
			MaxReplicas: in.Spec.MaxReplicas,
		},
	}
	if in.Spec.TargetCPUUtilizationPercentage != nil {
		out.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: in.Spec.TargetCPUUtilizationPercentage,
				},
			},
		}}
	}
	return out
}

// ErrFacts is wrapped by NewReview's error when the cluster facts of an
// opted-in workload's namespace cannot be read.
var ErrFacts = errors.New("the cluster facts are unavailable")

// RenderError is NewReview's error for an opted-in workload whose
// annotations do not render; its message is the one admission denies with.
type RenderError struct {
	// Workload is the workload.
	Workload workload.Workload
	// Err is the renderer's error.
	Err error
}

func (e *RenderError) Error() string { return render.Message(e.Workload, e.Err) }

// Unwrap returns the renderer's error.
func (e *RenderError) Unwrap() error { return e.Err }

// NewReview builds the review of a typed object at operation op. It is the
// one way from an object to what the policies see, for admission, the audit
// and `mlscale policy eval`:
//   - an HPA or a ScaledObject: the object;
//   - a ScaledJob: the object, with the GPUs of its job template's pods
//     and its parallelism;
//   - a Deployment, StatefulSet or Job: the object with the GPUs of its
//     pods (and a Job's parallelism) and, when it has opted in (mlscale.io/autoscale), the KEDA object
//     mlscale renders for it with the facts ff gives for its namespace. A
//     workload whose annotations do not render gives a *RenderError; facts
//     that cannot be read an error wrapping ErrFacts.
//
// The object's namespace must be set.
func NewReview(ctx context.Context, op string, obj client.Object, ff facts.Func) (Review, error) {
	r, err := NewTypedReview(ctx, op, obj, ff)
	if err != nil {
		return Review{}, err
	}
	return r.withData()
}

// NewTypedReview is NewReview without the JSON-like Object and Rendered:
// they stay nil until a policy evaluated in Rego needs them (the engine
// makes them then), so that a review whose policies all have Go forms
// (internal/policy/native) is never converted. ScaleTarget and
// TargetWorkload read such a review too.
func NewTypedReview(ctx context.Context, op string, obj client.Object, ff facts.Func) (Review, error) {
	gvk, err := reviewedGVK(obj)
	if err != nil {
		return Review{}, err
	}
	r := Review{Kind: gvk.Kind, Operation: op, Namespace: obj.GetNamespace(), TypedObject: obj}
	switch o := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler, *kedav1alpha1.ScaledObject:
		return r, nil
	case *kedav1alpha1.ScaledJob:
		if o.Spec.JobTargetRef != nil {
			w := workload.Workload{Template: o.Spec.JobTargetRef.Template, Job: o.Spec.JobTargetRef}
			r.GPUsPerPod, r.PodsPerReplica = w.GPUsPerPod().Count, w.PodsPerReplica()
		}
		return r, nil
	}
	w, err := workload.FromObject(obj)
	if err != nil {
		return Review{}, err
	}
	r.GPUsPerPod, r.PodsPerReplica = w.GPUsPerPod().Count, w.PodsPerReplica()
	if !intent.Enabled(w.Annotations) {
		return r, nil
	}
	f, err := ff.For(ctx, w.Namespace)
	if err != nil {
		return Review{}, fmt.Errorf("%w for namespace %s: %w", ErrFacts, w.Namespace, err)
	}
	res, err := render.Workload(w, f)
	if err != nil {
		return Review{}, &RenderError{Workload: w, Err: err}
	}
	for _, warning := range res.Warnings {
		r.RenderWarnings = append(r.RenderWarnings, fmt.Sprintf("mlscale: %s %s/%s: %s", w.GVK.Kind, w.Namespace, w.Name, warning))
	}
	r.RenderedObject = res.Object
	return r, nil
}

// withData returns r with Object and Rendered made from TypedObject and
// RenderedObject where they are nil.
func (r Review) withData() (Review, error) {
	var err error
	if r.Object == nil && r.TypedObject != nil {
		gvk, gerr := reviewedGVK(r.TypedObject)
		if gerr != nil {
			return Review{}, gerr
		}
		if r.Object, err = toData(r.TypedObject, gvk); err != nil {
			return Review{}, err
		}
	}
	if r.Rendered == nil && r.RenderedObject != nil {
		if r.Rendered, err = toData(r.RenderedObject, r.RenderedObject.GetObjectKind().GroupVersionKind()); err != nil {
			return Review{}, err
		}
	}
	return r, nil
}

// reviewedTypes maps the Go type of each reviewed kind to its kind.
var reviewedTypes = func() map[reflect.Type]schema.GroupVersionKind {
	m := make(map[reflect.Type]schema.GroupVersionKind, len(ReviewedKinds))
	for _, k := range ReviewedKinds {
		m[reflect.TypeOf(k.New())] = k.GVK
	}
	return m
}()

// reviewedGVK returns the kind of a typed object the policies review.
func reviewedGVK(obj client.Object) (schema.GroupVersionKind, error) {
	if gvk, ok := reviewedTypes[reflect.TypeOf(obj)]; ok {
		return gvk, nil
	}
	return schema.GroupVersionKind{}, fmt.Errorf("%T: %w", obj, ErrNotReviewed)
}
