package policy

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// inventoryOf returns n objects: HPAs, ScaledObjects and a quota, none of
// which conflicts with the reviewed HPA.
func inventoryOf(n int) Inventory {
	inv := Inventory{ResourceQuotas: []corev1.ResourceQuota{gpuQuota("64")}}
	for i := 1; inv.Len() < n; i++ {
		if i%2 == 0 {
			inv.HPAs = append(inv.HPAs, hpa(fmt.Sprintf("hpa-%d", i), fmt.Sprintf("app-%d", i)))
		} else {
			inv.ScaledObjects = append(inv.ScaledObjects, scaledObject(fmt.Sprintf("so-%d", i), fmt.Sprintf("app-%d", i)))
		}
	}
	return inv
}

// BenchmarkEvaluate is policy evaluation per review (input building, every
// built-in policy) for an HPA and a ScaledObject, with 10 and 100 objects
// in the namespace's inventory.
func BenchmarkEvaluate(b *testing.B) {
	e := newEngine(b, Config{AllowedEndpoints: []string{"*.svc.cluster.local"}})
	h := hpa("new", "web")
	hr, err := NewReview(context.Background(), OperationCreate, &h, nil)
	if err != nil {
		b.Fatal(err)
	}
	so := scaledObject("new", "web")
	sr, err := NewReview(context.Background(), OperationCreate, &so, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 100} {
		inv := inventoryOf(n)
		for _, c := range []struct {
			name string
			r    Review
		}{{"HPA", hr}, {"ScaledObject", sr}} {
			b.Run(fmt.Sprintf("%s/inventory=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					vs, err := e.Evaluate(context.Background(), c.r, inv)
					if err != nil || len(vs) != 0 {
						b.Fatalf("%v %v", vs, err)
					}
				}
			})
		}
	}
}

// BenchmarkInventoryData is the part of a review spent converting the
// inventory for the policies.
func BenchmarkInventoryData(b *testing.B) {
	for _, n := range []int{10, 100} {
		inv := inventoryOf(n)
		b.Run(fmt.Sprintf("inventory=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := InventoryData(inv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
