package reviewhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// echo allows with a warning naming the request, denies a request named
// "deny" and panics for one named "panic".
var echo = admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
	switch req.Name {
	case "deny":
		return admission.Denied("no")
	case "panic":
		panic("handler panic")
	}
	return admission.Allowed("").WithWarnings(string(req.Operation) + " " + req.Namespace + "/" + req.Name + " " + string(req.Object.Raw))
})

// TestSameAnswers checks that a Handler answers every request byte for
// byte as controller-runtime's admission.Webhook does.
func TestSameAnswers(t *testing.T) {
	v1 := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"name":"api","namespace":"ml","operation":"CREATE","userInfo":{},"object":{"metadata":{"name":"api","annotations":{"n":12345678901234567890}}}}}`
	cases := []struct {
		name, contentType, body string
		nilBody                 bool
	}{
		{name: "v1 review", body: v1},
		{name: "v1 review denied", body: strings.Replace(v1, `"name":"api"`, `"name":"deny"`, 1)},
		{name: "v1 review panics", body: strings.Replace(v1, `"name":"api"`, `"name":"panic"`, 1)},
		{name: "v1beta1 review", body: strings.Replace(v1, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1)},
		{name: "field names in another case", body: strings.Replace(v1, `"uid"`, `"UID"`, 1)},
		{name: "no kind", body: strings.Replace(v1, `"kind":"AdmissionReview",`, "", 1)},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`},
		{name: "null request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`},
		{name: "not an AdmissionReview", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`},
		{name: "garbage", body: "\x00\x01 not JSON"},
		{name: "truncated", body: v1[:len(v1)/2]},
		{name: "empty object", body: `{}`},
		{name: "zero-length body", body: ""},
		{name: "no body", nilBody: true},
		{name: "wrong content type", contentType: "application/yaml", body: v1},
		{name: "over the size limit", body: v1 + strings.Repeat(" ", maxRequestSize)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			serve := func(h http.Handler) (int, string) {
				var body io.Reader = strings.NewReader(tc.body)
				if tc.nilBody {
					body = nil
				}
				req := httptest.NewRequest(http.MethodPost, "/x", body)
				ct := tc.contentType
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Code, rec.Body.String()
			}
			wantCode, want := serve(&admission.Webhook{Handler: echo})
			gotCode, got := serve(New(&admission.Webhook{Handler: echo}))
			if gotCode != wantCode || got != want {
				t.Errorf("answer %d %s\nwant   %d %s", gotCode, got, wantCode, want)
			}
		})
	}
}

// TestRecoverPanicOff checks that WithRecoverPanic reaches the webhook.
func TestRecoverPanicOff(t *testing.T) {
	h := New(&admission.Webhook{Handler: echo}).WithRecoverPanic(false)
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","name":"panic","operation":"CREATE"}}`
	req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	defer func() {
		if r := recover(); r == nil {
			t.Error("the panic was recovered")
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), req)
}

// failingBody fails after its first bytes.
type failingBody struct{ r io.Reader }

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("connection reset")
	}
	return n, err
}

func (b *failingBody) Close() error { return nil }

// TestReadError checks that a body that cannot be read gets
// controller-runtime's answer.
func TestReadError(t *testing.T) {
	serve := func(h http.Handler) string {
		req := httptest.NewRequest(http.MethodPost, "/x", nil)
		req.Body = &failingBody{r: bytes.NewReader([]byte(`{"apiVersion":`))}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	want := serve(&admission.Webhook{Handler: echo})
	if got := serve(New(&admission.Webhook{Handler: echo})); got != want || !strings.Contains(got, "connection reset") {
		t.Errorf("answer %s, want %s", got, want)
	}
}
