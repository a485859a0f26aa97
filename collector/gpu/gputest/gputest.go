// Package gputest builds NVML test doubles from go-nvml's mock servers
// (github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100). A test double is used
// because no GPU can run here; everything above NVML (the gpu.Source, the
// collector, the exposition) runs for real on top of it.
//
// go-nvml's mock server models devices, memory and MIG profiles but not
// telemetry or MIG device handles, so Node adds utilisation, power and
// temperature readings and, for MIG-enabled GPUs, MIG devices.
package gputest

import (
	"fmt"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// Reading is the telemetry one mock GPU reports.
type Reading struct {
	// GPUUtil and MemUtil are percent.
	GPUUtil, MemUtil uint32
	// MemUsedBytes is the memory in use.
	MemUsedBytes uint64
	// PowerMilliwatts is the power draw.
	PowerMilliwatts uint32
	// TemperatureC is the core temperature.
	TemperatureC uint32
}

// MIG describes one MIG device of a mock GPU.
type MIG struct {
	// UUID is the MIG device's UUID ("MIG-...").
	UUID string
	// Slices is its GPU instance slice count (1, 2, 3, 4 or 7).
	Slices uint32
	// MemoryMB is its memory size in MiB.
	MemoryMB uint64
	// MemUsedBytes is the memory in use.
	MemUsedBytes uint64
	// GPUInstanceID and ComputeInstanceID identify the instance.
	GPUInstanceID, ComputeInstanceID int
}

// Node is a mock DGX H100 (8 GPUs) whose readings a test can change.
type Node struct {
	// Server is the go-nvml mock server, an nvml.Interface.
	Server *server.Server

	mu       sync.Mutex
	readings []Reading
}

// NewDGXH100 returns a mock DGX H100 with 8 GPUs, all idle and cool.
func NewDGXH100() *Node {
	n := &Node{Server: dgxh100.New()}
	n.readings = make([]Reading, len(n.Server.Devices))
	for i, d := range n.Server.Devices {
		n.readings[i] = Reading{PowerMilliwatts: 70_000, TemperatureC: 30}
		dev := d.(*server.Device)
		dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
			r := n.reading(i)
			return nvml.Utilization{Gpu: r.GPUUtil, Memory: r.MemUtil}, nvml.SUCCESS
		}
		dev.GetPowerUsageFunc = func() (uint32, nvml.Return) { return n.reading(i).PowerMilliwatts, nvml.SUCCESS }
		dev.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) {
			return n.reading(i).TemperatureC, nvml.SUCCESS
		}
		dev.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
			total := dev.MemoryInfo.Total
			used := n.reading(i).MemUsedBytes
			return nvml.Memory{Total: total, Used: used, Free: total - used}, nvml.SUCCESS
		}
	}
	return n
}

func (n *Node) reading(i int) Reading {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.readings[i]
}

// Set changes the readings of GPU index i.
func (n *Node) Set(i int, r Reading) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.readings[i] = r
}

// UUID returns the UUID of GPU index i.
func (n *Node) UUID(i int) string { return n.Server.Devices[i].(*server.Device).UUID }

// EnableMIG puts GPU index i in MIG mode with the given MIG devices. As on
// real hardware, NVML then reports no utilisation for that GPU.
func (n *Node) EnableMIG(i int, migs ...MIG) {
	dev := n.Server.Devices[i].(*server.Device)
	dev.MigMode = nvml.DEVICE_MIG_ENABLE
	dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{}, nvml.ERROR_NOT_SUPPORTED
	}
	handles := make([]nvml.Device, len(migs))
	for j, m := range migs {
		h := &mock.Device{}
		h.GetUUIDFunc = func() (string, nvml.Return) { return m.UUID, nvml.SUCCESS }
		h.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
			total := m.MemoryMB << 20
			return nvml.Memory{Total: total, Used: m.MemUsedBytes, Free: total - m.MemUsedBytes}, nvml.SUCCESS
		}
		h.GetGpuInstanceIdFunc = func() (int, nvml.Return) { return m.GPUInstanceID, nvml.SUCCESS }
		h.GetComputeInstanceIdFunc = func() (int, nvml.Return) { return m.ComputeInstanceID, nvml.SUCCESS }
		h.GetAttributesFunc = func() (nvml.DeviceAttributes, nvml.Return) {
			return nvml.DeviceAttributes{GpuInstanceSliceCount: m.Slices, ComputeInstanceSliceCount: m.Slices, MemorySizeMB: m.MemoryMB}, nvml.SUCCESS
		}
		handles[j] = h
	}
	dev.GetMaxMigDeviceCountFunc = func() (int, nvml.Return) { return 7, nvml.SUCCESS }
	dev.GetMigDeviceHandleByIndexFunc = func(k int) (nvml.Device, nvml.Return) {
		if k < 0 || k >= 7 {
			return nil, nvml.ERROR_INVALID_ARGUMENT
		}
		if k >= len(handles) {
			return nil, nvml.ERROR_NOT_FOUND
		}
		return handles[k], nvml.SUCCESS
	}
}

// Lose makes GPU index i fail every read with ERROR_GPU_IS_LOST, as a GPU
// that fell off the bus (Xid 79) does.
func (n *Node) Lose(i int) {
	dev := n.Server.Devices[i].(*server.Device)
	dev.GetUUIDFunc = func() (string, nvml.Return) { return "", nvml.ERROR_GPU_IS_LOST }
	dev.GetNameFunc = func() (string, nvml.Return) { return "", nvml.ERROR_GPU_IS_LOST }
	dev.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) { return nvml.Memory{}, nvml.ERROR_GPU_IS_LOST }
}

// MIGUUID returns a MIG device UUID for tests, unique per GPU and slot.
func MIGUUID(gpu, slot int) string {
	return fmt.Sprintf("MIG-%08d-0000-4000-8000-%012d", gpu, slot)
}
