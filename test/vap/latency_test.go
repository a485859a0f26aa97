package vap_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/kubetest"
)

// BenchmarkHPAAdmission creates HPAs (each on its own Deployment, all
// admitted) through the real API server, in a namespace with 10
// ScaledObjects, with mlscale's policies enforced four ways: not at all,
// by the API server's ValidatingAdmissionPolicies, by mlscale's webhook
// (in this process), and by both (the webhook with
// --api-server-policies). It reports the mean (ns/op) and the median and
// 99th percentile of one create. Run it with a fixed count:
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s go test -run '^$' -bench BenchmarkHPAAdmission -benchtime 1000x ./test/vap
func BenchmarkHPAAdmission(b *testing.B) {
	env(b)
	ctx := b.Context()
	run := 0
	measure := func(b *testing.B) {
		run++
		ns := namespace(b, fmt.Sprintf("latency-%d", run))
		for i := range 10 {
			if _, err := create(ctx, scaledObject(fmt.Sprintf("so-%d", i), fmt.Sprintf("scaled-%d", i)), ns, false); err != nil {
				b.Fatal(err)
			}
		}
		times := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			if _, err := create(ctx, hpa(fmt.Sprintf("hpa-%d", i), fmt.Sprintf("app-%d", i)), ns, false); err != nil {
				b.Fatalf("HPA %d: %v", i, err)
			}
			times = append(times, time.Since(start))
		}
		b.StopTimer()
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-us")
		b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-us")
	}
	// Each mode is in force once a conflicting HPA gets the answer it
	// should: admitted, or refused by the API server or the webhook.
	wait := func(b *testing.B, want string) {
		ns := namespace(b, fmt.Sprintf("latency-probe-%d", run))
		run++
		if _, err := create(ctx, scaledObject("so", "app"), ns, false); err != nil {
			b.Fatal(err)
		}
		kubetest.Eventually(b, 30*time.Second, "the policies are enforced by "+want, func() error {
			_, err := create(ctx, hpa("probe", "app"), ns, true)
			switch {
			case want == "none" && err == nil,
				want == "api-server" && vapDenied(err),
				want == "webhook" && err != nil && strings.Contains(err.Error(), "admission webhook") && strings.Contains(err.Error(), "hpa_scaledobject_conflict"):
				return nil
			}
			return fmt.Errorf("got %w", err)
		})
	}
	b.Cleanup(func() {
		if err := installPolicies(context.Background()); err != nil {
			b.Error(err)
		}
	})

	if err := removePolicies(ctx); err != nil {
		b.Fatal(err)
	}
	wait(b, "none")
	b.Run("no-policies", measure)

	if err := installPolicies(ctx); err != nil {
		b.Fatal(err)
	}
	wait(b, "api-server")
	b.Run("validating-admission-policies", measure)

	if err := removePolicies(ctx); err != nil {
		b.Fatal(err)
	}
	withWebhooks(b)
	b.Run("webhook", func(b *testing.B) {
		startMlscale(b, false)
		wait(b, "webhook")
		measure(b)
	})
	if err := installPolicies(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("both", func(b *testing.B) {
		startMlscale(b, true)
		wait(b, "api-server")
		measure(b)
	})
}
