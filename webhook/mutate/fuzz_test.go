package mutate

import (
	"context"
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/reviewtest"
)

var (
	fuzzKinds = []schema.GroupVersionKind{
		workload.DeploymentGVK, workload.StatefulSetGVK, workload.JobGVK,
		{Version: "v1", Kind: "Pod"}, {Group: "apps", Version: "v1beta1", Kind: "Deployment"},
	}
	fuzzOps = []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect, ""}
)

func fuzzSeeds(f testing.TB) [][]byte {
	return [][]byte{
		mustJSON(f, deployment("api", cpuAnnotations)),
		mustJSON(f, deployment("worker", celeryAnnotations)),
		mustJSON(f, statefulSet("db", cpuAnnotations)),
		mustJSON(f, gpuDeployment(gpuAnnotations)),
		mustJSON(f, job("train", trainingAnnotations, nil)),
		mustJSON(f, job("train", trainingAnnotations, ptr.To(false))),
		mustJSON(f, deployment("api", with(cpuAnnotations, intent.KeyMaxReplicas, "abc", intent.KeyRenderedHash, "x"))),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/autoscale":"true","mlscale.io/cpu-target":"50"}},"spec":{"template":{"spec":{"containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}}]}}}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/autoscale":"true","mlscale.io/profile":"training-job","mlscale.io/rabbitmq-queue":"q"}},"spec":{"suspend":null}}`),
		[]byte(`{"kind":"Job","apiVersion":"batch/v1"}`),
		[]byte(`{}`), []byte(`null`), []byte(`[]`), []byte(`"x"`), []byte(`{"metadata":`), nil,
	}
}

// FuzzHandle fuzzes the object bytes, the kind and the operation of an
// AdmissionRequest. Every answer must be well formed: allowed with code 200,
// or refused with a 4xx code and a message; a patch must apply to the
// object, set the rendered hash (and suspend a Job), and admitting the
// patched object again must change nothing.
func FuzzHandle(f *testing.F) {
	for _, raw := range fuzzSeeds(f) {
		for k := range fuzzKinds[:3] {
			f.Add(uint8(k), uint8(0), raw)
		}
	}
	f.Add(uint8(3), uint8(1), fuzzSeeds(f)[0])
	f.Add(uint8(0), uint8(2), fuzzSeeds(f)[0])
	f.Fuzz(func(t *testing.T, kind, op uint8, raw []byte) {
		gvk := fuzzKinds[int(kind)%len(fuzzKinds)]
		req := rawRequest(fuzzOps[int(op)%len(fuzzOps)], gvk, "fuzz", testNamespace, raw)
		if req.Operation != admissionv1.Delete {
			req.Object = runtime.RawExtension{Raw: raw}
		}
		h := &Handler{}
		resp := h.Handle(context.Background(), req)
		if err := resp.Complete(req); err != nil {
			t.Fatalf("completing: %v", err)
		}
		checkResponse(t, req, resp)
		if !resp.Allowed || len(resp.Patches) == 0 {
			return
		}
		patched := applyPatch(t, req.Object.Raw, resp)
		var obj struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Spec     struct {
				Suspend *bool `json:"suspend"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(patched, &obj); err != nil {
			t.Fatalf("patched object: %v: %s", err, patched)
		}
		if obj.Metadata.Annotations[intent.KeyRenderedHash] == "" {
			t.Fatalf("patched object has no %s: %s", intent.KeyRenderedHash, patched)
		}
		if gvk == workload.JobGVK && (obj.Spec.Suspend == nil || !*obj.Spec.Suspend) {
			t.Fatalf("patched Job is not suspended: %s", patched)
		}
		again := req
		again.Object = runtime.RawExtension{Raw: patched}
		r2 := h.Handle(context.Background(), again)
		if !r2.Allowed || len(r2.Patches) > 0 {
			t.Fatalf("admitting the patched object again: allowed=%v patches=%v result=%+v\noriginal: %s\npatched: %s",
				r2.Allowed, r2.Patches, r2.Result, raw, patched)
		}
	})
}

// FuzzServeHTTP fuzzes the whole HTTP body: the webhook must answer every
// body with an AdmissionReview (or an HTTP 4xx), never a 5xx or a panic.
func FuzzServeHTTP(f *testing.F) {
	for _, raw := range fuzzSeeds(f) {
		// Spliced by hand: some seeds are not JSON at all.
		f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"CREATE",` +
			`"kind":{"group":"apps","version":"v1","kind":"Deployment"},"namespace":"ml","name":"fuzz","object":` + string(raw) + `}}`))
	}
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","kind":{"group":"batch","version":"v1","kind":"Job"},"object":{}}}`))
	f.Add([]byte(`garbage`))
	wh := Webhook(&Handler{}).WithRecoverPanic(false)
	f.Fuzz(func(t *testing.T, body []byte) {
		reviewtest.CheckAnswer(t, wh, Path, body)
	})
}
