package recommend

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
)

// repeat returns v n times.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func concat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRecommend(t *testing.T) {
	nan := math.NaN()
	step := 5 * time.Minute
	for _, tc := range []struct {
		name       string
		h          History
		o          func(*Options)
		min, max   int
		toZero     bool
		noTarget   bool
		saved      float64
		reasonHint string
	}{
		{
			// 4 GPUs held all day; busy 12h at 35% (2 replicas at 70%),
			// idle (no demand) 12h.
			name: "idle nights scale to zero",
			h: History{Step: step,
				GPUs:        repeat(4, 288),
				Utilization: concat(repeat(35, 144), repeat(0, 144)),
				Demand:      concat(repeat(10, 144), repeat(0, 144)),
			},
			min: 0, max: 3, toZero: true,
			saved:      96 - 24, // 4 GPUs x 24h observed; 2 GPUs x 12h recommended
			reasonHint: "idle 50% of the window, up to 12h0m0s",
		},
		{
			name: "short idle gaps keep a floor",
			h: History{Step: step,
				GPUs:        repeat(2, 24),
				Utilization: concat(repeat(90, 10), repeat(1, 4), repeat(90, 10)),
			},
			min: 3, max: 4, toZero: false,
			saved:      2*2 - 3*2, // recommended 3 replicas for 2h: needs more than it had
			reasonHint: "longest idle stretch was 20m0s",
		},
		{
			name: "MIG slices: GPUs per replica below one, no utilisation",
			h: History{Step: step,
				GPUs:        repeat(0.5, 12),
				Utilization: repeat(nan, 12),
			},
			o:   func(o *Options) { o.GPUsPerReplica = 0.25 },
			min: 2, max: 3, toZero: false, noTarget: true,
			saved:      0,
			reasonHint: "no gpu-target: no GPU utilisation was recorded",
		},
		{
			name: "no demand data, low utilisation counts as idle",
			h: History{Step: step,
				GPUs:        repeat(1, 12),
				Utilization: repeat(2, 12),
			},
			min: 0, max: 1, toZero: true,
			saved:      1,
			reasonHint: "idle 100%",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			if tc.o != nil {
				tc.o(&o)
			}
			r, err := Recommend(tc.h, o)
			if err != nil {
				t.Fatal(err)
			}
			wantTarget := 70
			if tc.noTarget {
				wantTarget = 0
			}
			if r.MinReplicas != tc.min || r.MaxReplicas != tc.max || r.ScaleToZero != tc.toZero || r.GPUTarget != wantTarget {
				t.Errorf("got min %d max %d zero %v target %d, want %d %d %v %d", r.MinReplicas, r.MaxReplicas, r.ScaleToZero, r.GPUTarget, tc.min, tc.max, tc.toZero, wantTarget)
			}
			for _, a := range r.Annotations() {
				if a[0] == intent.KeyGPUTarget && tc.noTarget {
					t.Errorf("annotations suggest %s: %s with no utilisation recorded", a[0], a[1])
				}
			}
			if math.Abs(r.GPUHoursSaved-tc.saved) > 1e-9 {
				t.Errorf("GPU-hours saved = %v (observed %v, recommended %v), want %v", r.GPUHoursSaved, r.GPUHoursObserved, r.GPUHoursRecommended, tc.saved)
			}
			if all := strings.Join(r.Reasons, "\n"); !strings.Contains(all, tc.reasonHint) {
				t.Errorf("reasons do not mention %q:\n%s", tc.reasonHint, all)
			}
			if len(r.Reasons) < 3 {
				t.Errorf("got %d reasons, want bounds, max and target at least", len(r.Reasons))
			}
		})
	}
}

