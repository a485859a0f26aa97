package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/webhook"
)

// Environment of the manager process that BenchmarkThousandDeployments
// starts from this test binary.
const (
	envManagerProcess = "MLSCALE_E2E_MANAGER_PROCESS"
	envKubeconfig     = "MLSCALE_E2E_KUBECONFIG"
	envWebhookHost    = "MLSCALE_E2E_WEBHOOK_HOST"
	envWebhookPort    = "MLSCALE_E2E_WEBHOOK_PORT"
	envWebhookCertDir = "MLSCALE_E2E_WEBHOOK_CERT_DIR"
	// envManagerQPS, when set (e.g. "5"), gives the manager's client that
	// QPS and twice as much burst instead of no client-side limit.
	envManagerQPS = "MLSCALE_E2E_MANAGER_QPS"
)

// runManagerProcess runs mlscale's manager until SIGTERM when this test
// binary was started as the benchmark's manager process; it reports false
// otherwise.
func runManagerProcess() (bool, int) {
	if os.Getenv(envManagerProcess) != "1" {
		return false, 0
	}
	port, err := strconv.Atoi(os.Getenv(envWebhookPort))
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager process:", err)
		return true, 2
	}
	cfg := webhook.DefaultConfig()
	cfg.Kubeconfig = os.Getenv(envKubeconfig)
	cfg.Host, cfg.Port, cfg.CertDir = os.Getenv(envWebhookHost), port, os.Getenv(envWebhookCertDir)
	cfg.MetricsAddr, cfg.ProbeAddr, cfg.LeaderElection = "0", "0", false
	// In a cluster, `mlscale webhook` gets its config from
	// ctrl.GetConfig, which turns client-side rate limiting off (QPS -1)
	// and relies on the API server's priority and fairness; do the same.
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager process:", err)
		return true, 2
	}
	rc.QPS = -1
	if v := os.Getenv(envManagerQPS); v != "" {
		qps, err := strconv.ParseFloat(v, 32)
		if err != nil {
			fmt.Fprintln(os.Stderr, "manager process:", err)
			return true, 2
		}
		rc.QPS, rc.Burst = float32(qps), int(2*qps)
	}
	cfg.RESTConfig = rc
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := webhook.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "manager process:", err)
		return true, 1
	}
	return true, 0
}

// BenchmarkThousandDeployments measures mlscale at scale: mlscale's manager
// runs in its own process (so that its memory is its own), 1,000 annotated
// Deployments are created through the API server (and so through the
// mutating webhook) by 16 concurrent clients, and the clock stops when all
// 1,000 ScaledObjects exist. Reported: seconds until all exist, seconds for
// the creates alone, and the manager's peak resident memory (VmHWM).
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s go test ./test/e2e -run '^$' -bench ThousandDeployments -benchtime 1x
//
// The manager's client has no client-side rate limit, as in a cluster
// (ctrl.GetConfig); MLSCALE_E2E_MANAGER_QPS=5 sets one (burst twice the
// QPS), e.g. client-go's default of 5 that a --kubeconfig run gets.
func BenchmarkThousandDeployments(b *testing.B) {
	if suite.setupErr != nil {
		b.Fatalf("e2e setup: %v", suite.setupErr)
	}
	const n, workers = 1000, 16
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

	ctx := context.Background()
	c := loadClient(b)
	for i := 0; b.Loop(); i++ {
		ns := fmt.Sprintf("e2e-load-%d", i)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"mlscale.io/enabled": "true"}}}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		createDeployments(b, c, ns, n, workers)
		created := time.Since(start)
		deadline := start.Add(5 * time.Minute)
		for {
			var sos metav1.PartialObjectMetadataList
			sos.SetGroupVersionKind(kedav1alpha1.SchemeGroupVersion.WithKind("ScaledObjectList"))
			if err := c.List(ctx, &sos, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			if len(sos.Items) == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d ScaledObjects after 5 minutes", len(sos.Items), n)
			}
			time.Sleep(200 * time.Millisecond)
		}
		all := time.Since(start)
		b.ReportMetric(all.Seconds(), "s-until-1000-scaledobjects")
		b.ReportMetric(created.Seconds(), "s-creating-1000-deployments")
		b.Logf("%d Deployments created in %s; all %d ScaledObjects existed after %s", n, created.Round(time.Millisecond), n, all.Round(time.Millisecond))
	}
	hwm, rss := proc.memory(b)
	b.ReportMetric(float64(hwm)/1024, "MiB-manager-peak-rss")
	b.Logf("manager process (pid %d): VmHWM %d KiB, VmRSS %d KiB", proc.cmd.Process.Pid, hwm, rss)
}

// loadClient is a client with a high rate limit, as many users would be.
func loadClient(b *testing.B) client.Client {
	cfg := *suite.cluster.Config
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(&cfg, client.Options{Scheme: suite.client.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func createDeployments(b *testing.B, c client.Client, ns string, n, workers int) {
	ctx := context.Background()
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := c.Create(ctx, loadDeployment(ns, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range n {
		jobs <- i
		if len(errs) > 0 {
			break
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func loadDeployment(ns string, i int) *appsv1.Deployment {
	name := fmt.Sprintf("worker-%04d", i)
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{
			intent.KeyAutoscale: "true", intent.KeyProfile: "celery-worker",
			intent.KeyRabbitMQQueue: name, intent.KeyRabbitMQAuth: "rabbitmq-auth", intent.KeyMaxReplicas: "20",
		}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "worker", Image: "registry.example/worker:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi"),
					}},
				}}},
			},
		},
	}
}

// managerProcess is mlscale's manager running in a child process.
type managerProcess struct {
	cmd  *exec.Cmd
	done chan error
}

func startManagerProcess(b *testing.B) *managerProcess {
	c := suite.cluster
	kubeconfig, err := os.ReadFile(c.KubeconfigPath)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := clientcmd.Load(kubeconfig); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envManagerProcess+"=1", envKubeconfig+"="+c.KubeconfigPath,
		envWebhookHost+"="+c.WebhookHost, envWebhookPort+"="+strconv.Itoa(c.WebhookPort), envWebhookCertDir+"="+c.WebhookCertDir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Die with this process, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &managerProcess{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	addr := net.JoinHostPort(c.WebhookHost, strconv.Itoa(c.WebhookPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a readiness probe
		conn, err := d.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return p
		}
		select {
		case err := <-p.done:
			b.Fatalf("the manager process exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			p.stop(b)
			b.Fatalf("the manager process did not listen on %s within 30s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// memory reads the manager process's peak and current resident memory in KiB.
func (p *managerProcess) memory(b *testing.B) (hwm, rss int64) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = v
		case "VmRSS:":
			rss = v
		}
	}
	return hwm, rss
}

// dumpAfter is how long stop waits after SIGTERM before it asks the
// manager process for its goroutines (SIGQUIT, which makes the Go runtime
// print every goroutine's stack to the process's stderr, the test's, and
// exit): a little less than the manager's graceful shutdown, so that the
// stacks show what a runnable that will not stop is waiting for.
const dumpAfter = manager.DefaultGracefulShutdown - 5*time.Second

func (p *managerProcess) stop(b *testing.B) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			b.Errorf("the manager process: %v", err)
		}
		return
	case <-time.After(dumpAfter):
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case err := <-p.done:
		b.Errorf("the manager process did not stop within %s of SIGTERM; its goroutines are above (%v)", dumpAfter, err)
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		err := <-p.done
		b.Errorf("the manager process did not stop within %s of SIGTERM nor dump its goroutines; killed: %v", dumpAfter, err)
	}
}
