package kubejson

import (
	"encoding/json"
	"reflect"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
)

// seeds are objects in the shapes admission sees, and inputs that
// encoding/json reads in its own ways.
var seeds = []string{
	`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"ml","annotations":{"mlscale.io/autoscale":"true"},"labels":{"a":"b"},"creationTimestamp":"2024-01-02T03:04:05Z"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"api"}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":0}},"template":{"metadata":{"labels":{"app":"api"}},"spec":{"containers":[{"name":"vllm","image":"vllm","resources":{"requests":{"cpu":"500m","memory":"48Gi","nvidia.com/gpu":"1"},"limits":{"nvidia.com/gpu":1}},"env":[{"name":"A","value":"1"},{"name":"T","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}],"ports":[{"containerPort":8000}],"readinessProbe":{"httpGet":{"path":"/h","port":"http"}}}],"volumes":[{"name":"shm","emptyDir":{"medium":"Memory","sizeLimit":"16Gi"}}]}}},"status":{"replicas":1}}`,
	`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"train"},"spec":{"parallelism":4,"suspend":false,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"t","resources":{"limits":{"nvidia.com/mig-1g.10gb":"2"}}}]}}}}`,
	`{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"so"},"spec":{"scaleTargetRef":{"name":"api"},"maxReplicaCount":10,"triggers":[{"type":"prometheus","metadata":{"serverAddress":"http://p:9090","query":"sum(x)"},"authenticationRef":{"name":"a"}}],"advanced":{"horizontalPodAutoscalerConfig":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":300}}}}}}`,
	`{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"api"},"maxReplicas":5,"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}}]}}`,
	`{"METADATA":{"NAME":"upper","Annotations":{"x":"y"}},"Spec":{"Replicas":3}}`,
	`{"metadata":{"annotations":{"a":"1"}},"metadata":{"annotations":{"b":"2"}}}`,
	`{"metadata":{"name":"a\u0000b\ud800","labels":null},"spec":{"replicas":null,"template":{"spec":{"containers":[]}}}}`,
	`{"metadata":{"name":1}}`,
	`{"spec":{"replicas":1.5}}`,
	`{"spec":{"template":{"spec":{"containers":[{"resources":{"requests":{"cpu":"1x"}}}]}}}}`,
	`{"metadata":{"creationTimestamp":"yesterday"}}`,
	`{"unknown":{"deep":[1,2,{"x":null}]},"spec":{"paused":true}}`,
	`[]`, `null`, `{`, `{"spec":{"replicas":2147483648}}`, `{"spec":{"replicas":-1e3}}`,
}

// targets are new values of the types admission decodes.
func targets() []func() any {
	return []func() any{
		func() any { return &appsv1.Deployment{} },
		func() any { return &appsv1.StatefulSet{} },
		func() any { return &batchv1.Job{} },
		func() any { return &kedav1alpha1.ScaledObject{} },
		func() any { return &kedav1alpha1.ScaledJob{} },
		func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	}
}

// check fails t unless Unmarshal and encoding/json give the same error
// (or none) and the same value.
func check(t *testing.T, data []byte) {
	t.Helper()
	for _, newValue := range targets() {
		got, want := newValue(), newValue()
		gotErr, wantErr := Unmarshal(data, got), json.Unmarshal(data, want)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%T from %q: error %v, encoding/json %v", got, data, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%T from %q:\n got %+v\nwant %+v", got, data, got, want)
		}
	}
}

func TestSameAsEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		check(t, []byte(s))
	}
}

func TestNotAPointer(t *testing.T) {
	var d appsv1.Deployment
	if err := Unmarshal([]byte(`{}`), d); err == nil {
		t.Error("decoding into a value, not a pointer: no error")
	}
}

func FuzzSameAsEncodingJSON(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { check(t, data) })
}
