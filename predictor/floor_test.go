package predictor

import (
	"math"
	"testing"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
)

func TestFloorPolicy(t *testing.T) {
	p := FloorPolicy{
		Min: 1, Max: 20, Hysteresis: 0.1,
		DownDelay: 10 * time.Minute, DownInterval: 5 * time.Minute, DownStep: 2,
		HoldFor: 30 * time.Minute,
	}
	// step is one decision: at minute at, the desired floor (ok false: no
	// forecast), and the floor and reason wanted afterwards.
	type step struct {
		at      int
		desired int32
		ok      bool
		want    int32
		reason  string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first decision clamps to min", []step{{0, 0, true, 1, ReasonRise}}},
		{"clamps to max", []step{{0, 50, true, 20, ReasonRise}}},
		{"rises at once", []step{{0, 2, true, 2, ReasonRise}, {1, 15, true, 15, ReasonRise}, {2, 15, true, 15, ReasonSteady}}},
		{"small dips inside the band are ignored", []step{
			{0, 10, true, 10, ReasonRise}, {1, 9, true, 10, ReasonSteady}, {20, 9, true, 10, ReasonSteady},
		}},
		{"falls after the delay, by the step, at the rate limit", []step{
			{0, 10, true, 10, ReasonRise},
			{1, 2, true, 10, ReasonWaitDown},
			{10, 2, true, 10, ReasonWaitDown},
			{11, 2, true, 8, ReasonFall},
			{12, 2, true, 8, ReasonWaitDown},
			{16, 2, true, 6, ReasonFall},
			{21, 2, true, 4, ReasonFall},
			{26, 2, true, 2, ReasonFall},
			{31, 2, true, 2, ReasonSteady},
		}},
		{"one above the minimum still falls to it when only the minimum is wanted", []step{
			{0, 2, true, 2, ReasonRise},
			{1, 1, true, 2, ReasonWaitDown},
			{11, 1, true, 1, ReasonFall},
			{12, 1, true, 1, ReasonSteady},
		}},
		{"a fall never goes below the desired floor", []step{
			{0, 10, true, 10, ReasonRise}, {1, 8, true, 10, ReasonWaitDown}, {11, 8, true, 8, ReasonFall},
		}},
		{"a rise resets the wait to fall", []step{
			{0, 10, true, 10, ReasonRise},
			{1, 2, true, 10, ReasonWaitDown},
			{9, 12, true, 12, ReasonRise},
			{12, 2, true, 12, ReasonWaitDown},
			{20, 2, true, 12, ReasonWaitDown},
			{22, 2, true, 10, ReasonFall},
		}},
		{"holds the last good floor, then falls back to min", []step{
			{0, 10, true, 10, ReasonRise},
			{10, 0, false, 10, ReasonHold},
			{30, 0, false, 10, ReasonHold},
			{31, 0, false, 1, ReasonFallback},
			{40, 0, false, 1, ReasonFallback},
			{41, 6, true, 6, ReasonRise},
		}},
		{"no forecast ever means min", []step{{0, 0, false, 1, ReasonFallback}}},
		{"a hold starts the wait to fall again", []step{
			{0, 10, true, 10, ReasonRise},
			{1, 2, true, 10, ReasonWaitDown},
			{5, 0, false, 10, ReasonHold},
			{25, 0, false, 10, ReasonHold},
			{26, 2, true, 10, ReasonWaitDown},
			{35, 2, true, 10, ReasonWaitDown},
			{36, 2, true, 8, ReasonFall},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s FloorState
			for _, st := range tt.steps {
				var reason string
				s, reason = p.Decide(s, monday.Add(time.Duration(st.at)*time.Minute), st.desired, st.ok)
				if s.Floor != st.want || reason != st.reason {
					t.Fatalf("minute %d, desired %d ok %v: floor %d (%s), want %d (%s)", st.at, st.desired, st.ok, s.Floor, reason, st.want, st.reason)
				}
			}
		})
	}
}

// TestFloorErrorBand: below ten replicas the 10% band is empty, and the
// forecast's recent error, in replicas and rounded, is the band: a precise
// forecast lets a floor of 5 fall by one replica, one that usually misses
// by 2.4 replicas holds it until the desired floor is 3 below.
func TestFloorErrorBand(t *testing.T) {
	at := func(m int) time.Time { return monday.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name      string
		errorBand float64
		desired   int32
		want      int32
		reason    string
	}{
		{"no error: one replica below falls", 0, 4, 4, ReasonFall},
		{"error under half a replica: no band", 0.49, 4, 4, ReasonFall},
		{"error of 0.5 replica rounds to a band of one", 0.5, 4, 5, ReasonSteady},
		{"error of 2.4 replicas: two below is inside the band", 2.4, 3, 5, ReasonSteady},
		{"error of 2.4 replicas: three below falls", 2.4, 2, 3, ReasonFall},
		{"NaN error adds nothing", math.NaN(), 4, 4, ReasonFall},
		{"negative error adds nothing", -3, 4, 4, ReasonFall},
		{"huge error holds the floor", 1e300, 2, 5, ReasonSteady},
		{"huge error: the minimum alone still falls", 1e300, 1, 3, ReasonFall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultFloorPolicy(1, 20)
			p.ErrorBand = tt.errorBand
			s, _ := p.Decide(FloorState{}, at(0), 5, true)
			s, _ = p.Decide(s, at(1), tt.desired, true)
			got, reason := p.Decide(s, at(12), tt.desired, true)
			if got.Floor != tt.want || reason != tt.reason {
				t.Errorf("floor %d (%s) after 11 minutes at %d, want %d (%s)", got.Floor, reason, tt.desired, tt.want, tt.reason)
			}
		})
	}
}

