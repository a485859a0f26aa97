package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlscale/mlscale/collector/gpu"
	"github.com/mlscale/mlscale/collector/podresources"
)

// DeviceSource reads the node's GPUs; *gpu.Source is one.
type DeviceSource interface {
	// Devices reads every GPU.
	Devices() ([]gpu.Device, error)
	// Status says whether NVML is up and why not.
	Status() gpu.Status
}

// OwnerSource says which containers hold which devices; *podresources.Client
// is one.
type OwnerSource interface {
	// GPUOwners maps device IDs to the containers that hold them.
	GPUOwners(ctx context.Context) (podresources.Owners, error)
}

// Metric names exported by the collector.
const (
	MetricNVMLUp             = "mlscale_gpu_nvml_up"
	MetricDriverInfo         = "mlscale_gpu_driver_info"
	MetricPodResourcesUp     = "mlscale_gpu_podresources_up"
	MetricUtilization        = "mlscale_gpu_utilization_percent"
	MetricMemoryUtilization  = "mlscale_gpu_memory_utilization_percent"
	MetricMemoryUsed         = "mlscale_gpu_memory_used_bytes"
	MetricMemoryTotal        = "mlscale_gpu_memory_total_bytes"
	MetricPower              = "mlscale_gpu_power_watts"
	MetricTemperature        = "mlscale_gpu_temperature_celsius"
	MetricMIGMemoryUsed      = "mlscale_gpu_mig_memory_used_bytes"
	MetricMIGMemoryTotal     = "mlscale_gpu_mig_memory_total_bytes"
	MetricAllocated          = "mlscale_gpu_allocated"
	MetricIdleAllocated      = "mlscale_gpu_idle_allocated"
	MetricAllocatedSeconds   = "mlscale_gpu_allocated_seconds_total"
	MetricIdleSeconds        = "mlscale_gpu_idle_allocated_seconds_total"
	MetricAllocatedCost      = "mlscale_gpu_allocated_cost_total"
	MetricIdleCost           = "mlscale_gpu_idle_allocated_cost_total"
	MetricHourlyPrice        = "mlscale_gpu_hourly_price"
	MetricIdleThreshold      = "mlscale_gpu_idle_threshold_percent"
	MetricSampleErrors       = "mlscale_gpu_sample_errors_total"
	MetricLastSampleUnixTime = "mlscale_gpu_last_sample_timestamp_seconds"
)

var (
	ownerLabels = []string{"pod", "namespace", "container"}
	devLabels   = append([]string{"gpu", "uuid", "model"}, ownerLabels...)
	migLabels   = append([]string{"gpu", "uuid", "model", "mig_uuid", "mig_profile", "gpu_instance", "compute_instance"}, ownerLabels...)
	allocLabels = append([]string{"gpu", "uuid", "model", "mig_uuid", "mig_profile"}, ownerLabels...)
	costLabels  = []string{"namespace", "pod", "container", "model"}
)

// Collector is a prometheus.Collector for the GPUs of one node. Sample reads
// the sources and updates the accounting; Collect exposes the last sample.
type Collector struct {
	cfg    Config
	gpus   DeviceSource
	owners OwnerSource
	log    *slog.Logger

	nvmlUp, driverInfo, prUp                            *prometheus.Desc
	util, memUtil, memUsed, memTotal, power, temp       *prometheus.Desc
	migMemUsed, migMemTotal, allocated, idleAllocated   *prometheus.Desc
	allocSeconds, idleSeconds, allocCost, idleCost      *prometheus.Desc
	hourlyPrice, idleThreshold, sampleErrors, lastStamp *prometheus.Desc

	mu        sync.Mutex
	ledger    Ledger
	snap      snapshot
	errCounts map[string]float64
	nvmlWhy   string
	prWhy     string
}

// snapshot is what one Sample saw.
type snapshot struct {
	at      time.Time
	nvml    gpu.Status
	devices []gpu.Device
	prErr   error
	allocs  []allocation
	idle    []bool
	totals  map[TotalsKey]Totals
}

// allocation is one device held by one container.
type allocation struct {
	gpuIndex   int
	gpuUUID    string
	model      string
	migUUID    string
	migProfile string
	owner      Owner
	share      float64
}

