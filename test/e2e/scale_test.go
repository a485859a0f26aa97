package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/admissionload"
	"github.com/mlscale/mlscale/webhook/mutate"
	"github.com/mlscale/mlscale/webhook/validate"
)

// envScaleWorkloads overrides BenchmarkScale's number of workloads.
const envScaleWorkloads = "MLSCALE_E2E_SCALE_WORKLOADS"

// envHeapProfile, when set to a file name, makes the manager process that
// the benchmarks start write a heap profile there every 20 seconds (go tool
// pprof -sample_index=inuse_space), to see what its memory holds.
const envHeapProfile = "MLSCALE_E2E_HEAP_PROFILE"

func init() {
	file := os.Getenv(envHeapProfile)
	if file == "" || os.Getenv(envManagerProcess) != "1" {
		return
	}
	go func() {
		for range time.Tick(20 * time.Second) {
			tmp := file + ".tmp"
			f, err := os.Create(tmp)
			if err != nil {
				fmt.Fprintln(os.Stderr, "heap profile:", err)
				return
			}
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp, file)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "heap profile:", err)
				return
			}
		}
	}()
}

// BenchmarkScale measures mlscale's manager at scale, in its own process
// (so that its memory is its own): its resident memory and admission
// latency with no workloads, then with 10,000 annotated Deployments and
// their ScaledObjects (created through the API server, so through the
// webhook, by 16 clients; the reconciler creates the ScaledObjects), then
// the time a burst of 1,000 more Deployments in 16 streams takes until
// every ScaledObject exists.
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s go test ./test/e2e -run '^$' -bench Scale -benchtime 1x -timeout 60m
//
// (make bench-scale). MLSCALE_E2E_SCALE_WORKLOADS=N changes the 10,000.
// Admission latency is measured by driving the manager's webhook server
// directly with admissionload (the vLLM GPU Deployment review of `make
// bench-admission`, in the benchmark's namespace), 8 clients for 5 s per
// path. Memory is the process's VmRSS and VmHWM from /proc/PID/status.
func BenchmarkScale(b *testing.B) {
	if suite.setupErr != nil {
		b.Fatalf("e2e setup: %v", suite.setupErr)
	}
	n := 10000
	if v := os.Getenv(envScaleWorkloads); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number", envScaleWorkloads, v)
		}
	}
	const workers, burst = 16, 1000
	if err := stopMlscale(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := startMlscale(); err != nil {
			b.Errorf("restarting the in-process mlscale: %v", err)
		}
	}()
	proc := startManagerProcess(b)
	defer proc.stop(b)
	c := loadClient(b)
	for i := 0; b.Loop(); i++ {
		ns := fmt.Sprintf("e2e-scale-%d", i)
		createNamespace(b, c, ns)
		time.Sleep(5 * time.Second) // the manager settles after its start
		before := scalePoint(b, proc, ns)
		b.Logf("no workloads: %s", before)

		start := time.Now()
		createDeployments(b, c, ns, n, workers)
		created := time.Since(start)
		waitScaledObjects(b, c, ns, n, 30*time.Minute)
		b.Logf("%d Deployments created in %s; all ScaledObjects after %s", n, created.Round(time.Second), time.Since(start).Round(time.Second))
		// At least one audit round (every minute) over every object, then
		// measure. The manager's CPU time over that quiet minute is what
		// the audit (and the informers' resyncs) cost at n, with nothing
		// being created.
		cpu0 := proc.cpu(b)
		time.Sleep(70 * time.Second)
		idleCPU := proc.cpu(b) - cpu0
		b.Logf("%d workloads: manager CPU %.1f s over the quiet 70 s", n, idleCPU.Seconds())
		after := scalePoint(b, proc, ns)
		b.Logf("%d workloads: %s", n, after)

		burstNS := ns + "-burst"
		createNamespace(b, c, burstNS)
		start = time.Now()
		createDeployments(b, c, burstNS, burst, workers)
		waitScaledObjects(b, c, burstNS, burst, 10*time.Minute)
		converged := time.Since(start)
		b.Logf("burst of %d Deployments in %d streams on top of %d: every ScaledObject after %s", burst, workers, n, converged.Round(time.Millisecond))
		hwm, _ := proc.memory(b)

		b.ReportMetric(float64(before.rss)/1024, "MiB-rss-empty")
		b.ReportMetric(float64(after.rss)/1024, "MiB-rss-at-n")
		b.ReportMetric(float64(hwm)/1024, "MiB-peak-rss")
		b.ReportMetric(float64(after.mutate.P99)/1e6, "ms-mutate-p99-at-n")
		b.ReportMetric(float64(after.validate.P99)/1e6, "ms-validate-p99-at-n")
		b.ReportMetric(converged.Seconds(), "s-burst-converged")
		b.ReportMetric(idleCPU.Seconds(), "s-cpu-quiet-70s-at-n")
	}
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU
// times: 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpu reads the manager process's CPU time so far (user and system).
func (p *managerProcess) cpu(b *testing.B) time.Duration {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count the fields after its closing parenthesis. utime and stime are
	// fields 14 and 15, the 12th and 13th after it.
	i := strings.LastIndexByte(string(st), ')')
	f := strings.Fields(string(st[i+1:]))
	if i < 0 || len(f) < 13 {
		b.Fatalf("unexpected /proc/PID/stat: %q", st)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("/proc/PID/stat: %v", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// point is the manager's memory and admission latency at one moment.
type point struct {
	rss, hwm         int64 // KiB
	mutate, validate admissionload.Summary
}

func (p point) String() string {
	return fmt.Sprintf("VmRSS %d MiB (VmHWM %d MiB); mutate %.0f reviews/s p50 %s p99 %s; validate %.0f reviews/s p50 %s p99 %s",
		p.rss/1024, p.hwm/1024,
		p.mutate.PerSecond, p.mutate.P50.Round(10*time.Microsecond), p.mutate.P99.Round(10*time.Microsecond),
		p.validate.PerSecond, p.validate.P50.Round(10*time.Microsecond), p.validate.P99.Round(10*time.Microsecond))
}

// scalePoint reads the manager's memory, then drives its two webhooks.
func scalePoint(b *testing.B, proc *managerProcess, ns string) point {
	b.Helper()
	var p point
	p.hwm, p.rss = proc.memory(b)
	d := admissionload.Deployment()
	d.Namespace = ns
	body, err := admissionload.Review(d)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(suite.cluster.Env.WebhookInstallOptions.LocalServingCAData) {
		b.Fatal("no webhook CA")
	}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	base := "https://" + net.JoinHostPort(suite.cluster.WebhookHost, strconv.Itoa(suite.cluster.WebhookPort))
	for _, t := range []struct {
		path string
		out  *admissionload.Summary
	}{{mutate.Path, &p.mutate}, {validate.Path, &p.validate}} {
		r := admissionload.Drive(context.Background(), t.path, base+t.path, body, tlsConfig, 8, 5*time.Second)
		if r.Errors > 0 {
			b.Fatalf("%s: %d errors, first: %s", t.path, r.Errors, r.FirstError)
		}
		*t.out = admissionload.Summarize(r)
	}
	return p
}

func createNamespace(b *testing.B, c client.Client, ns string) {
	b.Helper()
	err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"mlscale.io/enabled": "true"}}})
	if err != nil {
		b.Fatal(err)
	}
}

// waitScaledObjects waits until ns holds n ScaledObjects.
func waitScaledObjects(b *testing.B, c client.Client, ns string, n int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var sos metav1.PartialObjectMetadataList
		sos.SetGroupVersionKind(kedav1alpha1.SchemeGroupVersion.WithKind("ScaledObjectList"))
		if err := c.List(context.Background(), &sos, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		if len(sos.Items) == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d ScaledObjects after %s", len(sos.Items), n, timeout)
		}
		// A List of every ScaledObject is not free: poll large sets less often.
		time.Sleep(min(250*time.Millisecond*time.Duration(1+n/1000), 2*time.Second))
	}
}
