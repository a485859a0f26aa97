package screen

import (
	"errors"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func TestRequest(t *testing.T) {
	req := func(op admissionv1.Operation, uid string) admission.Request {
		return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: op, UID: types.UID(uid)}}
	}
	noUID := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create}}
	cases := []struct {
		name     string
		req      admission.Request
		wantDone bool
		wantCode int32 // 0: allowed
	}{
		{name: "create is checked", req: req(admissionv1.Create, "x")},
		{name: "update is checked", req: req(admissionv1.Update, "x")},
		{name: "delete is allowed", req: req(admissionv1.Delete, "x"), wantDone: true},
		{name: "connect is allowed", req: req(admissionv1.Connect, "x"), wantDone: true},
		{name: "no operation", req: req("", "x"), wantDone: true, wantCode: http.StatusBadRequest},
		{name: "unknown operation", req: req("PATCH", "x"), wantDone: true, wantCode: http.StatusBadRequest},
		{name: "no uid", req: noUID, wantDone: true, wantCode: http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, done := Request(tc.req)
			if done != tc.wantDone {
				t.Fatalf("done = %v, want %v", done, tc.wantDone)
			}
			if !done {
				return
			}
			if tc.wantCode == 0 {
				if !resp.Allowed {
					t.Fatalf("not allowed: %+v", resp.Result)
				}
				return
			}
			if resp.Allowed || resp.Result == nil || resp.Result.Code != tc.wantCode || resp.Result.Reason != metav1.StatusReasonBadRequest || resp.Result.Message == "" {
				t.Fatalf("got %+v, want a %d BadRequest with a message", resp.Result, tc.wantCode)
			}
		})
	}
}

func TestBadRequest(t *testing.T) {
	resp := BadRequest(errors.New("mlscale: broken"))
	if resp.Allowed || resp.Result.Code != http.StatusBadRequest || resp.Result.Message != "mlscale: broken" {
		t.Fatalf("got %+v", resp.Result)
	}
}