// New returns a Collector reading gpus and owners. log receives NVML and
// kubelet status changes.
func New(cfg Config, gpus DeviceSource, owners OwnerSource, log *slog.Logger) *Collector {
	constLabels := prometheus.Labels{}
	if cfg.NodeName != "" {
		constLabels["node"] = cfg.NodeName
	}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, constLabels)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxGap := 3 * cfg.SampleInterval
	if maxGap < time.Minute {
		maxGap = time.Minute
	}
	return &Collector{
		cfg: cfg, gpus: gpus, owners: owners, log: log,
		nvmlUp:        d(MetricNVMLUp, "Whether NVML (libnvidia-ml) is usable on the node (1) or not (0); the reason label says why not.", []string{"reason"}),
		driverInfo:    d(MetricDriverInfo, "The NVIDIA driver version NVML reports, as a label; always 1.", []string{"driver_version"}),
		prUp:          d(MetricPodResourcesUp, "Whether the kubelet pod-resources API answered the last sample (1) or not (0); the reason label says why not.", []string{"reason"}),
		util:          d(MetricUtilization, "Percent of the last sample period during which a kernel ran on the GPU, per GPU and the container that holds it.", devLabels),
		memUtil:       d(MetricMemoryUtilization, "Percent of the last sample period during which GPU memory was read or written.", devLabels),
		memUsed:       d(MetricMemoryUsed, "GPU memory in use, in bytes.", devLabels),
		memTotal:      d(MetricMemoryTotal, "GPU memory in total, in bytes.", devLabels),
		power:         d(MetricPower, "GPU board power draw, in watts.", devLabels),
		temp:          d(MetricTemperature, "GPU core temperature, in degrees Celsius.", devLabels),
		migMemUsed:    d(MetricMIGMemoryUsed, "Memory in use by a MIG device, in bytes.", migLabels),
		migMemTotal:   d(MetricMIGMemoryTotal, "Memory of a MIG device, in bytes.", migLabels),
		allocated:     d(MetricAllocated, "GPUs a container holds through a device: 1 for a whole GPU, the slice share for a MIG device, split between time-sliced sharers.", allocLabels),
		idleAllocated: d(MetricIdleAllocated, "1 when a GPU allocated to a container has stayed under the idle utilisation threshold for the idle window, else 0.", devLabels),
		allocSeconds:  d(MetricAllocatedSeconds, "GPU-seconds allocated to a container, by GPU model, since the collector started.", costLabels),
		idleSeconds:   d(MetricIdleSeconds, "GPU-seconds allocated to a container while the GPU was under the idle utilisation threshold.", costLabels),
		allocCost:     d(MetricAllocatedCost, "Price of the GPU time allocated to a container, in the currency of the configured GPU prices.", costLabels),
		idleCost:      d(MetricIdleCost, "Price of the GPU time allocated to a container while idle, in the currency of the configured GPU prices.", costLabels),
		hourlyPrice:   d(MetricHourlyPrice, "Configured price of one GPU-hour of a GPU model seen on the node.", []string{"model"}),
		idleThreshold: d(MetricIdleThreshold, "GPU utilisation, in percent, under which an allocated GPU counts as idle.", nil),
		sampleErrors:  d(MetricSampleErrors, "Samples in which a source (nvml or podresources) failed.", []string{"source"}),
		lastStamp:     d(MetricLastSampleUnixTime, "Unix time of the last sample of the GPUs.", nil),
		ledger: Ledger{
			Threshold: cfg.IdleThreshold, Window: cfg.IdleWindow, MaxGap: maxGap,
			Retain: 10 * time.Minute, Price: cfg.Prices.For,
		},
		errCounts: map[string]float64{"nvml": 0, "podresources": 0},
	}
}

