// Package reviewtest holds what the admission webhooks' tests share: the
// answer check of their HTTP fuzz targets and a realistic vLLM pod.
package reviewtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// CheckAnswer posts body to h at path, as the API server would, and fails t
// unless the answer is an HTTP 4xx, or an HTTP 200 with an AdmissionReview
// whose response has a status: code 200 when allowed, a 4xx and a message
// when refused. A 5xx fails it too.
func CheckAnswer(t testing.TB, h http.Handler, path string, body []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.Bytes())
	}
	if rec.Code != http.StatusOK {
		return
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &ar); err != nil {
		t.Fatalf("answer is not an AdmissionReview: %v: %s", err, rec.Body.Bytes())
	}
	r := ar.Response
	if r == nil || r.Result == nil {
		t.Fatalf("no response or status: %s", rec.Body.Bytes())
	}
	switch c := r.Result.Code; {
	case r.Allowed && c != http.StatusOK:
		t.Fatalf("allowed with code %d", c)
	case !r.Allowed && (c < 400 || c > 499 || r.Result.Message == ""):
		t.Fatalf("refused with code %d and message %q", c, r.Result.Message)
	}
}

// Allowed posts body to h at path and fails t unless the answer is an
// HTTP 200 that allows the object: the benchmarks' request.
func Allowed(t testing.TB, h http.Handler, path string, body []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) {
		t.Fatalf("answer %d: %s", rec.Code, rec.Body.Bytes())
	}
}
