package native

import (
	"fmt"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// This file holds the Go forms of the policies on two autoscalers for one
// workload: hpa_duplicate_target, hpa_scaledobject_conflict,
// scaledobject_duplicate_target and scaledobject_foreign_hpa.

func init() {
	register("hpa_duplicate_target", func(Config) Func { return hpaDuplicateTarget })
	register("hpa_scaledobject_conflict", func(Config) Func { return hpaScaledObjectConflict })
	register("scaledobject_duplicate_target", func(Config) Func { return scaledObjectDuplicateTarget })
	register("scaledobject_foreign_hpa", func(Config) Func { return scaledObjectForeignHPA })
}

// reviewedHPA is what both HPA policies start from: lib.review_hpa, its
// scale target and lib.subject; false when one of them is undefined.
func (in *Input) reviewedHPA() (h *autoscalingv2.HorizontalPodAutoscaler, target ref, subject string, ok bool) {
	if h, ok = in.reviewHPA(); !ok {
		return nil, ref{}, "", false
	}
	if subject, ok = in.subject(); !ok {
		return nil, ref{}, "", false
	}
	return h, hpaRef(h), subject, true
}

// hpaDuplicateTarget is policies/hpa_duplicate_target.
func hpaDuplicateTarget(in *Input) []string {
	_, target, subject, ok := in.reviewedHPA()
	if !ok {
		return nil
	}
	var out []string
	for _, other := range in.inventoryHPAs() {
		key, ok := objectKey(kindHPA, other)
		if !ok || !sameTarget(hpaRef(other), target) {
			continue
		}
		out = append(out, fmt.Sprintf(
			"hpa_duplicate_target: %s targets %s, which %s already scales (two HPAs on one target flap: AmbiguousSelector); change the existing HPA instead, or delete it first",
			subject, in.targetKey(target), key))
	}
	return out
}

// hpaScaledObjectConflict is policies/hpa_scaledobject_conflict.
func hpaScaledObjectConflict(in *Input) []string {
	h, target, subject, ok := in.reviewedHPA()
	if !ok {
		return nil
	}
	var out []string
	for _, so := range in.inventoryScaledObjects() {
		r, ok := soRef(so)
		if !ok || !sameTarget(r, target) || kedaOwnsHPA(so, h) {
			continue
		}
		key, ok := objectKey(kindScaledObject, so)
		hpaName, named := kedaHPAName(so)
		if !ok || !named {
			continue
		}
		out = append(out, fmt.Sprintf(
			"hpa_scaledobject_conflict: %s targets %s, which %s already scales (KEDA makes its own HPA %s for it); delete this HPA and tune the ScaledObject instead, or delete the ScaledObject (for an mlscale workload: remove mlscale.io/autoscale) to keep this HPA",
			subject, in.targetKey(target), key, hpaName))
	}
	return out
}

// reviewedScaledObject is what both ScaledObject policies start from:
// lib.review_scaled_object, its scale target and lib.subject; false when
// one of them is undefined.
func (in *Input) reviewedScaledObject() (so *kedav1alpha1.ScaledObject, target ref, subject string, ok bool) {
	if so, ok = in.reviewScaledObject(); !ok {
		return nil, ref{}, "", false
	}
	if target, ok = soRef(so); !ok {
		return nil, ref{}, "", false
	}
	if subject, ok = in.subject(); !ok {
		return nil, ref{}, "", false
	}
	return so, target, subject, true
}

// scaledObjectDuplicateTarget is policies/scaledobject_duplicate_target.
func scaledObjectDuplicateTarget(in *Input) []string {
	_, target, subject, ok := in.reviewedScaledObject()
	if !ok {
		return nil
	}
	var out []string
	for _, other := range in.inventoryScaledObjects() {
		r, ok := soRef(other)
		if !ok || !sameTarget(r, target) {
			continue
		}
		key, ok := objectKey(kindScaledObject, other)
		if !ok {
			continue
		}
		out = append(out, fmt.Sprintf(
			"scaledobject_duplicate_target: %s would scale %s, which %s already scales (each ScaledObject makes its own HPA, and two HPAs on one target flap); change the existing ScaledObject instead, or delete it first",
			subject, in.targetKey(target), key))
	}
	return out
}

// scaledObjectForeignHPA is policies/scaledobject_foreign_hpa.
func scaledObjectForeignHPA(in *Input) []string {
	so, target, subject, ok := in.reviewedScaledObject()
	if !ok {
		return nil
	}
	var out []string
	for _, h := range in.inventoryHPAs() {
		if !sameTarget(hpaRef(h), target) || kedaOwnsHPA(so, h) {
			continue
		}
		key, ok := objectKey(kindHPA, h)
		if !ok {
			continue
		}
		out = append(out, fmt.Sprintf(
			"scaledobject_foreign_hpa: %s would scale %s, which %s already scales; delete that HPA first, or %s",
			subject, in.targetKey(target), key, in.hpaFix(h)))
	}
	// The HPA taken over must scale the same workload.
	for _, h := range in.inventoryHPAs() {
		if !transfersHPA(so, h.Name) || sameTarget(hpaRef(h), target) {
			continue
		}
		key, ok := objectKey(kindHPA, h)
		if !ok {
			continue
		}
		theirs, mine := in.targetKey(hpaRef(h)), in.targetKey(target)
		out = append(out, fmt.Sprintf(
			"scaledobject_foreign_hpa: %s would take over %s, which scales %s, not %s: KEDA would point it at %s and %s would lose its autoscaler; %s",
			subject, key, theirs, mine, mine, theirs, in.transferFix()))
	}
	return out
}

// transferFix is scaledobject_foreign_hpa's transfer_fix.
func (in *Input) transferFix() string {
	if in.isWorkload() {
		return "name the HPA that scales this workload in mlscale.io/adopt-hpa, or remove the annotation"
	}
	return "name the HPA that scales this workload in spec.advanced.horizontalPodAutoscalerConfig.name, or remove scaledobject.keda.sh/transfer-hpa-ownership"
}

// hpaFix is scaledobject_foreign_hpa's hpa_fix: taking the HPA over,
// unless a ScaledObject already owns it.
func (in *Input) hpaFix(h *autoscalingv2.HorizontalPodAutoscaler) string {
	for _, r := range h.OwnerReferences {
		if r.Kind == kindScaledObject && strings.HasPrefix(r.APIVersion, "keda.sh/") {
			return fmt.Sprintf("delete the ScaledObject %s that owns it (for an mlscale workload: remove its mlscale.io/autoscale)", r.Name)
		}
	}
	return in.adoptFix(h.Name)
}

// adoptFix is scaledobject_foreign_hpa's adopt_fix: how to let KEDA take
// the HPA over, through mlscale's annotation for a workload.
func (in *Input) adoptFix(name string) string {
	if in.isWorkload() {
		return "let KEDA take it over with the annotation mlscale.io/adopt-hpa: " + name
	}
	return fmt.Sprintf("let KEDA adopt it with the annotation scaledobject.keda.sh/transfer-hpa-ownership: \"true\" and spec.advanced.horizontalPodAutoscalerConfig.name: %s", name)
}
