// Package kedaenv runs the real KEDA, and what it needs to act, next to a
// localcluster control plane: kube-controller-manager (HPA, garbage
// collector, Job, Deployment and ReplicaSet controllers), KEDA's operator,
// KEDA's admission webhooks registered with the API server, RabbitMQ and,
// optionally, Prometheus. The e2e-keda suite and `mlscale-demo --with-keda`
// use it.
//
// Everything listens on loopback. Cluster DNS names (the RabbitMQ and
// Prometheus hosts that mlscale renders, such as
// rabbitmq.ml-demo.svc.cluster.local) cannot resolve on a machine without a
// cluster: RabbitMQ and Prometheus listen on a random address in 127.0.0.0/8
// (Env.HostIP), and KEDA's operator runs in its own mount namespace with an
// /etc/hosts that maps those names to that address (root only).
//
// There is no kubelet: no container ever runs. Without a Simulation, no pod
// is even scheduled, and scaling shows in a workload's spec.replicas, the
// HPA's status and KEDA's conditions. With one (Options.Simulation),
// kube-scheduler places the pods onto fake GPU and CPU nodes whose kubelet
// kwok's controller plays: pods are Running and Ready after a cold start.
//
// Every process is started by this package and stopped by Stop, by pid.
package kedaenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mlscale/mlscale/test/localcluster"
)

// Binary names.
const (
	ControllerManagerBinary = "kube-controller-manager"
	OperatorBinary          = "keda-operator"
	WebhooksBinary          = "keda-admission-webhooks"
	AdapterBinary           = "keda-adapter"
)

// ClusterObjectNamespace is KEDA's own namespace (KEDA_CLUSTER_OBJECT_NAMESPACE).
const ClusterObjectNamespace = "keda"

// Controllers are the kube-controller-manager controllers started.
var Controllers = []string{"horizontalpodautoscaling", "garbagecollector", "job", "deployment", "replicaset"}

// SimulationControllers are the controllers added with a Simulation: the
// ResourceQuota controller, so that quotas (a namespace's GPU budget) have
// the status that quota admission of pods needs.
var SimulationControllers = []string{"resourcequota"}

// DefaultHostAliases are the cluster DNS names KEDA's operator resolves to
// Env.HostIP: the RabbitMQ and Prometheus hosts of config/samples.
var DefaultHostAliases = []string{
	"rabbitmq.ml-demo.svc.cluster.local",
	"prometheus-operated.monitoring.svc",
	"prometheus-operated.monitoring.svc.cluster.local",
	"prometheus.monitoring.svc",
	"prometheus.monitoring.svc.cluster.local",
}

// PrometheusPort is the port Prometheus listens on at Env.HostIP.
const PrometheusPort = 9090

// MissingError is returned by Start when a binary is missing; it says which
// make target builds or installs it.
type MissingError struct {
	// Missing lists "path (make target)".
	Missing []string
}

// Error lists what is missing.
func (e *MissingError) Error() string {
	return "KEDA environment not built: missing " + strings.Join(e.Missing, ", ")
}

// Options configure Start.
type Options struct {
	// Cluster is the running control plane.
	Cluster *localcluster.Cluster
	// K8sBinDir holds kube-controller-manager (bin/k8s).
	K8sBinDir string
	// KEDABinDir holds keda-operator and keda-admission-webhooks (bin/keda).
	KEDABinDir string
	// Prometheus also starts Debian's prometheus on Env.HostIP:9090, for
	// the prometheus triggers of config/samples.
	Prometheus bool
	// Adapter also starts KEDA's metrics adapter and registers it as the
	// external.metrics.k8s.io APIService, so that the HPA controller reads
	// the triggers' metrics (scaling above the minimum).
	Adapter bool
	// HostAliases replace DefaultHostAliases when not nil.
	HostAliases []string
	// StartTimeout bounds the start of each process; 2 minutes when zero.
	StartTimeout time.Duration
	// KeepDir keeps the throw-away directory (with every process's log)
	// after Stop.
	KeepDir bool
	// Simulation, when set, also starts kube-scheduler (from K8sBinDir)
	// and kwok's controller (from KwokBinDir) with fake nodes.
	Simulation *Simulation
	// KwokBinDir holds kwok (bin/kwok), for a Simulation.
	KwokBinDir string
	// PrometheusScrape lists host:port targets the Prometheus of
	// Options.Prometheus scrapes (/metrics, every PrometheusScrapeInterval).
	PrometheusScrape []string
	// PrometheusScrapeInterval is the scrape interval; 1m when zero.
	PrometheusScrapeInterval time.Duration
}

