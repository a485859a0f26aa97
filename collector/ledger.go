package collector

import (
	"time"
)

// Owner is the container an allocation is accounted to.
type Owner struct {
	// Namespace, Pod and Container name the container.
	Namespace, Pod, Container string
}

// Usage is one device held by one container at one sample.
type Usage struct {
	// Device is the UUID of the GPU or MIG device.
	Device string
	// Model is the GPU model (of the parent GPU for a MIG device).
	Model string
	// Owner holds the device.
	Owner Owner
	// Share is the number of GPUs the owner holds through this device: 1
	// for a whole GPU, the slice share for a MIG device, divided by the
	// number of containers when the device is time-sliced.
	Share float64
	// Utilization is the device's GPU utilisation in percent; nil when
	// unknown (MIG devices), in which case the device is never idle.
	Utilization *float64
}

// Totals are what one container has consumed of one GPU model so far.
type Totals struct {
	// AllocatedSeconds are GPU-seconds allocated.
	AllocatedSeconds float64
	// IdleSeconds are GPU-seconds allocated while under the idle threshold.
	IdleSeconds float64
	// AllocatedCost and IdleCost are their prices.
	AllocatedCost, IdleCost float64
}

// TotalsKey identifies a Totals entry.
type TotalsKey struct {
	// Owner is the container.
	Owner Owner
	// Model is the GPU model.
	Model string
}

type deviceOwner struct {
	device string
	owner  Owner
}

// Ledger accounts allocated and idle GPU time from successive samples. It is
// pure (time comes in as an argument) and not safe for concurrent use.
type Ledger struct {
	// Threshold is the utilisation (percent) under which a GPU is idle.
	Threshold float64
	// Window is how long a device must stay idle before IdleFor reports it.
	Window time.Duration
	// MaxGap caps the time credited between two samples, so that a pause of
	// the collector is not billed as if every allocation had lasted.
	MaxGap time.Duration
	// Retain is how long the totals of a container no longer seen are kept
	// (and exported), so that Prometheus sees their last value.
	Retain time.Duration
	// Price returns the price of one GPU-hour of a model.
	Price func(model string) float64

	last      time.Time
	totals    map[TotalsKey]*Totals
	lastSeen  map[TotalsKey]time.Time
	idleSince map[deviceOwner]time.Time
}

// Observe records the usages seen at now. The time since the previous
// observation (at most MaxGap; none for the first) is credited to each
// usage: Share GPU-seconds per second, as idle time too when its
// utilisation is under Threshold. It returns, for each usage in order,
// whether the device has been allocated to the same owner and under the
// threshold for at least Window.
func (l *Ledger) Observe(now time.Time, usages []Usage) []bool {
	if l.totals == nil {
		l.totals = map[TotalsKey]*Totals{}
		l.lastSeen = map[TotalsKey]time.Time{}
		l.idleSince = map[deviceOwner]time.Time{}
	}
	var dt float64
	if !l.last.IsZero() && now.After(l.last) {
		gap := now.Sub(l.last)
		if l.MaxGap > 0 && gap > l.MaxGap {
			gap = l.MaxGap
		}
		dt = gap.Seconds()
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	idle := make([]bool, len(usages))
	seen := make(map[deviceOwner]bool, len(usages))
	for i, u := range usages {
		k := TotalsKey{Owner: u.Owner, Model: u.Model}
		t := l.totals[k]
		if t == nil {
			t = &Totals{}
			l.totals[k] = t
		}
		l.lastSeen[k] = now
		price := 0.0
		if l.Price != nil {
			price = l.Price(u.Model)
		}
		gpuSeconds := u.Share * dt
		t.AllocatedSeconds += gpuSeconds
		t.AllocatedCost += gpuSeconds / 3600 * price
		do := deviceOwner{device: u.Device, owner: u.Owner}
		seen[do] = true
		below := u.Utilization != nil && *u.Utilization < l.Threshold
		if !below {
			delete(l.idleSince, do)
			continue
		}
		t.IdleSeconds += gpuSeconds
		t.IdleCost += gpuSeconds / 3600 * price
		since, ok := l.idleSince[do]
		if !ok {
			since = now
			l.idleSince[do] = now
		}
		idle[i] = now.Sub(since) >= l.Window
	}
	for do := range l.idleSince {
		if !seen[do] {
			delete(l.idleSince, do)
		}
	}
	for k, at := range l.lastSeen {
		if now.Sub(at) > l.Retain {
			delete(l.totals, k)
			delete(l.lastSeen, k)
		}
	}
	return idle
}

// Totals returns a copy of the totals per container and model.
func (l *Ledger) Totals() map[TotalsKey]Totals {
	out := make(map[TotalsKey]Totals, len(l.totals))
	for k, t := range l.totals {
		out[k] = *t
	}
	return out
}