// TestRecommendMissingData: steps without data before a workload's
// history starts, or after it ends, counted as idle, so a workload busy
// whenever there was data got scale-to-zero; they are dropped now, and
// the reasons say how much of the window held data. Gaps in between still
// count as idle (a workload at zero records nothing), with a note.
func TestRecommendMissingData(t *testing.T) {
	nan := math.NaN()
	step := 5 * time.Minute
	day := 288
	busy := func(n int) ([]float64, []float64, []float64) { return repeat(2, n), repeat(50, n), repeat(5, n) }
	g, u, d := busy(2 * day)
	late := History{Step: step,
		GPUs: concat(repeat(nan, 5*day), g), Utilization: concat(repeat(nan, 5*day), u), Demand: concat(repeat(nan, 5*day), d)}
	r, err := Recommend(late, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if r.ScaleToZero || r.MinReplicas == 0 || r.Window != 48*time.Hour {
		t.Errorf("a workload busy for the 2 days it has data: min %d, scale to zero %v, window %v; want no scale-to-zero over 48h", r.MinReplicas, r.ScaleToZero, r.Window)
	}
	if all := strings.Join(r.Reasons, "\n"); !strings.Contains(all, "the history holds data for 48h0m0s of the 168h0m0s window (none in its first 120h0m0s, none in its last 0s)") {
		t.Errorf("reasons do not say how much of the window held data:\n%s", all)
	}

	// Two hours without data in the middle of a busy week.
	g, u, d = busy(7 * day)
	for i := 3 * day; i < 3*day+24; i++ {
		g[i], u[i], d[i] = nan, nan, nan
	}
	r, err = Recommend(History{Step: step, GPUs: g, Utilization: u, Demand: d}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(r.Reasons, "\n"); !strings.Contains(all, "24 step(s) (2h0m0s) in between hold no data and count as idle") {
		t.Errorf("reasons do not note the gap:\n%s", all)
	}

	// Values that cannot be data are left out, and said so.
	g, u, d = busy(day)
	g[10], u[11], u[12] = math.Inf(1), 250, -3
	r, err = Recommend(History{Step: step, GPUs: g, Utilization: u, Demand: d}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(r.Reasons, "\n"); !strings.Contains(all, "3 value(s) that cannot be data") || math.IsInf(r.GPUHoursObserved, 0) || r.MaxReplicas > 3 {
		t.Errorf("max %d, GPU-hours %v, reasons:\n%s", r.MaxReplicas, r.GPUHoursObserved, all)
	}
}

// TestRecommendDemandAgainstGPUs: demand 0 all week on GPUs 90% busy was
// "never busy" without a word; the reasons say what idle meant and that
// the two disagree.
func TestRecommendDemandAgainstGPUs(t *testing.T) {
	n := 288
	r, err := Recommend(History{Step: 5 * time.Minute, GPUs: repeat(2, n), Utilization: repeat(90, n), Demand: repeat(0, n)}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(r.Reasons, "\n")
	for _, want := range []string{"idle means no demand on the 288 of 288 steps with demand data", "the GPUs were 90% busy on average on the steps without demand"} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons do not say %q:\n%s", want, all)
		}
	}
}

// TestRecommendMIGHint: a workload holding a quarter of a GPU, read with
// the default --gpus-per-replica 1, got "84 GPU-hours more needed" without
// a hint; the reasons now say what one pod held.
func TestRecommendMIGHint(t *testing.T) {
	n := 288
	r, err := Recommend(History{Step: 5 * time.Minute, GPUs: repeat(0.25, n), Utilization: repeat(math.NaN(), n)}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(r.Reasons, "\n"); !strings.Contains(all, "the workload held as little as 0.25 GPU(s), less than --gpus-per-replica 1") {
		t.Errorf("reasons give no --gpus-per-replica hint:\n%s", all)
	}
}

func TestRecommendErrors(t *testing.T) {
	ok := History{Step: time.Minute, GPUs: []float64{1}, Utilization: []float64{50}}
	for _, tc := range []struct {
		name string
		h    History
		o    func(*Options)
		want string
	}{
		{"no data", History{Step: time.Minute}, nil, "no GPU history"},
		{"no value", History{Step: time.Minute, GPUs: []float64{math.NaN(), math.NaN()}, Utilization: []float64{math.NaN(), math.NaN()}}, nil, "no GPU history: no step of the window holds a value"},
		{"no GPU held", History{Step: time.Minute, GPUs: []float64{0, 0, 0}, Utilization: []float64{0, 0, 0}}, nil, "no GPU history: the workload held no GPU in the window"},
		{"no step", History{GPUs: []float64{1}, Utilization: []float64{1}}, nil, "step"},
		{"lengths", History{Step: time.Minute, GPUs: []float64{1, 2}, Utilization: []float64{1}}, nil, "lengths differ"},
		{"gpus per replica", ok, func(o *Options) { o.GPUsPerReplica = 0 }, "--gpus-per-replica"},
		{"target", ok, func(o *Options) { o.TargetUtilization = 0 }, "--gpu-target"},
		{"idle threshold", ok, func(o *Options) { o.IdleThreshold = 80 }, "--idle-threshold"},
		{"min idle", ok, func(o *Options) { o.MinIdleStretch = 0 }, "--min-idle"},
		{"headroom", ok, func(o *Options) { o.Headroom = -1 }, "--headroom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			if tc.o != nil {
				tc.o(&o)
			}
			if _, err := Recommend(tc.h, o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestAnnotationsAndWeek(t *testing.T) {
	r := Recommendation{MinReplicas: 0, MaxReplicas: 3, GPUTarget: 70, ScaleToZero: true, Window: 24 * time.Hour, GPUHoursSaved: 10}
	got := r.Annotations()
	want := [][2]string{{"mlscale.io/min-replicas", "0"}, {"mlscale.io/max-replicas", "3"}, {"mlscale.io/gpu-target", "70"}, {"mlscale.io/scale-to-zero", "true"}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("annotation %d = %v, want %v", i, got[i], want[i])
		}
	}
	if w := r.GPUHoursSavedPerWeek(); w != 70 {
		t.Errorf("per week = %v, want 70", w)
	}
}
