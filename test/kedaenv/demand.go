package kedaenv

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Metrics the demand replayer serves, each with a workload label.
const (
	// MetricDemand is the workload's demand (requests/s, say).
	MetricDemand = "mlscale_sim_demand"
	// MetricReady is the number of its pods that are Ready.
	MetricReady = "mlscale_sim_ready_replicas"
	// MetricGPUs is the GPUs its pods hold: every pod bound to a node and
	// not yet gone, Ready or still in its cold start.
	MetricGPUs = "mlscale_sim_gpus"
	// MetricServed is min(demand, Ready pods x capacity per replica).
	MetricServed = "mlscale_sim_served"
	// MetricUnserved is demand - served.
	MetricUnserved = "mlscale_sim_unserved"
)

// Workload is one workload whose demand the replayer serves.
type Workload struct {
	// Name is the workload label of its series.
	Name string
	// Namespace and Selector select its pods.
	Namespace string
	Selector  map[string]string
	// CapacityPerReplica is the demand one Ready pod serves.
	CapacityPerReplica float64
	// Series, when set, gives the demand at a time (a replayed trace);
	// otherwise the demand is the last value given to Replayer.Set.
	Series func(time.Time) float64
}

// Sample is what the replayer computed for one workload at one time.
type Sample struct {
	Demand, Served, Unserved float64
	Ready, GPUs              int
}

// Replayer serves demand series as Prometheus gauges on a loopback port,
// with what the simulated cluster serves of them: served demand is computed
// from the workload's Ready pods and its capacity per replica. The pods are
// counted every PodsInterval in the background, so that a scrape answers at
// once.
type Replayer struct {
	// Addr is host:port of its /metrics endpoint.
	Addr string

	c      client.Client
	now    func() time.Time
	srv    *http.Server
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	loads  map[string]*Workload
	values map[string]float64
	pods   map[string]podCount
}

// PodsInterval is how often the replayer counts each workload's pods.
const PodsInterval = 250 * time.Millisecond

// podCount is what the replayer last counted of a workload's pods.
type podCount struct {
	ready, gpus int
	err         error
}

// StartReplayer serves /metrics on a free port of ip; c reads the pods.
func StartReplayer(ip string, c client.Client) (*Replayer, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, fmt.Errorf("demand replayer: %w", err)
	}
	r := &Replayer{
		Addr: l.Addr().String(), c: c, now: time.Now, done: make(chan struct{}),
		loads: map[string]*Workload{}, values: map[string]float64{}, pods: map[string]podCount{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", r.serveMetrics)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go r.countLoop(ctx)
	return r, nil
}

// countLoop counts every workload's pods every PodsInterval until ctx ends.
func (r *Replayer) countLoop(ctx context.Context) {
	defer close(r.done)
	for {
		r.mu.Lock()
		loads := make([]*Workload, 0, len(r.loads))
		for _, w := range r.loads {
			loads = append(loads, w)
		}
		r.mu.Unlock()
		for _, w := range loads {
			pc := r.countPods(ctx, w)
			r.mu.Lock()
			r.pods[w.Name] = pc
			r.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(PodsInterval):
		}
	}
}

// countPods counts a workload's Ready pods and the GPUs its pods hold.
func (r *Replayer) countPods(ctx context.Context, w *Workload) podCount {
	var pods corev1.PodList
	if err := r.c.List(ctx, &pods, client.InNamespace(w.Namespace), client.MatchingLabels(w.Selector)); err != nil {
		return podCount{err: err}
	}
	var pc podCount
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		pc.gpus += podGPUs(p)
		if p.DeletionTimestamp == nil && PodReady(p) {
			pc.ready++
		}
	}
	return pc
}

// Add starts serving a workload's series. Add it before it has pods: its
// pods are counted from the next round on.
func (r *Replayer) Add(w Workload) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loads[w.Name] = &w
	r.pods[w.Name] = podCount{}
}

// Set sets the demand of a workload without a Series.
func (r *Replayer) Set(name string, demand float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values[name] = demand
}

// Stop stops serving and counting.
func (r *Replayer) Stop() error {
	r.cancel()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}

// Sample returns a workload's figures: the demand now, its pods as last
// counted.
func (r *Replayer) Sample(name string) (Sample, error) {
	r.mu.Lock()
	w, ok := r.loads[name]
	set := r.values[name]
	pc := r.pods[name]
	r.mu.Unlock()
	if !ok {
		return Sample{}, fmt.Errorf("demand replayer: no workload %q", name)
	}
	if pc.err != nil {
		return Sample{}, fmt.Errorf("demand replayer: counting the pods of %s: %w", name, pc.err)
	}
	s := Sample{Demand: set, Ready: pc.ready, GPUs: pc.gpus}
	if w.Series != nil {
		s.Demand = w.Series(r.now())
	}
	s.Served = math.Min(s.Demand, float64(s.Ready)*w.CapacityPerReplica)
	s.Unserved = s.Demand - s.Served
	return s, nil
}

// PodReady reports whether a pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podGPUs counts the nvidia.com/gpu a pod requests (its containers'
// requests; the workloads of the simulation have no init containers).
func podGPUs(p *corev1.Pod) int {
	n := 0
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Requests[GPUResource]; ok {
			n += int(q.Value())
		}
	}
	return n
}

func (r *Replayer) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	names := make([]string, 0, len(r.loads))
	for n := range r.loads {
		names = append(names, n)
	}
	r.mu.Unlock()
	sort.Strings(names)
	var b strings.Builder
	samples := make(map[string]Sample, len(names))
	var failed []string
	for _, n := range names {
		s, err := r.Sample(n)
		if err != nil {
			// No series for it in this scrape (Prometheus sees a gap),
			// rather than none for every workload.
			failed = append(failed, n)
			continue
		}
		samples[n] = s
	}
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(failed, n) })
	for _, m := range []struct {
		name, help string
		value      func(Sample) float64
	}{
		{MetricDemand, "Demand of the workload.", func(s Sample) float64 { return s.Demand }},
		{MetricReady, "Ready pods of the workload.", func(s Sample) float64 { return float64(s.Ready) }},
		{MetricGPUs, "GPUs held by the workload's pods on nodes.", func(s Sample) float64 { return float64(s.GPUs) }},
		{MetricServed, "Demand served by the Ready pods.", func(s Sample) float64 { return s.Served }},
		{MetricUnserved, "Demand not served.", func(s Sample) float64 { return s.Unserved }},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", m.name, m.help, m.name)
		for _, n := range names {
			fmt.Fprintf(&b, "%s{workload=%q} %s\n", m.name, n, strconv.FormatFloat(m.value(samples[n]), 'g', -1, 64))
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

// OpenMetrics writes the history of a demand series, one sample per step
// over [from, to), in the OpenMetrics text format that `promtool tsdb
// create-blocks-from openmetrics` reads.
func OpenMetrics(workloads []string, series func(time.Time) float64, from, to time.Time, step time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s Demand of the workload.\n# TYPE %s gauge\n", MetricDemand, MetricDemand)
	for _, name := range workloads {
		for t := from; t.Before(to); t = t.Add(step) {
			fmt.Fprintf(&b, "%s{workload=%q} %s %d\n", MetricDemand, name, strconv.FormatFloat(series(t), 'g', -1, 64), t.Unix())
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}
