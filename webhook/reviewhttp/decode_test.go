package reviewhttp

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"

	"github.com/mlscale/mlscale/webhook/reviewtest"
)

// sampleReviews are AdmissionReviews as the API server writes them: a
// CREATE of the vLLM Deployment, an UPDATE with the old object, a dry-run
// DELETE with options, a subresource, and each of them indented.
func sampleReviews(t testing.TB) map[string][]byte {
	t.Helper()
	obj, err := json.Marshal(reviewtest.VLLMDeployment(map[string]string{"mlscale.io/autoscale": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	dry := true
	gvk := metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvr := metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	user := authenticationv1.UserInfo{Username: "system:serviceaccount:argocd:argocd-application-controller", UID: "u-1",
		Groups: []string{"system:serviceaccounts", "system:authenticated"}, Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/credential-id": {"JTI=x"}, "scopes": {"a", "b"}}}
	requests := map[string]admissionv1.AdmissionRequest{
		"create": {UID: "1", Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr, Name: "llm", Namespace: "ml",
			Operation: admissionv1.Create, UserInfo: user, Object: runtime.RawExtension{Raw: obj},
			Options: runtime.RawExtension{Raw: []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply"}`)}},
		"update": {UID: "2", Kind: gvk, Resource: gvr, Name: "llm", Namespace: "ml", Operation: admissionv1.Update, UserInfo: user,
			Object: runtime.RawExtension{Raw: obj}, OldObject: runtime.RawExtension{Raw: obj}},
		"delete": {UID: "3", Kind: gvk, Resource: gvr, Name: "llm", Namespace: "ml", Operation: admissionv1.Delete, DryRun: &dry,
			OldObject: runtime.RawExtension{Raw: obj}, Options: runtime.RawExtension{Raw: []byte(`{"propagationPolicy":"Foreground"}`)}},
		"scale": {UID: "4", Kind: metav1.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, Resource: gvr,
			SubResource: "scale", Name: "llm", Namespace: "ml", Operation: admissionv1.Update,
			Object: runtime.RawExtension{Raw: []byte(`{"spec":{"replicas":3}}`)}},
	}
	out := map[string][]byte{}
	for name, req := range requests {
		r := admissionv1.AdmissionReview{Request: &req}
		r.SetGroupVersionKind(v1)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
		if out[name+" indented"], err = json.MarshalIndent(r, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestDecodeReview checks that the reviews the API server writes take the
// fast path and decode exactly as the API machinery decodes them, and that
// field names in another case or escaped take the API machinery's path.
func TestDecodeReview(t *testing.T) {
	for name, body := range sampleReviews(t) {
		if !canonicalKeys(body) {
			t.Errorf("%s: not read as canonical: it would not take the fast path", name)
		}
		checkSameDecoding(t, name, body)
	}
	v1 := string(sampleReviews(t)["create"])
	for name, body := range map[string]string{
		"UID":             strings.Replace(v1, `"uid":"1"`, `"UID":"1"`, 1),
		"Request":         strings.Replace(v1, `"request"`, `"Request"`, 1),
		"escaped key":     strings.Replace(v1, `"uid":"1"`, `"\u0075id":"1"`, 1),
		"duplicate":       strings.Replace(v1, `"uid":"1"`, `"uid":"1","uid":"2"`, 1),
		"unknown key":     strings.Replace(v1, `"uid":"1"`, `"uid":"1","zzz":[1,{"a":null}]`, 1),
		"trailing":        v1 + " x",
		"raw in any case": strings.Replace(v1, `"object":{`, `"object":{"Spec":1,`, 1),
	} {
		checkSameDecoding(t, name, []byte(body))
		if name == "UID" || name == "Request" || name == "escaped key" {
			if canonicalKeys([]byte(body)) {
				t.Errorf("%s: read as canonical", name)
			}
		}
	}
}

// checkSameDecoding fails when decodeReview and the API machinery's
// decoder disagree on body.
func checkSameDecoding(t *testing.T, name string, body []byte) {
	t.Helper()
	var got, want admissionv1.AdmissionReview
	gotErr := decodeReview(body, &got)
	wantErr := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: error %v, the API machinery's %v", name, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: decoded\n%+v\nthe API machinery\n%+v", name, got.Request, want.Request)
	}
}

// FuzzDecodeReview holds decodeReview to the API machinery's decoder on
// any input.
func FuzzDecodeReview(f *testing.F) {
	for _, body := range sampleReviews(f) {
		f.Add(body)
	}
	f.Add([]byte(`{"request":{"uid":"a","object":1,"oldObject":"x","options":[{}]}}`))
	f.Add([]byte(`{"request":{"userInfo":{"extra":{"Uid":["x"]}},"dryRun":true}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSameDecoding(t, "fuzz", body)
	})
}

// BenchmarkDecodeReview compares decodeReview with the API machinery's
// decoder on the CREATE of the vLLM Deployment.
func BenchmarkDecodeReview(b *testing.B) {
	body := sampleReviews(b)["create"]
	for _, c := range []struct {
		name   string
		decode func([]byte, *admissionv1.AdmissionReview) error
	}{
		{"decodeReview", decodeReview},
		{"apimachinery", func(b []byte, r *admissionv1.AdmissionReview) error {
			return sigsjson.UnmarshalCaseSensitivePreserveInts(b, r)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var r admissionv1.AdmissionReview
				if err := c.decode(body, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
