package admissionload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/test/localcluster"
	"github.com/mlscale/mlscale/webhook"
	"github.com/mlscale/mlscale/webhook/mutate"
	"github.com/mlscale/mlscale/webhook/validate"
)

// Names of the driven servers in the report.
const (
	NameFloor       = "allow-all"
	NameFloorDecode = "allow+decode"
	NameMutate      = "mutate"
	NameValidate    = "validate"
)

// Goals are issue 17's: mutate at least 0.6 times the floor's reviews per
// second with at most twice its p99; validate 0.4 times, three times.
var Goals = []Goal{
	{Name: NameMutate, MinThroughput: 0.6, MaxP99: 2},
	{Name: NameValidate, MinThroughput: 0.4, MaxP99: 3},
}

// AllowedEndpoints is the trigger endpoint allowlist mlscale runs with, so
// that the trigger_endpoints policy is active (as in the validating
// webhook's benchmarks).
var AllowedEndpoints = []string{"*.*.svc", "*.*.svc.cluster.local"}

// Options configure a Run.
type Options struct {
	// RepoRoot is the mlscale checkout (bin/k8s, config/webhook, KEDA's
	// CRDs from the module cache).
	RepoRoot string
	// Clients is the number of concurrent keep-alive clients.
	Clients int
	// Duration is the length of one server's turn in a round.
	Duration time.Duration
	// Rounds is the number of rounds; each drives every server once, in
	// alternating order.
	Rounds int
	// Warmup drives each server once before the rounds, unmeasured.
	Warmup time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// target is one driven server.
type target struct {
	name, url string
}

// Run starts the local control plane, mlscale's webhook server (webhook.New
// with its informers, the validating webhook with AllowedEndpoints) and the
// allow-all floor on the same certificate, drives them in rounds and
// writes the report to w. It returns whether every goal was met; an error
// means the run itself failed.
func Run(ctx context.Context, o Options, w io.Writer) (met bool, err error) {
	if o.Clients <= 0 || o.Duration <= 0 || o.Rounds <= 0 {
		return false, errors.New("clients, duration and rounds must be positive")
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	copts, err := localcluster.RepoOptions(o.RepoRoot)
	if err != nil {
		return false, err
	}
	logf("starting the local control plane")
	c, err := localcluster.Start(ctx, copts)
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()
	m, err := c.StartMlscale(ctx, localcluster.MlscaleOptions{Configure: func(cfg *webhook.Config) {
		cfg.Policy = policy.Config{AllowedEndpoints: AllowedEndpoints}
		cfg.AuditInterval = 0
		cfg.TriggerCheck.Interval = 0
	}})
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, m.Stop()) }()
	floorURL, stopFloor, err := startFloor(ctx, c)
	if err != nil {
		return false, err
	}
	defer stopFloor()

	tlsConfig, err := clientTLS(c)
	if err != nil {
		return false, err
	}
	body, err := Review(Deployment())
	if err != nil {
		return false, err
	}
	mlscaleURL := "https://" + net.JoinHostPort(c.WebhookHost, strconv.Itoa(c.WebhookPort))
	targets := []target{
		{NameFloor, floorURL + AllowPath},
		{NameFloorDecode, floorURL + AllowDecodePath},
		{NameMutate, mlscaleURL + mutate.Path},
		{NameValidate, mlscaleURL + validate.Path},
	}
	startLoad := loadAverage()
	logf("review: %d bytes; %d clients, %s per server, %d rounds; load average %s", len(body), o.Clients, o.Duration, o.Rounds, startLoad)
	rounds, err := drive(ctx, targets, body, tlsConfig, o, logf)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "AdmissionReview of a vLLM GPU Deployment, %d bytes; %d keep-alive HTTPS clients; %s per server per round\n", len(body), o.Clients, o.Duration)
	fmt.Fprintf(w, "%d CPUs, %s; load average %s at the start, %s at the end\n\n", runtime.NumCPU(), runtime.Version(), startLoad, loadAverage())
	return Report(w, rounds, NameFloor, Goals)
}

// loadAverage is the machine's 1-, 5- and 15-minute load averages, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// drive warms every target up, then runs the rounds; even rounds go
// through the targets in reverse order.
func drive(ctx context.Context, targets []target, body []byte, tlsConfig *tls.Config, o Options, logf func(string, ...any)) ([][]Result, error) {
	if o.Warmup > 0 {
		for _, t := range targets {
			if r := Drive(ctx, t.name, t.url, body, tlsConfig, o.Clients, o.Warmup); r.Reviews == 0 {
				return nil, fmt.Errorf("warming up %s (%s): no review answered: %s", t.name, t.url, r.FirstError)
			}
		}
	}
	var rounds [][]Result
	for i := range o.Rounds {
		order := slices.Clone(targets)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		results := make([]Result, 0, len(order))
		for _, t := range order {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r := Drive(ctx, t.name, t.url, body, tlsConfig, o.Clients, o.Duration)
			logf("round %d %-12s %6.0f reviews/s, %d errors", i+1, t.name, r.PerSecond(), r.Errors)
			results = append(results, r)
		}
		// The report lists every round in the same order.
		slices.SortStableFunc(results, func(a, b Result) int {
			return slices.IndexFunc(targets, func(t target) bool { return t.name == a.Name }) -
				slices.IndexFunc(targets, func(t target) bool { return t.name == b.Name })
		})
		rounds = append(rounds, results)
	}
	return rounds, nil
}

// startFloor serves AllowAll with controller-runtime's webhook server, as
// mlscale's is served (same TLS setup, same certificate), on a free
// loopback port. It returns the base URL and a stop function.
func startFloor(ctx context.Context, c *localcluster.Cluster) (string, func(), error) {
	port, err := freePort(c.WebhookHost)
	if err != nil {
		return "", nil, err
	}
	srv := crwebhook.NewServer(crwebhook.Options{Host: c.WebhookHost, Port: port, CertDir: c.WebhookCertDir})
	srv.Register(AllowPath, AllowAll())
	srv.Register(AllowDecodePath, AllowAll())
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Start returns once runCtx ends; its error then says nothing the
		// run needs (a failure to listen shows as the readiness timeout).
		_ = srv.Start(runCtx)
	}()
	stop := func() {
		cancel()
		<-done
	}
	ready := srv.StartedChecker()
	deadline := time.Now().Add(30 * time.Second)
	for ready(nil) != nil {
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the allow-all webhook did not start within 30s: %w", ready(nil))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "https://" + net.JoinHostPort(c.WebhookHost, strconv.Itoa(port)), stop, nil
}

// freePort asks the kernel for a free TCP port on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// clientTLS trusts the CA envtest made the serving certificate with, as the
// API server does through the webhook's caBundle.
func clientTLS(c *localcluster.Cluster) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.Env.WebhookInstallOptions.LocalServingCAData) {
		return nil, errors.New("no CA certificate for the webhook servers")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
