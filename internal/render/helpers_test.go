package render_test

import (
	"encoding/json"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/test/crdschema"
)

// validateKEDA checks a rendered object against KEDA's CRD schemas, both as
// printed (render.ToUnstructured) and as its Go type serialises.
func validateKEDA(t testing.TB, obj client.Object) {
	t.Helper()
	set, err := crdschema.KEDA()
	if err != nil {
		t.Fatalf("loading KEDA CRDs: %v", err)
	}
	u, err := render.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	if errs := set.Validate(u.Object); len(errs) > 0 {
		t.Errorf("%s %s is not valid against KEDA's CRD: %v", u.GetKind(), u.GetName(), errs.ToAggregate())
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := set.ValidateJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Errorf("%s %s as serialised by its Go type is not valid against KEDA's CRD: %v", u.GetKind(), u.GetName(), errs.ToAggregate())
	}
}