// Sample reads the GPUs and their owners at now and updates the accounting.
// A failing source is recorded (in the metrics and, when its reason changes,
// the log) and the other's data is still used; Sample returns the errors
// joined for the caller's information.
func (c *Collector) Sample(ctx context.Context, now time.Time) error {
	devices, devErr := c.gpus.Devices()
	status := c.gpus.Status()
	var owners podresources.Owners
	var prErr error
	if c.owners != nil {
		owners, prErr = c.owners.GPUOwners(ctx)
	}
	allocs, usages := attribute(devices, owners)
	c.mu.Lock()
	defer c.mu.Unlock()
	idle := c.ledger.Observe(now, usages)
	if devErr != nil {
		c.errCounts["nvml"]++
	}
	if prErr != nil {
		c.errCounts["podresources"]++
	}
	c.logChange(&c.nvmlWhy, "NVML", devErr)
	c.logChange(&c.prWhy, "kubelet pod-resources API", prErr)
	c.snap = snapshot{at: now, nvml: status, devices: devices, prErr: prErr, allocs: allocs, idle: idle, totals: c.ledger.Totals()}
	if devErr != nil || prErr != nil {
		return fmt.Errorf("sampling GPUs: %w", errors.Join(devErr, prErr))
	}
	return nil
}

// logChange logs err when its text differs from the last one logged for the
// source, and logs the recovery.
func (c *Collector) logChange(last *string, source string, err error) {
	why := ""
	if err != nil {
		why = err.Error()
	}
	if why == *last {
		return
	}
	if err != nil {
		c.log.Warn(source+" unavailable; serving the other metrics", "reason", why)
	} else if *last != "" {
		c.log.Info(source + " available again")
	}
	*last = why
}

// attribute pairs every device with its owners: allocations for the
// exposition and usages for the ledger, in device order.
func attribute(devices []gpu.Device, owners podresources.Owners) ([]allocation, []Usage) {
	var allocs []allocation
	var usages []Usage
	lookup := func(uuid, index string) []podresources.Owner {
		if os, ok := owners[uuid]; ok {
			return os
		}
		return owners[index]
	}
	for _, d := range devices {
		if d.MIGEnabled {
			for _, m := range d.MIG {
				os := lookup(m.UUID, fmt.Sprintf("%d:%d", d.Index, m.Index))
				for _, o := range os {
					share := m.Share() / float64(len(os))
					own := Owner{Namespace: o.Namespace, Pod: o.Pod, Container: o.Container}
					allocs = append(allocs, allocation{gpuIndex: d.Index, gpuUUID: d.UUID, model: d.Model, migUUID: m.UUID, migProfile: m.Profile, owner: own, share: share})
					usages = append(usages, Usage{Device: m.UUID, Model: d.Model, Owner: own, Share: share})
				}
			}
			continue
		}
		os := lookup(d.UUID, strconv.Itoa(d.Index))
		for _, o := range os {
			share := 1 / float64(len(os))
			own := Owner{Namespace: o.Namespace, Pod: o.Pod, Container: o.Container}
			allocs = append(allocs, allocation{gpuIndex: d.Index, gpuUUID: d.UUID, model: d.Model, owner: own, share: share})
			usages = append(usages, Usage{Device: d.UUID, Model: d.Model, Owner: own, Share: share, Utilization: d.GPUUtilization})
		}
	}
	return allocs, usages
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.nvmlUp, c.driverInfo, c.prUp, c.util, c.memUtil, c.memUsed, c.memTotal, c.power, c.temp,
		c.migMemUsed, c.migMemTotal, c.allocated, c.idleAllocated, c.allocSeconds, c.idleSeconds,
		c.allocCost, c.idleCost, c.hourlyPrice, c.idleThreshold, c.sampleErrors, c.lastStamp,
	} {
		ch <- d
	}
}

// emitter sends constant metrics to a Collect channel.
type emitter chan<- prometheus.Metric

