package podresources_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/mlscale/mlscale/collector/podresources"
	"github.com/mlscale/mlscale/collector/podresources/podresourcestest"
)

func TestFromList(t *testing.T) {
	dev := func(res string, ids ...string) *podresourcesv1.ContainerDevices {
		return &podresourcesv1.ContainerDevices{ResourceName: res, DeviceIds: ids}
	}
	pod := func(ns, name string, cs ...*podresourcesv1.ContainerResources) *podresourcesv1.PodResources {
		return &podresourcesv1.PodResources{Namespace: ns, Name: name, Containers: cs}
	}
	ctr := func(name string, ds ...*podresourcesv1.ContainerDevices) *podresourcesv1.ContainerResources {
		return &podresourcesv1.ContainerResources{Name: name, Devices: ds}
	}
	for _, tc := range []struct {
		name string
		pods []*podresourcesv1.PodResources
		want podresources.Owners
	}{
		{name: "empty", want: podresources.Owners{}},
		{
			name: "whole GPUs, MIG and other devices",
			pods: []*podresourcesv1.PodResources{
				pod("ml", "llm-0", ctr("server", dev("nvidia.com/gpu", "GPU-a", "GPU-b"), dev("example.com/nic", "eth1"))),
				pod("ml", "asr-0", ctr("asr", dev("nvidia.com/mig-1g.10gb", "MIG-x"))),
				pod("web", "cpu", ctr("app")),
			},
			want: podresources.Owners{
				"GPU-a": {{Namespace: "ml", Pod: "llm-0", Container: "server", Resource: "nvidia.com/gpu"}},
				"GPU-b": {{Namespace: "ml", Pod: "llm-0", Container: "server", Resource: "nvidia.com/gpu"}},
				"MIG-x": {{Namespace: "ml", Pod: "asr-0", Container: "asr", Resource: "nvidia.com/mig-1g.10gb"}},
			},
		},
		{
			name: "time-slicing replicas share a GPU",
			pods: []*podresourcesv1.PodResources{
				pod("b", "p2", ctr("c", dev("nvidia.com/gpu", "GPU-a::1"))),
				pod("a", "p1", ctr("c", dev("nvidia.com/gpu", "GPU-a::0", "GPU-a::3"))),
			},
			want: podresources.Owners{
				"GPU-a": {
					{Namespace: "a", Pod: "p1", Container: "c", Resource: "nvidia.com/gpu"},
					{Namespace: "b", Pod: "p2", Container: "c", Resource: "nvidia.com/gpu"},
				},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := podresources.FromList(&podresourcesv1.ListPodResourcesResponse{PodResources: tc.pods}, podresources.IsGPUResource)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FromList() = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestIsGPUResource(t *testing.T) {
	for name, want := range map[string]bool{
		"nvidia.com/gpu": true, "nvidia.com/mig-3g.40gb": true, "nvidia.com/gpu.shared": true,
		"amd.com/gpu": false, "cpu": false, "nvidia.com/gpux": false,
	} {
		if got := podresources.IsGPUResource(name); got != want {
			t.Errorf("IsGPUResource(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestClient talks to a real gRPC pod-resources server on a unix socket.
func TestClient(t *testing.T) {
	srv := podresourcestest.Start(t)
	srv.Set(podresourcestest.Pod("ml", "llm-7d9f8c6b5-abcde", "nvidia.com/gpu", map[string][]string{"vllm": {"GPU-1"}}))
	c, err := podresources.New(srv.Socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	got, err := c.GPUOwners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := podresources.Owners{"GPU-1": {{Namespace: "ml", Pod: "llm-7d9f8c6b5-abcde", Container: "vllm", Resource: "nvidia.com/gpu"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GPUOwners() = %+v, want %+v", got, want)
	}
}

func TestClientErrors(t *testing.T) {
	if _, err := podresources.New("", time.Second); err == nil || !strings.Contains(err.Error(), "socket path is empty") {
		t.Errorf("New(\"\") error = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "kubelet.sock")
	c, err := podresources.New(missing, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_, err = c.GPUOwners(context.Background())
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("GPUOwners() on a missing socket: error = %v, want one naming %s", err, missing)
	}
}
