// Package render turns a workload and its parsed intent into the KEDA object
// that scales it. Render is a pure function: the same workload, intent and
// cluster facts always give the same object, byte for byte.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

// Labels and annotations set on every rendered object.
const (
	LabelManagedBy    = "app.kubernetes.io/managed-by"
	ManagedByValue    = "mlscale"
	LabelWorkloadKind = "mlscale.io/workload-kind"
	LabelWorkloadName = "mlscale.io/workload-name"
	AnnotationProfile = "mlscale.io/profile"
	// AnnotationTransferHPA makes KEDA take over the HPA named in
	// spec.advanced.horizontalPodAutoscalerConfig.name.
	AnnotationTransferHPA = "scaledobject.keda.sh/transfer-hpa-ownership"
)

// Result is a rendered KEDA object with what admission reports about it.
type Result struct {
	// Object is the *ScaledObject or *ScaledJob.
	Object client.Object
	// Profile is the profile in effect.
	Profile intent.Profile
	// GPU is what one pod requests in GPUs.
	GPU workload.GPUs
	// ScaleToZero is true when minReplicaCount is 0.
	ScaleToZero bool
	// Hash is a short hash of the rendered spec.
	Hash string
	// Warnings are harmless oddities, shown as admission warnings.
	Warnings []string
	// Needs are the series the Prometheus triggers read, and what records
	// them.
	Needs []Need
}

// ScaledObject returns the rendered ScaledObject, or nil.
func (r Result) ScaledObject() *kedav1alpha1.ScaledObject {
	so, _ := r.Object.(*kedav1alpha1.ScaledObject)
	return so
}

// ScaledJob returns the rendered ScaledJob, or nil.
func (r Result) ScaledJob() *kedav1alpha1.ScaledJob {
	sj, _ := r.Object.(*kedav1alpha1.ScaledJob)
	return sj
}

// ErrNotEnabled is returned by Workload for a workload that has not opted in.
var ErrNotEnabled = fmt.Errorf("workload has not opted in: %s is not \"true\"", intent.KeyAutoscale)

// Workload parses the workload's annotations and renders it. Parse warnings
// come first in Result.Warnings. A workload without the opt-in annotation
// gives ErrNotEnabled (with parse warnings, if any, in Result).
func Workload(w workload.Workload, f facts.Facts) (Result, error) {
	in, warns, err := intent.ParseWith(w.Annotations, intent.Options{AllowUnknownKeys: f.AllowUnknownKeys, Job: w.GVK.Kind == workload.KindJob})
	warns = append(Misplaced(w), warns...)
	if err != nil {
		return Result{Warnings: warns}, err
	}
	if !in.Enabled {
		return Result{Warnings: warns}, ErrNotEnabled
	}
	r, err := Render(w, in, f)
	r.Warnings = append(warns, r.Warnings...)
	return r, err
}

// Render builds the KEDA object for the workload: a ScaledJob for a Job with
// the training-job profile, a ScaledObject otherwise. Every problem is
// returned at once as intent.Errors.
func Render(w workload.Workload, in intent.Intent, f facts.Facts) (Result, error) {
	r := renderer{w: w, in: in, f: f, gpu: w.GPUsPerPod()}
	obj := r.render()
	if err := r.errs.Err(); err != nil {
		return Result{Warnings: r.warnings}, err
	}
	res := Result{Object: obj, Profile: r.profile, GPU: r.gpu, ScaleToZero: r.min == 0, Warnings: r.warnings, Needs: r.needs(obj)}
	res.Hash = specHash(obj)
	annotations := obj.GetAnnotations()
	annotations[intent.KeyRenderedHash] = res.Hash
	obj.SetAnnotations(annotations)
	return res, nil
}

type renderer struct {
	w        workload.Workload
	in       intent.Intent
	f        facts.Facts
	gpu      workload.GPUs
	profile  intent.Profile
	def      Defaults
	min, max int32
	errs     intent.Errors
	warnings []string
}

