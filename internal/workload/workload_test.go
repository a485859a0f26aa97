package workload_test

import (
	"math"
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/workload"
)

// c is a container with GPU limits res (resource name -> quantity).
func c(res map[string]string) corev1.Container {
	out := corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{}}}
	for k, v := range res {
		out.Resources.Limits[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	return out
}

func sidecar(res map[string]string) corev1.Container {
	s := c(res)
	s.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return s
}

func gpus(n string) map[string]string { return map[string]string{"nvidia.com/gpu": n} }

func TestGPUsPerPod(t *testing.T) {
	const huge = "4611686018427387904" // 2^62
	cases := []struct {
		name          string
		init, main    []corev1.Container
		want          int64
		wantResources []string
	}{
		{name: "no GPUs", main: []corev1.Container{c(map[string]string{"cpu": "1"})}},
		{name: "containers add up", main: []corev1.Container{c(gpus("1")), c(gpus("2"))}, want: 3, wantResources: []string{"nvidia.com/gpu"}},
		{name: "init container: the larger moment", init: []corev1.Container{c(gpus("4"))}, main: []corev1.Container{c(gpus("1"))}, want: 4, wantResources: []string{"nvidia.com/gpu"}},
		{name: "init below main", init: []corev1.Container{c(gpus("1"))}, main: []corev1.Container{c(gpus("2"))}, want: 2, wantResources: []string{"nvidia.com/gpu"}},
		{name: "sidecar adds to the main containers", init: []corev1.Container{sidecar(gpus("1"))}, main: []corev1.Container{c(gpus("2"))}, want: 3, wantResources: []string{"nvidia.com/gpu"}},
		{
			name: "init container after a sidecar runs beside it",
			init: []corev1.Container{sidecar(gpus("2")), c(gpus("3"))}, main: []corev1.Container{c(gpus("1"))},
			want: 5, wantResources: []string{"nvidia.com/gpu"},
		},
		{
			name: "init container before a sidecar runs alone",
			init: []corev1.Container{c(gpus("3")), sidecar(gpus("2"))}, main: []corev1.Container{c(gpus("2"))},
			want: 4, wantResources: []string{"nvidia.com/gpu"},
		},
		{
			name: "every GPU resource counts",
			main: []corev1.Container{c(map[string]string{"nvidia.com/gpu.shared": "1", "amd.com/gpu": "1", "nvidia.com/mig-1g.10gb": "2", "example.com/fpga": "5"})},
			want: 4, wantResources: []string{"amd.com/gpu", "nvidia.com/gpu.shared", "nvidia.com/mig-1g.10gb"},
		},
		{name: "beyond int64 saturates", main: []corev1.Container{c(gpus("1e30"))}, want: math.MaxInt64, wantResources: []string{"nvidia.com/gpu"}},
		{name: "overflow saturates", main: []corev1.Container{c(gpus(huge)), c(gpus(huge))}, want: math.MaxInt64, wantResources: []string{"nvidia.com/gpu"}},
		{name: "sidecar overflow saturates", init: []corev1.Container{sidecar(gpus(huge)), sidecar(gpus(huge))}, main: []corev1.Container{c(gpus("1"))}, want: math.MaxInt64, wantResources: []string{"nvidia.com/gpu"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := workload.Workload{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{InitContainers: tc.init, Containers: tc.main}}}
			got := w.GPUsPerPod()
			if got.Count != tc.want || !slices.Equal(got.Resources, tc.wantResources) {
				t.Errorf("GPUsPerPod = %d %v, want %d %v", got.Count, got.Resources, tc.want, tc.wantResources)
			}
		})
	}
}

func TestGPUsPerPodRequestsWithoutLimits(t *testing.T) {
	ctr := corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}}}
	w := workload.Workload{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr}}}}
	if got := w.GPUsPerPod().Count; got != 2 {
		t.Errorf("GPUsPerPod = %d, want 2", got)
	}
}

func TestPodsPerReplica(t *testing.T) {
	cases := []struct {
		name string
		job  *batchv1.JobSpec
		want int64
	}{
		{name: "not a Job", want: 1},
		{name: "Job without parallelism", job: &batchv1.JobSpec{}, want: 1},
		{name: "Job with parallelism", job: &batchv1.JobSpec{Parallelism: ptr.To(int32(8))}, want: 8},
		{name: "parallelism 0 (suspended in effect) counts as 1", job: &batchv1.JobSpec{Parallelism: ptr.To(int32(0))}, want: 1},
		{name: "completions fewer than parallelism", job: &batchv1.JobSpec{Parallelism: ptr.To(int32(8)), Completions: ptr.To(int32(2))}, want: 2},
		{name: "completions more than parallelism", job: &batchv1.JobSpec{Parallelism: ptr.To(int32(4)), Completions: ptr.To(int32(100))}, want: 4},
		{name: "completions 0 leaves parallelism", job: &batchv1.JobSpec{Parallelism: ptr.To(int32(4)), Completions: ptr.To(int32(0))}, want: 4},
		{name: "completions without parallelism", job: &batchv1.JobSpec{Completions: ptr.To(int32(5))}, want: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := (workload.Workload{Job: tc.job}).PodsPerReplica(); got != tc.want {
				t.Errorf("PodsPerReplica = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSaturating(t *testing.T) {
	cases := []struct {
		a, b, sum, product int64
	}{
		{a: 0, b: 0, sum: 0, product: 0},
		{a: 3, b: 4, sum: 7, product: 12},
		{a: math.MaxInt64, b: 1, sum: math.MaxInt64, product: math.MaxInt64},
		{a: 1 << 62, b: 1 << 62, sum: math.MaxInt64, product: math.MaxInt64},
		{a: 0, b: math.MaxInt64, sum: math.MaxInt64, product: 0},
		{a: 1 << 32, b: 1 << 31, sum: 1<<32 + 1<<31, product: math.MaxInt64},
	}
	for _, tc := range cases {
		if got := workload.SaturatingAdd(tc.a, tc.b); got != tc.sum {
			t.Errorf("SaturatingAdd(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.sum)
		}
		if got := workload.SaturatingMul(tc.a, tc.b); got != tc.product {
			t.Errorf("SaturatingMul(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.product)
		}
	}
}

func TestGPUResource(t *testing.T) {
	for name, want := range map[string]bool{
		"nvidia.com/gpu": true, "nvidia.com/gpu.shared": true, "amd.com/gpu": true, "nvidia.com/mig-3g.40gb": true,
		"nvidia.com/gpus": false, "cpu": false, "example.com/fpga": false,
	} {
		if got := workload.GPUResource(corev1.ResourceName(name)); got != want {
			t.Errorf("GPUResource(%q) = %v, want %v", name, got, want)
		}
	}
}
