package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/predictor/floorwriter"
	"github.com/mlscale/mlscale/webhook/audit"
	"github.com/mlscale/mlscale/webhook/querycheck"
	"github.com/mlscale/mlscale/webhook/reconciler"
)

// The pure core of `mlscale status`: statusRows turns the objects listed
// from the API server into one row per opted-in workload. It reads nothing
// else, so that its table tests need no cluster.

// statusEventReasons are the Warning Events whose latest is a row's last
// event: the reconciler's failures and the trigger check's.
var statusEventReasons = []string{reconciler.ReasonRenderFailed, reconciler.ReasonApplyFailed, reconciler.ReasonJobNotSuspended, querycheck.ReasonQueryEmpty}

// statusAppliedReasons are the reconciler's Normal Events that say the
// workload's KEDA object is as its annotations render: a RenderFailed or
// ApplyFailed before the latest of them is past, and not a row's last
// event.
var statusAppliedReasons = []string{
	reconciler.ReasonScaledObjectCreated, reconciler.ReasonScaledObjectUpdated, reconciler.ReasonScaledObjectSynced,
	reconciler.ReasonScaledJobCreated, reconciler.ReasonScaledJobUpdated, reconciler.ReasonScaledJobSynced,
}

// kedaJobLabel is the label KEDA puts on the Jobs a ScaledJob starts.
const kedaJobLabel = workload.LabelKEDAJob

// KEDA's defaults for an unset minReplicaCount and maxReplicaCount, on
// ScaledObjects and ScaledJobs alike.
const (
	kedaDefaultMin = 0
	kedaDefaultMax = 100
)

// statusInput is what `mlscale status` lists, in one namespace or all.
type statusInput struct {
	Deployments   []appsv1.Deployment
	StatefulSets  []appsv1.StatefulSet
	Jobs          []batchv1.Job
	ScaledObjects []kedav1alpha1.ScaledObject
	ScaledJobs    []kedav1alpha1.ScaledJob
	HPAs          []autoscalingv2.HorizontalPodAutoscaler
	// Events are those with the reasons in statusEventReasons,
	// statusAppliedReasons and audit.ReasonPolicyViolation; others are
	// ignored.
	Events []corev1.Event
}

// statusRow is one opted-in workload: `mlscale status`'s table row and its
// -o json record.
type statusRow struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	// KEDA is the workload's ScaledObject or ScaledJob; nil when it has none
	// (not rendered yet, or its annotations do not render: see LastEvent).
	KEDA *statusKEDA `json:"keda"`
	// Replicas are the workload's: for a Deployment or StatefulSet its
	// status.replicas, for a Job the Jobs its ScaledJob runs.
	Replicas int32 `json:"replicas"`
	// DesiredReplicas is spec.replicas of a Deployment or StatefulSet (what
	// KEDA's HPA last asked for); nil for a Job.
	DesiredReplicas *int32 `json:"desiredReplicas,omitempty"`
	// ReadyReplicas is status.readyReplicas of a Deployment or
	// StatefulSet; nil for a Job.
	ReadyReplicas *int32 `json:"readyReplicas,omitempty"`
	// PredictedFloor is the mlscale.io/predicted-floor annotation, "" when
	// there is none.
	PredictedFloor string `json:"predictedFloor,omitempty"`
	// Prediction is the mlscale.io/prediction annotation (the predictor's
	// explanation of the floor), as the JSON it holds; PredictionError says
	// why it could not be read.
	Prediction      json.RawMessage `json:"prediction,omitempty"`
	PredictionError string          `json:"predictionError,omitempty"`
	// TriggerStatus is the mlscale.io/trigger-status annotation (the
	// trigger check's result), as the JSON it holds.
	TriggerStatus json.RawMessage `json:"triggerStatus,omitempty"`
	// LastEvent is the latest RenderFailed, ApplyFailed, JobNotSuspended
	// or TriggerQueryEmpty Event on the workload; a RenderFailed or
	// ApplyFailed that a later apply resolved (statusAppliedReasons) is
	// not one.
	LastEvent *statusEvent `json:"lastEvent"`
	// Violations are the PolicyViolation Events of mlscale's policy audit
	// on the workload, its KEDA object and the HPAs that target it,
	// latest first, one per object and message.
	Violations []statusViolation `json:"violations"`

	// explanation is Prediction decoded, for the table.
	explanation *floorwriter.Explanation
}

