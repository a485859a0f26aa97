// Package podresources asks the kubelet which pod, namespace and container
// hold each device, through the kubelet's pod-resources gRPC API
// (k8s.io/kubelet/pkg/apis/podresources/v1) on its unix socket.
//
// The NVIDIA device plugin hands out whole GPUs by UUID ("GPU-...") and MIG
// devices by MIG UUID ("MIG-..."), under nvidia.com/gpu and, with the mixed
// MIG strategy, nvidia.com/mig-<profile>. With time-slicing a device ID is
// "<UUID>::<n>" and several containers may share one GPU.
package podresources

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// DefaultSocket is where the kubelet serves the pod-resources API.
const DefaultSocket = "/var/lib/kubelet/pod-resources/kubelet.sock"

// Owner is a container that holds a device.
type Owner struct {
	// Namespace, Pod and Container name the container.
	Namespace, Pod, Container string
	// Resource is the extended resource the device was allocated as, e.g.
	// "nvidia.com/gpu" or "nvidia.com/mig-1g.10gb".
	Resource string
}

// Owners maps a device ID (a GPU or MIG UUID, or a device index when the
// device plugin runs with DEVICE_ID_STRATEGY=index) to the containers that
// hold it, sorted by namespace, pod and container.
type Owners map[string][]Owner

// IsGPUResource reports whether an extended resource name is an NVIDIA GPU
// or MIG device.
func IsGPUResource(name string) bool {
	return name == "nvidia.com/gpu" || strings.HasPrefix(name, "nvidia.com/mig-") || name == "nvidia.com/gpu.shared"
}

// FromList builds Owners from a List response, keeping only the devices of
// the resources for which keep returns true. Time-slicing replica suffixes
// ("::n") are removed so that the ID is the device's UUID.
func FromList(resp *podresourcesv1.ListPodResourcesResponse, keep func(resource string) bool) Owners {
	owners := Owners{}
	for _, pod := range resp.GetPodResources() {
		for _, c := range pod.GetContainers() {
			for _, dev := range c.GetDevices() {
				if !keep(dev.GetResourceName()) {
					continue
				}
				for _, id := range dev.GetDeviceIds() {
					id, _, _ = strings.Cut(id, "::")
					o := Owner{Namespace: pod.GetNamespace(), Pod: pod.GetName(), Container: c.GetName(), Resource: dev.GetResourceName()}
					if !containsOwner(owners[id], o) {
						owners[id] = append(owners[id], o)
					}
				}
			}
		}
	}
	for _, os := range owners {
		sort.Slice(os, func(i, j int) bool {
			a, b := os[i], os[j]
			if a.Namespace != b.Namespace {
				return a.Namespace < b.Namespace
			}
			if a.Pod != b.Pod {
				return a.Pod < b.Pod
			}
			return a.Container < b.Container
		})
	}
	return owners
}

func containsOwner(os []Owner, o Owner) bool {
	for _, x := range os {
		if x == o {
			return true
		}
	}
	return false
}

// Client lists pod resources from the kubelet.
type Client struct {
	conn    *grpc.ClientConn
	client  podresourcesv1.PodResourcesListerClient
	socket  string
	timeout time.Duration
}

// New returns a Client for the kubelet socket at socketPath. It does not
// connect: a missing socket shows up as an error of GPUOwners, so the
// collector can start before the kubelet.
func New(socketPath string, timeout time.Duration) (*Client, error) {
	if socketPath == "" {
		return nil, fmt.Errorf("pod-resources socket path is empty; allowed: a unix socket path such as %s", DefaultSocket)
	}
	conn, err := grpc.NewClient("unix:"+socketPath, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("pod-resources client for %s: %w", socketPath, err)
	}
	return &Client{conn: conn, client: podresourcesv1.NewPodResourcesListerClient(conn), socket: socketPath, timeout: timeout}, nil
}

// GPUOwners lists the containers that hold NVIDIA GPUs and MIG devices.
func (c *Client) GPUOwners(ctx context.Context) (Owners, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.client.List(ctx, &podresourcesv1.ListPodResourcesRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing pod resources from the kubelet at %s: %w", c.socket, err)
	}
	return FromList(resp, IsGPUResource), nil
}

// Close closes the connection.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("closing pod-resources connection: %w", err)
	}
	return nil
}
