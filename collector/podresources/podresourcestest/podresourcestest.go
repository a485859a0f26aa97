// Package podresourcestest runs a real kubelet pod-resources gRPC server
// (k8s.io/kubelet/pkg/apis/podresources/v1) on a unix socket in a test's
// temporary directory, serving the pod resources the test sets.
package podresourcestest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/grpc"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// Server is a pod-resources server whose answer a test can change.
type Server struct {
	podresourcesv1.UnimplementedPodResourcesListerServer

	// Socket is the unix socket path it listens on.
	Socket string

	mu    sync.Mutex
	pods  []*podresourcesv1.PodResources
	calls int
}

// Start starts a server on a socket in t.TempDir() (or a shorter temporary
// directory when that path is too long for a unix socket); it is stopped
// and the directory removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dir, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are limited to 108 bytes; a long test name can make
	// t.TempDir() too long, and then a short temporary directory is used.
	if len(dir)+len("/kubelet.sock") > 100 {
		if dir, err = os.MkdirTemp("", "podres"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	s := &Server{Socket: filepath.Join(dir, "kubelet.sock")}
	lis, err := net.Listen("unix", s.Socket)
	if err != nil {
		t.Fatalf("listening on %s: %v", s.Socket, err)
	}
	g := grpc.NewServer()
	podresourcesv1.RegisterPodResourcesListerServer(g, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Serve(lis)
	}()
	t.Cleanup(func() {
		g.Stop()
		<-done
	})
	return s
}

// Set replaces the pods the server lists.
func (s *Server) Set(pods ...*podresourcesv1.PodResources) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods = pods
}

// Calls returns how many List calls the server answered.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// List implements the pod-resources API.
func (s *Server) List(context.Context, *podresourcesv1.ListPodResourcesRequest) (*podresourcesv1.ListPodResourcesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return &podresourcesv1.ListPodResourcesResponse{PodResources: s.pods}, nil
}

// Pod returns a pod whose containers each hold devices of one resource:
// containers maps a container name to its device IDs.
func Pod(namespace, name, resource string, containers map[string][]string) *podresourcesv1.PodResources {
	p := &podresourcesv1.PodResources{Namespace: namespace, Name: name}
	for c, ids := range containers {
		p.Containers = append(p.Containers, &podresourcesv1.ContainerResources{
			Name:    c,
			Devices: []*podresourcesv1.ContainerDevices{{ResourceName: resource, DeviceIds: ids}},
		})
	}
	return p
}
