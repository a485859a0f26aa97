package floorwriter

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmanager "sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/mlscale/mlscale/internal/intent"
)

// TestLeaderElection runs two predictor processes (managers from
// NewManager, as `mlscale predictor` builds them) against a real API server
// and a real Prometheus. Only the leader writes: the second stays a
// follower while the first runs, and takes over, writing with its own
// clock, once the first stops and releases the Lease.
func TestLeaderElection(t *testing.T) {
	needCluster(t)
	srv, trace := backfillTrace(t, "crane_input9.csv")
	ns := newNamespace(t)
	d := deployment(ns, "api", predictive(`demand{trace="crane_input9.csv"}`, 40, 1, 50))
	if err := k8s.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	t1, t2 := trace.End().Add(-time.Hour), trace.End()
	start := func(now time.Time) (crmanager.Manager, func() error) {
		cfg := DefaultRunConfig()
		cfg.RESTConfig = restConfig
		cfg.MetricsAddr, cfg.ProbeAddr = "0", "0"
		cfg.LeaderElectionNamespace = ns
		cfg.Source.URL, cfg.Source.Timeout = srv.URL, 10*time.Second
		cfg.Now = func() time.Time { return now }
		cfg.Registry = prometheus.NewRegistry()
		mgr, _, err := NewManager(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		stop := sync.OnceValue(func() error { cancel(); return <-done })
		t.Cleanup(func() { _ = stop() })
		return mgr, stop
	}
	waitTime := func(want time.Time) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			ann := annotations(t, d)
			if ann[intent.KeyPrediction] != "" {
				if ex := explanation(t, ann); ex.Time.Equal(want) && ex.Mode == ModePredicting {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no explanation written at %s within 60s; annotations %v", want, ann)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	a, stopA := start(t1)
	<-a.Elected()
	waitTime(t1)

	b, _ := start(t2)
	if !b.GetCache().WaitForCacheSync(context.Background()) {
		t.Fatal("second manager's cache did not sync")
	}
	select {
	case <-b.Elected():
		t.Fatal("the second replica was elected while the first holds the Lease")
	default:
	}
	var lease coordinationv1.Lease
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: DefaultLeaderElectionID}, &lease); err != nil {
		t.Fatalf("reading the Lease %s: %v", DefaultLeaderElectionID, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatalf("Lease %s has no holder", DefaultLeaderElectionID)
	}
	if ex := explanation(t, annotations(t, d)); !ex.Time.Equal(t1) {
		t.Fatalf("explanation written at %s while the first replica leads, want %s", ex.Time, t1)
	}

	if err := stopA(); err != nil {
		t.Fatalf("first manager: %v", err)
	}
	select {
	case <-b.Elected():
	case <-time.After(60 * time.Second):
		t.Fatal("the second replica was not elected within 60s of the first releasing the Lease")
	}
	waitTime(t2)
}
