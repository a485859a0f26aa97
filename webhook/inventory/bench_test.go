package inventory

import (
	"context"
	"fmt"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/mlscale/mlscale/internal/policy"
)

// BenchmarkInventoryEvaluate is the admission path of an HPA: the indexed
// inventory read plus the evaluation of every built-in policy, with n
// objects in the namespace (half HPAs, half ScaledObjects, each on its own
// workload, plus the ScaledObject the HPA conflicts with). Only the objects
// on the HPA's target reach the policies, so the cost hardly grows with n.
func BenchmarkInventoryEvaluate(b *testing.B) {
	s := testScheme(b)
	engine, err := policy.New(context.Background(), policy.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 100} {
		objs := []client.Object{so("ml", "web-so", "", "web")}
		for i := range n / 2 {
			objs = append(objs, hpa("ml", fmt.Sprintf("h%d", i), "Deployment", fmt.Sprintf("app%d", i)), so("ml", fmt.Sprintf("s%d", i), "", fmt.Sprintf("svc%d", i)))
		}
		c := fake.NewClientBuilder().WithScheme(s).
			WithIndex(&autoscalingv2.HorizontalPodAutoscaler{}, TargetIndex, HPATarget).
			WithIndex(&kedav1alpha1.ScaledObject{}, TargetIndex, ScaledObjectTarget).
			WithObjects(objs...).Build()
		src := Source{Reader: c}
		r, err := policy.NewReview(context.Background(), policy.OperationCreate, hpa("ml", "new", "Deployment", "web"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("namespace=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				inv, err := src.Inventory(context.Background(), r)
				if err != nil {
					b.Fatal(err)
				}
				vs, err := engine.Evaluate(context.Background(), r, inv)
				if err != nil || len(vs) != 1 {
					b.Fatalf("violations %v, %v", vs, err)
				}
			}
		})
	}
}