// statusKEDA is a workload's KEDA object and what KEDA says of it.
type statusKEDA struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Ready and Active are the status of KEDA's Ready and Active
	// conditions ("True", "False", "Unknown"), "" when KEDA has not set
	// them (KEDA is not running, or has not reconciled the object yet).
	Ready  string `json:"ready"`
	Active string `json:"active"`
	// ReadyMessage is the Ready condition's message when it is not True:
	// why KEDA does not scale the workload.
	ReadyMessage string `json:"readyMessage,omitempty"`
	// Paused is true when KEDA's Paused condition is True.
	Paused bool `json:"paused,omitempty"`
	// MinReplicas and MaxReplicas are the object's minReplicaCount and
	// maxReplicaCount, KEDA's defaults when unset; minReplicaCount
	// includes the predicted floor.
	MinReplicas int32 `json:"minReplicas"`
	MaxReplicas int32 `json:"maxReplicas"`
}

// statusEvent is an Event, as a row shows it.
type statusEvent struct {
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	// Count is how many times it happened, 1 for a single Event.
	Count int32 `json:"count"`
}

// statusViolation is a policy violation the audit reported on an object.
type statusViolation struct {
	// Object is the violating object as "Kind/name".
	Object  string    `json:"object"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// objectKey names an object of a namespace by kind and name.
type objectKey struct{ namespace, kind, name string }

// listed reports whether status shows a workload: mlscale.io/autoscale
// "true", or a value that is neither "true" nor "false" ("True", "yes"),
// which admission refuses but a workload created while the webhook was
// down can carry: its row shows the reconciler's RenderFailed Event.
func listed(annotations map[string]string) bool {
	v, ok := annotations[intent.KeyAutoscale]
	return ok && v != "false"
}

// statusRows returns a row for every opted-in Deployment, StatefulSet and
// Job of in (listed), sorted by namespace, kind and name.
func statusRows(in statusInput) []statusRow {
	idx := newStatusIndex(in)
	var rows []statusRow
	for i := range in.Deployments {
		d := &in.Deployments[i]
		if listed(d.Annotations) {
			rows = append(rows, idx.row("Deployment", &d.ObjectMeta, d.Status.Replicas, d.Spec.Replicas, &d.Status.ReadyReplicas))
		}
	}
	for i := range in.StatefulSets {
		s := &in.StatefulSets[i]
		if listed(s.Annotations) {
			rows = append(rows, idx.row("StatefulSet", &s.ObjectMeta, s.Status.Replicas, s.Spec.Replicas, &s.Status.ReadyReplicas))
		}
	}
	for i := range in.Jobs {
		j := &in.Jobs[i]
		if listed(j.Annotations) {
			rows = append(rows, idx.row("Job", &j.ObjectMeta, idx.runningJobs[objectKey{j.Namespace, "ScaledJob", j.Name}], nil, nil))
		}
	}
	slices.SortFunc(rows, func(a, b statusRow) int {
		return strings.Compare(a.Namespace+"\x00"+a.Kind+"\x00"+a.Name, b.Namespace+"\x00"+b.Kind+"\x00"+b.Name)
	})
	return rows
}

// statusIndex holds the listed objects by what rows look them up by.
type statusIndex struct {
	scaledObjects map[objectKey]*kedav1alpha1.ScaledObject
	scaledJobs    map[objectKey]*kedav1alpha1.ScaledJob
	// hpas are the names of the HPAs that target a workload.
	hpas map[objectKey][]string
	// runningJobs counts the unfinished Jobs of each ScaledJob.
	runningJobs map[objectKey]int32
	// events are the Events on each object, by reason.
	events map[objectKey][]corev1.Event
}

func newStatusIndex(in statusInput) statusIndex {
	idx := statusIndex{
		scaledObjects: map[objectKey]*kedav1alpha1.ScaledObject{},
		scaledJobs:    map[objectKey]*kedav1alpha1.ScaledJob{},
		hpas:          map[objectKey][]string{},
		runningJobs:   map[objectKey]int32{},
		events:        map[objectKey][]corev1.Event{},
	}
	for i := range in.ScaledObjects {
		so := &in.ScaledObjects[i]
		// A ScaledObject named after the workload and targeting it: what
		// mlscale renders (and what KEDA's "one ScaledObject per target"
		// leaves room for).
		kind := so.Spec.ScaleTargetRef.Kind
		if kind == "" {
			kind = "Deployment"
		}
		if so.Spec.ScaleTargetRef.Name == so.Name {
			idx.scaledObjects[objectKey{so.Namespace, kind, so.Name}] = so
		}
	}
	for i := range in.ScaledJobs {
		sj := &in.ScaledJobs[i]
		idx.scaledJobs[objectKey{sj.Namespace, "Job", sj.Name}] = sj
	}
	for _, h := range in.HPAs {
		k := objectKey{h.Namespace, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name}
		idx.hpas[k] = append(idx.hpas[k], h.Name)
	}
	for _, j := range in.Jobs {
		if sj, ok := j.Labels[kedaJobLabel]; ok && !workload.JobFinished(j.Status) {
			idx.runningJobs[objectKey{j.Namespace, "ScaledJob", sj}]++
		}
	}
	for _, e := range in.Events {
		o := e.InvolvedObject
		k := objectKey{e.Namespace, o.Kind, o.Name}
		if o.Namespace != "" {
			k.namespace = o.Namespace
		}
		idx.events[k] = append(idx.events[k], e)
	}
	return idx
}

// row builds the row of one workload.
func (idx statusIndex) row(kind string, m *metav1.ObjectMeta, replicas int32, desired, ready *int32) statusRow {
	r := statusRow{Namespace: m.Namespace, Kind: kind, Name: m.Name, Replicas: replicas, ReadyReplicas: ready, Violations: []statusViolation{}}
	if desired != nil {
		r.DesiredReplicas = desired
	} else if kind != "Job" {
		one := int32(1) // spec.replicas' default
		r.DesiredReplicas = &one
	}
	key := objectKey{m.Namespace, kind, m.Name}
	// The KEDA object and the objects whose violations concern the workload.
	concern := []objectKey{key}
	if kind == "Job" {
		if sj := idx.scaledJobs[key]; sj != nil {
			r.KEDA = kedaStatus("ScaledJob", sj.Name, sj.Status.Conditions, sj.Spec.MinReplicaCount, sj.Spec.MaxReplicaCount)
			concern = append(concern, objectKey{m.Namespace, "ScaledJob", sj.Name})
		}
	} else if so := idx.scaledObjects[key]; so != nil {
		r.KEDA = kedaStatus("ScaledObject", so.Name, so.Status.Conditions, so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount)
		concern = append(concern, objectKey{m.Namespace, "ScaledObject", so.Name})
	}
	for _, h := range idx.hpas[key] {
		concern = append(concern, objectKey{m.Namespace, "HorizontalPodAutoscaler", h})
	}

	r.PredictedFloor = m.Annotations[intent.KeyPredictedFloor]
	if v, ok := m.Annotations[intent.KeyPrediction]; ok {
		var e floorwriter.Explanation
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			r.PredictionError = "not valid JSON: " + err.Error()
		} else {
			r.Prediction, r.explanation = json.RawMessage(v), &e
		}
	}
	if v, ok := m.Annotations[intent.KeyTriggerStatus]; ok && json.Valid([]byte(v)) {
		r.TriggerStatus = json.RawMessage(v)
	}

	var applied time.Time
	for _, e := range idx.events[key] {
		if t := eventTime(e); slices.Contains(statusAppliedReasons, e.Reason) && sameObject(e, m.UID) && t.After(applied) {
			applied = t
		}
	}
	for _, e := range idx.events[key] {
		if !slices.Contains(statusEventReasons, e.Reason) || !sameObject(e, m.UID) {
			continue
		}
		if (e.Reason == reconciler.ReasonRenderFailed || e.Reason == reconciler.ReasonApplyFailed) && eventTime(e).Before(applied) {
			continue
		}
		if t := eventTime(e); r.LastEvent == nil || t.After(r.LastEvent.Time) {
			r.LastEvent = &statusEvent{Reason: e.Reason, Message: e.Message, Time: t, Count: eventCount(e)}
		}
	}
	seen := map[statusViolation]bool{}
	for _, k := range concern {
		for _, e := range idx.events[k] {
			if e.Reason != audit.ReasonPolicyViolation {
				continue
			}
			v := statusViolation{Object: k.kind + "/" + k.name, Message: e.Message}
			if seen[v] {
				continue
			}
			seen[v] = true
			v.Time = eventTime(e)
			r.Violations = append(r.Violations, v)
		}
	}
	slices.SortStableFunc(r.Violations, func(a, b statusViolation) int { return b.Time.Compare(a.Time) })
	return r
}

// kedaStatus reads a KEDA object's conditions and replica bounds.
func kedaStatus(kind, name string, conds kedav1alpha1.Conditions, minR, maxR *int32) *statusKEDA {
	k := &statusKEDA{Kind: kind, Name: name, MinReplicas: kedaDefaultMin, MaxReplicas: kedaDefaultMax}
	if minR != nil {
		k.MinReplicas = *minR
	}
	if maxR != nil {
		k.MaxReplicas = *maxR
	}
	for _, c := range conds {
		switch c.Type {
		case kedav1alpha1.ConditionReady:
			k.Ready = string(c.Status)
			if c.Status != metav1.ConditionTrue {
				k.ReadyMessage = c.Message
			}
		case kedav1alpha1.ConditionActive:
			k.Active = string(c.Status)
		case kedav1alpha1.ConditionPaused:
			k.Paused = c.Status == metav1.ConditionTrue
		}
	}
	return k
}

// sameObject reports whether an Event is about the workload with uid, and
// not about an earlier object of the same name (an Event without a uid is
// taken to be).
func sameObject(e corev1.Event, uid types.UID) bool {
	return e.InvolvedObject.UID == "" || uid == "" || e.InvolvedObject.UID == uid
}

// eventTime is when an Event last happened: the latest of its series'
// last observation, its lastTimestamp, eventTime and creation time (Events
// of the events.k8s.io API, which mlscale records, set eventTime and a
// series; core/v1 recorders set lastTimestamp).
func eventTime(e corev1.Event) time.Time {
	t := e.CreationTimestamp.Time
	for _, c := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	return t
}

// eventCount is how many times an Event happened.
func eventCount(e corev1.Event) int32 {
	switch {
	case e.Series != nil && e.Series.Count > 0:
		return e.Series.Count
	case e.Count > 0:
		return e.Count
	}
	return 1
}

// floorText is the FLOOR column: the predicted floor, or "-".
func (r statusRow) floorText() string {
	if r.PredictedFloor == "" {
		return "-"
	}
	if _, err := strconv.ParseInt(r.PredictedFloor, 10, 32); err != nil {
		return strconv.Quote(r.PredictedFloor)
	}
	return r.PredictedFloor
}
