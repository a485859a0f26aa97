// Package recommend suggests a workload's autoscaling annotations (min and
// max replicas, GPU target, scale to zero) from its GPU and demand history,
// with the reasons and the GPU-hours the suggestion would have saved over
// that history.
//
// Recommend is pure; Fetch reads the history from Prometheus (the recorded
// series of deploy/prometheus/rules/mlscale.rules.yaml) through
// client_golang's HTTP API client.
package recommend

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
)

// History is a workload's history at a regular step. The slices have one
// entry per step, oldest first; NaN means no data at that step.
type History struct {
	// Step is the time between two entries.
	Step time.Duration
	// Utilization is the mean GPU utilisation (percent) of the workload's
	// pods.
	Utilization []float64
	// GPUs is the number of GPUs allocated to the workload (NaN counts as 0).
	GPUs []float64
	// Demand is the workload's demand (e.g. requests per second or queue
	// length); nil when unknown, in which case idleness is judged from the
	// GPUs alone.
	Demand []float64
}

// Options tune the recommendation.
type Options struct {
	// GPUsPerReplica is the number of GPUs one replica holds (> 0).
	GPUsPerReplica float64
	// TargetUtilization is the GPU utilisation (percent) to scale to, the
	// recommended mlscale.io/gpu-target.
	TargetUtilization float64
	// IdleThreshold is the utilisation (percent) under which a step without
	// demand data counts as idle.
	IdleThreshold float64
	// MinIdleStretch is the shortest idle period for which scaling to zero is
	// worth a GPU pod's cold start.
	MinIdleStretch time.Duration
	// Headroom is added to the peak replica count for max-replicas (0.2 =
	// 20%).
	Headroom float64
}

// DefaultOptions returns the defaults of `mlscale recommend`.
func DefaultOptions() Options {
	return Options{GPUsPerReplica: 1, TargetUtilization: 70, IdleThreshold: 5, MinIdleStretch: 30 * time.Minute, Headroom: 0.2}
}

// Validate checks the options; errors name the flag and the allowed values.
func (o Options) Validate() error {
	var errs []error
	if !(o.GPUsPerReplica > 0 && o.GPUsPerReplica <= maxGPUs) {
		errs = append(errs, fmt.Errorf("--gpus-per-replica %v: allowed: a number above 0 and at most a million, e.g. 1 or 0.5 for a MIG slice", o.GPUsPerReplica))
	}
	targetOK := o.TargetUtilization >= 1 && o.TargetUtilization <= 100
	if !targetOK {
		errs = append(errs, fmt.Errorf("--gpu-target %v: allowed: a percent from 1 to 100", o.TargetUtilization))
	}
	// Against a bad --gpu-target the threshold is checked against 100
	// only, so that one mistake makes one message.
	switch {
	case targetOK && !(o.IdleThreshold >= 0 && o.IdleThreshold < o.TargetUtilization):
		errs = append(errs, fmt.Errorf("--idle-threshold %v: allowed: a percent from 0 to below --gpu-target (%v)", o.IdleThreshold, o.TargetUtilization))
	case !targetOK && !(o.IdleThreshold >= 0 && o.IdleThreshold < 100):
		errs = append(errs, fmt.Errorf("--idle-threshold %v: allowed: a percent from 0 to below --gpu-target", o.IdleThreshold))
	}
	if o.MinIdleStretch <= 0 {
		errs = append(errs, fmt.Errorf("--min-idle %v: allowed: a duration above 0, e.g. 30m", o.MinIdleStretch))
	}
	if !(o.Headroom >= 0 && o.Headroom <= 10) {
		errs = append(errs, fmt.Errorf("--headroom %v: allowed: a fraction from 0 to 10, e.g. 0.2 for 20%%", o.Headroom))
	}
	return errors.Join(errs...)
}

// Recommendation is the suggested configuration and why.
type Recommendation struct {
	// MinReplicas and MaxReplicas are the suggested bounds.
	MinReplicas, MaxReplicas int
	// GPUTarget is the suggested mlscale.io/gpu-target; 0 where no GPU
	// utilisation was recorded (MIG devices report none), where a GPU
	// trigger would read nothing and none is suggested.
	GPUTarget int
	// ScaleToZero is the suggested mlscale.io/scale-to-zero.
	ScaleToZero bool
	// Reasons explain each suggestion, in the order of the annotations.
	Reasons []string
	// Window is the length of the history.
	Window time.Duration
	// GPUHoursObserved are the GPU-hours the workload held over the window;
	// GPUHoursRecommended those it would have held with the suggestion;
	// GPUHoursSaved the difference (negative: the suggestion needs more).
	GPUHoursObserved, GPUHoursRecommended, GPUHoursSaved float64
}

