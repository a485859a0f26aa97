package localcluster

import (
	"context"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/reconciler"
)

// renderFailedEvent is the Event the reconciler records for a workload it
// cannot render.
func renderFailedEvent(ns, name string, uid types.UID, reason, note string) *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + ".1"},
		EventTime:  metav1.NowMicro(),
		Reason:     reason,
		Type:       corev1.EventTypeWarning,
		Note:       note,
		Regarding:  corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name, UID: uid},
	}
}

// TestWaitForKEDARenderFailed: a workload the reconciler reported it cannot
// render (a RenderFailed Event about its uid) is not waited for until the
// timeout; one with only other Events, or a RenderFailed Event about an
// earlier object of the same name, is.
func TestWaitForKEDARenderFailed(t *testing.T) {
	const ns, name, uid = "other", "bad-app", types.UID("uid-1")
	const note = `mlscale: Deployment other/bad-app: mlscale.io/max-replicas: "lots" is not a whole number`
	so := &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, tc := range []struct {
		name        string
		objs        []client.Object
		wantMissing int
		wantFailed  string
		wantKEDA    bool
		// quick: returns well before the timeout.
		quick bool
	}{
		{name: "KEDA object exists", objs: []client.Object{so}, wantKEDA: true, quick: true},
		{name: "RenderFailed Event", objs: []client.Object{renderFailedEvent(ns, name, uid, reconciler.ReasonRenderFailed, note)}, wantFailed: note, quick: true},
		{name: "no Event", wantMissing: 1},
		{name: "another reason", objs: []client.Object{renderFailedEvent(ns, name, uid, "ScaledObjectCreated", "created")}, wantMissing: 1},
		{name: "an earlier object's Event", objs: []client.Object{renderFailedEvent(ns, name, "uid-0", reconciler.ReasonRenderFailed, note)}, wantMissing: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(tc.objs...).Build()
			rows := []Row{{Workload: Ref{GVK: workload.DeploymentGVK, Namespace: ns, Name: name}, UID: uid, OptedIn: true}}
			const timeout = 500 * time.Millisecond
			start := time.Now()
			missing, err := WaitForKEDA(context.Background(), c, rows, timeout, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if missing != tc.wantMissing {
				t.Errorf("missing = %d, want %d", missing, tc.wantMissing)
			}
			if rows[0].RenderFailed != tc.wantFailed {
				t.Errorf("RenderFailed = %q, want %q", rows[0].RenderFailed, tc.wantFailed)
			}
			if got := rows[0].KEDA != nil; got != tc.wantKEDA {
				t.Errorf("KEDA found = %v, want %v", got, tc.wantKEDA)
			}
			if took := time.Since(start); tc.quick && took >= timeout {
				t.Errorf("WaitForKEDA took %s, the whole timeout", took)
			}
			if got := rows[0].Handled(); got != (tc.wantMissing == 0) {
				t.Errorf("Handled() = %v, want %v", got, tc.wantMissing == 0)
			}
		})
	}
}