func (r *renderer) warn(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

func (r *renderer) isJob() bool { return r.w.GVK.Kind == workload.KindJob }

func (r *renderer) render() client.Object {
	r.chooseProfile()
	if len(r.errs) > 0 {
		return nil
	}
	r.def = ProfileDefaults[r.profile]
	triggers := r.triggers()
	r.replicas(triggers)
	r.kindOnly()
	r.checkName()
	if len(r.errs) > 0 {
		return nil
	}
	meta := r.objectMeta()
	if r.isJob() {
		return r.scaledJob(meta, triggers)
	}
	return r.scaledObject(meta, triggers)
}

// maxKEDAName is the longest name KEDA accepts for a ScaledObject (its
// scaledobject.keda.sh/name label value) and for its HPA.
const maxKEDAName = validation.LabelValueMaxLength

// hpaPrefix is the prefix of the name KEDA gives a ScaledObject's HPA.
const hpaPrefix = "keda-hpa-"

// checkName refuses a Deployment or StatefulSet whose name KEDA would refuse
// as a ScaledObject's: the API server allows object names of 253
// characters, KEDA 63. (A Job's name is 63 characters at most.)
func (r *renderer) checkName() {
	if r.isJob() || len(r.w.Name) <= maxKEDAName {
		return
	}
	r.errs.Add("metadata.name", r.w.Name,
		fmt.Sprintf("is %d characters long: the ScaledObject takes the workload's name, and KEDA refuses one of more than %d characters (the name is also its scaledobject.keda.sh/name label)", len(r.w.Name), maxKEDAName),
		fmt.Sprintf("a %s name of at most %d characters", r.w.GVK.Kind, maxKEDAName))
}

// hpaName is the name of the ScaledObject's HPA when KEDA's own,
// keda-hpa-NAME, would be over 63 characters, which KEDA refuses: the name
// cut to leave room for a hash of the whole name ("" when KEDA's fits).
func hpaName(name string) string {
	if len(hpaPrefix+name) <= maxKEDAName {
		return ""
	}
	return hpaPrefix + shortened(name, maxKEDAName-len(hpaPrefix))
}

// shortened cuts name to fit max characters with a hash of the whole name:
// its first max-17 characters (less trailing ".", "-" and "_"), "-" and
// 16 hex digits of its SHA-256, so that two long names sharing a prefix
// stay apart.
func shortened(name string, max int) string {
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:8])
	return strings.TrimRight(name[:min(len(name), max-len(suffix))], ".-_") + suffix
}

// kindOnly refuses annotations that apply to one kind of workload only.
func (r *renderer) kindOnly() {
	in := r.in
	switch {
	case r.isJob() && in.Predictive:
		r.errs.Add(intent.KeyPredictive, "true", "is not supported on a Job", "predictive floors apply to Deployments and StatefulSets")
	case r.isJob() && in.AdoptHPA != "":
		r.errs.Add(intent.KeyAdoptHPA, in.AdoptHPA, "is not supported on a Job (a ScaledJob has no HPA)", "remove it")
	case !r.isJob() && in.RolloutStrategy != "":
		r.errs.Add(intent.KeyRolloutStrategy, in.RolloutStrategy, "is only valid on a Job (it is the rollout of a ScaledJob's Jobs)", "remove it")
	}
}

func (r *renderer) chooseProfile() {
	p := r.in.Profile
	given := string(p)
	switch {
	case p == "" && r.isJob():
		p = intent.ProfileTrainingJob
	case p == "" && r.gpu.Count > 0 && r.in.RabbitMQ.Queue == "" && r.in.Prometheus.Query == "":
		// A GPU Deployment with no trigger of its own is an inference server.
		p = intent.ProfileVLLM
	case p == "":
		p = intent.ProfileGeneric
	}
	switch {
	case r.isJob() && p != intent.ProfileTrainingJob:
		r.errs.Add(intent.KeyProfile, given, "is not valid for a Job", `"training-job"`)
	case !r.isJob() && p == intent.ProfileTrainingJob:
		r.errs.Add(intent.KeyProfile, given, "is only valid for a Job", fmt.Sprintf(`"generic", "celery-worker" or "vllm" for a %s`, r.w.GVK.Kind))
	}
	r.profile = p
}

