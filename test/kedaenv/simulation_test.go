package kedaenv

import (
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestStages checks that kwok's Stages are YAML documents of the Stage kind
// and that the pod-ready Stage waits the cold start.
func TestStages(t *testing.T) {
	text, err := Stages(25 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]map[string]any{}
	for _, doc := range strings.Split(text, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		if m["kind"] != "Stage" || m["apiVersion"] != "kwok.x-k8s.io/v1alpha1" {
			t.Errorf("not a kwok Stage: %v %v", m["apiVersion"], m["kind"])
		}
		names[m["metadata"].(map[string]any)["name"].(string)] = m["spec"].(map[string]any)
	}
	for _, n := range []string{"mlscale-node-ready", "mlscale-pod-start", "mlscale-pod-ready", "mlscale-pod-delete"} {
		if names[n] == nil {
			t.Errorf("no Stage %s", n)
		}
	}
	delay, _ := names["mlscale-pod-ready"]["delay"].(map[string]any)
	if got := delay["durationMilliseconds"]; got != float64(25000) {
		t.Errorf("pod-ready delay %v ms, want 25000", got)
	}
	if _, err := Stages(-time.Second); err == nil {
		t.Error("a negative cold start was accepted")
	}
}

// TestFakeNodes checks the fake nodes' GPUs and labels.
func TestFakeNodes(t *testing.T) {
	nodes := FakeNodes(Simulation{GPUNodes: 2, CPUNodes: 1})
	if len(nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(nodes))
	}
	for _, n := range nodes[:2] {
		q := n.Status.Allocatable[GPUResource]
		if q.Value() != 8 || n.Labels["nvidia.com/gpu.present"] != "true" || n.Labels["nvidia.com/gpu.product"] != DefaultGPUProduct || n.Labels["nvidia.com/gpu.count"] != "8" {
			t.Errorf("GPU node %s: %s GPUs, labels %v", n.Name, q.String(), n.Labels)
		}
		if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "nvidia.com/gpu" {
			t.Errorf("GPU node %s: taints %v", n.Name, n.Spec.Taints)
		}
		if n.Annotations[KwokNodeAnnotation] != "fake" || n.Labels[LabelNodePool] != "gpu" {
			t.Errorf("GPU node %s: annotations %v", n.Name, n.Annotations)
		}
	}
	cpu := nodes[2]
	if _, ok := cpu.Status.Capacity[GPUResource]; ok || cpu.Labels["nvidia.com/gpu.present"] != "" || cpu.Labels[LabelNodePool] != "cpu" {
		t.Errorf("CPU node %s: capacity %v, labels %v", cpu.Name, cpu.Status.Capacity, cpu.Labels)
	}
	if cpu.Status.Capacity.Cpu().IsZero() || cpu.Status.Allocatable.Pods().Value() != 110 {
		t.Errorf("CPU node %s: capacity %v", cpu.Name, cpu.Status.Capacity)
	}
}

// TestOpenMetrics checks the backfill file: one sample per step, seconds
// since the epoch, and the closing # EOF.
func TestOpenMetrics(t *testing.T) {
	from := time.Unix(1_800_000_000, 0)
	text := OpenMetrics([]string{"a", "b"}, func(tt time.Time) float64 { return float64(tt.Sub(from) / time.Minute) }, from, from.Add(3*time.Minute), time.Minute)
	want := `# HELP mlscale_sim_demand Demand of the workload.
# TYPE mlscale_sim_demand gauge
mlscale_sim_demand{workload="a"} 0 1800000000
mlscale_sim_demand{workload="a"} 1 1800000060
mlscale_sim_demand{workload="a"} 2 1800000120
mlscale_sim_demand{workload="b"} 0 1800000000
mlscale_sim_demand{workload="b"} 1 1800000060
mlscale_sim_demand{workload="b"} 2 1800000120
# EOF
`
	if text != want {
		t.Errorf("got:\n%s\nwant:\n%s", text, want)
	}
}

// TestPrometheusConfig checks the scrape configuration.
func TestPrometheusConfig(t *testing.T) {
	got := prometheusConfig(PrometheusOptions{Scrape: []string{"127.0.0.1:9"}, ScrapeInterval: time.Second})
	for _, want := range []string{"scrape_interval: 1s", "- \"127.0.0.1:9\"", "job_name: mlscale-test"} {
		if !strings.Contains(got, want) {
			t.Errorf("configuration lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(prometheusConfig(PrometheusOptions{ScrapeInterval: time.Minute}), "scrape_configs") {
		t.Error("a scrape job without targets")
	}
}
