// Package gpu reads per-device GPU metrics through NVML
// (github.com/NVIDIA/go-nvml): utilisation, memory, power, temperature and
// the MIG devices of MIG-enabled GPUs.
//
// libnvidia-ml is loaded at run time (dlopen). On a machine without it, or
// with a driver that fails to initialise, a Source still opens: Status says
// why NVML is down and Devices returns an error wrapping ErrUnavailable, so a
// caller can keep serving everything else. A Source retries initialisation on
// every read, so a driver installed after start-up is picked up.
package gpu

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"k8s.io/utils/ptr"
)

// ErrUnavailable is wrapped by Devices' error when NVML cannot be used (the
// library is missing or did not initialise); Status gives the reason.
var ErrUnavailable = errors.New("NVML unavailable")

// Device is one physical GPU as NVML reported it at one read.
type Device struct {
	// Index is NVML's device index (the order of nvidia-smi).
	Index int
	// UUID is the GPU's UUID ("GPU-...").
	UUID string
	// Model is the product name, e.g. "NVIDIA H100 80GB HBM3".
	Model string
	// GPUUtilization is the percent of time a kernel ran over the last
	// sample period; nil when NVML does not support it (e.g. MIG mode).
	GPUUtilization *float64
	// MemoryUtilization is the percent of time device memory was read or
	// written; nil when not supported.
	MemoryUtilization *float64
	// MemoryUsedBytes and MemoryTotalBytes are the frame buffer in use and
	// in total.
	MemoryUsedBytes, MemoryTotalBytes uint64
	// PowerWatts is the board's power draw; nil when not supported.
	PowerWatts *float64
	// TemperatureCelsius is the GPU core temperature; nil when not supported.
	TemperatureCelsius *float64
	// MIGEnabled is true when the GPU's current MIG mode is enabled.
	MIGEnabled bool
	// MIG are the GPU's MIG devices (empty unless MIGEnabled).
	MIG []MIGDevice
}

// MIGDevice is one MIG device (a compute instance inside a GPU instance).
type MIGDevice struct {
	// Index is the MIG device's index within its parent GPU.
	Index int
	// UUID is the MIG device's UUID ("MIG-..."), the ID the NVIDIA device
	// plugin hands to pods.
	UUID string
	// Profile is the profile name derived from the slices and memory, e.g.
	// "1g.10gb".
	Profile string
	// GPUInstanceID and ComputeInstanceID identify the instance in its GPU.
	GPUInstanceID, ComputeInstanceID int
	// Slices is the number of GPU slices the instance uses, MaxSlices the
	// number the whole GPU has (7 on A100/H100); Slices/MaxSlices is the
	// share of the GPU used for GPU-hours.
	Slices, MaxSlices int
	// MemoryUsedBytes and MemoryTotalBytes are the instance's memory.
	MemoryUsedBytes, MemoryTotalBytes uint64
}

// Share is the fraction of its parent GPU that the MIG device occupies, in
// (0, 1].
func (m MIGDevice) Share() float64 {
	if m.Slices <= 0 || m.MaxSlices <= 0 || m.Slices > m.MaxSlices {
		return 1
	}
	return float64(m.Slices) / float64(m.MaxSlices)
}

// Status says whether NVML is usable.
type Status struct {
	// Up is true when NVML initialised.
	Up bool
	// Reason says why NVML is down ("" when up).
	Reason string
	// DriverVersion is the NVIDIA driver's version when up.
	DriverVersion string
}

// defaultMaxSlices is the number of GPU slices of A100, H100, H200 and B200
// GPUs, used when NVML cannot say.
const defaultMaxSlices = 7

// Source reads GPUs through an nvml.Interface. It is safe for concurrent
// use.
type Source struct {
	lib nvml.Interface
	// library is the path New was given ("": the default search).
	library string
	mu      sync.Mutex
	status  Status
}

// New returns a Source on the system's libnvidia-ml (loaded at run time;
// libraryPath "" means the default search, libnvidia-ml.so.1).
func New(libraryPath string) *Source {
	var opts []nvml.LibraryOption
	if libraryPath != "" {
		opts = append(opts, nvml.WithLibraryPath(libraryPath))
	}
	return newSource(nvml.New(opts...), libraryPath)
}

// NewWithInterface returns a Source on lib, e.g. one of go-nvml's mock
// servers, and initialises it. It never fails: Status reports a failed
// initialisation.
func NewWithInterface(lib nvml.Interface) *Source { return newSource(lib, "") }

// newSource returns a Source on lib, loaded from library ("": the default
// search), initialised.
func newSource(lib nvml.Interface, library string) *Source {
	s := &Source{lib: lib, library: library}
	s.mu.Lock()
	s.initLocked()
	s.mu.Unlock()
	return s
}

// initLocked initialises NVML unless it is up; s.mu is held.
func (s *Source) initLocked() {
	if s.status.Up {
		return
	}
	if err := safely(func() error {
		ret := s.lib.Init()
		switch {
		case ret == nvml.ERROR_LIBRARY_NOT_FOUND && s.library != "":
			return fmt.Errorf("initialising NVML: %s: libnvidia-ml not found at %s (--nvml-library), or not loadable", ret.Error(), s.library)
		case ret != nvml.SUCCESS:
			return fmt.Errorf("initialising NVML: %w", describe(ret))
		}
		return nil
	}); err != nil {
		s.status = Status{Reason: err.Error()}
		return
	}
	driver, ret := s.lib.SystemGetDriverVersion()
	if ret != nvml.SUCCESS {
		driver = ""
	}
	s.status = Status{Up: true, DriverVersion: driver}
}