// replicas resolves min and max: profile, GPU and scale-to-zero defaults,
// waking from zero, business hours, the GPU budget, and the predicted floor.
func (r *renderer) replicas(ts []kedav1alpha1.ScaleTriggers) {
	in := r.in
	noWake := r.wakeCheck(ts)
	wakeable := noWake == nil || (in.SkipWakeCheck && !onlyResourceTriggers(ts))
	r.max = ptr.Deref(in.MaxReplicas, r.def.MaxReplicas)
	explicitZero := (in.MinReplicas != nil && *in.MinReplicas == 0) || ptr.Deref(in.ScaleToZero, false)
	hoursHeld := slices.ContainsFunc(ts, func(t kedav1alpha1.ScaleTriggers) bool { return t.Name == TriggerBusinessHours })
	switch {
	case hoursHeld:
		// min-replicas is held by the cron trigger in business hours.
		r.min = 0
		if held := ptr.Deref(in.MinReplicas, 1); held > r.max {
			r.errs.Add(intent.KeyMinReplicas, r.w.Annotations[intent.KeyMinReplicas], fmt.Sprintf("is greater than the maximum (%d)", r.max), fmt.Sprintf("a value up to %d, or raise %s", r.max, intent.KeyMaxReplicas))
		}
	case in.MinReplicas != nil:
		r.min = *in.MinReplicas
	case ptr.Deref(in.ScaleToZero, false):
		r.min = 0
	case in.ScaleToZero != nil:
		r.min = max(1, r.def.MinReplicas)
	case r.gpu.Count > 0 || r.def.MinReplicas == 0:
		// Idle GPUs are the largest bill: scale to zero when something can
		// wake the workload up again.
		r.min = 0
		// With no trigger at all the workload is rejected already (a missing
		// queue, or no trigger); a warning about waking it would only mislead.
		switch {
		case !wakeable && !r.isJob() && len(ts) > 0:
			r.min = 1
			r.warn("scale-to-zero is off: no trigger can wake the workload from zero replicas (%s); to scale to zero, add %s (a gateway or router metric that counts requests while no pod runs), %s or %s", strings.Join(noWake, "; "), intent.KeyWakeQuery, intent.KeyRabbitMQQueue, intent.KeyBusinessHours)
		case noWake != nil && !r.isJob() && len(ts) > 0:
			// The profile's zero, with the check skipped: the same
			// warning as for an explicit zero (checkWake).
			r.warn("%s is set: the workload may sit at zero replicas although no trigger mlscale knows can wake it (%s); make sure the metric outlives the pods", intent.KeySkipWakeCheck, strings.Join(noWake, "; "))
		}
	default:
		r.min = r.def.MinReplicas
	}
	if r.min > r.max && in.MinReplicas == nil {
		r.min = r.max
	}
	if r.min > r.max {
		r.errs.Add(intent.KeyMinReplicas, r.w.Annotations[intent.KeyMinReplicas], fmt.Sprintf("is greater than the maximum (%d)", r.max), fmt.Sprintf("a value up to %d, or raise %s", r.max, intent.KeyMaxReplicas))
	}
	r.checkWake(ts, noWake, explicitZero)
	r.applyGPUBudget()
	if fl := in.PredictedFloor; fl != nil && !r.isJob() {
		if in.Predictive {
			r.min = max(r.min, min(*fl, r.max))
		} else {
			// Left over from when the workload was predictive: the
			// predictor removes it at its next cycle.
			r.warn("%s is ignored: %s is not \"true\" (the predictor removes the floor at its next cycle)", intent.KeyPredictedFloor, intent.KeyPredictive)
		}
	}
}

