package mutate

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// Annotation sets used by the cases.
var (
	cpuAnnotations = map[string]string{
		intent.KeyAutoscale:   "true",
		intent.KeyCPUTarget:   "70",
		intent.KeyMaxReplicas: "6",
	}
	celeryAnnotations = map[string]string{
		intent.KeyAutoscale:     "true",
		intent.KeyProfile:       "celery-worker",
		intent.KeyRabbitMQQueue: "tasks",
		intent.KeyRabbitMQAuth:  "rabbitmq-auth",
	}
	trainingAnnotations = map[string]string{
		intent.KeyAutoscale:     "true",
		intent.KeyProfile:       "training-job",
		intent.KeyRabbitMQQueue: "training-requests",
		intent.KeyRabbitMQAuth:  "rabbitmq-auth",
	}
)

// withTemplateAnnotation sets an annotation on a Deployment's pod template.
func withTemplateAnnotation(d *appsv1.Deployment, k, v string) *appsv1.Deployment {
	if d.Spec.Template.Annotations == nil {
		d.Spec.Template.Annotations = map[string]string{}
	}
	d.Spec.Template.Annotations[k] = v
	return d
}

func with(base map[string]string, kv ...string) map[string]string {
	m := maps.Clone(base)
	if m == nil {
		m = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Patch operations as "op path", e.g. "add /spec/suspend".
const (
	addHash     = "add /metadata/annotations/mlscale.io~1rendered-hash"
	replaceHash = "replace /metadata/annotations/mlscale.io~1rendered-hash"
	addSuspend  = "add /spec/suspend"
	setSuspend  = "replace /spec/suspend"
	removeHash  = "remove /metadata/annotations/mlscale.io~1rendered-hash"
)

func budget(n int64) facts.Func {
	return func(context.Context, string) (facts.Facts, error) {
		f := facts.Default()
		f.GPUBudget = &n
		return f, nil
	}
}

func failingFacts(context.Context, string) (facts.Facts, error) {
	return facts.Facts{}, errors.New("resourcequotas informer not synced")
}

type handleCase struct {
	name  string
	req   admission.Request
	facts facts.Func
	// wantAllowed and wantCode describe the answer; wantCode 0 is not checked.
	wantAllowed bool
	wantCode    int32
	// wantOps lists the patch operations as "op path", in any order.
	wantOps []string
	// wantSuspend is the Job's spec.suspend after the patch; nil: not a Job.
	wantSuspend *bool
	// wantMessage and wantWarnings are substrings of the message and of
	// some warning; noWarnings asks for none at all.
	wantMessage  []string
	wantWarnings []string
	noWarnings   bool
	// wantCauses lists the annotation keys named in the denial's details.
	wantCauses []string
}

func handleCases(t testing.TB) []handleCase {
	badMax := with(cpuAnnotations, intent.KeyMaxReplicas, "abc")
	unhashed := job("train", trainingAnnotations, nil)
	hashed := deployment("api", with(cpuAnnotations, intent.KeyRenderedHash, expectedHash(t, request(t, admissionv1.Create, deployment("api", cpuAnnotations)), nil)))
	return []handleCase{
		{
			name: "opt-in Deployment gets the hash annotation", req: request(t, admissionv1.Create, deployment("api", cpuAnnotations)),
			wantAllowed: true, wantCode: http.StatusOK, wantOps: []string{addHash}, noWarnings: true,
		},
		{
			name: "opt-in StatefulSet gets the hash annotation", req: request(t, admissionv1.Create, statefulSet("db", cpuAnnotations)),
			wantAllowed: true, wantOps: []string{addHash}, noWarnings: true,
		},
		{
			name: "celery worker", req: request(t, admissionv1.Create, deployment("worker", celeryAnnotations)),
			wantAllowed: true, wantOps: []string{addHash}, noWarnings: true,
		},
		{
			name: "GPU Deployment with a GPU budget", req: request(t, admissionv1.Create, gpuDeployment(gpuAnnotations)), facts: budget(16),
			wantAllowed: true, wantOps: []string{addHash},
		},
		{
			name: "GPU budget lowers max replicas with a warning", req: request(t, admissionv1.Create, gpuDeployment(gpuAnnotations)), facts: budget(3),
			wantAllowed: true, wantOps: []string{addHash}, wantWarnings: []string{"max replicas lowered from 8 to 3"},
		},
		{
			name: "GPU budget too small is denied", req: request(t, admissionv1.Create, gpuDeployment(gpuAnnotations)), facts: budget(0),
			wantCode: http.StatusForbidden, wantMessage: []string{"mlscale: Deployment ml/llama-3-8b: ", intent.KeyMaxReplicas, "GPU budget of 0"},
			wantCauses: []string{intent.KeyMaxReplicas},
		},
		{
			name: "no annotations: allowed, no patch", req: request(t, admissionv1.Create, deployment("plain", nil)),
			wantAllowed: true, wantCode: http.StatusOK, noWarnings: true,
		},
		{
			name: "opted out: allowed, no patch", req: request(t, admissionv1.Create, deployment("off", with(cpuAnnotations, intent.KeyAutoscale, "false"))),
			wantAllowed: true, noWarnings: true,
		},
		{
			// KEDA copies the ScaledJob's labels and annotations onto the
			// Jobs it starts.
			name: "a Job KEDA started: allowed, no patch, no warning", req: request(t, admissionv1.Create, kedaRun(job("train-x7k2p", map[string]string{render.AnnotationProfile: "training", intent.KeyRenderedHash: "0123456789abcdef"}, nil))),
			wantAllowed: true, wantCode: http.StatusOK, noWarnings: true,
		},
		{
			name: "mlscale keys without opt-in: allowed with a warning", req: request(t, admissionv1.Create, deployment("half", map[string]string{intent.KeyMaxReplicas: "3"})),
			wantAllowed: true, wantWarnings: []string{"ignored because " + intent.KeyAutoscale},
		},
		{
			name: "bad annotation is denied naming the annotation", req: request(t, admissionv1.Create, deployment("api", badMax)),
			wantCode:    http.StatusForbidden,
			wantMessage: []string{"mlscale: Deployment ml/api: ", intent.KeyMaxReplicas + `: "abc" is not a whole number`},
			wantCauses:  []string{intent.KeyMaxReplicas},
		},
		{
			name: "every bad annotation is reported at once",
			req: request(t, admissionv1.Create, deployment("api", with(cpuAnnotations,
				intent.KeyMaxReplicas, "abc", intent.KeyCooldown, "soon", intent.KeyCPUTarget, "300"))),
			wantCode:    http.StatusForbidden,
			wantMessage: []string{"3 problems", intent.KeyMaxReplicas, intent.KeyCooldown, intent.KeyCPUTarget},
			wantCauses:  []string{intent.KeyCooldown, intent.KeyCPUTarget, intent.KeyMaxReplicas},
		},
		{
			name: "bad opt-in value is denied", req: request(t, admissionv1.Create, deployment("api", with(cpuAnnotations, intent.KeyAutoscale, "yes"))),
			wantCode: http.StatusForbidden, wantMessage: []string{intent.KeyAutoscale + `: "yes" is not a boolean`},
		},
		{
			name: "render error is denied", req: request(t, admissionv1.Create, deployment("api", map[string]string{intent.KeyAutoscale: "true", intent.KeyProfile: "training-job"})),
			wantCode: http.StatusForbidden, wantMessage: []string{intent.KeyProfile, "only valid for a Job"},
		},
		{
			name:        "unknown key is denied, naming the nearest key",
			req:         request(t, admissionv1.Create, deployment("api", with(cpuAnnotations, "mlscale.io/max-replica", "4"))),
			wantAllowed: false, wantCode: http.StatusForbidden, wantMessage: []string{`mlscale: Deployment ml/api: mlscale.io/max-replica: "4" is not an annotation mlscale knows (did you mean mlscale.io/max-replicas?)`},
		},
		{
			name: "with --unknown-annotations=warn, an unknown key is a warning and the workload is patched",
			req:  request(t, admissionv1.Create, deployment("api", with(cpuAnnotations, "mlscale.io/max-replica", "4"))),
			facts: func(context.Context, string) (facts.Facts, error) {
				f := facts.Default()
				f.AllowUnknownKeys = true
				return f, nil
			},
			wantAllowed: true, wantOps: []string{addHash}, wantWarnings: []string{"unknown annotation mlscale.io/max-replica", "did you mean " + intent.KeyMaxReplicas},
		},
		{
			name:        "scale-to-zero with nothing that can wake the server is denied, naming the ways out",
			req:         request(t, admissionv1.Create, gpuDeployment(map[string]string{intent.KeyAutoscale: "true", intent.KeyProfile: "vllm", intent.KeyScaleToZero: "true"})),
			wantAllowed: false, wantCode: http.StatusForbidden,
			wantMessage: []string{`mlscale.io/scale-to-zero: "true" asks for scale-to-zero, but no trigger can wake the workload from zero replicas: trigger vllm: vllm:num_requests_waiting is exported by vLLM's own pods`, intent.KeyWakeQuery, intent.KeySkipWakeCheck},
		},
		{
			name:        "a wake-query lets it scale to zero",
			req:         request(t, admissionv1.Create, gpuDeployment(map[string]string{intent.KeyAutoscale: "true", intent.KeyProfile: "vllm", intent.KeyScaleToZero: "true", intent.KeyWakeQuery: `sum(gateway_pending{backend="llm"})`})),
			wantAllowed: true, wantOps: []string{addHash},
		},
		{
			name:        "zero at night, two in office hours is admitted",
			req:         request(t, admissionv1.Create, deployment("api", with(cpuAnnotations, intent.KeyScaleToZero, "true", intent.KeyMinReplicas, "2", intent.KeyBusinessHours, "Mon-Fri 08:00-18:00 Europe/Berlin"))),
			wantAllowed: true, wantOps: []string{addHash},
		},
		{
			name:        "an mlscale.io/ key on the pod template is warned about",
			req:         request(t, admissionv1.Create, withTemplateAnnotation(deployment("api", cpuAnnotations), intent.KeyMinReplicas, "2")),
			wantAllowed: true, wantOps: []string{addHash}, wantWarnings: []string{"mlscale.io/min-replicas is set on the pod template (spec.template.metadata.annotations), where mlscale does not read it; move it to the Deployment's metadata.annotations"},
		},
		{
			name: "render warning comes back as a warning",
			req: request(t, admissionv1.Create, deployment("worker", map[string]string{
				intent.KeyAutoscale: "true", intent.KeyProfile: "celery-worker", intent.KeyRabbitMQQueue: "tasks",
			})),
			wantAllowed: true, wantOps: []string{addHash}, wantWarnings: []string{intent.KeyRabbitMQAuth + " is not set"},
		},
		{
			name: "training Job becomes a suspended template", req: request(t, admissionv1.Create, unhashed),
			wantAllowed: true, wantOps: []string{addHash, addSuspend}, wantSuspend: ptr.To(true),
		},
		{
			name: "Job with suspend false is suspended", req: request(t, admissionv1.Create, job("train", trainingAnnotations, ptr.To(false))),
			wantAllowed: true, wantOps: []string{addHash, setSuspend}, wantSuspend: ptr.To(true),
		},
		{
			name: "Job already suspended only gets the hash", req: request(t, admissionv1.Create, job("train", trainingAnnotations, ptr.To(true))),
			wantAllowed: true, wantOps: []string{addHash}, wantSuspend: ptr.To(true),
		},
		{
			// kubectl replace of a manifest: the new object has no
			// status; the stored one (the old object) says it runs.
			name: "opting in a running Job is refused: suspending it would stop its pods", req: updateJob(t,
				job("train", trainingAnnotations, ptr.To(false)),
				batchv1.JobStatus{StartTime: ptr.To(metav1.NewTime(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))), Active: 2}),
			wantCode: http.StatusForbidden, wantCauses: []string{intent.KeyAutoscale},
			wantMessage: []string{"the Job is running (started 2026-12-04T10:00:00Z, 2 active pod(s))", "kubectl patch job train"},
		},
		{
			name: "a running Job created with suspend unset is refused too", req: updateJob(t,
				job("train", trainingAnnotations, nil), batchv1.JobStatus{Active: 1}),
			wantCode: http.StatusForbidden, wantMessage: []string{"1 active pod(s)"},
		},
		{
			name: "a finished Job may opt in (no pod to stop)", req: updateJob(t,
				job("train", trainingAnnotations, nil),
				batchv1.JobStatus{StartTime: ptr.To(metav1.Now()), Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}),
			wantAllowed: true, wantOps: []string{addHash, addSuspend}, wantSuspend: ptr.To(true),
		},
		{
			name: "a status sent by the client is not the Job's: the stored one is not running", req: func() admission.Request {
				j := job("train", trainingAnnotations, nil)
				j.Status = batchv1.JobStatus{Active: 3}
				return updateJob(t, j, batchv1.JobStatus{})
			}(),
			wantAllowed: true, wantOps: []string{addHash, addSuspend}, wantSuspend: ptr.To(true),
		},
		{
			name: "Job named by generateName is suspended too", req: func() admission.Request {
				j := job("", trainingAnnotations, nil)
				j.GenerateName = "train-"
				return request(t, admissionv1.Create, j)
			}(),
			wantAllowed: true, wantOps: []string{addSuspend}, wantSuspend: ptr.To(true),
		},
		{
			name: "Deployment named by generateName gets no hash: its name is not known yet", req: func() admission.Request {
				d := deployment("", cpuAnnotations)
				d.GenerateName = "api-"
				return request(t, admissionv1.Create, d)
			}(),
			wantAllowed: true,
		},
		{
			name: "a copied hash on a Deployment named by generateName is removed", req: func() admission.Request {
				d := deployment("", with(cpuAnnotations, intent.KeyRenderedHash, "0000000000000000"))
				d.GenerateName = "api-"
				return request(t, admissionv1.Create, d)
			}(),
			wantAllowed: true, wantOps: []string{removeHash},
		},
		{
			name: "Job that does not opt in runs as it is", req: request(t, admissionv1.Create, job("once", nil, nil)),
			wantAllowed: true, noWarnings: true,
		},
		{
			name: "current hash: no patch (reinvocation is a no-op)", req: request(t, admissionv1.Update, hashed),
			wantAllowed: true, noWarnings: true,
		},
		{
			name: "stale hash is replaced", req: request(t, admissionv1.Update, deployment("api", with(cpuAnnotations, intent.KeyRenderedHash, "0000000000000000"))),
			wantAllowed: true, wantOps: []string{replaceHash},
		},
		{
			name: "namespace comes from the request when the object has none",
			req: func() admission.Request {
				d := deployment("api", cpuAnnotations)
				d.Namespace = ""
				r := request(t, admissionv1.Create, d)
				r.Namespace = testNamespace
				return r
			}(),
			wantAllowed: true, wantOps: []string{addHash},
		},
		{
			name: "facts unavailable: admitted unpatched with a warning", req: request(t, admissionv1.Create, deployment("api", cpuAnnotations)), facts: failingFacts,
			wantAllowed: true, wantWarnings: []string{"without checking its KEDA object", "resourcequotas informer not synced"},
		},
		{
			name: "facts unavailable: bad annotations are still denied", req: request(t, admissionv1.Create, deployment("api", badMax)), facts: failingFacts,
			wantCode: http.StatusForbidden, wantMessage: []string{intent.KeyMaxReplicas + `: "abc"`},
		},
		{
			name: "unsupported kind is allowed", req: rawRequest(admissionv1.Create, corev1.SchemeGroupVersion.WithKind("Pod"), "p", testNamespace, []byte(`{"metadata":{"annotations":{"mlscale.io/autoscale":"true"}}}`)),
			wantAllowed: true, noWarnings: true,
		},
		{
			name: "other version of a handled kind is allowed", req: rawRequest(admissionv1.Create, schema.GroupVersionKind{Group: "apps", Version: "v1beta2", Kind: "Deployment"}, "api", testNamespace, mustJSON(t, deployment("api", badMax))),
			wantAllowed: true,
		},
		{
			name: "status subresource is allowed", req: func() admission.Request {
				r := request(t, admissionv1.Update, deployment("api", badMax))
				r.SubResource = "status"
				return r
			}(),
			wantAllowed: true, noWarnings: true,
		},
		{
			name: "update of a workload being deleted is allowed", req: func() admission.Request {
				d := deployment("api", badMax)
				d.DeletionTimestamp = ptr.To(metav1.Now())
				d.Finalizers = nil
				return request(t, admissionv1.Update, d)
			}(),
			wantAllowed: true, noWarnings: true,
		},
		{
			name: "DELETE is allowed", req: rawRequest(admissionv1.Delete, workload.DeploymentGVK, "api", testNamespace, mustJSON(t, deployment("api", badMax))),
			wantAllowed: true, wantCode: http.StatusOK, noWarnings: true,
		},
		{
			name: "CONNECT is allowed", req: rawRequest(admissionv1.Connect, workload.DeploymentGVK, "api", testNamespace, nil),
			wantAllowed: true, noWarnings: true,
		},
		{
			name: "empty object is a bad request", req: rawRequest(admissionv1.Create, workload.DeploymentGVK, "api", testNamespace, nil),
			wantCode: http.StatusBadRequest, wantMessage: []string{"empty object"},
		},
		{
			name: "object that is not JSON is a bad request", req: rawRequest(admissionv1.Create, workload.JobGVK, "train", testNamespace, []byte(`{"metadata": nope`)),
			wantCode: http.StatusBadRequest, wantMessage: []string{"decoding Job"},
		},
		{
			name: "object of another kind than the request is a bad request", req: rawRequest(admissionv1.Create, workload.DeploymentGVK, "train", testNamespace, mustJSON(t, job("train", trainingAnnotations, nil))),
			wantCode: http.StatusBadRequest, wantMessage: []string{"the object's kind batch/v1 Job differs from the request's kind apps/v1 Deployment"},
		},
		{
			name: "object in another namespace than the request is a bad request",
			req: func() admission.Request {
				r := request(t, admissionv1.Create, deployment("api", cpuAnnotations))
				r.Namespace = "other"
				return r
			}(),
			wantCode: http.StatusBadRequest, wantMessage: []string{`namespace "ml" differs`},
		},
		{
			name: "request without operation is a bad request", req: admission.Request{},
			wantCode: http.StatusBadRequest, wantMessage: []string{"no request"},
		},
		{
			name: "request without uid is a bad request",
			req: func() admission.Request {
				r := request(t, admissionv1.Create, deployment("api", cpuAnnotations))
				r.UID = ""
				return r
			}(),
			wantCode: http.StatusBadRequest, wantMessage: []string{"no uid"},
		},
		{
			name: "unknown operation is a bad request",
			req: func() admission.Request {
				r := request(t, admissionv1.Create, deployment("api", cpuAnnotations))
				r.Operation = "PATCH"
				return r
			}(),
			wantCode: http.StatusBadRequest, wantMessage: []string{`unknown admission operation "PATCH"`},
		},
	}
}

func TestHandle(t *testing.T) {
	for _, tc := range handleCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Facts: tc.facts}
			resp := h.Handle(context.Background(), tc.req)
			// Complete is what admission.Webhook does before answering.
			if err := resp.Complete(tc.req); err != nil {
				t.Fatalf("completing the response: %v", err)
			}
			checkResponse(t, tc.req, resp)

			if tc.wantCode != 0 && resp.Result.Code != tc.wantCode {
				t.Errorf("code = %d, want %d (%s)", resp.Result.Code, tc.wantCode, resp.Result.Message)
			}
			if tc.wantCode >= 400 || tc.wantAllowed {
				if resp.Allowed != tc.wantAllowed {
					t.Fatalf("allowed = %v, want %v: %+v", resp.Allowed, tc.wantAllowed, resp.Result)
				}
			}
			for _, m := range tc.wantMessage {
				if !strings.Contains(resp.Result.Message, m) {
					t.Errorf("message %q does not contain %q", resp.Result.Message, m)
				}
			}
			if tc.noWarnings && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings: %q", resp.Warnings)
			}
			for _, w := range tc.wantWarnings {
				if !slices.ContainsFunc(resp.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("no warning contains %q: %q", w, resp.Warnings)
				}
			}
			if tc.wantCauses != nil {
				checkCauses(t, resp, tc.wantCauses)
			}
			if !resp.Allowed {
				return
			}

			gotOps := make([]string, 0, len(resp.Patches))
			for _, p := range resp.Patches {
				gotOps = append(gotOps, p.Operation+" "+p.Path)
			}
			slices.Sort(gotOps)
			want := slices.Sorted(slices.Values(tc.wantOps))
			if !slices.Equal(gotOps, want) {
				t.Fatalf("patch ops = %q, want %q", gotOps, want)
			}
			if len(tc.wantOps) == 0 {
				return
			}
			patched := applyPatch(t, tc.req.Object.Raw, resp)
			var meta struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if err := json.Unmarshal(patched, &meta); err != nil {
				t.Fatal(err)
			}
			got, ok := meta.Metadata.Annotations[intent.KeyRenderedHash]
			switch {
			case meta.Metadata.Name == "":
				// generateName: no hash until the workload has a name.
				if ok {
					t.Errorf("rendered hash %q set on a workload without a name", got)
				}
			case got != expectedHash(t, tc.req, tc.facts) || len(got) != 16:
				t.Errorf("rendered hash = %q, want %q", got, expectedHash(t, tc.req, tc.facts))
			}
			if tc.wantSuspend != nil {
				var j batchv1.Job
				if err := json.Unmarshal(patched, &j); err != nil {
					t.Fatal(err)
				}
				if j.Spec.Suspend == nil || *j.Spec.Suspend != *tc.wantSuspend {
					t.Errorf("spec.suspend = %v, want %v", j.Spec.Suspend, *tc.wantSuspend)
				}
			}
			// The API server may call the webhook again with the patched
			// object (reinvocation): the answer must then be "no change".
			again := tc.req
			again.Object = runtime.RawExtension{Raw: patched}
			if r2 := h.Handle(context.Background(), again); !r2.Allowed || len(r2.Patches) > 0 {
				t.Errorf("second admission of the patched object: allowed=%v patches=%v", r2.Allowed, r2.Patches)
			}
		})
	}
}

