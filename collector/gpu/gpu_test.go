package gpu_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlscale/mlscale/collector/gpu"
	"github.com/mlscale/mlscale/collector/gpu/gputest"
)

// The GPU tests run on go-nvml's mock DGX H100 (see gputest): no GPU can run
// here.

func TestDevicesDGXH100(t *testing.T) {
	node := gputest.NewDGXH100()
	node.Set(3, gputest.Reading{GPUUtil: 87, MemUtil: 40, MemUsedBytes: 10 << 30, PowerMilliwatts: 612_500, TemperatureC: 71})
	src := gpu.NewWithInterface(node.Server)
	st := src.Status()
	if !st.Up || st.DriverVersion != "550.54.15" {
		t.Fatalf("Status() = %+v, want up with driver 550.54.15", st)
	}
	devs, err := src.Devices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 8 {
		t.Fatalf("got %d devices, want 8", len(devs))
	}
	d := devs[3]
	if d.Index != 3 || d.UUID != node.UUID(3) || !strings.Contains(d.Model, "H100") {
		t.Errorf("device 3 = index %d uuid %q model %q", d.Index, d.UUID, d.Model)
	}
	if d.GPUUtilization == nil || *d.GPUUtilization != 87 || *d.MemoryUtilization != 40 {
		t.Errorf("utilisation = %v/%v, want 87/40", d.GPUUtilization, d.MemoryUtilization)
	}
	if d.PowerWatts == nil || *d.PowerWatts != 612.5 {
		t.Errorf("power = %v, want 612.5 W", d.PowerWatts)
	}
	if d.TemperatureCelsius == nil || *d.TemperatureCelsius != 71 {
		t.Errorf("temperature = %v, want 71", d.TemperatureCelsius)
	}
	if d.MemoryUsedBytes != 10<<30 || d.MemoryTotalBytes != 80*1024<<20 {
		t.Errorf("memory = %d/%d", d.MemoryUsedBytes, d.MemoryTotalBytes)
	}
	if d.MIGEnabled || len(d.MIG) != 0 {
		t.Errorf("device 3 has MIG %v %v, want none", d.MIGEnabled, d.MIG)
	}
}

func TestDevicesMIG(t *testing.T) {
	node := gputest.NewDGXH100()
	node.EnableMIG(1,
		gputest.MIG{UUID: gputest.MIGUUID(1, 0), Slices: 3, MemoryMB: 40192, MemUsedBytes: 1 << 30, GPUInstanceID: 2, ComputeInstanceID: 0},
		gputest.MIG{UUID: gputest.MIGUUID(1, 1), Slices: 1, MemoryMB: 9856, GPUInstanceID: 9, ComputeInstanceID: 0},
	)
	devs, err := gpu.NewWithInterface(node.Server).Devices()
	if err != nil {
		t.Fatal(err)
	}
	d := devs[1]
	if !d.MIGEnabled || d.GPUUtilization != nil {
		t.Fatalf("device 1: MIG %v, utilisation %v; want MIG and no utilisation", d.MIGEnabled, d.GPUUtilization)
	}
	if len(d.MIG) != 2 {
		t.Fatalf("got %d MIG devices, want 2", len(d.MIG))
	}
	want := []struct {
		uuid, profile string
		gi            int
		share         float64
	}{
		{gputest.MIGUUID(1, 0), "3g.40gb", 2, 3.0 / 7},
		{gputest.MIGUUID(1, 1), "1g.10gb", 9, 1.0 / 7},
	}
	for i, w := range want {
		m := d.MIG[i]
		if m.UUID != w.uuid || m.Profile != w.profile || m.GPUInstanceID != w.gi || m.Share() != w.share {
			t.Errorf("MIG %d = %+v (share %v), want %+v", i, m, m.Share(), w)
		}
	}
	if d.MIG[0].MemoryUsedBytes != 1<<30 || d.MIG[0].MemoryTotalBytes != 40192<<20 {
		t.Errorf("MIG 0 memory = %d/%d", d.MIG[0].MemoryUsedBytes, d.MIG[0].MemoryTotalBytes)
	}
	if devs[0].MIGEnabled {
		t.Error("device 0 is MIG-enabled, want not")
	}
}

// TestDevicesLostGPU: a GPU that fell off the bus is left out and named in
// the error; the other seven are still read (mock DGX H100).
func TestDevicesLostGPU(t *testing.T) {
	node := gputest.NewDGXH100()
	node.Lose(3)
	node.Set(4, gputest.Reading{GPUUtil: 61})
	devs, err := gpu.NewWithInterface(node.Server).Devices()
	if err == nil || !strings.Contains(err.Error(), "GPU 3: reading its UUID: ERROR_GPU_IS_LOST") {
		t.Errorf("Devices() error = %v, want one naming GPU 3", err)
	}
	if len(devs) != 7 {
		t.Fatalf("got %d devices, want the 7 readable ones", len(devs))
	}
	for _, d := range devs {
		if d.Index == 3 {
			t.Errorf("the lost GPU 3 was returned: %+v", d)
		}
		if d.Index == 4 && (d.GPUUtilization == nil || *d.GPUUtilization != 61) {
			t.Errorf("GPU 4 utilisation = %v, want 61", d.GPUUtilization)
		}
	}
}

// TestMissingLibrary uses the real go-nvml binding with a library path that
// does not exist: the state of a node without the NVIDIA driver.
func TestMissingLibrary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "libnvidia-ml.so.1")
	src := gpu.New(path)
	st := src.Status()
	if st.Up || !strings.Contains(st.Reason, "libnvidia-ml not found at "+path+" (--nvml-library)") {
		t.Fatalf("Status() = %+v, want down naming the library given", st)
	}
	_, err := src.Devices()
	if !errors.Is(err, gpu.ErrUnavailable) {
		t.Fatalf("Devices() error = %v, want ErrUnavailable", err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestProfileName(t *testing.T) {
	for _, tc := range []struct {
		slices int
		mb     uint64
		want   string
	}{
		{1, 9856, "1g.10gb"},
		{3, 40192, "3g.40gb"},
		{7, 80896, "7g.79gb"},
		{1, 4864, "1g.5gb"},
		{0, 4864, ""},
	} {
		if got := gpu.ProfileName(tc.slices, tc.mb); got != tc.want {
			t.Errorf("ProfileName(%d, %d) = %q, want %q", tc.slices, tc.mb, got, tc.want)
		}
	}
}

func TestMIGShare(t *testing.T) {
	for _, tc := range []struct {
		m    gpu.MIGDevice
		want float64
	}{
		{gpu.MIGDevice{Slices: 2, MaxSlices: 7}, 2.0 / 7},
		{gpu.MIGDevice{Slices: 0, MaxSlices: 7}, 1},
		{gpu.MIGDevice{Slices: 8, MaxSlices: 7}, 1},
	} {
		if got := tc.m.Share(); got != tc.want {
			t.Errorf("%+v.Share() = %v, want %v", tc.m, got, tc.want)
		}
	}
}