// Status reports whether NVML is up and, if not, why.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Close shuts NVML down.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.status.Up {
		return nil
	}
	s.status = Status{Reason: "closed"}
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("shutting NVML down: %w", describe(ret))
	}
	return nil
}

// Devices reads every GPU. When NVML is down it first retries
// initialisation; if that fails the error wraps ErrUnavailable. A reading a
// GPU does not support is left nil. A GPU that cannot be read at all (e.g.
// one that fell off the bus) is left out and named in the error, and the
// other GPUs are still returned.
func (s *Source) Devices() ([]Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if !s.status.Up {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, s.status.Reason)
	}
	var devices []Device
	err := safely(func() error {
		var err error
		devices, err = readDevices(s.lib)
		return err
	})
	return devices, err
}

// safely runs f, turning a panic (a mock without a function, a binding
// without a symbol) into an error so that the collector never crashes.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("NVML call panicked: %v", r)
		}
	}()
	return f()
}

// describe turns an NVML return code into an error.
func describe(ret nvml.Return) error {
	if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
		return fmt.Errorf("%s: libnvidia-ml.so.1 not found (no NVIDIA driver on this node, or the container lacks the NVIDIA runtime)", ret.Error())
	}
	return errors.New(ret.Error())
}

func readDevices(lib nvml.Interface) ([]Device, error) {
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("counting GPUs: %w", describe(ret))
	}
	devices := make([]Device, 0, count)
	var errs []error
	for i := range count {
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			errs = append(errs, fmt.Errorf("GPU %d: getting its handle: %w", i, describe(ret)))
			continue
		}
		d, err := readDevice(h, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("GPU %d: %w", i, err))
			continue
		}
		devices = append(devices, d)
	}
	return devices, errors.Join(errs...)
}

func readDevice(h nvml.Device, index int) (Device, error) {
	d := Device{Index: index}
	var ret nvml.Return
	if d.UUID, ret = h.GetUUID(); ret != nvml.SUCCESS {
		return d, fmt.Errorf("reading its UUID: %w", describe(ret))
	}
	if d.Model, ret = h.GetName(); ret != nvml.SUCCESS {
		return d, fmt.Errorf("reading its name: %w", describe(ret))
	}
	mem, ret := h.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return d, fmt.Errorf("reading its memory: %w", describe(ret))
	}
	d.MemoryUsedBytes, d.MemoryTotalBytes = mem.Used, mem.Total
	if u, ret := h.GetUtilizationRates(); ret == nvml.SUCCESS {
		d.GPUUtilization = ptr.To(float64(u.Gpu))
		d.MemoryUtilization = ptr.To(float64(u.Memory))
	}
	if mw, ret := h.GetPowerUsage(); ret == nvml.SUCCESS {
		d.PowerWatts = ptr.To(float64(mw) / 1000)
	}
	if t, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		d.TemperatureCelsius = ptr.To(float64(t))
	}
	current, _, ret := h.GetMigMode()
	if ret != nvml.SUCCESS || current != nvml.DEVICE_MIG_ENABLE {
		return d, nil // not supported or disabled: a whole GPU
	}
	d.MIGEnabled = true
	mig, err := readMIG(h)
	if err != nil {
		return d, err
	}
	d.MIG = mig
	return d, nil
}

func readMIG(parent nvml.Device) ([]MIGDevice, error) {
	maxSlices := defaultMaxSlices
	if p, ret := parent.GetGpuInstanceProfileInfo(nvml.GPU_INSTANCE_PROFILE_7_SLICE); ret == nvml.SUCCESS && p.SliceCount > 0 {
		maxSlices = int(p.SliceCount)
	}
	n, ret := parent.GetMaxMigDeviceCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("counting its MIG devices: %w", describe(ret))
	}
	var out []MIGDevice
	for i := range n {
		h, ret := parent.GetMigDeviceHandleByIndex(i)
		if ret == nvml.ERROR_NOT_FOUND || ret == nvml.ERROR_INVALID_ARGUMENT {
			continue // an empty slot
		}
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("MIG device %d: getting its handle: %w", i, describe(ret))
		}
		m := MIGDevice{Index: i, MaxSlices: maxSlices}
		if m.UUID, ret = h.GetUUID(); ret != nvml.SUCCESS {
			return nil, fmt.Errorf("MIG device %d: reading its UUID: %w", i, describe(ret))
		}
		if mem, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
			m.MemoryUsedBytes, m.MemoryTotalBytes = mem.Used, mem.Total
		}
		if id, ret := h.GetGpuInstanceId(); ret == nvml.SUCCESS {
			m.GPUInstanceID = id
		}
		if id, ret := h.GetComputeInstanceId(); ret == nvml.SUCCESS {
			m.ComputeInstanceID = id
		}
		if a, ret := h.GetAttributes(); ret == nvml.SUCCESS {
			m.Slices = int(a.GpuInstanceSliceCount)
			m.Profile = ProfileName(int(a.GpuInstanceSliceCount), a.MemorySizeMB)
		}
		out = append(out, m)
	}
	return out, nil
}

// ProfileName returns the MIG profile name NVIDIA uses for an instance of
// slices GPU slices and memoryMB MiB of memory, e.g. "1g.10gb" (the memory
// rounded up to whole GB); "" when slices is 0.
func ProfileName(slices int, memoryMB uint64) string {
	if slices <= 0 {
		return ""
	}
	return fmt.Sprintf("%dg.%dgb", slices, int(math.Ceil(float64(memoryMB)/1024)))
}
