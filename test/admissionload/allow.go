package admissionload

import (
	"encoding/json"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Paths of the floor servers that AllowAll serves.
const (
	// AllowPath decodes the AdmissionReview and allows.
	AllowPath = "/allow"
	// AllowDecodePath also decodes the object as an apps/v1 Deployment.
	AllowDecodePath = "/allow-decode"
)

// AllowAll is the floor: a webhook that decodes the AdmissionReview and
// answers allowed, and at AllowDecodePath also decodes the object as a
// Deployment first. A review it cannot decode gets an HTTP 400.
func AllowAll() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(AllowPath, func(w http.ResponseWriter, r *http.Request) { allow(w, r, false) })
	mux.HandleFunc(AllowDecodePath, func(w http.ResponseWriter, r *http.Request) { allow(w, r, true) })
	return mux
}

func allow(w http.ResponseWriter, r *http.Request, decodeObject bool) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	if decodeObject {
		var d appsv1.Deployment
		if err := json.Unmarshal(review.Request.Object.Raw, &d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	out := admissionv1.AdmissionReview{
		TypeMeta: review.TypeMeta,
		Response: &admissionv1.AdmissionResponse{
			UID: review.Request.UID, Allowed: true, Result: &metav1.Status{Code: http.StatusOK},
		},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
