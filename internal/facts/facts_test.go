package facts

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func quota(name string, hard map[string]string) corev1.ResourceQuota {
	q := corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml"}}
	q.Spec.Hard = corev1.ResourceList{}
	for k, v := range hard {
		q.Spec.Hard[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	return q
}

func TestGPUBudget(t *testing.T) {
	tests := []struct {
		name       string
		configured *int64
		quotas     []corev1.ResourceQuota
		want       *int64
	}{
		{name: "nothing", want: nil},
		{name: "configured only", configured: ptr.To[int64](8), want: ptr.To[int64](8)},
		{name: "quota without GPUs", quotas: []corev1.ResourceQuota{quota("cpu", map[string]string{"requests.cpu": "10", "pods": "20"})}, want: nil},
		{name: "requests.nvidia.com/gpu", quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"requests.nvidia.com/gpu": "4"})}, want: ptr.To[int64](4)},
		{name: "bare nvidia.com/gpu", quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"nvidia.com/gpu": "6"})}, want: ptr.To[int64](6)},
		{name: "both keys in one quota: smallest", quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"nvidia.com/gpu": "6", "requests.nvidia.com/gpu": "5"})}, want: ptr.To[int64](5)},
		{
			name:   "several quotas: smallest",
			quotas: []corev1.ResourceQuota{quota("a", map[string]string{"requests.nvidia.com/gpu": "8"}), quota("b", map[string]string{"requests.nvidia.com/gpu": "3"}), quota("c", map[string]string{"requests.cpu": "1"})},
			want:   ptr.To[int64](3),
		},
		{name: "configured smaller than quota", configured: ptr.To[int64](2), quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"requests.nvidia.com/gpu": "4"})}, want: ptr.To[int64](2)},
		{name: "quota smaller than configured", configured: ptr.To[int64](16), quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"requests.nvidia.com/gpu": "4"})}, want: ptr.To[int64](4)},
		{name: "zero budget", quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"requests.nvidia.com/gpu": "0"})}, want: ptr.To[int64](0)},
		{name: "fraction rounds down", quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"requests.nvidia.com/gpu": "2500m"})}, want: ptr.To[int64](2)},
		{name: "every GPU resource limits the budget", quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"requests.amd.com/gpu": "1"})}, want: ptr.To[int64](1)},
		{name: "MIG and time-sliced quotas count", quotas: []corev1.ResourceQuota{quota("mig", map[string]string{"requests.nvidia.com/mig-1g.10gb": "3", "requests.nvidia.com/gpu.shared": "5"})}, want: ptr.To[int64](3)},
		{name: "other extended resources do not", quotas: []corev1.ResourceQuota{quota("fpga", map[string]string{"requests.example.com/fpga": "1", "requests.cpu": "2"})}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := GPUBudget(tt.configured, tt.quotas)
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil || *got != *tt.want:
				t.Errorf("GPUBudget() = %v, want %v", fmtPtr(got), fmtPtr(tt.want))
			}
			if tt.configured != nil && got == tt.configured {
				t.Errorf("GPUBudget returned the configured pointer itself; it must not alias the caller's facts")
			}
		})
	}
}

func fmtPtr(p *int64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// listReader is a client.Reader over a fixed set of quotas: enough to test
// the wiring of FromCluster (the envtest suite in webhook/reconciler reads
// real quotas from a real API server).
type listReader struct {
	client.Reader
	quotas []corev1.ResourceQuota
	err    error
	gotNS  string
}

func (r *listReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if r.err != nil {
		return r.err
	}
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	r.gotNS = lo.Namespace
	l := list.(*corev1.ResourceQuotaList)
	for _, q := range r.quotas {
		if q.Namespace == lo.Namespace {
			l.Items = append(l.Items, q)
		}
	}
	return nil
}

func TestFromCluster(t *testing.T) {
	static := Facts{ClusterDomain: "example.org", PrometheusServer: "http://prom:9090"}
	other := quota("other", map[string]string{"requests.nvidia.com/gpu": "1"})
	other.Namespace = "elsewhere"
	r := &listReader{quotas: []corev1.ResourceQuota{quota("gpu", map[string]string{"requests.nvidia.com/gpu": "4"}), other}}
	f, err := FromCluster(r, static)(context.Background(), "ml")
	if err != nil {
		t.Fatal(err)
	}
	if r.gotNS != "ml" {
		t.Errorf("listed namespace %q, want ml", r.gotNS)
	}
	if f.ClusterDomain != static.ClusterDomain || f.PrometheusServer != static.PrometheusServer {
		t.Errorf("static facts not kept: %+v", f)
	}
	if f.GPUBudget == nil || *f.GPUBudget != 4 {
		t.Errorf("GPUBudget = %v, want 4", fmtPtr(f.GPUBudget))
	}

	r.err = errors.New("cache not synced")
	f, err = FromCluster(r, static)(context.Background(), "ml")
	if err == nil {
		t.Fatal("want an error when the quotas cannot be listed")
	}
	if f.PrometheusServer != static.PrometheusServer {
		t.Errorf("on error the static facts should still be returned, got %+v", f)
	}
}
