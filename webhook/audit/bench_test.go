package audit

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/policy"
)

// BenchmarkRound is one audit round over n opted-in Deployments, each
// with a ScaledObject it owns, read from informer stores, with empty
// inventories (the fake client's field-indexed List is linear in the
// objects, which would make the benchmark about the fake client): "full"
// evaluates every object (the first round, or every round before rounds
// were incremental: ResyncRounds 1), "unchanged" is a later round in which
// nothing changed (the default ResyncRounds evaluates a tenth again).
//
//	go test ./webhook/audit -run '^$' -bench Round -benchmem
func BenchmarkRound(b *testing.B) {
	const n = 500
	stores := map[string]toolscache.Store{
		"deployment":   toolscache.NewStore(toolscache.MetaNamespaceKeyFunc),
		"scaledobject": toolscache.NewStore(toolscache.MetaNamespaceKeyFunc),
	}
	for i := range n {
		d := annotatedDeployment("ml", fmt.Sprintf("w%04d", i))
		d.Generation = 1
		so := scaledObject("ml", d.Name, d.Name)
		so.Generation = 1
		so.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)}}
		if err := stores["deployment"].Add(d); err != nil {
			b.Fatal(err)
		}
		if err := stores["scaledobject"].Add(so); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name   string
		resync int
	}{{"full", 1}, {"unchanged", 0}} {
		b.Run(fmt.Sprintf("%s/objects=%d", bc.name, 2*n), func(b *testing.B) {
			w := newWorld(b)
			w.auditor.Reader = storeCache{Reader: w.c, stores: stores}
			w.auditor.Inventory = emptyInventory{}
			w.auditor.Recorder = nil
			w.auditor.ResyncRounds = bc.resync
			ctx := context.Background()
			if _, err := w.auditor.Round(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			evaluated := 0
			for b.Loop() {
				_, stats, err := w.auditor.round(ctx)
				if err != nil {
					b.Fatal(err)
				}
				evaluated += stats.evaluated
			}
			b.ReportMetric(float64(evaluated)/float64(b.N), "evaluated/round")
		})
	}
}

// emptyInventory gives every review an empty inventory.
type emptyInventory struct{}

func (emptyInventory) Inventory(context.Context, policy.Review) (policy.Inventory, error) {
	return policy.Inventory{}, nil
}