// TestRenderWarning checks a warning that comes from the renderer rather
// than the parser, and that it is the renderer's text.
func TestRenderWarning(t *testing.T) {
	d := deployment("worker", with(celeryAnnotations))
	delete(d.Annotations, intent.KeyRabbitMQAuth)
	req := request(t, admissionv1.Create, d)
	resp := (&Handler{}).Handle(context.Background(), req)
	w, _, err := workload.Decode(workload.DeploymentGVK, req.Object.Raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Workload(w, facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) == 0 || !reflect.DeepEqual(resp.Warnings, res.Warnings) {
		t.Fatalf("warnings = %q, want the renderer's %q", resp.Warnings, res.Warnings)
	}
	if !resp.Allowed || len(resp.Patches) != 1 {
		t.Fatalf("allowed=%v patches=%v", resp.Allowed, resp.Patches)
	}
}

// TestDenialMessageIsShared checks that the denial carries exactly
// render.Message, the text `mlscale render` prints.
func TestDenialMessageIsShared(t *testing.T) {
	d := deployment("api", with(cpuAnnotations, intent.KeyMaxReplicas, "abc"))
	req := request(t, admissionv1.Create, d)
	resp := (&Handler{}).Handle(context.Background(), req)
	w, _, err := workload.Decode(workload.DeploymentGVK, req.Object.Raw)
	if err != nil {
		t.Fatal(err)
	}
	_, rerr := render.Workload(w, facts.Default())
	if rerr == nil {
		t.Fatal("render accepted max-replicas abc")
	}
	if want := render.Message(w, rerr); resp.Result.Message != want {
		t.Fatalf("message = %q, want %q", resp.Result.Message, want)
	}
	if resp.Result.Reason != metav1.StatusReasonForbidden {
		t.Errorf("reason = %q, want Forbidden", resp.Result.Reason)
	}
}

// TestUpdateChangesHash checks that changing the annotations on UPDATE
// gives a new hash, and that the same annotations give the same one.
func TestUpdateChangesHash(t *testing.T) {
	h := &Handler{}
	hashOf := func(op admissionv1.Operation, ann map[string]string) string {
		t.Helper()
		req := request(t, op, deployment("api", ann))
		resp := h.Handle(context.Background(), req)
		if !resp.Allowed || len(resp.Patches) != 1 {
			t.Fatalf("allowed=%v patches=%v: %+v", resp.Allowed, resp.Patches, resp.Result)
		}
		s, ok := resp.Patches[0].Value.(string)
		if !ok {
			t.Fatalf("patch value %#v is not a string", resp.Patches[0].Value)
		}
		return s
	}
	created := hashOf(admissionv1.Create, cpuAnnotations)
	if again := hashOf(admissionv1.Update, cpuAnnotations); again != created {
		t.Errorf("same annotations: hash %s on UPDATE, %s on CREATE", again, created)
	}
	if changed := hashOf(admissionv1.Update, with(cpuAnnotations, intent.KeyMaxReplicas, "12")); changed == created {
		t.Errorf("max-replicas 6 -> 12 kept hash %s", created)
	}
	if changed := hashOf(admissionv1.Update, with(cpuAnnotations, intent.KeyCPUTarget, "50")); changed == created {
		t.Errorf("cpu-target 70 -> 50 kept hash %s", created)
	}
	// Annotations that are not mlscale's do not change the rendered spec.
	if same := hashOf(admissionv1.Update, with(cpuAnnotations, "example.com/owner", "team-a")); same != created {
		t.Errorf("a foreign annotation changed the hash %s -> %s", created, same)
	}
}

// TestDryRun checks that a dry-run request gets exactly the answer of a
// real one, and that neither touches the request.
func TestDryRun(t *testing.T) {
	for _, tc := range handleCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			facts := func(ctx context.Context, ns string) (facts.Facts, error) {
				calls++
				if tc.facts != nil {
					return tc.facts(ctx, ns)
				}
				return facts.Default(), nil
			}
			h := &Handler{Facts: facts}
			real, dry := tc.req, tc.req
			dry.DryRun = ptr.To(true)
			original := slices.Clone(tc.req.Object.Raw)

			want := h.Handle(context.Background(), real)
			got := h.Handle(context.Background(), dry)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("dry-run answer differs:\n dry: %+v\nreal: %+v", got, want)
			}
			if !slices.Equal(tc.req.Object.Raw, original) || !slices.Equal(dry.Object.Raw, original) {
				t.Fatal("the handler changed the request's object")
			}
			if calls != 0 && calls != 2 {
				t.Fatalf("facts read %d times for two requests", calls)
			}
		})
	}
}