// checkWake refuses a workload that may sit at zero with no trigger that
// can wake it (noWake says why each cannot): a Deployment or StatefulSet
// that asks for zero explicitly, and a Job, whose ScaledJob starts its first
// Job only on a metric that exists before any Job runs. With
// mlscale.io/skip-wake-check it warns instead.
func (r *renderer) checkWake(ts []kedav1alpha1.ScaleTriggers, noWake []string, explicitZero bool) {
	if noWake == nil || len(ts) == 0 || r.min > 0 || (!explicitZero && !r.isJob()) {
		return
	}
	if onlyResourceTriggers(ts) && !r.isJob() {
		// KEDA refuses this ScaledObject itself: cpu and memory are
		// measured on the workload's own pods, so no setting makes them
		// outlive the pods.
		key, val := intent.KeyMinReplicas, "0"
		if r.in.MinReplicas == nil {
			key, val = intent.KeyScaleToZero, "true"
		}
		r.errs.Add(key, val, "asks for scale-to-zero, but the only triggers are cpu and memory, which are measured on the workload's own pods and cannot wake it (KEDA refuses such a ScaledObject, whatever "+intent.KeySkipWakeCheck+" says)",
			fmt.Sprintf(`add %s (a gateway or router metric that counts requests while no pod runs), %s or %s with %s; or keep at least 1 replica (%s: "1")`,
				intent.KeyWakeQuery, intent.KeyRabbitMQQueue, intent.KeyBusinessHours, intent.KeyMinReplicas, intent.KeyMinReplicas))
		return
	}
	if r.in.SkipWakeCheck {
		r.warn("%s is set: the workload may sit at zero replicas although no trigger mlscale knows can wake it (%s); make sure the metric outlives the pods", intent.KeySkipWakeCheck, strings.Join(noWake, "; "))
		return
	}
	if r.isJob() {
		key := intent.KeyPrometheusQuery
		r.errs.Add(key, r.w.Annotations[key],
			"cannot start the first Job: a ScaledJob starts Jobs on a metric that exists before any Job runs, and "+strings.Join(noWake, "; "),
			fmt.Sprintf(`a queue (%s) or a query on a metric outside the Job's pods; or, if the metric outlives the pods, %s: "true"`, intent.KeyRabbitMQQueue, intent.KeySkipWakeCheck))
		return
	}
	key, val := intent.KeyMinReplicas, "0"
	if r.in.MinReplicas == nil {
		key, val = intent.KeyScaleToZero, "true"
	}
	r.errs.Add(key, val, "asks for scale-to-zero, but no trigger can wake the workload from zero replicas: "+strings.Join(noWake, "; "), wakeAllowed())
}

// onlyResourceTriggers reports whether every trigger is cpu or memory,
// which KEDA does not allow to scale to zero.
func onlyResourceTriggers(ts []kedav1alpha1.ScaleTriggers) bool {
	for _, t := range ts {
		if t.Type != TriggerCPU && t.Type != TriggerMemory {
			return false
		}
	}
	return len(ts) > 0
}

// applyGPUBudget holds the workload's maximum to the namespace's GPU
// budget. One replica holds GPUs per pod x pods per replica (a Job's
// parallelism); the products saturate rather than overflow.
func (r *renderer) applyGPUBudget() {
	if r.f.GPUBudget == nil || r.gpu.Count == 0 {
		return
	}
	budget := *r.f.GPUBudget
	pods := r.w.PodsPerReplica()
	perReplica := workload.SaturatingMul(r.gpu.Count, pods)
	what := fmt.Sprintf("%d GPU(s) per pod", r.gpu.Count)
	if pods > 1 {
		what = fmt.Sprintf("%d GPU(s) per pod x parallelism %d", r.gpu.Count, pods)
	}
	fit := budget / perReplica
	switch {
	case fit < 1:
		r.errs.Add(intent.KeyMaxReplicas, r.w.Annotations[intent.KeyMaxReplicas],
			fmt.Sprintf("cannot be met: one replica needs %s but namespace %s has a GPU budget of %d", what, r.w.Namespace, budget),
			"raise the namespace's GPU quota or request fewer GPUs per replica")
	case int64(r.max) > fit:
		r.warn("max replicas lowered from %d to %d: %d replicas x %s exceed namespace %s's GPU budget of %d", r.max, fit, r.max, what, r.w.Namespace, budget)
		r.max = int32(fit)
		if r.min > r.max {
			r.errs.Add(intent.KeyMinReplicas, r.w.Annotations[intent.KeyMinReplicas],
				fmt.Sprintf("needs %d GPUs, over namespace %s's GPU budget of %d", workload.SaturatingMul(int64(r.min), perReplica), r.w.Namespace, budget),
				fmt.Sprintf("at most %d replicas", fit))
		}
	}
}