// TestFloorFollowsChangedBounds lowers Max below the current floor and
// raises Min above it: the floor moves into the new bounds at the next
// decision, whether the forecast rises, falls or is missing.
func TestFloorFollowsChangedBounds(t *testing.T) {
	base := DefaultFloorPolicy(1, 40)
	at := func(m int) time.Time { return monday.Add(time.Duration(m) * time.Minute) }
	s, _ := base.Decide(FloorState{}, at(0), 33, true)
	if s.Floor != 33 {
		t.Fatalf("floor %d, want 33", s.Floor)
	}
	lower := base
	lower.Max = 5
	higher := base
	higher.Min = 36
	tests := []struct {
		name    string
		p       FloorPolicy
		desired int32
		ok      bool
		want    int32
	}{
		{"max lowered, forecast falling", lower, 2, true, 5},
		{"max lowered, forecast steady", lower, 33, true, 5},
		{"max lowered, no forecast", lower, 0, false, 5},
		{"min raised, forecast falling", higher, 2, true, 36},
		{"min raised, no forecast", higher, 0, false, 36},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := tt.p.Decide(s, at(1), tt.desired, tt.ok)
			if got.Floor != tt.want {
				t.Errorf("floor %d (%s), want %d", got.Floor, reason, tt.want)
			}
		})
	}
}

// TestFloorNeverFlaps feeds a desired floor that alternates every minute and
// checks that the floor changes direction at most once per DownDelay.
func TestFloorNeverFlaps(t *testing.T) {
	p := DefaultFloorPolicy(0, 100)
	var (
		s       FloorState
		changes int
		prev    int32
	)
	for m := range 240 {
		desired := int32(10)
		if m%2 == 1 {
			desired = 40
		}
		s, _ = p.Decide(s, monday.Add(time.Duration(m)*time.Minute), desired, true)
		if m > 0 && s.Floor != prev {
			changes++
		}
		prev = s.Floor
	}
	if changes != 1 || s.Floor != 40 {
		t.Fatalf("floor changed %d times and ended at %d; want one rise to 40 and no falls", changes, s.Floor)
	}
}

func TestFloorBusinessMin(t *testing.T) {
	bh, err := intent.ParseBusinessHours("Mon-Fri 08:00-18:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultFloorPolicy(0, 10)
	p.BusinessHours, p.BusinessMin = &bh, 3
	s, _ := p.Decide(FloorState{}, monday.Add(9*time.Hour), 0, true)
	if s.Floor != 3 {
		t.Errorf("floor in business hours %d, want 3", s.Floor)
	}
	s, _ = p.Decide(FloorState{}, monday.Add(20*time.Hour), 0, true)
	if s.Floor != 0 {
		t.Errorf("floor out of business hours %d, want 0", s.Floor)
	}
	s, _ = p.Decide(FloorState{}, monday.Add(9*time.Hour), 0, false)
	if s.Floor != 3 {
		t.Errorf("fallback floor in business hours %d, want 3", s.Floor)
	}
}

// TestFloorFallsPerTime: the falls' rate is a step per DownInterval of
// time, whatever the decisions' spacing. Decisions every 15 minutes (a
// backtest at a 15-minute step) reach the floor that decisions every
// minute reach, at the same times, instead of one step per decision.
func TestFloorFallsPerTime(t *testing.T) {
	p := FloorPolicy{
		Min: 0, Max: 40,
		DownDelay: 10 * time.Minute, DownInterval: 5 * time.Minute, DownStep: 2,
	}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	run := func(every int) map[int]int32 {
		var s FloorState
		s, _ = p.Decide(s, t0, 30, true)
		floors := map[int]int32{}
		for m := every; m <= 75; m += every {
			// The desired floor drops at minute 15, where both
			// cadences decide.
			desired := int32(30)
			if m >= 15 {
				desired = 0
			}
			s, _ = p.Decide(s, t0.Add(time.Duration(m)*time.Minute), desired, true)
			floors[m] = s.Floor
		}
		return floors
	}
	minute, quarter := run(1), run(15)
	for _, m := range []int{15, 30, 45, 60, 75} {
		if minute[m] != quarter[m] {
			t.Errorf("minute %d: floor %d with decisions every 15 minutes, %d with decisions every minute", m, quarter[m], minute[m])
		}
	}
	// Below the band from minute 15: falls of 2 at 25, 30, 35, ...
	if got, want := quarter[45], int32(30-2*5); got != want {
		t.Errorf("minute 45: floor %d, want %d (five falls of 2, at 25, 30, 35, 40 and 45)", got, want)
	}
}