func (e emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (e emitter) counter(d *prometheus.Desc, v float64, labels ...string) {
	e <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

// Collect sends the metrics of the last sample.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := emitter(ch)
	c.collectStatus(e)
	models := c.collectDevices(e)
	for k, t := range c.snap.totals {
		models[k.Model] = true
		l := []string{k.Owner.Namespace, k.Owner.Pod, k.Owner.Container, k.Model}
		e.counter(c.allocSeconds, t.AllocatedSeconds, l...)
		e.counter(c.idleSeconds, t.IdleSeconds, l...)
		e.counter(c.allocCost, t.AllocatedCost, l...)
		e.counter(c.idleCost, t.IdleCost, l...)
	}
	for m := range models {
		e.gauge(c.hourlyPrice, c.cfg.Prices.For(m), m)
	}
}

// collectStatus sends whether NVML and the pod-resources API answered, the
// time of the last sample, the idle threshold and the sample errors.
func (c *Collector) collectStatus(e emitter) {
	s := c.snap
	if s.nvml.Up {
		e.gauge(c.nvmlUp, 1, "")
		e.gauge(c.driverInfo, 1, s.nvml.DriverVersion)
	} else {
		reason := s.nvml.Reason
		if reason == "" && s.at.IsZero() {
			reason = "not sampled yet"
		}
		e.gauge(c.nvmlUp, 0, reason)
	}
	if !s.at.IsZero() {
		if s.prErr != nil {
			e.gauge(c.prUp, 0, s.prErr.Error())
		} else {
			e.gauge(c.prUp, 1, "")
		}
		e.gauge(c.lastStamp, float64(s.at.UnixNano())/1e9)
	}
	e.gauge(c.idleThreshold, c.cfg.IdleThreshold)
	for _, src := range []string{"nvml", "podresources"} {
		e.counter(c.sampleErrors, c.errCounts[src], src)
	}
}

// devOwner is one owner of a whole GPU and whether its share is idle.
type devOwner struct {
	o    Owner
	idle bool
}

// collectDevices sends the allocations and the per-device and per-MIG
// metrics, once per owner of the device, and returns the GPU models seen.
func (c *Collector) collectDevices(e emitter) map[string]bool {
	s := c.snap
	byGPU := map[string][]devOwner{}
	for i, a := range s.allocs {
		if a.migUUID == "" {
			byGPU[a.gpuUUID] = append(byGPU[a.gpuUUID], devOwner{o: a.owner, idle: s.idle[i]})
		}
		e.gauge(c.allocated, a.share, strconv.Itoa(a.gpuIndex), a.gpuUUID, a.model, a.migUUID, a.migProfile, a.owner.Pod, a.owner.Namespace, a.owner.Container)
	}
	models := map[string]bool{}
	for _, d := range s.devices {
		models[d.Model] = true
		owners := byGPU[d.UUID]
		if len(owners) == 0 {
			owners = []devOwner{{}}
		}
		for _, do := range owners {
			c.collectDevice(e, d, do)
		}
		for _, m := range d.MIG {
			c.collectMIG(e, d, m)
		}
	}
	return models
}

// collectDevice sends one device's metrics labelled with one owner.
func (c *Collector) collectDevice(e emitter, d gpu.Device, do devOwner) {
	l := []string{strconv.Itoa(d.Index), d.UUID, d.Model, do.o.Pod, do.o.Namespace, do.o.Container}
	if d.GPUUtilization != nil {
		e.gauge(c.util, *d.GPUUtilization, l...)
	}
	if d.MemoryUtilization != nil {
		e.gauge(c.memUtil, *d.MemoryUtilization, l...)
	}
	e.gauge(c.memUsed, float64(d.MemoryUsedBytes), l...)
	e.gauge(c.memTotal, float64(d.MemoryTotalBytes), l...)
	if d.PowerWatts != nil {
		e.gauge(c.power, *d.PowerWatts, l...)
	}
	if d.TemperatureCelsius != nil {
		e.gauge(c.temp, *d.TemperatureCelsius, l...)
	}
	if do.o != (Owner{}) {
		e.gauge(c.idleAllocated, b2f(do.idle), l...)
	}
}

// collectMIG sends a MIG device's memory, once per owner.
func (c *Collector) collectMIG(e emitter, d gpu.Device, m gpu.MIGDevice) {
	owners := []Owner{{}}
	var found []Owner
	for _, a := range c.snap.allocs {
		if a.migUUID == m.UUID {
			found = append(found, a.owner)
		}
	}
	if len(found) > 0 {
		owners = found
	}
	for _, o := range owners {
		l := []string{strconv.Itoa(d.Index), d.UUID, d.Model, m.UUID, m.Profile, strconv.Itoa(m.GPUInstanceID), strconv.Itoa(m.ComputeInstanceID), o.Pod, o.Namespace, o.Container}
		e.gauge(c.migMemUsed, float64(m.MemoryUsedBytes), l...)
		e.gauge(c.migMemTotal, float64(m.MemoryTotalBytes), l...)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
