package mutate

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionv1beta1 "k8s.io/api/admission/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
)

// review wraps a request in an AdmissionReview as the API server sends it.
func review(t testing.TB, req admissionv1.AdmissionRequest) []byte {
	t.Helper()
	return mustJSON(t, admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &req,
	})
}

// answer is what came back over HTTP.
type answer struct {
	status int
	review admissionv1.AdmissionReview
	raw    []byte
}

func post(t testing.TB, url, contentType string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	a := answer{status: res.StatusCode, raw: raw}
	if res.StatusCode >= 500 {
		t.Fatalf("HTTP %d: %s", res.StatusCode, raw)
	}
	if res.StatusCode != http.StatusOK {
		return a
	}
	if err := json.Unmarshal(raw, &a.review); err != nil {
		t.Fatalf("the answer is not an AdmissionReview: %v: %s", err, raw)
	}
	r := a.review.Response
	if r == nil || r.Result == nil {
		t.Fatalf("AdmissionReview without a response or status: %s", raw)
	}
	if c := r.Result.Code; c >= 500 {
		t.Fatalf("code %d: %s", c, r.Result.Message)
	}
	return a
}

// code is the answer's status code: the AdmissionReview's or the HTTP one.
func (a answer) code() int32 {
	if a.status != http.StatusOK {
		return int32(a.status)
	}
	return a.review.Response.Result.Code
}

func (a answer) message() string {
	if a.status != http.StatusOK {
		return string(a.raw)
	}
	return a.review.Response.Result.Message
}