// Annotations returns the suggestion as mlscale.io annotations.
func (r Recommendation) Annotations() [][2]string {
	out := [][2]string{
		{intent.KeyMinReplicas, strconv.Itoa(r.MinReplicas)},
		{intent.KeyMaxReplicas, strconv.Itoa(r.MaxReplicas)},
	}
	if r.GPUTarget > 0 {
		out = append(out, [2]string{intent.KeyGPUTarget, strconv.Itoa(r.GPUTarget)})
	}
	return append(out, [2]string{intent.KeyScaleToZero, strconv.FormatBool(r.ScaleToZero)})
}

// GPUHoursSavedPerWeek scales GPUHoursSaved to one week.
func (r Recommendation) GPUHoursSavedPerWeek() float64 {
	if r.Window <= 0 {
		return 0
	}
	return r.GPUHoursSaved * float64(7*24*time.Hour) / float64(r.Window)
}

// Recommend suggests annotations for a workload with history h.
func Recommend(h History, o Options) (Recommendation, error) {
	if err := o.Validate(); err != nil {
		return Recommendation{}, err
	}
	n := len(h.GPUs)
	switch {
	case h.Step <= 0:
		return Recommendation{}, fmt.Errorf("history step %v: must be above 0", h.Step)
	case n == 0:
		return Recommendation{}, errors.New("no GPU history: the workload held no GPU in the window, or the collector's recording rules are not installed")
	case len(h.Utilization) != n || (h.Demand != nil && len(h.Demand) != n):
		return Recommendation{}, fmt.Errorf("history lengths differ: %d GPU, %d utilisation, %d demand points", n, len(h.Utilization), len(h.Demand))
	}
	h, notes, err := covered(h)
	if err != nil {
		return Recommendation{}, err
	}
	n = len(h.GPUs)
	stepHours := h.Step.Hours()
	u := usageOf(h, o)
	window := time.Duration(n) * h.Step
	longest, idleSteps := idleStretches(u.idle)
	if len(u.busyNeeded) == 0 && u.observed == 0 {
		return Recommendation{}, errors.New("no GPU history: the workload held no GPU in the window (every recorded count is 0)")
	}
	r := Recommendation{GPUTarget: int(math.Round(o.TargetUtilization)), Window: window, GPUHoursObserved: u.observed}
	r.bounds(u, time.Duration(longest)*h.Step, 100*float64(idleSteps)/float64(n), o)

	if len(u.utils) > 0 {
		r.Reasons = append(r.Reasons,
			fmt.Sprintf("gpu-target %d: observed GPU utilisation averaged %.0f%% (95th percentile %.0f%%); %d%% keeps headroom for bursts while packing work onto fewer GPUs", r.GPUTarget, mean(u.utils), percentile(u.utils, 95), r.GPUTarget))
	} else {
		r.Reasons = append(r.Reasons, "no gpu-target: no GPU utilisation was recorded (MIG devices report none), so a GPU trigger would read nothing (admission refuses one on pods whose GPUs are only MIG slices); scale on mlscale.io/rabbitmq-queue or mlscale.io/prometheus-query")
		r.GPUTarget = 0
	}

	var recommended float64
	for i := range n {
		var reps float64
		if !(r.ScaleToZero && u.idle[i]) {
			reps = min(max(u.needed[i], float64(r.MinReplicas)), float64(r.MaxReplicas))
		}
		recommended += reps * o.GPUsPerReplica * stepHours
	}
	r.GPUHoursRecommended = recommended
	r.GPUHoursSaved = u.observed - recommended
	r.Reasons = append(r.Reasons, notes...)
	r.Reasons = append(r.Reasons, idleBasis(u, n, o)...)
	if least := leastHeld(h.GPUs); least > 0 && least < o.GPUsPerReplica {
		r.Reasons = append(r.Reasons, fmt.Sprintf("the workload held as little as %v GPU(s), less than --gpus-per-replica %v: if one replica holds a MIG slice or a share of a GPU, give what one pod holds (e.g. --gpus-per-replica %v)", least, o.GPUsPerReplica, least))
	}
	return r, nil
}