// RepoBinDirs returns the bin/k8s and bin/keda of the checkout at root.
func RepoBinDirs(root string) (k8s, keda string) {
	return filepath.Join(root, "bin", "k8s"), filepath.Join(root, "bin", "keda")
}

// CheckBinaries returns a *MissingError unless kube-controller-manager,
// KEDA's operator and webhooks, RabbitMQ (and prometheus, kube-scheduler and
// kwok when asked) are installed.
func CheckBinaries(o Options) error {
	var missing []string
	exe := func(path, target string) {
		fi, err := os.Stat(path)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, path+" (make "+target+")")
		}
	}
	exe(filepath.Join(o.K8sBinDir, ControllerManagerBinary), "kube-controller-manager")
	exe(filepath.Join(o.KEDABinDir, OperatorBinary), "keda")
	exe(filepath.Join(o.KEDABinDir, WebhooksBinary), "keda")
	if o.Adapter {
		exe(filepath.Join(o.KEDABinDir, AdapterBinary), "keda")
	}
	if o.Simulation != nil {
		exe(filepath.Join(o.K8sBinDir, SchedulerBinary), "kube-scheduler")
		exe(filepath.Join(o.KwokBinDir, KwokBinary), "kwok")
	}
	exe(rabbitServer, "rabbitmq")
	exe(rabbitCtl, "rabbitmq")
	exe(epmdPath, "rabbitmq")
	if o.Prometheus {
		if _, err := exec.LookPath("prometheus"); err != nil {
			missing = append(missing, "prometheus on PATH (make prometheus)")
		}
	}
	if len(missing) > 0 {
		return &MissingError{Missing: missing}
	}
	return nil
}

// Env is a running KEDA environment.
type Env struct {
	// Dir is the throw-away directory: certificates, data and one log file
	// per process.
	Dir string
	// HostIP is the loopback address RabbitMQ and Prometheus listen on and
	// that the host aliases resolve to in KEDA's operator.
	HostIP string
	// RabbitMQ is the broker.
	RabbitMQ *RabbitMQ
	// PrometheusURL is Prometheus's base URL; empty when not started.
	PrometheusURL string
	// WebhookURL is the base URL of KEDA's admission webhooks.
	WebhookURL string
	// HostsIsolated reports whether the operator got the host aliases
	// (it needs root for its own mount namespace).
	HostsIsolated bool

	opts     Options
	mu       sync.Mutex // guards procs
	procs    []*proc
	vwc      string
	grpcAddr string
}

// Process is one process of the environment.
type Process struct {
	// Name is what it is (keda-operator, rabbitmq-server, ...).
	Name string
	// PID is its process id.
	PID int
	// Log is its log file.
	Log string
}

// Processes lists the running processes, in start order.
func (e *Env) Processes() []Process {
	var out []Process
	e.mu.Lock()
	procs := slices.Clone(e.procs)
	e.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			out = append(out, Process{Name: p.name, PID: p.pid(), Log: p.logPath})
		}
	}
	if e.RabbitMQ != nil {
		srv, epmd := e.RabbitMQ.Pids()
		if epmd != 0 {
			out = append(out, Process{Name: "epmd", PID: epmd, Log: e.RabbitMQ.epmd.logPath})
		}
		if srv != 0 {
			out = append(out, Process{Name: "rabbitmq-server", PID: srv, Log: e.RabbitMQ.server.logPath})
		}
	}
	return out
}

// LogTail returns the last n lines of the named process's log.
func (e *Env) LogTail(name string, n int) string {
	for _, p := range e.allProcs() {
		if p.name == name {
			return tailFile(p.logPath, n)
		}
	}
	return "(no process " + name + ")"
}