func (r *renderer) objectMeta() metav1.ObjectMeta {
	meta := metav1.ObjectMeta{
		Name:      r.w.Name,
		Namespace: r.w.Namespace,
		Labels: map[string]string{
			LabelManagedBy:    ManagedByValue,
			LabelWorkloadKind: r.w.GVK.Kind,
			LabelWorkloadName: WorkloadNameLabelValue(r.w.Name),
		},
		Annotations: map[string]string{AnnotationProfile: string(r.profile)},
	}
	if r.w.UID != "" {
		meta.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: r.w.GVK.GroupVersion().String(), Kind: r.w.GVK.Kind, Name: r.w.Name, UID: r.w.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}}
	}
	return meta
}

// WorkloadNameLabelValue is the value of the LabelWorkloadName label for a
// workload name. Object names may have up to 253 characters but label values
// only 63, so a longer name is cut to 46 characters and suffixed with a hash
// of the whole name.
func WorkloadNameLabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	return shortened(name, validation.LabelValueMaxLength)
}

func seconds(d time.Duration) *int32 { return ptr.To(int32(d / time.Second)) }

func (r *renderer) scaledObject(meta metav1.ObjectMeta, ts []kedav1alpha1.ScaleTriggers) *kedav1alpha1.ScaledObject {
	cooldown := r.def.Cooldown
	if r.gpu.Count > 0 {
		cooldown = max(cooldown, GPUCooldown)
	}
	if r.in.Cooldown != nil {
		cooldown = *r.in.Cooldown
	}
	polling := ptr.Deref(r.in.PollingInterval, r.def.PollingInterval)
	so := &kedav1alpha1.ScaledObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1alpha1.SchemeGroupVersion.String(), Kind: "ScaledObject"},
		ObjectMeta: meta,
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{
				APIVersion: r.w.GVK.GroupVersion().String(), Kind: r.w.GVK.Kind, Name: r.w.Name,
			},
			PollingInterval: seconds(polling),
			CooldownPeriod:  seconds(cooldown),
			MinReplicaCount: ptr.To(r.min),
			MaxReplicaCount: ptr.To(r.max),
			Triggers:        ts,
		},
	}
	hpa := r.in.AdoptHPA
	if hpa == "" {
		hpa = hpaName(r.w.Name)
	}
	if b := r.behavior(); b != nil || hpa != "" {
		so.Spec.Advanced = &kedav1alpha1.AdvancedConfig{
			HorizontalPodAutoscalerConfig: &kedav1alpha1.HorizontalPodAutoscalerConfig{Behavior: b, Name: hpa},
		}
	}
	if r.min == 0 {
		// Opting out deletes the ScaledObject; a workload KEDA had
		// scaled to zero would stay at zero with nothing to wake it.
		// KEDA puts back the replicas it found when it took over (and
		// the reconciler, where KEDA's restore did not take).
		if so.Spec.Advanced == nil {
			so.Spec.Advanced = &kedav1alpha1.AdvancedConfig{}
		}
		so.Spec.Advanced.RestoreToOriginalReplicaCount = true
	}
	if r.in.AdoptHPA != "" {
		// KEDA takes the existing HPA over instead of making its own.
		so.Annotations[AnnotationTransferHPA] = "true"
	}
	return so
}

// behavior slows scale-down: GPU pods are slow and costly to start again.
func (r *renderer) behavior() *autoscalingv2.HorizontalPodAutoscalerBehavior {
	window := r.in.ScaleDownWindow
	if window == nil && r.gpu.Count > 0 {
		window = ptr.To(GPUScaleDownWindow)
	}
	if window == nil {
		return nil
	}
	down := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: seconds(*window)}
	if r.gpu.Count > 0 {
		down.Policies = []autoscalingv2.HPAScalingPolicy{{
			Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: int32(GPUScaleDownPeriod / time.Second),
		}}
	}
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: down}
}

// jobTemplateLabels are set by the Job controller on a Job's pods and must
// not travel into the ScaledJob's template.
var jobTemplateLabels = []string{"controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"}

