package collector

import (
	"reflect"
	"testing"
	"time"
)

func TestLedgerObserve(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	pct := func(v float64) *float64 { return &v }
	a := Owner{Namespace: "ml", Pod: "llm-0", Container: "vllm"}
	b := Owner{Namespace: "ml", Pod: "asr-0", Container: "asr"}
	type step struct {
		at     time.Duration
		usages []Usage
		idle   []bool
	}
	for _, tc := range []struct {
		name   string
		window time.Duration
		steps  []step
		want   map[TotalsKey]Totals
	}{
		{
			name:   "busy GPU accrues allocated time only",
			window: time.Minute,
			steps: []step{
				{0, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(90)}}, []bool{false}},
				{30 * time.Second, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(90)}}, []bool{false}},
			},
			want: map[TotalsKey]Totals{{a, "H100"}: {AllocatedSeconds: 30, AllocatedCost: 30.0 / 3600 * 4}},
		},
		{
			name:   "idle becomes reportable after the window",
			window: time.Minute,
			steps: []step{
				{0, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(1)}}, []bool{false}},
				{30 * time.Second, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(1)}}, []bool{false}},
				{60 * time.Second, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(2)}}, []bool{true}},
				{90 * time.Second, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(50)}}, []bool{false}},
				{120 * time.Second, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(0)}}, []bool{false}},
			},
			want: map[TotalsKey]Totals{{a, "H100"}: {AllocatedSeconds: 120, IdleSeconds: 90, AllocatedCost: 120.0 / 3600 * 4, IdleCost: 90.0 / 3600 * 4}},
		},
		{
			name:   "a new owner restarts the idle window",
			window: time.Minute,
			steps: []step{
				{0, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(0)}}, []bool{false}},
				{60 * time.Second, []Usage{{Device: "G1", Model: "H100", Owner: b, Share: 1, Utilization: pct(0)}}, []bool{false}},
				{120 * time.Second, []Usage{{Device: "G1", Model: "H100", Owner: b, Share: 1, Utilization: pct(0)}}, []bool{true}},
			},
			want: map[TotalsKey]Totals{
				{b, "H100"}: {AllocatedSeconds: 120, IdleSeconds: 120, AllocatedCost: 120.0 / 3600 * 4, IdleCost: 120.0 / 3600 * 4},
			},
		},
		{
			name:   "MIG share and unknown utilisation",
			window: 0,
			steps: []step{
				{0, []Usage{{Device: "M1", Model: "A100", Owner: b, Share: 3.0 / 7}}, []bool{false}},
				{70 * time.Second, []Usage{{Device: "M1", Model: "A100", Owner: b, Share: 3.0 / 7}}, []bool{false}},
			},
			want: map[TotalsKey]Totals{{b, "A100"}: {AllocatedSeconds: 30, AllocatedCost: 30.0 / 3600 * 2}},
		},
		{
			name:   "a gap longer than MaxGap is capped",
			window: time.Hour,
			steps: []step{
				{0, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(90)}}, nil},
				{time.Hour, []Usage{{Device: "G1", Model: "H100", Owner: a, Share: 1, Utilization: pct(90)}}, nil},
			},
			want: map[TotalsKey]Totals{{a, "H100"}: {AllocatedSeconds: 120, AllocatedCost: 120.0 / 3600 * 4}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Ledger{Threshold: 5, Window: tc.window, MaxGap: 2 * time.Minute, Retain: 30 * time.Second,
				Price: Prices{Default: 2, Models: map[string]float64{"H100": 4}}.For}
			for i, s := range tc.steps {
				idle := l.Observe(t0.Add(s.at), s.usages)
				if s.idle != nil && !reflect.DeepEqual(idle, s.idle) {
					t.Errorf("step %d: idle = %v, want %v", i, idle, s.idle)
				}
			}
			got := l.Totals()
			if len(got) != len(tc.want) {
				t.Fatalf("totals = %+v, want %+v", got, tc.want)
			}
			for k, w := range tc.want {
				g := got[k]
				if !near(g.AllocatedSeconds, w.AllocatedSeconds) || !near(g.IdleSeconds, w.IdleSeconds) ||
					!near(g.AllocatedCost, w.AllocatedCost) || !near(g.IdleCost, w.IdleCost) {
					t.Errorf("totals[%v] = %+v, want %+v", k, g, w)
				}
			}
		})
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