// maxGPUs is more GPUs than any workload holds: a count above it is a
// broken series, not data.
const maxGPUs = 1e6

// covered cleans the history and cuts it to the steps with data: values
// that cannot be data (not finite, a utilisation outside 0-100%, a GPU
// count below 0 or above maxGPUs) become NaN, and the steps before the
// first and after the last with any data are dropped, as the workload did
// not exist then, or Prometheus has nothing (yet): counted as idle, they
// made a busy workload look idle. It returns notes on what it did, for
// the reasons.
func covered(h History) (History, []string, error) {
	n := len(h.GPUs)
	bad := 0
	clean := func(xs []float64, lo, hi float64) []float64 {
		if xs == nil {
			return nil
		}
		out := slices.Clone(xs)
		for i, x := range out {
			if !math.IsNaN(x) && !(x >= lo && x <= hi) {
				out[i] = math.NaN()
				bad++
			}
		}
		return out
	}
	h.GPUs = clean(h.GPUs, 0, maxGPUs)
	h.Utilization = clean(h.Utilization, 0, 100)
	h.Demand = clean(h.Demand, 0, math.MaxFloat64)
	has := func(i int) bool {
		return !math.IsNaN(h.GPUs[i]) || !math.IsNaN(h.Utilization[i]) || (h.Demand != nil && !math.IsNaN(h.Demand[i]))
	}
	first, last := -1, -1
	for i := range n {
		if has(i) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return History{}, nil, errors.New("no GPU history: no step of the window holds a value (or only values that cannot be data)")
	}
	var notes []string
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("%d value(s) that cannot be data (not finite, a utilisation outside 0-100%%, a GPU count below 0 or above a million) were left out", bad))
	}
	if first > 0 || last < n-1 {
		notes = append(notes, fmt.Sprintf("the history holds data for %v of the %v window (none in its first %v, none in its last %v): only that part is counted",
			time.Duration(last-first+1)*h.Step, time.Duration(n)*h.Step, time.Duration(first)*h.Step, time.Duration(n-1-last)*h.Step))
	}
	h.GPUs, h.Utilization = h.GPUs[first:last+1], h.Utilization[first:last+1]
	if h.Demand != nil {
		h.Demand = h.Demand[first : last+1]
	}
	gaps := 0
	for i := range h.GPUs {
		if !has(i) {
			gaps++
		}
	}
	if gaps > 0 {
		notes = append(notes, fmt.Sprintf("%d step(s) (%v) in between hold no data and count as idle, as a workload at zero replicas records none; if it ran then (Prometheus or the collector was down), the suggestion to scale to zero is too eager",
			gaps, time.Duration(gaps)*h.Step))
	}
	if span := time.Duration(len(h.GPUs)) * h.Step; span < 24*time.Hour {
		notes = append(notes, fmt.Sprintf("the suggestion rests on %v of data; a week shows the daily cycle and the weekend", span))
	}
	return h, notes, nil
}

// usage is what the history says, step by step, about the replicas a
// workload needed.
type usage struct {
	// idle marks the steps without demand (or under the idle threshold).
	idle []bool
	// needed are the replicas each step needed at the target utilisation.
	needed []float64
	// busyNeeded are needed of the busy steps, at least 1; utils the
	// utilisation of the steps that recorded one.
	busyNeeded, utils []float64
	// observed is the GPU-hours the workload held.
	observed float64
	// byDemand counts the steps judged by demand data; idleUtils are the
	// utilisations recorded on the steps demand called idle.
	byDemand  int
	idleUtils []float64
}

