// Package screen holds what mlscale's admission handlers share about an
// AdmissionRequest before they look at its object: which operations are
// checked, and how a malformed request is answered.
package screen

import (
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Request decides the requests a handler need not look into. It returns
// done=true with the answer for DELETE and CONNECT (allowed) and for a
// request without an operation or uid, or with an unknown operation (400);
// done=false for a CREATE or UPDATE the handler must check.
func Request(req admission.Request) (resp admission.Response, done bool) {
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	case admissionv1.Delete, admissionv1.Connect:
		return admission.Allowed(""), true
	case "":
		return BadRequest(errors.New("mlscale: the AdmissionReview has no request, or the request has no operation")), true
	default:
		return BadRequest(fmt.Errorf("mlscale: unknown admission operation %q", req.Operation)), true
	}
	if req.UID == "" {
		return BadRequest(errors.New("mlscale: the admission request has no uid")), true
	}
	return admission.Response{}, false
}

// BadRequest answers a request that cannot be decoded: HTTP 400 with the
// reason BadRequest and the error as message.
func BadRequest(err error) admission.Response {
	resp := admission.Errored(http.StatusBadRequest, err)
	resp.Result.Reason = metav1.StatusReasonBadRequest
	return resp
}
