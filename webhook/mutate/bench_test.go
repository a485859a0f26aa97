package mutate

import (
	"context"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/mlscale/mlscale/webhook/reviewtest"
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
		reviewtest.Allowed(b, wh, Path, body)
	}
	b.ReportMetric(float64(len(body)), "review-bytes")
}