func TestServeHTTP(t *testing.T) {
	srv := httptest.NewServer(Webhook(&Handler{}))
	defer srv.Close()

	valid := request(t, admissionv1.Create, deployment("api", cpuAnnotations)).AdmissionRequest
	validBody := review(t, valid)
	withObject := func(raw string) []byte {
		r := valid
		r.Object = runtime.RawExtension{}
		if raw != "" {
			r.Object.Raw = []byte(raw)
		}
		return review(t, r)
	}
	huge := strings.Repeat("x", 1<<20)
	hugeBad := request(t, admissionv1.Create, deployment("api", with(cpuAnnotations, intent.KeyMaxReplicas, huge))).AdmissionRequest
	hugeForeign := request(t, admissionv1.Create, deployment("api", with(cpuAnnotations, "example.com/blob", huge))).AdmissionRequest
	hugeUnknown := request(t, admissionv1.Create, deployment("api", with(cpuAnnotations, intent.Prefix+huge[:300], "1"))).AdmissionRequest
	mismatched := valid
	mismatched.Object = runtime.RawExtension{Raw: mustJSON(t, job("train", trainingAnnotations, nil))}
	pod := valid
	pod.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}

	cases := []struct {
		name        string
		contentType string
		body        []byte
		nilBody     bool
		// wantCode is the AdmissionReview's (or HTTP) code.
		wantCode    int32
		wantMessage string
		wantPatch   bool
	}{
		{name: "valid request is patched", body: validBody, wantCode: 200, wantPatch: true},
		{name: "garbage body", body: []byte("\x00\x01 this is not an AdmissionReview"), wantCode: 400},
		{name: "empty body", nilBody: true, wantCode: 400, wantMessage: "request body is empty"},
		{name: "zero-length body", body: []byte{}, wantCode: 400},
		{name: "wrong content type", contentType: "application/yaml", body: validBody, wantCode: 400, wantMessage: "expected application/json"},
		{name: "no content type", contentType: "-", body: validBody, wantCode: 400},
		{name: "truncated JSON", body: validBody[:len(validBody)/2], wantCode: 400},
		{name: "JSON that is not an object", body: []byte(`[1,2,3]`), wantCode: 400},
		{name: "empty JSON object", body: []byte(`{}`), wantCode: 400, wantMessage: "no request"},
		{name: "AdmissionReview without request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), wantCode: 400, wantMessage: "no request"},
		{name: "null request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`), wantCode: 400, wantMessage: "no request"},
		{name: "empty request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`), wantCode: 400, wantMessage: "no request"},
		{name: "not an AdmissionReview", body: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`), wantCode: 400},
		{name: "request with an empty object", body: withObject(""), wantCode: 400, wantMessage: "empty object"},
		{name: "request with a null object", body: withObject("null"), wantCode: 400, wantMessage: "empty object"},
		{name: "object is a string", body: withObject(`"a deployment"`), wantCode: 400, wantMessage: "decoding Deployment"},
		{name: "object is an array", body: withObject(`[{"metadata":{}}]`), wantCode: 400, wantMessage: "decoding Deployment"},
		{name: "object with a field of the wrong type", body: withObject(`{"metadata":{"annotations":{"mlscale.io/autoscale":true}}}`), wantCode: 400, wantMessage: "decoding Deployment"},
		{name: "object of another kind than the request", body: review(t, mismatched), wantCode: 400, wantMessage: "the object's kind batch/v1 Job differs"},
		{name: "request for a kind mlscale does not handle", body: review(t, pod), wantCode: 200},
		{name: "huge bad annotation value is denied", body: review(t, hugeBad), wantCode: 403, wantMessage: intent.KeyMaxReplicas},
		{name: "huge foreign annotation value is patched", body: review(t, hugeForeign), wantCode: 200, wantPatch: true},
		{name: "huge unknown mlscale key is denied", body: review(t, hugeUnknown), wantCode: 403, wantMessage: "is not an annotation mlscale knows"},
		{name: "body over the size limit", body: bytes.Repeat([]byte(" "), 8<<20), wantCode: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/json"
			switch tc.contentType {
			case "":
			case "-":
				ct = ""
			default:
				ct = tc.contentType
			}
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.nilBody {
				body = nil
			}
			a := post(t, srv.URL+Path, ct, body)
			if a.code() != tc.wantCode {
				t.Fatalf("code %d, want %d: %s", a.code(), tc.wantCode, trim(a.message()))
			}
			if tc.wantCode >= 400 && a.message() == "" {
				t.Fatal("no reason given")
			}
			if len(a.message()) > 64<<10 {
				t.Errorf("message of %d bytes: values should be cut short", len(a.message()))
			}
			if !strings.Contains(a.message(), tc.wantMessage) {
				t.Errorf("message %q does not contain %q", trim(a.message()), tc.wantMessage)
			}
			if a.status == http.StatusOK {
				r := a.review.Response
				if (len(r.Patch) > 0) != tc.wantPatch {
					t.Errorf("patch %s, want a patch: %v", r.Patch, tc.wantPatch)
				}
				if r.Allowed != (tc.wantCode == 200) {
					t.Errorf("allowed = %v with code %d", r.Allowed, tc.wantCode)
				}
			}
		})
	}
}

// TestServeHTTPEchoes checks the answer's identity: the request's UID and
// the AdmissionReview version it came in.
func TestServeHTTPEchoes(t *testing.T) {
	srv := httptest.NewServer(Webhook(&Handler{}))
	defer srv.Close()
	req := request(t, admissionv1.Create, job("train", trainingAnnotations, nil)).AdmissionRequest

	a := post(t, srv.URL, "application/json", bytes.NewReader(review(t, req)))
	r := a.review.Response
	if r.UID != req.UID || !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("response %+v", r)
	}
	var ops []map[string]any
	if err := json.Unmarshal(r.Patch, &ops); err != nil || len(ops) != 2 {
		t.Fatalf("patch %s: %v", r.Patch, err)
	}
	if a.review.APIVersion != "admission.k8s.io/v1" || a.review.Kind != "AdmissionReview" {
		t.Errorf("answered as %s %s", a.review.APIVersion, a.review.Kind)
	}

	// An API server that speaks v1beta1 gets v1beta1 back.
	old := mustJSON(t, admissionv1beta1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1beta1", Kind: "AdmissionReview"},
		Request: &admissionv1beta1.AdmissionRequest{
			UID: req.UID, Kind: req.Kind, Resource: req.Resource, Name: req.Name, Namespace: req.Namespace,
			Operation: admissionv1beta1.Operation(req.Operation), Object: req.Object,
		},
	})
	a = post(t, srv.URL, "application/json", bytes.NewReader(old))
	if a.review.APIVersion != "admission.k8s.io/v1beta1" || a.review.Response.UID != req.UID || len(a.review.Response.Patch) == 0 {
		t.Errorf("v1beta1 answer: %s", trim(string(a.raw)))
	}
}

// TestServeHTTPDryRun checks that dry-run gets the same bytes back.
func TestServeHTTPDryRun(t *testing.T) {
	srv := httptest.NewServer(Webhook(&Handler{}))
	defer srv.Close()
	for _, ann := range []map[string]string{cpuAnnotations, with(cpuAnnotations, intent.KeyMaxReplicas, "x"), nil} {
		req := request(t, admissionv1.Create, gpuDeployment(ann)).AdmissionRequest
		real := post(t, srv.URL, "application/json", bytes.NewReader(review(t, req)))
		req.DryRun = ptr.To(true)
		dry := post(t, srv.URL, "application/json", bytes.NewReader(review(t, req)))
		if !bytes.Equal(real.raw, dry.raw) {
			t.Errorf("dry-run answer differs:\n dry: %s\nreal: %s", dry.raw, real.raw)
		}
	}
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