// TestFactsOnlyForOptedIn checks that the facts are read for the
// workload's namespace, and only when the workload opts in.
func TestFactsOnlyForOptedIn(t *testing.T) {
	var namespaces []string
	h := &Handler{Facts: func(_ context.Context, ns string) (facts.Facts, error) {
		namespaces = append(namespaces, ns)
		return facts.Default(), nil
	}}
	h.Handle(context.Background(), request(t, admissionv1.Create, deployment("plain", nil)))
	h.Handle(context.Background(), request(t, admissionv1.Create, deployment("half", map[string]string{intent.KeyMaxReplicas: "3"})))
	if len(namespaces) != 0 {
		t.Fatalf("facts read for workloads that did not opt in: %q", namespaces)
	}
	h.Handle(context.Background(), request(t, admissionv1.Create, deployment("api", cpuAnnotations)))
	if !slices.Equal(namespaces, []string{testNamespace}) {
		t.Fatalf("facts read for %q, want [%s]", namespaces, testNamespace)
	}
}

// TestNilHandler checks that a nil *Handler still answers (defaults).
func TestNilHandler(t *testing.T) {
	var h *Handler
	resp := h.Handle(context.Background(), request(t, admissionv1.Create, deployment("api", cpuAnnotations)))
	if !resp.Allowed || len(resp.Patches) != 1 {
		t.Fatalf("allowed=%v patches=%v", resp.Allowed, resp.Patches)
	}
}

