// Package reviewhttp serves mlscale's admission handlers over HTTP with one
// decoding pass over the AdmissionReview.
//
// controller-runtime's admission.Webhook reads every review twice: once
// with encoding/json to find its apiVersion and kind, then again with the
// API machinery's case-sensitive decoder into the AdmissionReview; for a
// 4 KB workload the first pass is a fifth of the mutating webhook's time.
// A Handler decodes an admission.k8s.io/v1 AdmissionReview once, with the
// same case-sensitive decoder, and hands the request to the wrapped
// admission.Webhook's Handle (panic recovery, logger, response
// completion); it writes the answer as the webhook would. Every other
// request (no body, another content type, a body over the size limit,
// another version, a review that does not decode or has no request) is
// served by the admission.Webhook itself, so that its answers stay
// controller-runtime's.
package reviewhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"
)

// maxRequestSize is controller-runtime's limit of a review's size; a
// larger body is left to the admission.Webhook, which refuses it.
const maxRequestSize = 7 * 1024 * 1024

// v1 is the TypeMeta of an admission.k8s.io/v1 AdmissionReview.
var v1 = admissionv1.SchemeGroupVersion.WithKind("AdmissionReview")

// Handler serves an admission.Webhook, decoding v1 AdmissionReviews once.
type Handler struct {
	webhook *admission.Webhook
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler serving wh.
func New(wh *admission.Webhook) *Handler { return &Handler{webhook: wh} }

// Webhook returns the served admission.Webhook.
func (h *Handler) Webhook() *admission.Webhook { return h.webhook }

// WithRecoverPanic sets whether the webhook recovers from panics in the
// handler (see admission.Webhook.WithRecoverPanic) and returns h.
func (h *Handler) WithRecoverPanic(recoverPanic bool) *Handler {
	h.webhook.WithRecoverPanic(recoverPanic)
	return h
}

// ServeHTTP answers one review.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.Header.Get("Content-Type") != "application/json" {
		h.webhook.ServeHTTP(w, r)
		return
	}
	body, err := readBody(r)
	if err != nil || len(body) >= maxRequestSize {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		h.webhook.ServeHTTP(w, r)
		return
	}
	var review admissionv1.AdmissionReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil ||
		review.GroupVersionKind() != v1 || review.Request == nil {
		r.Body = readCloser{bytes.NewReader(body), r.Body}
		h.webhook.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	if h.webhook.WithContextFunc != nil {
		ctx = h.webhook.WithContextFunc(ctx, r)
	}
	resp := h.webhook.Handle(ctx, admission.Request{AdmissionRequest: *review.Request})
	out := admissionv1.AdmissionReview{Response: &resp.AdmissionResponse}
	out.SetGroupVersionKind(v1)
	if err := json.NewEncoder(w).Encode(out); err != nil {
		// As controller-runtime: the connection is most likely gone;
		// one attempt at an error answer.
		failed := admission.Errored(http.StatusInternalServerError, err)
		_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{Response: &failed.AdmissionResponse})
	}
}

// readBody reads up to maxRequestSize bytes of the body into one buffer
// of the announced length (io.ReadAll's doubling from 512 bytes allocated
// three times a review's size).
func readBody(r *http.Request) ([]byte, error) {
	size := r.ContentLength
	if size < 0 || size > maxRequestSize {
		size = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxRequestSize))
	return buf.Bytes(), err
}

// readCloser reads from a reader and closes the original body.
type readCloser struct {
	io.Reader
	io.Closer
}
