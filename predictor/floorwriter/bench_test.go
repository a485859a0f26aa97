package floorwriter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkCycle1000 measures predictor cycles over 1,000 predictive
// Deployments on the real API server, each with two weeks of one-minute
// history (20,160 points of crane_input9). The demand comes from an
// in-process source (seriesSource), so the figures are the predictor's own
// cost plus the API server's list and patches, without Prometheus' query
// time.
//
//   - first: a fresh writer fits 1,000 models and patches 1,000 workloads.
//   - steady: each cycle is one minute after the last; models are reused
//     (refit after --refit-every, 1h) and only changed floors are patched.
func BenchmarkCycle1000(b *testing.B) {
	needCluster(b)
	const n = 1000
	trace := loadTrace(b, "crane_input9.csv")
	src := seriesSource{trace}
	ns := newNamespace(b)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d := deployment(ns, fmt.Sprintf("w%04d", i), predictive(fmt.Sprintf(`demand{w="%d"}`, i), 40, 1, 50))
			errs <- k8s.Create(context.Background(), d)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	now := trace.Start.Add(14*24*time.Hour + 10*time.Minute)
	newWriter := func(clk *clock) *Writer {
		return New(k8s, src, configWith(func(c *Config) { c.Concurrency = 8 }), Options{Now: clk.now})
	}
	run := func(b *testing.B, w *Writer) {
		res, err := w.Cycle(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(res) < n {
			b.Fatalf("%d results, want %d", len(res), n)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			w := newWriter(newClock(now))
			b.StartTimer()
			run(b, w)
		}
	})
	b.Run("steady", func(b *testing.B) {
		clk := newClock(now)
		w := newWriter(clk)
		run(b, w)
		patched := 0
		for b.Loop() {
			clk.add(time.Minute)
			res, err := w.Cycle(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Patched {
					patched++
				}
			}
		}
		b.ReportMetric(float64(patched)/float64(b.N), "patches/op")
	})
}