// checkResponse asserts what every answer must satisfy.
func checkResponse(t testing.TB, req admission.Request, resp admission.Response) {
	t.Helper()
	if resp.Result == nil {
		if !resp.Allowed {
			t.Fatalf("denied without a status: %+v", resp)
		}
	} else {
		code := resp.Result.Code
		switch {
		case resp.Allowed && code != 0 && code != http.StatusOK:
			t.Fatalf("allowed with code %d", code)
		case !resp.Allowed && (code < 400 || code > 499):
			t.Fatalf("denied with code %d, want 4xx: %s", code, resp.Result.Message)
		case !resp.Allowed && resp.Result.Message == "":
			t.Fatalf("denied without a message: %+v", resp.Result)
		}
	}
	if len(resp.Patches) > 0 {
		if !resp.Allowed {
			t.Fatal("a denial carries patches")
		}
		if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Fatalf("patch type %v", resp.PatchType)
		}
		applyPatch(t, req.Object.Raw, resp)
	}
}

func checkCauses(t testing.TB, resp admission.Response, keys []string) {
	t.Helper()
	if resp.Result.Details == nil {
		t.Fatal("denial has no details")
	}
	var got []string
	for _, c := range resp.Result.Details.Causes {
		if c.Type != metav1.CauseTypeFieldValueInvalid || c.Message == "" {
			t.Errorf("cause %+v", c)
		}
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(c.Field, "metadata.annotations["), "]"))
	}
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		t.Errorf("causes name %q, want %q", got, keys)
	}
}

// applyPatch applies the response's JSON patch to raw as the API server
// would, and returns the result.
func applyPatch(t testing.TB, raw []byte, resp admission.Response) []byte {
	t.Helper()
	pb, err := json.Marshal(resp.Patches)
	if err != nil {
		t.Fatalf("marshalling patches: %v", err)
	}
	p, err := jsonpatch.DecodePatch(pb)
	if err != nil {
		t.Fatalf("decoding patch %s: %v", pb, err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("applying patch %s: %v", pb, err)
	}
	return out
}

// expectedHash renders the request's workload directly.
func expectedHash(t testing.TB, req admission.Request, ff facts.Func) string {
	t.Helper()
	w, _, err := workload.Decode(schema.GroupVersionKind(req.Kind), req.Object.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if w.Namespace == "" {
		w.Namespace = req.Namespace
	}
	f, err := ff.For(context.Background(), w.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Workload(w, f)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	return res.Hash
}
