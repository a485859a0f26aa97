package cli

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/predictor/floorwriter"
)

// t0 is the fixed "now" of the status tests.
var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func optedIn(ns, name string, uid types.UID, extra ...string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid, Annotations: map[string]string{"mlscale.io/autoscale": "true"}}
	for i := 0; i+1 < len(extra); i += 2 {
		m.Annotations[extra[i]] = extra[i+1]
	}
	return m
}

func deployment(m metav1.ObjectMeta, replicas int32) appsv1.Deployment {
	return appsv1.Deployment{ObjectMeta: m, Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas)}, Status: appsv1.DeploymentStatus{Replicas: replicas, ReadyReplicas: replicas - 1}}
}

func scaledObject(ns, name, kind string, minR, maxR *int32, conds ...kedav1alpha1.Condition) kedav1alpha1.ScaledObject {
	return kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       kedav1alpha1.ScaledObjectSpec{ScaleTargetRef: &kedav1alpha1.ScaleTarget{Kind: kind, Name: name}, MinReplicaCount: minR, MaxReplicaCount: maxR},
		Status:     kedav1alpha1.ScaledObjectStatus{Conditions: conds},
	}
}

func cond(typ kedav1alpha1.ConditionType, status metav1.ConditionStatus, msg string) kedav1alpha1.Condition {
	return kedav1alpha1.Condition{Type: typ, Status: status, Message: msg}
}

// event is a core/v1 Event as a core/v1 recorder writes it (lastTimestamp).
func event(ns, kind, name string, uid types.UID, reason, msg string, at time.Time) corev1.Event {
	return corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: name + "." + reason, CreationTimestamp: metav1.NewTime(at)},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name, UID: uid},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning,
		LastTimestamp: metav1.NewTime(at), Count: 1,
	}
}

// seriesEvent is an Event as mlscale's events.k8s.io recorders write it:
// eventTime and a series, no lastTimestamp.
func seriesEvent(ns, kind, name string, uid types.UID, reason, msg string, first, last time.Time, count int32) corev1.Event {
	e := event(ns, kind, name, uid, reason, msg, first)
	e.LastTimestamp, e.Count = metav1.Time{}, 0
	e.EventTime = metav1.NewMicroTime(first)
	e.Series = &corev1.EventSeries{Count: count, LastObservedTime: metav1.NewMicroTime(last)}
	return e
}

