package mutate

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// BenchmarkMutate measures the whole handler on a realistic GPU inference
// Deployment (about 4 KB of JSON): decode, parse, render, hash and patch.
func BenchmarkMutate(b *testing.B) {
	req := request(b, admissionv1.Create, gpuDeployment(gpuAnnotations))
	h := &Handler{Facts: budget(16)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp := h.Handle(ctx, req)
		if !resp.Allowed || len(resp.Patches) != 1 {
			b.Fatalf("allowed=%v patches=%v", resp.Allowed, resp.Patches)
		}
	}
	b.ReportMetric(float64(len(req.Object.Raw)), "object-bytes")
}

// BenchmarkMutateHTTP adds what admission.Webhook does around the handler:
// decoding the AdmissionReview and encoding the answer.
func BenchmarkMutateHTTP(b *testing.B) {
	body := review(b, request(b, admissionv1.Create, gpuDeployment(gpuAnnotations)).AdmissionRequest)
	wh := Webhook(&Handler{Facts: budget(16)})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) {
			b.Fatalf("answer %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
	b.ReportMetric(float64(len(body)), "review-bytes")
}