func (e *Env) allProcs() []*proc {
	e.mu.Lock()
	ps := slices.Clone(e.procs)
	e.mu.Unlock()
	if e.RabbitMQ != nil {
		for _, p := range []*proc{e.RabbitMQ.epmd, e.RabbitMQ.server} {
			if p != nil {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// Start starts RabbitMQ (and Prometheus), kube-controller-manager, KEDA's
// admission webhooks (and registers them with failurePolicy Fail) and
// KEDA's operator. On error everything started is stopped again.
func Start(ctx context.Context, o Options) (e *Env, err error) {
	if o.Cluster == nil {
		return nil, errors.New("kedaenv: no cluster")
	}
	if err := CheckBinaries(o); err != nil {
		return nil, err
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.HostAliases == nil {
		o.HostAliases = DefaultHostAliases
	}
	dir, err := os.MkdirTemp("", "mlscale-keda-")
	if err != nil {
		return nil, err
	}
	// The rabbitmq user must reach its directories below.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	e = &Env{Dir: dir, opts: o}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Stop())
		}
	}()
	if e.HostIP, err = pickHostIP(); err != nil {
		return e, err
	}
	suffix := strconv.FormatUint(rand.Uint64()%1e8, 36)
	caPEM, err := writeCerts(filepath.Join(dir, "certs"), net.ParseIP(e.HostIP))
	if err != nil {
		return e, err
	}
	if e.RabbitMQ, err = startRabbitMQ(ctx, filepath.Join(dir, "rabbitmq"), e.HostIP, suffix, o.StartTimeout); err != nil {
		return e, err
	}
	if o.Prometheus {
		p, err := e.StartPrometheus(ctx, PrometheusOptions{Port: PrometheusPort, Scrape: o.PrometheusScrape, ScrapeInterval: o.PrometheusScrapeInterval})
		if err != nil {
			return e, err
		}
		e.PrometheusURL = p.URL
	}
	if err := e.startControllerManager(ctx); err != nil {
		return e, err
	}
	if o.Simulation != nil {
		if err := e.startSimulation(ctx); err != nil {
			return e, err
		}
	}
	if err := e.startWebhooks(ctx, caPEM); err != nil {
		return e, err
	}
	if err := e.startOperator(ctx); err != nil {
		return e, err
	}
	if o.Adapter {
		if err := e.startAdapter(ctx, caPEM); err != nil {
			return e, err
		}
	}
	return e, nil
}

// pickHostIP returns a random 127.x.y.z on which the AMQP and Prometheus
// ports are free.
func pickHostIP() (string, error) {
	var lastErr error
	for range 20 {
		ip := fmt.Sprintf("127.%d.%d.%d", 10+rand.IntN(200), rand.IntN(256), 1+rand.IntN(250))
		ok := true
		for _, port := range []int{AMQPPort, PrometheusPort} {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				lastErr, ok = err, false
				break
			}
			_ = l.Close()
		}
		if ok {
			return ip, nil
		}
	}
	return "", fmt.Errorf("no free loopback address for RabbitMQ: %w", lastErr)
}

// Stop stops every process (KEDA first, RabbitMQ last) by pid, removes
// KEDA's webhook registration and the throw-away directory (unless
// KeepDir). It is safe to call more than once.
func (e *Env) Stop() error {
	var errs []error
	if e.vwc != "" && e.opts.Cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, _, err := e.opts.Cluster.Kubectl(ctx, nil, "delete", "validatingwebhookconfiguration", e.vwc, "--ignore-not-found"); err != nil {
			errs = append(errs, err)
		}
		cancel()
		e.vwc = ""
	}
	e.mu.Lock()
	procs := slices.Clone(e.procs)
	e.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if e.RabbitMQ != nil {
		if err := e.RabbitMQ.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if !e.opts.KeepDir && len(errs) == 0 {
		if err := os.RemoveAll(e.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EnvVar is the environment variable that, set to 1, makes the KEDA tests
// run (make e2e-keda); without it they skip, so that `go test ./...` needs no KEDA build.
const EnvVar = "MLSCALE_E2E_KEDA"