func TestStatusRows(t *testing.T) {
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	prediction := `{"time":"2026-12-03T09:58:00Z","floor":2,"mode":"predicting","reason":"rise","lookahead":"15m","capacityPerReplica":40,"confidence":0.91,"evaluated":30}`
	in := statusInput{
		Deployments: []appsv1.Deployment{
			deployment(optedIn("ml", "llm", "u-llm", "mlscale.io/predicted-floor", "2", "mlscale.io/prediction", prediction,
				"mlscale.io/trigger-status", `{"checked":"2026-12-03T09:00:00Z","triggers":{"gpu":"empty"}}`), 3),
			deployment(metav1.ObjectMeta{Namespace: "ml", Name: "not-opted-in"}, 1),
			deployment(optedIn("ml", "broken", "u-broken", "mlscale.io/prediction", "{not json"), 1),
			deployment(optedIn("a-team", "web", "u-web"), 0),
			// A value admission refuses, created while it was down: listed
			// with its RenderFailed Event. "false" is an opt-out.
			deployment(withAutoscale(optedIn("ml", "capital", "u-capital"), "True"), 1),
			deployment(withAutoscale(optedIn("ml", "opted-out", "u-out"), "false"), 1),
			// A failure that a later apply resolved, and one after an apply.
			deployment(optedIn("ml", "fixed", "u-fixed"), 1),
			deployment(optedIn("ml", "refailed", "u-refailed"), 1),
		},
		StatefulSets: []appsv1.StatefulSet{{ObjectMeta: optedIn("ml", "llm", "u-sts")}},
		Jobs: []batchv1.Job{
			{ObjectMeta: optedIn("ml", "train", "u-train")},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "train-abc", Labels: map[string]string{kedaJobLabel: "train"}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "train-def", Labels: map[string]string{kedaJobLabel: "train"}}},
			{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "train-old", Labels: map[string]string{kedaJobLabel: "train"}},
				Status:     batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}},
			},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "x", Labels: map[string]string{kedaJobLabel: "train"}}},
		},
		ScaledObjects: []kedav1alpha1.ScaledObject{
			scaledObject("ml", "llm", "Deployment", ptr.To[int32](2), ptr.To[int32](4),
				cond(kedav1alpha1.ConditionReady, metav1.ConditionTrue, "ScaledObject is defined correctly"),
				cond(kedav1alpha1.ConditionActive, metav1.ConditionFalse, ""),
				cond(kedav1alpha1.ConditionPaused, metav1.ConditionFalse, "")),
			// Not named after its target: not mlscale's object for "broken".
			scaledObject("ml", "hand-made", "Deployment", nil, nil),
			// KEDA's defaults; a missing kind is a Deployment.
			scaledObject("a-team", "web", "", nil, nil,
				cond(kedav1alpha1.ConditionReady, metav1.ConditionFalse, "Triggers defined in ScaledObject are not working correctly")),
		},
		ScaledJobs: []kedav1alpha1.ScaledJob{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "train"},
			Spec:       kedav1alpha1.ScaledJobSpec{MaxReplicaCount: ptr.To[int32](8)},
			Status:     kedav1alpha1.ScaledJobStatus{Conditions: kedav1alpha1.Conditions{cond(kedav1alpha1.ConditionReady, metav1.ConditionTrue, ""), cond(kedav1alpha1.ConditionPaused, metav1.ConditionTrue, "")}},
		}},
		HPAs: []autoscalingv2.HorizontalPodAutoscaler{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "llm-hpa"},
			Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "llm"}},
		}},
		Events: []corev1.Event{
			event("ml", "Deployment", "llm", "u-llm", "RenderFailed", "old render failure", ago(time.Hour)),
			seriesEvent("ml", "Deployment", "llm", "u-llm", "TriggerQueryEmpty", "trigger gpu reads no series", ago(50*time.Minute), ago(5*time.Minute), 4),
			// An earlier Deployment of the same name.
			event("ml", "Deployment", "llm", "u-old", "ApplyFailed", "from the deleted one", ago(time.Minute)),
			// Not a reason status shows.
			event("ml", "Deployment", "llm", "u-llm", "ScaledObjectUpdated", "updated", ago(time.Second)),
			// The StatefulSet of the same name.
			event("ml", "StatefulSet", "llm", "u-sts", "RenderFailed", "the StatefulSet's", ago(time.Minute)),
			event("ml", "ScaledObject", "llm", "", "PolicyViolation", "two autoscalers (enforcement action: audit)", ago(2*time.Minute)),
			event("ml", "HorizontalPodAutoscaler", "llm-hpa", "", "PolicyViolation", "two autoscalers (enforcement action: audit)", ago(3*time.Minute)),
			event("ml", "Deployment", "llm", "u-llm", "PolicyViolation", "over budget (enforcement action: warn)", ago(10*time.Minute)),
			event("ml", "Deployment", "llm", "u-llm", "PolicyViolation", "over budget (enforcement action: warn)", ago(20*time.Minute)),
			event("ml", "ScaledObject", "hand-made", "", "PolicyViolation", "not llm's", ago(time.Minute)),
			event("ml", "Deployment", "broken", "u-broken", "RenderFailed", "mlscale.io/max-replicas: \"abc\" is not a whole number", ago(90*time.Second)),
			event("ml", "Deployment", "capital", "u-capital", "RenderFailed", "mlscale.io/autoscale: \"True\" is not a boolean", ago(80*time.Second)),
			event("ml", "Deployment", "fixed", "u-fixed", "RenderFailed", "mlscale.io/max-replicas: \"lots\" is not a whole number", ago(3*time.Minute)),
			seriesEvent("ml", "Deployment", "fixed", "u-fixed", "ScaledObjectSynced", "ScaledObject ml/fixed is as the workload's annotations render", ago(2*time.Minute), ago(time.Minute), 1),
			event("ml", "Deployment", "refailed", "u-refailed", "ScaledObjectUpdated", "updated", ago(3*time.Minute)),
			event("ml", "Deployment", "refailed", "u-refailed", "ApplyFailed", "applying ScaledObject ml/refailed: denied", ago(time.Minute)),
		},
	}
	rows := statusRows(in)
	type brief struct {
		ns, kind, name string
		keda           *statusKEDA
		replicas       int32
		floor          string
		lastEvent      string
		violations     []string
	}
	var got []brief
	for _, r := range rows {
		b := brief{ns: r.Namespace, kind: r.Kind, name: r.Name, keda: r.KEDA, replicas: r.Replicas, floor: r.floorText()}
		if r.LastEvent != nil {
			b.lastEvent = r.LastEvent.Reason + " " + r.LastEvent.Time.Format(time.TimeOnly)
		}
		for _, v := range r.Violations {
			b.violations = append(b.violations, v.Object+": "+v.Message+" @"+v.Time.Format(time.TimeOnly))
		}
		got = append(got, b)
	}
	want := []brief{
		{ns: "a-team", kind: "Deployment", name: "web", floor: "-",
			keda: &statusKEDA{Kind: "ScaledObject", Name: "web", Ready: "False", ReadyMessage: "Triggers defined in ScaledObject are not working correctly", MinReplicas: 0, MaxReplicas: 100}},
		{ns: "ml", kind: "Deployment", name: "broken", replicas: 1, floor: "-", lastEvent: "RenderFailed 09:58:30"},
		{ns: "ml", kind: "Deployment", name: "capital", replicas: 1, floor: "-", lastEvent: "RenderFailed 09:58:40"},
		{ns: "ml", kind: "Deployment", name: "fixed", replicas: 1, floor: "-"},
		{ns: "ml", kind: "Deployment", name: "llm", replicas: 3, floor: "2",
			keda:      &statusKEDA{Kind: "ScaledObject", Name: "llm", Ready: "True", Active: "False", MinReplicas: 2, MaxReplicas: 4},
			lastEvent: "TriggerQueryEmpty 09:55:00",
			violations: []string{
				"ScaledObject/llm: two autoscalers (enforcement action: audit) @09:58:00",
				"HorizontalPodAutoscaler/llm-hpa: two autoscalers (enforcement action: audit) @09:57:00",
				"Deployment/llm: over budget (enforcement action: warn) @09:50:00",
			}},
		{ns: "ml", kind: "Deployment", name: "refailed", replicas: 1, floor: "-", lastEvent: "ApplyFailed 09:59:00"},
		{ns: "ml", kind: "Job", name: "train", replicas: 2, floor: "-",
			keda: &statusKEDA{Kind: "ScaledJob", Name: "train", Ready: "True", Paused: true, MinReplicas: 0, MaxReplicas: 8}},
		{ns: "ml", kind: "StatefulSet", name: "llm", floor: "-", lastEvent: "RenderFailed 09:59:00"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("row %d:\n got %+v (keda %+v)\nwant %+v (keda %+v)", i, got[i], got[i].keda, want[i], want[i].keda)
		}
	}

	llm := rows[4]
	if llm.LastEvent.Count != 4 || llm.LastEvent.Message != "trigger gpu reads no series" {
		t.Errorf("llm's last event: %+v", llm.LastEvent)
	}
	if *llm.DesiredReplicas != 3 || *llm.ReadyReplicas != 2 {
		t.Errorf("llm's desired/ready replicas %d/%d, want 3/2", *llm.DesiredReplicas, *llm.ReadyReplicas)
	}
	if string(llm.Prediction) != prediction || llm.explanation == nil || llm.explanation.Mode != "predicting" {
		t.Errorf("llm's prediction %s, explanation %+v", llm.Prediction, llm.explanation)
	}
	if !strings.Contains(string(llm.TriggerStatus), `"gpu":"empty"`) {
		t.Errorf("llm's trigger status %s", llm.TriggerStatus)
	}
	if broken := rows[1]; broken.Prediction != nil || !strings.HasPrefix(broken.PredictionError, "not valid JSON: ") {
		t.Errorf("broken's prediction %s, error %q", broken.Prediction, broken.PredictionError)
	}
	if train := rows[6]; train.DesiredReplicas != nil || train.ReadyReplicas != nil {
		t.Errorf("a Job has desired/ready replicas: %v %v", train.DesiredReplicas, train.ReadyReplicas)
	}
	if len(statusRows(statusInput{})) != 0 {
		t.Error("rows from nothing")
	}
}