// usageOf reads the history step by step.
func usageOf(h History, o Options) usage {
	n := len(h.GPUs)
	stepHours := h.Step.Hours()
	u := usage{idle: make([]bool, n), needed: make([]float64, n)}
	for i := range n {
		gpus := h.GPUs[i]
		if math.IsNaN(gpus) || gpus < 0 {
			gpus = 0
		}
		u.observed += gpus * stepHours
		replicas := gpus / o.GPUsPerReplica
		util := h.Utilization[i]
		switch {
		case replicas == 0:
			u.needed[i] = 0
		case math.IsNaN(util):
			u.needed[i] = math.Ceil(replicas) // no utilisation: keep what ran
		default:
			u.needed[i] = math.Ceil(replicas * util / o.TargetUtilization)
			u.utils = append(u.utils, util)
		}
		if h.Demand != nil && !math.IsNaN(h.Demand[i]) {
			u.idle[i] = h.Demand[i] <= 0
			u.byDemand++
			if u.idle[i] && !math.IsNaN(util) && replicas > 0 {
				u.idleUtils = append(u.idleUtils, util)
			}
		} else {
			u.idle[i] = replicas == 0 || (!math.IsNaN(util) && util < o.IdleThreshold)
		}
		if !u.idle[i] {
			u.busyNeeded = append(u.busyNeeded, max(u.needed[i], 1))
		}
	}
	return u
}

// leastHeld is the fewest GPUs held at a step that held any (0: none).
func leastHeld(gpus []float64) float64 {
	least := math.Inf(1)
	for _, g := range gpus {
		if g > 0 {
			least = min(least, g)
		}
	}
	if math.IsInf(least, 1) {
		return 0
	}
	return least
}

// idleBasis says what told idle steps from busy ones, where it was not
// the GPUs alone, and where the demand and the GPUs disagree: GPUs busy on
// the steps the demand calls idle mean the demand does not count this
// workload's work.
func idleBasis(u usage, n int, o Options) []string {
	if u.byDemand == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("idle means no demand on the %d of %d steps with demand data (the vLLM request rate, or --demand-query), GPU utilisation under --idle-threshold %v%% on the others", u.byDemand, n, o.IdleThreshold)}
	if len(u.idleUtils) > 0 {
		if m := mean(u.idleUtils); m >= o.TargetUtilization/2 {
			out = append(out, fmt.Sprintf("the GPUs were %.0f%% busy on average on the steps without demand: the demand may not count this workload's work; check --demand-query before scaling to zero", m))
		}
	}
	return out
}

// bounds chooses min and max replicas and scale-to-zero, with the reasons:
// scale to zero when the longest idle stretch pays for a cold start, a max
// that serves the peak with headroom.
func (r *Recommendation) bounds(u usage, longestIdle time.Duration, idleShare float64, o Options) {
	if longestIdle >= o.MinIdleStretch {
		r.ScaleToZero = true
		r.MinReplicas = 0
		r.Reasons = append(r.Reasons,
			fmt.Sprintf("min-replicas 0 and scale-to-zero true: idle %.0f%% of the window, up to %v at a stretch (at least --min-idle %v), long enough to pay for a GPU pod's cold start", idleShare, longestIdle, o.MinIdleStretch))
	} else {
		r.MinReplicas = 1
		if len(u.busyNeeded) > 0 {
			r.MinReplicas = max(1, int(percentile(u.busyNeeded, 5)))
		}
		r.Reasons = append(r.Reasons,
			fmt.Sprintf("min-replicas %d and scale-to-zero false: the longest idle stretch was %v, shorter than --min-idle %v, so a cold start would cost more than it saves; %d replica(s) were needed 95%% of the busy time", r.MinReplicas, longestIdle, o.MinIdleStretch, r.MinReplicas))
	}
	if len(u.busyNeeded) == 0 {
		r.MaxReplicas = max(r.MinReplicas, 1)
		r.Reasons = append(r.Reasons,
			fmt.Sprintf("max-replicas %d: the workload was never busy in the window; one replica serves the first demand", r.MaxReplicas))
	} else {
		peak := slices.Max(u.busyNeeded)
		r.MaxReplicas = max(r.MinReplicas, 1, int(math.Ceil(peak*(1+o.Headroom))))
		r.Reasons = append(r.Reasons,
			fmt.Sprintf("max-replicas %d: the peak needed %v replica(s) at %v%% GPU utilisation, plus %.0f%% headroom", r.MaxReplicas, peak, o.TargetUtilization, 100*o.Headroom))
	}
}

// idleStretches returns the longest run of idle steps and the number of idle
// steps.
func idleStretches(idle []bool) (longest, total int) {
	run := 0
	for _, b := range idle {
		if b {
			run++
			total++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest, total
}

// percentile returns the p-th percentile (nearest rank) of xs (not empty).
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank-1, 0), len(s)-1)]
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}
