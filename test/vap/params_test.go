package vap_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mlscale/mlscale/test/kubetest"
)

// TestParams: an HPA's policy reads every ScaledObject of its namespace
// as a param (parameterNotFoundAction: Allow). With none the HPA is
// admitted without evaluation; with one on its target it is refused; with
// many it is refused when one of them is on its target, naming that one,
// and admitted when none is. KEDA's own HPA is admitted with one or many.
// The time each dry run takes is logged (admission cost grows with the
// params: the policy is evaluated once per ScaledObject).
func TestParams(t *testing.T) {
	env(t)
	ctx := t.Context()
	ns := namespace(t, "params")
	dryRun := func(name, target string, owned bool) error {
		h := hpa(name, target)
		if owned {
			h.SetOwnerReferences(nil)
			h.Object["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
				"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "so-0", "uid": "00000000-0000-0000-0000-000000000001",
			}}
		}
		_, err := create(ctx, h, ns, true)
		return err
	}
	timed := func(what string, f func() error) error {
		start := time.Now()
		err := f()
		t.Logf("%s: %s", what, time.Since(start))
		return err
	}

	if err := timed("0 ScaledObjects", func() error { return dryRun("hpa", "app-0", false) }); err != nil {
		t.Errorf("no ScaledObject in the namespace: refused: %v", err)
	}
	if _, err := create(ctx, scaledObject("so-0", "app-0"), ns, false); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 10*time.Second, "one ScaledObject: the HPA on its target is refused", func() error {
		err := timed("1 ScaledObject", func() error { return dryRun("hpa", "app-0", false) })
		if msg, ok := denialMessage(err); !ok || !strings.Contains(msg, "ScaledObject "+ns+"/so-0 already scales") {
			return fmt.Errorf("want a refusal naming so-0, got %w", err)
		}
		return nil
	})
	if err := dryRun("keda-hpa-so-0", "app-0", true); err != nil {
		t.Errorf("one ScaledObject: KEDA's own HPA is refused: %v", err)
	}

	const many = 150
	for i := 1; i < many; i++ {
		if _, err := create(ctx, scaledObject(fmt.Sprintf("so-%d", i), fmt.Sprintf("app-%d", i)), ns, false); err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("app-%d", many-1)
	kubetest.Eventually(t, 10*time.Second, fmt.Sprintf("%d ScaledObjects: the HPA on the last one's target is refused", many), func() error {
		err := timed(fmt.Sprintf("%d ScaledObjects, a conflict", many), func() error { return dryRun("hpa", last, false) })
		if msg, ok := denialMessage(err); !ok || !strings.Contains(msg, fmt.Sprintf("ScaledObject %s/so-%d already scales", ns, many-1)) {
			return fmt.Errorf("want a refusal naming so-%d, got %w", many-1, err)
		}
		return nil
	})
	if err := timed(fmt.Sprintf("%d ScaledObjects, no conflict", many), func() error { return dryRun("hpa", "unrelated", false) }); err != nil {
		t.Errorf("%d ScaledObjects: an unrelated HPA is refused: %v", many, err)
	}
	if err := dryRun("keda-hpa-so-0", "app-0", true); err != nil {
		t.Errorf("%d ScaledObjects: KEDA's own HPA is refused: %v", many, err)
	}

	// UPDATEs, as KEDA's operator makes them: its HPA (each param is
	// evaluated, the HPA itself among the HPA policy's), and the
	// ScaledObject (itself among its params).
	own := hpa("keda-hpa-so-0", "app-0")
	own.Object["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "so-0", "uid": "00000000-0000-0000-0000-000000000001",
	}}
	created, err := create(ctx, own, ns, false)
	if err != nil {
		t.Fatalf("creating KEDA's own HPA: %v", err)
	}
	created.Object["spec"].(map[string]any)["maxReplicas"] = int64(5)
	if _, err := suite.dynamic.Resource(gvr[created.GetKind()]).Namespace(ns).Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Errorf("updating KEDA's own HPA: %v", err)
	}
	so, err := suite.dynamic.Resource(gvr["ScaledObject"]).Namespace(ns).Get(ctx, "so-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	so.SetFinalizers([]string{"finalizer.keda.sh"})
	if _, err := suite.dynamic.Resource(gvr["ScaledObject"]).Namespace(ns).Update(ctx, so, metav1.UpdateOptions{}); err != nil {
		t.Errorf("adding KEDA's finalizer to a ScaledObject: %v", err)
	}
}