func TestStatusFloorText(t *testing.T) {
	for floor, want := range map[string]string{"": "-", "3": "3", "three": `"three"`} {
		if got := (statusRow{PredictedFloor: floor}).floorText(); got != want {
			t.Errorf("floor %q: %q, want %q", floor, got, want)
		}
	}
}

func TestPrintStatus(t *testing.T) {
	rows := []statusRow{
		{
			Namespace: "ml", Kind: "Deployment", Name: "llm", Replicas: 3, PredictedFloor: "2",
			KEDA:       &statusKEDA{Kind: "ScaledObject", Name: "llm", Ready: "True", Active: "False", MinReplicas: 2, MaxReplicas: 4},
			LastEvent:  &statusEvent{Reason: "TriggerQueryEmpty", Message: "trigger gpu reads no series", Time: t0.Add(-5 * time.Minute), Count: 4},
			Violations: []statusViolation{{Object: "ScaledObject/llm", Message: "two autoscalers", Time: t0}, {Object: "Deployment/llm", Message: "over budget", Time: t0}},
			explanation: func() *floorwriter.Explanation {
				c, under := 0.912, 0.0183
				return &floorwriter.Explanation{Time: t0.Add(-2 * time.Minute), Mode: "predicting", Reason: "rise", Confidence: &c, TargetUnder: "2%", AchievedUnder: &under}
			}(),
		},
		{Namespace: "ml", Kind: "StatefulSet", Name: "broken", Violations: []statusViolation{},
			LastEvent: &statusEvent{Reason: "RenderFailed", Message: strings.Repeat("long message ", 10), Time: t0.Add(-90 * time.Second), Count: 1}},
	}
	tests := []struct {
		name, output string
		all          bool
		want         string
	}{
		{"table", outputTable, false, `
WORKLOAD             KEDA               READY   ACTIVE   MIN   MAX   REPLICAS   FLOOR
Deployment/llm       ScaledObject/llm   True    False    2     4     3          2
StatefulSet/broken   <none>             -       -        -     -     0          -
`},
		{"all namespaces", outputTable, true, `
NAMESPACE   WORKLOAD             KEDA               READY   ACTIVE   MIN   MAX   REPLICAS   FLOOR
ml          Deployment/llm       ScaledObject/llm   True    False    2     4     3          2
ml          StatefulSet/broken   <none>             -       -        -     -     0          -
`},
		{"wide", outputWide, false, `
WORKLOAD             KEDA               READY   ACTIVE   MIN   MAX   REPLICAS   FLOOR   PREDICTION                                                 LAST EVENT                                                                 VIOLATIONS
Deployment/llm       ScaledObject/llm   True    False    2     4     3          2       predicting: rise, confidence 0.91, under 1.8%/2%, 2m ago   TriggerQueryEmpty 5m ago (x4): trigger gpu reads no series                 ScaledObject/llm: two autoscalers (and 1 more)
StatefulSet/broken   <none>             -       -        -     -     0          -       -                                                          RenderFailed 90s ago: long message long message long message long mes...   -
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printStatus(&b, tt.output, tt.all, rows, t0); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != strings.TrimPrefix(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.TrimPrefix(tt.want, "\n"))
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		var b bytes.Buffer
		if err := printStatus(&b, outputJSON, false, rows[1:], t0); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("%v:\n%s", err, b.String())
		}
		want := map[string]any{
			"namespace": "ml", "kind": "StatefulSet", "name": "broken", "keda": nil, "replicas": 0.0,
			"lastEvent":  map[string]any{"reason": "RenderFailed", "message": strings.Repeat("long message ", 10), "time": "2026-12-03T09:58:30Z", "count": 1.0},
			"violations": []any{},
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
		b.Reset()
		if err := printStatus(&b, outputJSON, false, nil, t0); err != nil || b.String() != "[]\n" {
			t.Errorf("no rows: %q, %v", b.String(), err)
		}
	})
}

// withAutoscale sets the object's mlscale.io/autoscale value.
func withAutoscale(m metav1.ObjectMeta, v string) metav1.ObjectMeta {
	m.Annotations["mlscale.io/autoscale"] = v
	return m
}

// TestPredictionCellIsCut: an unreadable prediction's error was printed
// whole (95 characters) in the wide table, past its cells' bound.
func TestPredictionCellIsCut(t *testing.T) {
	r := statusRow{PredictionError: "not valid JSON: " + strings.Repeat("invalid character 'x' looking for beginning of value ", 3)}
	if got := predictionText(r, t0); len(got) > maxCell || !strings.HasPrefix(got, "unreadable (not valid JSON: ") {
		t.Errorf("PREDICTION cell %q (%d bytes), want at most %d starting with the reason", got, len(got), maxCell)
	}
}

// TestPredictionTextSaysPlainMargin: the PREDICTION column says when the
// plain margin sets the floors, and nothing of the margin otherwise.
func TestPredictionTextSaysPlainMargin(t *testing.T) {
	under := 0.048
	for margin, want := range map[string]string{
		floorwriter.MarginPlain:      "predicting: steady, under 4.8%/5%, plain margin, 60s ago",
		floorwriter.MarginCalibrated: "predicting: steady, under 4.8%/5%, 60s ago",
		"":                           "predicting: steady, under 4.8%/5%, 60s ago",
	} {
		e := &floorwriter.Explanation{Time: t0.Add(-time.Minute), Mode: "predicting", Reason: "steady", TargetUnder: "5%", AchievedUnder: &under, Margin: margin}
		if got := predictionText(statusRow{explanation: e}, t0); got != want {
			t.Errorf("margin %q: %q, want %q", margin, got, want)
		}
	}
}
