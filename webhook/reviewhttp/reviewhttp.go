// Package reviewhttp serves mlscale's admission handlers over HTTP with one
// decoding pass over the AdmissionReview.
//
// controller-runtime's admission.Webhook reads every review twice: once
// with encoding/json to find its apiVersion and kind, then again with the
// API machinery's case-sensitive decoder into the AdmissionReview; for a
// 4 KB workload the first pass is a fifth of the mutating webhook's time.
// A Handler decodes an admission.k8s.io/v1 AdmissionReview once, as the
// same case-sensitive decoder does (see decodeReview), and hands the request to the wrapped
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
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
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
	buf := bodies.Get().(*bytes.Buffer)
	defer putBody(buf)
	body, err := readBody(r, buf)
	if err != nil || len(body) >= maxRequestSize {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		h.webhook.ServeHTTP(w, r)
		return
	}
	var review admissionv1.AdmissionReview
	if err := decodeReview(body, &review); err != nil ||
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

// bodies are the buffers reviews are read into, reused: the decoded
// AdmissionReview keeps no reference to its body (the API machinery's
// decoder copies strings and the objects' raw JSON), and a body handed to
// the admission.Webhook instead is read before ServeHTTP returns.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer put back in bodies; a larger one
// (a rare, huge review) is left to the garbage collector.
const maxPooledBody = 256 * 1024

// putBody puts a buffer back in bodies.
func putBody(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	buf.Reset()
	bodies.Put(buf)
}

// readBody reads up to maxRequestSize bytes of the body into buf, grown
// once to the announced length (io.ReadAll's doubling from 512 bytes
// allocated three times a review's size). The bytes are buf's: valid
// until it is put back.
func readBody(r *http.Request, buf *bytes.Buffer) ([]byte, error) {
	size := r.ContentLength
	if size < 0 || size > maxRequestSize {
		size = 0
	}
	buf.Grow(int(size) + bytes.MinRead)
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxRequestSize))
	return buf.Bytes(), err
}

// readCloser reads from a reader and closes the original body.
type readCloser struct {
	io.Reader
	io.Closer
}
