package collector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/mlscale/mlscale/collector"
	"github.com/mlscale/mlscale/collector/gpu"
	"github.com/mlscale/mlscale/collector/gpu/gputest"
	"github.com/mlscale/mlscale/collector/podresources"
	"github.com/mlscale/mlscale/collector/podresources/podresourcestest"
)

// The GPUs are go-nvml's mock DGX H100 (no GPU can run here); the kubelet is
// a real gRPC pod-resources server on a unix socket.

const h100 = "NVIDIA H100 80GB HBM3"

type fixture struct {
	node    *gputest.Node
	kubelet *podresourcestest.Server
	c       *collector.Collector
}

func newFixture(t *testing.T, cfg collector.Config) fixture {
	t.Helper()
	node := gputest.NewDGXH100()
	kubelet := podresourcestest.Start(t)
	client, err := podresources.New(kubelet.Socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return fixture{node: node, kubelet: kubelet, c: collector.New(cfg, gpu.NewWithInterface(node.Server), client, nil)}
}

func testConfig() collector.Config {
	cfg := collector.DefaultConfig()
	cfg.NodeName = "gpu-node-1"
	cfg.IdleWindow = time.Minute
	cfg.Prices = collector.Prices{Default: 1, Models: map[string]float64{"H100": 4}}
	return cfg
}

func TestCollectorExposition(t *testing.T) {
	f := newFixture(t, testConfig())
	f.node.Set(0, gputest.Reading{GPUUtil: 93, MemUtil: 55, MemUsedBytes: 70 << 30, PowerMilliwatts: 650_000, TemperatureC: 74})
	f.node.Set(1, gputest.Reading{GPUUtil: 2, MemUtil: 0, MemUsedBytes: 1 << 30, PowerMilliwatts: 90_000, TemperatureC: 35})
	f.node.EnableMIG(2, gputest.MIG{UUID: gputest.MIGUUID(2, 0), Slices: 1, MemoryMB: 9856, MemUsedBytes: 2 << 30, GPUInstanceID: 9})
	f.kubelet.Set(
		podresourcestest.Pod("ml", "llm-7d9f8c6b5-abcde", "nvidia.com/gpu", map[string][]string{"vllm": {f.node.UUID(0)}}),
		podresourcestest.Pod("ml", "idle-5f6d7c8b9-xyz12", "nvidia.com/gpu", map[string][]string{"worker": {f.node.UUID(1)}}),
		podresourcestest.Pod("speech", "asr-0", "nvidia.com/mig-1g.10gb", map[string][]string{"asr": {gputest.MIGUUID(2, 0)}}),
	)
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for i := range 3 { // 0s, 30s, 60s: GPU 1 has been idle for the 1m window
		if err := f.c.Sample(ctx, t0.Add(time.Duration(i)*30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	u0, u1, u2 := f.node.UUID(0), f.node.UUID(1), f.node.UUID(2)
	mig := gputest.MIGUUID(2, 0)
	want := fmt.Sprintf(`
# HELP mlscale_gpu_utilization_percent Percent of the last sample period during which a kernel ran on the GPU, per GPU and the container that holds it.
# TYPE mlscale_gpu_utilization_percent gauge
mlscale_gpu_utilization_percent{container="vllm",gpu="0",model=%[4]q,namespace="ml",node="gpu-node-1",pod="llm-7d9f8c6b5-abcde",uuid=%[1]q} 93
mlscale_gpu_utilization_percent{container="worker",gpu="1",model=%[4]q,namespace="ml",node="gpu-node-1",pod="idle-5f6d7c8b9-xyz12",uuid=%[2]q} 2
%[6]s# HELP mlscale_gpu_idle_allocated 1 when a GPU allocated to a container has stayed under the idle utilisation threshold for the idle window, else 0.
# TYPE mlscale_gpu_idle_allocated gauge
mlscale_gpu_idle_allocated{container="vllm",gpu="0",model=%[4]q,namespace="ml",node="gpu-node-1",pod="llm-7d9f8c6b5-abcde",uuid=%[1]q} 0
mlscale_gpu_idle_allocated{container="worker",gpu="1",model=%[4]q,namespace="ml",node="gpu-node-1",pod="idle-5f6d7c8b9-xyz12",uuid=%[2]q} 1
# HELP mlscale_gpu_allocated GPUs a container holds through a device: 1 for a whole GPU, the slice share for a MIG device, split between time-sliced sharers.
# TYPE mlscale_gpu_allocated gauge
mlscale_gpu_allocated{container="vllm",gpu="0",mig_profile="",mig_uuid="",model=%[4]q,namespace="ml",node="gpu-node-1",pod="llm-7d9f8c6b5-abcde",uuid=%[1]q} 1
mlscale_gpu_allocated{container="worker",gpu="1",mig_profile="",mig_uuid="",model=%[4]q,namespace="ml",node="gpu-node-1",pod="idle-5f6d7c8b9-xyz12",uuid=%[2]q} 1
mlscale_gpu_allocated{container="asr",gpu="2",mig_profile="1g.10gb",mig_uuid=%[5]q,model=%[4]q,namespace="speech",node="gpu-node-1",pod="asr-0",uuid=%[3]q} 0.14285714285714285
# HELP mlscale_gpu_mig_memory_used_bytes Memory in use by a MIG device, in bytes.
# TYPE mlscale_gpu_mig_memory_used_bytes gauge
mlscale_gpu_mig_memory_used_bytes{compute_instance="0",container="asr",gpu="2",gpu_instance="9",mig_profile="1g.10gb",mig_uuid=%[5]q,model=%[4]q,namespace="speech",node="gpu-node-1",pod="asr-0",uuid=%[3]q} 2.147483648e+09
# HELP mlscale_gpu_allocated_seconds_total GPU-seconds allocated to a container, by GPU model, since the collector started.
# TYPE mlscale_gpu_allocated_seconds_total counter
mlscale_gpu_allocated_seconds_total{container="asr",model=%[4]q,namespace="speech",node="gpu-node-1",pod="asr-0"} 8.571428571428571
mlscale_gpu_allocated_seconds_total{container="vllm",model=%[4]q,namespace="ml",node="gpu-node-1",pod="llm-7d9f8c6b5-abcde"} 60
mlscale_gpu_allocated_seconds_total{container="worker",model=%[4]q,namespace="ml",node="gpu-node-1",pod="idle-5f6d7c8b9-xyz12"} 60
# HELP mlscale_gpu_idle_allocated_seconds_total GPU-seconds allocated to a container while the GPU was under the idle utilisation threshold.
# TYPE mlscale_gpu_idle_allocated_seconds_total counter
mlscale_gpu_idle_allocated_seconds_total{container="asr",model=%[4]q,namespace="speech",node="gpu-node-1",pod="asr-0"} 0
mlscale_gpu_idle_allocated_seconds_total{container="vllm",model=%[4]q,namespace="ml",node="gpu-node-1",pod="llm-7d9f8c6b5-abcde"} 0
mlscale_gpu_idle_allocated_seconds_total{container="worker",model=%[4]q,namespace="ml",node="gpu-node-1",pod="idle-5f6d7c8b9-xyz12"} 60
# HELP mlscale_gpu_idle_allocated_cost_total Price of the GPU time allocated to a container while idle, in the currency of the configured GPU prices.
# TYPE mlscale_gpu_idle_allocated_cost_total counter
mlscale_gpu_idle_allocated_cost_total{container="asr",model=%[4]q,namespace="speech",node="gpu-node-1",pod="asr-0"} 0
mlscale_gpu_idle_allocated_cost_total{container="vllm",model=%[4]q,namespace="ml",node="gpu-node-1",pod="llm-7d9f8c6b5-abcde"} 0
mlscale_gpu_idle_allocated_cost_total{container="worker",model=%[4]q,namespace="ml",node="gpu-node-1",pod="idle-5f6d7c8b9-xyz12"} 0.06666666666666667
# HELP mlscale_gpu_hourly_price Configured price of one GPU-hour of a GPU model seen on the node.
# TYPE mlscale_gpu_hourly_price gauge
mlscale_gpu_hourly_price{model=%[4]q,node="gpu-node-1"} 4
# HELP mlscale_gpu_nvml_up Whether NVML (libnvidia-ml) is usable on the node (1) or not (0); the reason label says why not.
# TYPE mlscale_gpu_nvml_up gauge
mlscale_gpu_nvml_up{node="gpu-node-1",reason=""} 1
# HELP mlscale_gpu_podresources_up Whether the kubelet pod-resources API answered the last sample (1) or not (0); the reason label says why not.
# TYPE mlscale_gpu_podresources_up gauge
mlscale_gpu_podresources_up{node="gpu-node-1",reason=""} 1
`, u0, u1, u2, h100, mig, freeUtilLines(f.node, 3, 8))
	if err := testutil.CollectAndCompare(f.c, strings.NewReader(want),
		collector.MetricUtilization, collector.MetricIdleAllocated, collector.MetricAllocated, collector.MetricMIGMemoryUsed,
		collector.MetricAllocatedSeconds, collector.MetricIdleSeconds, collector.MetricIdleCost, collector.MetricHourlyPrice,
		collector.MetricNVMLUp, collector.MetricPodResourcesUp); err != nil {
		t.Error(err)
	}
	// 8 GPUs, one series each: the MIG-enabled one reports no utilisation.
	if n := testutil.CollectAndCount(f.c, collector.MetricUtilization); n != 7 {
		t.Errorf("utilisation series: got %d, want 7", n)
	}
	if n := testutil.CollectAndCount(f.c, collector.MetricPower); n != 8 {
		t.Errorf("power series: got %d, want 8", n)
	}
}

func TestCollectorLint(t *testing.T) {
	f := newFixture(t, testConfig())
	f.node.EnableMIG(2, gputest.MIG{UUID: gputest.MIGUUID(2, 0), Slices: 1, MemoryMB: 9856})
	f.kubelet.Set(podresourcestest.Pod("ml", "llm-0", "nvidia.com/gpu", map[string][]string{"vllm": {f.node.UUID(0)}}))
	if err := f.c.Sample(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(f.c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorWithoutNVML uses the real go-nvml binding with a library that
// does not exist, as on a node without the NVIDIA driver: the collector
// reports the reason and still serves the kubelet's state.
func TestCollectorWithoutNVML(t *testing.T) {
	kubelet := podresourcestest.Start(t)
	client, err := podresources.New(kubelet.Socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	src := gpu.New(filepath.Join(t.TempDir(), "libnvidia-ml.so.1"))
	var logs strings.Builder
	c := collector.New(testConfig(), src, client, slog.New(slog.NewTextHandler(&logs, nil)))
	err = c.Sample(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "NVML unavailable") {
		t.Fatalf("Sample() error = %v, want NVML unavailable", err)
	}
	if !strings.Contains(logs.String(), "libnvidia-ml not found at ") {
		t.Errorf("log %q does not give the reason", logs.String())
	}
	reason := src.Status().Reason
	want := fmt.Sprintf(`
# HELP mlscale_gpu_nvml_up Whether NVML (libnvidia-ml) is usable on the node (1) or not (0); the reason label says why not.
# TYPE mlscale_gpu_nvml_up gauge
mlscale_gpu_nvml_up{node="gpu-node-1",reason=%q} 0
# HELP mlscale_gpu_podresources_up Whether the kubelet pod-resources API answered the last sample (1) or not (0); the reason label says why not.
# TYPE mlscale_gpu_podresources_up gauge
mlscale_gpu_podresources_up{node="gpu-node-1",reason=""} 1
# HELP mlscale_gpu_sample_errors_total Samples in which a source (nvml or podresources) failed.
# TYPE mlscale_gpu_sample_errors_total counter
mlscale_gpu_sample_errors_total{node="gpu-node-1",source="nvml"} 1
mlscale_gpu_sample_errors_total{node="gpu-node-1",source="podresources"} 0
`, reason)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), collector.MetricNVMLUp, collector.MetricPodResourcesUp, collector.MetricSampleErrors); err != nil {
		t.Error(err)
	}
}

// TestServe runs the HTTP server on loopback and scrapes it.
func TestServe(t *testing.T) {
	f := newFixture(t, testConfig())
	f.node.Set(5, gputest.Reading{GPUUtil: 42})
	f.kubelet.Set(podresourcestest.Pod("ml", "llm-0", "nvidia.com/gpu", map[string][]string{"vllm": {f.node.UUID(5)}}))
	cfg := testConfig()
	cfg.ListenAddress = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- collector.Serve(ctx, cfg, f.c, slog.New(slog.DiscardHandler), func(a string) { addr <- a })
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case err := <-done:
		t.Fatalf("Serve returned early: %v", err)
	}
	want := `
# HELP mlscale_gpu_utilization_percent Percent of the last sample period during which a kernel ran on the GPU, per GPU and the container that holds it.
# TYPE mlscale_gpu_utilization_percent gauge
` + utilLines(f.node)
	if err := testutil.ScrapeAndCompare(url+"/metrics", strings.NewReader(want), collector.MetricUtilization); err != nil {
		t.Error(err)
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// freeUtilLines are the utilisation series of unallocated idle GPUs from..to-1.
func freeUtilLines(n *gputest.Node, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "mlscale_gpu_utilization_percent{container=\"\",gpu=\"%d\",model=%q,namespace=\"\",node=\"gpu-node-1\",pod=\"\",uuid=%q} 0\n", i, h100, n.UUID(i))
	}
	return b.String()
}

func utilLines(n *gputest.Node) string {
	var b strings.Builder
	for i := range 8 {
		owner := `container="",`
		util := 0
		ns, pod := "", ""
		if i == 5 {
			owner, util, ns, pod = `container="vllm",`, 42, "ml", "llm-0"
		}
		fmt.Fprintf(&b, "mlscale_gpu_utilization_percent{%sgpu=\"%d\",model=%q,namespace=%q,node=\"gpu-node-1\",pod=%q,uuid=%q} %d\n", owner, i, h100, ns, pod, n.UUID(i), util)
	}
	return b.String()
}

// BenchmarkScrape measures one scrape (a sample of NVML and the kubelet, and
// the exposition) of an 8-GPU node (go-nvml's mock DGX H100) with every GPU
// allocated to a pod.
func BenchmarkScrape(b *testing.B) {
	node := gputest.NewDGXH100()
	kubelet := podresourcestest.Start(b)
	var pods []*podresourcesv1.PodResources
	for i := range 8 {
		node.Set(i, gputest.Reading{GPUUtil: uint32(10 * i), MemUsedBytes: uint64(i) << 30, PowerMilliwatts: 300_000, TemperatureC: 60})
		pods = append(pods, podresourcestest.Pod("ml", fmt.Sprintf("llm-7d9f8c6b5-%05d", i), "nvidia.com/gpu", map[string][]string{"vllm": {node.UUID(i)}}))
	}
	kubelet.Set(pods...)
	client, err := podresources.New(kubelet.Socket, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Close() })
	c := collector.New(testConfig(), gpu.NewWithInterface(node.Server), client, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := c.Sample(ctx, now.Add(time.Duration(i)*time.Second)); err != nil {
			b.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil || len(mfs) == 0 {
			b.Fatal(err)
		}
	}
}

// TestRunWithoutNVML runs the whole collector (Run) as on a node without the
// NVIDIA driver (a libnvidia-ml path that does not exist), with a real
// kubelet pod-resources server, and scrapes it over loopback: it serves,
// reports the reason and keeps the Go and process metrics.
func TestRunWithoutNVML(t *testing.T) {
	kubelet := podresourcestest.Start(t)
	cfg := testConfig()
	cfg.ListenAddress = "127.0.0.1:0"
	cfg.PodResourcesSocket = kubelet.Socket
	cfg.NVMLLibrary = filepath.Join(t.TempDir(), "libnvidia-ml.so.1")
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- collector.Run(ctx, cfg, slog.New(slog.DiscardHandler), func(a string) { addr <- a }) }()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/metrics"
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`mlscale_gpu_nvml_up{node="gpu-node-1",reason="initialising NVML: ERROR_LIBRARY_NOT_FOUND: libnvidia-ml not found at `,
		`mlscale_gpu_podresources_up{node="gpu-node-1",reason=""} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if kubelet.Calls() == 0 {
		t.Error("the kubelet was never asked")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestCollectorSharingAndIndexIDs covers a time-sliced GPU held by two pods
// (GPU time split between them) and a device plugin that hands out GPU
// indexes instead of UUIDs (DEVICE_ID_STRATEGY=index).
func TestCollectorSharingAndIndexIDs(t *testing.T) {
	f := newFixture(t, testConfig())
	f.node.Set(4, gputest.Reading{GPUUtil: 50})
	f.kubelet.Set(
		podresourcestest.Pod("a", "p1", "nvidia.com/gpu", map[string][]string{"c": {f.node.UUID(4) + "::0"}}),
		podresourcestest.Pod("b", "p2", "nvidia.com/gpu", map[string][]string{"c": {f.node.UUID(4) + "::1"}}),
		podresourcestest.Pod("c", "p3", "nvidia.com/gpu", map[string][]string{"c": {"6"}}),
	)
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 40 * time.Second} {
		if err := f.c.Sample(context.Background(), t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	u4, u6 := f.node.UUID(4), f.node.UUID(6)
	want := fmt.Sprintf(`
# HELP mlscale_gpu_allocated GPUs a container holds through a device: 1 for a whole GPU, the slice share for a MIG device, split between time-sliced sharers.
# TYPE mlscale_gpu_allocated gauge
mlscale_gpu_allocated{container="c",gpu="4",mig_profile="",mig_uuid="",model=%[3]q,namespace="a",node="gpu-node-1",pod="p1",uuid=%[1]q} 0.5
mlscale_gpu_allocated{container="c",gpu="4",mig_profile="",mig_uuid="",model=%[3]q,namespace="b",node="gpu-node-1",pod="p2",uuid=%[1]q} 0.5
mlscale_gpu_allocated{container="c",gpu="6",mig_profile="",mig_uuid="",model=%[3]q,namespace="c",node="gpu-node-1",pod="p3",uuid=%[2]q} 1
# HELP mlscale_gpu_allocated_seconds_total GPU-seconds allocated to a container, by GPU model, since the collector started.
# TYPE mlscale_gpu_allocated_seconds_total counter
mlscale_gpu_allocated_seconds_total{container="c",model=%[3]q,namespace="a",node="gpu-node-1",pod="p1"} 20
mlscale_gpu_allocated_seconds_total{container="c",model=%[3]q,namespace="b",node="gpu-node-1",pod="p2"} 20
mlscale_gpu_allocated_seconds_total{container="c",model=%[3]q,namespace="c",node="gpu-node-1",pod="p3"} 40
`, u4, u6, h100)
	if err := testutil.CollectAndCompare(f.c, strings.NewReader(want), collector.MetricAllocated, collector.MetricAllocatedSeconds); err != nil {
		t.Error(err)
	}
	// Utilisation series: 6 free GPUs, GPU 6 once, GPU 4 once per holder.
	if n := testutil.CollectAndCount(f.c, collector.MetricUtilization); n != 9 {
		t.Errorf("utilisation series: got %d, want 9", n)
	}
}

// TestCollectorLostGPU: one GPU of the mock DGX H100 fell off the bus. The
// other seven are still reported and accounted (a pod on GPU 5 keeps its
// series and its GPU-seconds); the failure shows in the sample errors.
func TestCollectorLostGPU(t *testing.T) {
	f := newFixture(t, testConfig())
	f.node.Lose(3)
	f.node.Set(5, gputest.Reading{GPUUtil: 42})
	f.kubelet.Set(podresourcestest.Pod("ml", "llm-0", "nvidia.com/gpu", map[string][]string{"vllm": {f.node.UUID(5)}}))
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 30 * time.Second} {
		if err := f.c.Sample(context.Background(), t0.Add(at)); err == nil || !strings.Contains(err.Error(), "GPU 3") {
			t.Fatalf("Sample() error = %v, want one naming GPU 3", err)
		}
	}
	if n := testutil.CollectAndCount(f.c, collector.MetricPower); n != 7 {
		t.Errorf("power series: got %d, want 7 (all GPUs but the lost one)", n)
	}
	want := fmt.Sprintf(`
# HELP mlscale_gpu_utilization_percent Percent of the last sample period during which a kernel ran on the GPU, per GPU and the container that holds it.
# TYPE mlscale_gpu_utilization_percent gauge
%[3]s# HELP mlscale_gpu_allocated_seconds_total GPU-seconds allocated to a container, by GPU model, since the collector started.
# TYPE mlscale_gpu_allocated_seconds_total counter
mlscale_gpu_allocated_seconds_total{container="vllm",model=%[2]q,namespace="ml",node="gpu-node-1",pod="llm-0"} 30
# HELP mlscale_gpu_nvml_up Whether NVML (libnvidia-ml) is usable on the node (1) or not (0); the reason label says why not.
# TYPE mlscale_gpu_nvml_up gauge
mlscale_gpu_nvml_up{node="gpu-node-1",reason=""} 1
# HELP mlscale_gpu_sample_errors_total Samples in which a source (nvml or podresources) failed.
# TYPE mlscale_gpu_sample_errors_total counter
mlscale_gpu_sample_errors_total{node="gpu-node-1",source="nvml"} 2
mlscale_gpu_sample_errors_total{node="gpu-node-1",source="podresources"} 0
`, f.node.UUID(5), h100, withoutGPU(utilLines(f.node), 3))
	if err := testutil.CollectAndCompare(f.c, strings.NewReader(want),
		collector.MetricUtilization, collector.MetricAllocatedSeconds, collector.MetricNVMLUp, collector.MetricSampleErrors); err != nil {
		t.Error(err)
	}
}

// withoutGPU drops the lines of GPU index i from exposition lines.
func withoutGPU(lines string, i int) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(lines, "\n") {
		if !strings.Contains(l, fmt.Sprintf(`gpu="%d"`, i)) {
			b.WriteString(l)
		}
	}
	return b.String()
}