// jobMetadata copies the Job's own labels onto the ScaledJob, whose labels
// KEDA gives every Job it starts: a queue's label
// (kueue.x-k8s.io/queue-name) or a cost centre would otherwise be lost.
// mlscale's own labels win, and the Job controller's stay behind. The
// Job's annotations do not travel: they hold mlscale.io/ keys (a started
// Job is no workload to autoscale) and notes about the Job itself, and an
// edit of them would rewrite the ScaledJob.
func (r *renderer) jobMetadata(meta *metav1.ObjectMeta) {
	for k, v := range r.w.Labels {
		if _, ours := meta.Labels[k]; !ours && !slices.Contains(jobTemplateLabels, k) {
			meta.Labels[k] = v
		}
	}
}

func (r *renderer) scaledJob(meta metav1.ObjectMeta, ts []kedav1alpha1.ScaleTriggers) *kedav1alpha1.ScaledJob {
	spec := r.w.Job.DeepCopy()
	if spec == nil {
		spec = &batchv1.JobSpec{Template: *r.w.Template.DeepCopy()}
	}
	spec.Suspend = nil
	spec.Selector = nil
	spec.ManualSelector = nil
	for _, l := range jobTemplateLabels {
		delete(spec.Template.Labels, l)
	}
	if len(spec.Template.Labels) == 0 {
		spec.Template.Labels = nil
	}
	polling := ptr.Deref(r.in.PollingInterval, r.def.PollingInterval)
	if r.in.Cooldown != nil {
		r.warn("%s is ignored on a Job: a ScaledJob starts one Job per message and has no cooldown", intent.KeyCooldown)
	}
	if r.in.ScaleDownWindow != nil {
		r.warn("%s is ignored on a Job: a ScaledJob has no HorizontalPodAutoscaler to stabilise", intent.KeyScaleDownWindow)
	}
	r.jobMetadata(&meta)
	sj := &kedav1alpha1.ScaledJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1alpha1.SchemeGroupVersion.String(), Kind: "ScaledJob"},
		ObjectMeta: meta,
		Spec: kedav1alpha1.ScaledJobSpec{
			JobTargetRef:               spec,
			PollingInterval:            seconds(polling),
			MinReplicaCount:            ptr.To(r.min),
			MaxReplicaCount:            ptr.To(r.max),
			SuccessfulJobsHistoryLimit: ptr.To(int32(5)),
			FailedJobsHistoryLimit:     ptr.To(int32(5)),
			Triggers:                   ts,
		},
	}
	// Gradual unless asked otherwise: KEDA's default terminates running
	// Jobs (hours of GPU training) whenever the ScaledJob changes.
	sj.Spec.Rollout.Strategy = intent.RolloutGradual
	if r.in.RolloutStrategy != "" {
		sj.Spec.Rollout.Strategy = r.in.RolloutStrategy
	}
	for _, t := range ts {
		if t.Name == TriggerRabbitMQ {
			// Over AMQP KEDA counts only ready messages, not those a running
			// Job holds unacknowledged, so the default strategy (queue length
			// minus running Jobs) would count each running Job twice.
			sj.Spec.ScalingStrategy.Strategy = "accurate"
		}
	}
	return sj
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// specHash hashes the rendered spec (not metadata), so that admission and the
// reconciler agree on whether a KEDA object is current.
func specHash(obj client.Object) string {
	var spec any
	switch o := obj.(type) {
	case *kedav1alpha1.ScaledObject:
		spec = o.Spec
	case *kedav1alpha1.ScaledJob:
		spec = o.Spec
	}
	b, err := json.Marshal(spec)
	if err != nil {
		panic(fmt.Sprintf("marshalling a rendered spec: %v", err)) // the types are plain data
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Message is the one message admission denies with and `mlscale render`
// prints for a workload that cannot be rendered, e.g.
// `mlscale: Deployment ml/llm: mlscale.io/max-replicas: "abc" is not a whole number; allowed: ...`.
func Message(w workload.Workload, err error) string {
	return fmt.Sprintf("mlscale: %s %s/%s: %v", w.GVK.Kind, w.Namespace, w.Name, err)
}
