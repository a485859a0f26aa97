package predictor

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// CalibratorState is what a Calibrator learned, in a form that outlives
// the process (Calibrator.State, Calibrator.Restore): a new process, or a
// new leader, goes on with the same margins instead of starting again
// from the fit's in-sample errors, with the level at the target and the
// gain at its fast first value, whose swings cost capacity (started again
// daily in backtest, crane_input1's floors cost twice as much).
//
// The windows of scores are kept as sketches (see ScoreSketch); the rest
// is kept whole, the floats rounded to 6 significant digits.
type CalibratorState struct {
	// Target is the share of steps the floors may be under that the
	// level was learned for.
	Target float64 `json:"target"`
	// Level is the working level (Calibrator.Level).
	Level float64 `json:"level"`
	// Observed counts the evaluated floors, Missed those under the
	// actual peak.
	Observed int `json:"observed"`
	Missed   int `json:"missed"`
	// Recent is the recent mean absolute residual
	// (Calibrator.RecentError).
	Recent float64 `json:"recent"`
	// Mean is the running mean of the forecast peaks, over Means of them
	// (the count stops growing at a window).
	Mean  float64 `json:"mean"`
	Means int     `json:"means"`
	// Abs, Rel and Loc are the windows of the three scores: the
	// residuals, those over the demand scale and those over the recent
	// error.
	Abs ScoreSketch `json:"abs"`
	Rel ScoreSketch `json:"rel"`
	Loc ScoreSketch `json:"loc"`
	// Plain is the plain margin, at a target where it runs (5% or more;
	// see Calibrator). Absent from states saved before it: it starts at
	// the target again.
	Plain *PlainState `json:"plain,omitempty"`
	// Minutes are the local score's scales by minute of the hour, where
	// the latest forecast reported an hourly cycle (see
	// Calibrator.localScale); absent elsewhere, and from states saved
	// before them: they are learned again within the hour.
	Minutes *MinuteScales `json:"minutes,omitempty"`
}

// MinuteScales are the mean absolute residuals of the recent forecasts
// made at each minute of the hour (Abs, 60 of them) and how many
// forecasts each averages (N, at most 24).
type MinuteScales struct {
	Abs []float64 `json:"abs"`
	N   []int     `json:"n"`
}

// check returns an error unless m is well formed, naming the field.
func (m MinuteScales) check() error {
	if len(m.Abs) != 60 || len(m.N) != 60 {
		return fmt.Errorf("minutes: %d scales and %d counts, want 60 of each", len(m.Abs), len(m.N))
	}
	for k := range 60 {
		if !finite(m.Abs[k]) || m.Abs[k] < 0 {
			return fmt.Errorf("minutes.abs[%d]: %g, want a finite number, at least 0", k, m.Abs[k])
		}
		if m.N[k] < 0 || m.N[k] > minuteResiduals {
			return fmt.Errorf("minutes.n[%d]: %d, want 0 to %d", k, m.N[k], minuteResiduals)
		}
	}
	return nil
}

// PlainState is what the plain margin learned (see Calibrator). The
// margins of the forecasts whose windows are not over are not kept: the
// two margins are compared again from the next lookahead on.
type PlainState struct {
	// Level is its working level; On whether the floors take it.
	Level float64 `json:"level"`
	On    bool    `json:"on,omitempty"`
	// Cost and MainCost are the recent mean margins of the plain and the
	// main margin, Miss the share of the recent forecasts the plain one
	// missed or would have missed, N the forecasts compared.
	Cost     float64 `json:"cost"`
	MainCost float64 `json:"mainCost"`
	Miss     float64 `json:"miss"`
	N        int     `json:"n"`
}

// ScoreSketch is a window of N scores cut down to some of its order
// statistics: the largest, then every rank from the top whose distance
// from the top grows by about sketchGrowth each time, and the smallest
// (see sketchRanks), in ascending order. About 40 values stand for a
// window of 4,000, and they are densest where the margins are read: the
// upper tail. A restored window has N scores again, those between two
// kept ranks interpolated (see ScoreSketch.restore).
type ScoreSketch struct {
	N      int       `json:"n"`
	Values []float64 `json:"q"`
}

// sketchGrowth is how much the distance from the top grows from one kept
// rank of a ScoreSketch to the next.
const sketchGrowth = 1.25

// sketchRanks returns the ranks from the top (0 is the largest score) a
// ScoreSketch of n scores keeps, from the smallest (n-1) to the largest
// (0), so that they line up with its ascending values.
func sketchRanks(n int) []int {
	if n <= 0 {
		return nil
	}
	ranks := []int{0}
	for r := 0; r < n-1; {
		r = min(n-1, max(r+1, int(float64(r)*sketchGrowth)))
		ranks = append(ranks, r)
	}
	slices.Reverse(ranks)
	return ranks
}

// sketch returns the ScoreSketch of s.
func (s *scores) sketch() ScoreSketch {
	n := len(s.sorted)
	ranks := sketchRanks(n)
	out := ScoreSketch{N: n, Values: make([]float64, len(ranks))}
	for k, r := range ranks {
		out.Values[k] = RoundSaved(s.sorted[n-1-r])
	}
	return out
}

// check returns an error unless k is a sketch as ScoreSketch describes;
// it names the field after the sketch's own name.
func (k ScoreSketch) check() error {
	if k.N < 0 || k.N > calibrationMax {
		return fmt.Errorf(".n: %d, want 0 to %d", k.N, calibrationMax)
	}
	if want := len(sketchRanks(k.N)); len(k.Values) != want {
		return fmt.Errorf(".q: %d values, want %d for n %d", len(k.Values), want, k.N)
	}
	for i, v := range k.Values {
		if !finite(v) {
			return fmt.Errorf(".q[%d]: %g is not a finite number", i, v)
		}
		if i > 0 && v < k.Values[i-1] {
			return fmt.Errorf(".q[%d]: %g is below q[%d] (%g); the values go up", i, v, i-1, k.Values[i-1])
		}
	}
	return nil
}

// restore returns the window of scores that k stands for, at most window
// of them: n scores spread as the sketch's, each between two kept ranks
// interpolated linearly in the logarithm of its rank from the top (1 +
// rank), in which the tail of most errors, exponential or heavier, is
// close to a line. The ring holds them in an order unrelated to
// their size, so that the first ones to leave the window are neither the
// largest nor the smallest.
func (k ScoreSketch) restore(window int) scores {
	if k.N == 0 {
		return scores{}
	}
	ranks := sketchRanks(k.N)
	n := min(k.N, window)
	sorted := make([]float64, n)
	// j walks the kept ranks (descending from N-1 to 0 as Values ascend)
	// once: q only grows with i.
	j := len(ranks) - 1
	for i := range n {
		// The i-th largest of n stands at the same share of the sketch's
		// window: rank q from the top.
		q := 0.0
		if n > 1 {
			q = float64(i) * float64(k.N-1) / float64(n-1)
		}
		for j > 0 && float64(ranks[j-1]) <= q {
			j--
		}
		// ranks[j] <= q < ranks[j-1] (or q is rank N-1, j = 0).
		v := k.Values[0]
		if j > 0 {
			hi, lo := math.Log1p(float64(ranks[j])), math.Log1p(float64(ranks[j-1]))
			w := (math.Log1p(q) - hi) / (lo - hi)
			v = k.Values[j] + w*(k.Values[j-1]-k.Values[j])
		}
		sorted[n-1-i] = v
	}
	// Ascending by construction; the sort only guards the rounding.
	slices.Sort(sorted)
	ring := make([]float64, n)
	stride := ringStride(n)
	for i := range n {
		ring[i] = sorted[(i*stride)%n]
	}
	return scores{ring: ring, sorted: sorted}
}

// ringStride returns a stride coprime with n near n times the golden
// ratio's fraction, which visits every index of a ring of n once, far
// apart.
func ringStride(n int) int {
	s := max(1, int(float64(n)*0.618))
	for gcd(s, n) != 1 {
		s++
	}
	return s
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// State returns what c learned, to be given to Restore in another
// process.
func (c *Calibrator) State() CalibratorState {
	return CalibratorState{
		Target:   c.target,
		Level:    RoundSaved(c.level),
		Observed: c.observed,
		Missed:   c.missed,
		Recent:   RoundSaved(c.recent),
		Mean:     RoundSaved(c.mean),
		Means:    c.means,
		Abs:      c.abs.sketch(),
		Rel:      c.rel.sketch(),
		Loc:      c.loc.sketch(),
		Plain:    c.plainState(),
		Minutes:  c.minuteState(),
	}
}

// minuteState returns the local score's scales by minute of the hour,
// nil where the latest forecast reported no hourly cycle.
func (c *Calibrator) minuteState() *MinuteScales {
	if !c.hourly {
		return nil
	}
	m := &MinuteScales{Abs: make([]float64, 60), N: make([]int, 60)}
	for k := range 60 {
		m.Abs[k], m.N[k] = RoundSaved(c.minutes[k]), c.minutesN[k]
	}
	return m
}

// plainState returns the plain margin's state, nil at a target where it
// does not run.
func (c *Calibrator) plainState() *PlainState {
	if c.localWeight != 0 {
		return nil
	}
	p := c.plain
	return &PlainState{Level: RoundSaved(p.level), On: p.on, Cost: RoundSaved(p.cost), MainCost: RoundSaved(p.mainCost), Miss: RoundSaved(p.miss), N: p.n}
}

// check returns an error unless p is well formed, naming the field.
func (p PlainState) check() error {
	switch {
	case !finite(p.Level) || p.Level < -0.5 || p.Level > 1:
		return fmt.Errorf("plain.level: %g, want -0.5 to 1", p.Level)
	case !finite(p.Cost) || p.Cost < 0:
		return fmt.Errorf("plain.cost: %g, want a finite number, at least 0", p.Cost)
	case !finite(p.MainCost) || p.MainCost < 0:
		return fmt.Errorf("plain.mainCost: %g, want a finite number, at least 0", p.MainCost)
	case !finite(p.Miss) || p.Miss < 0 || p.Miss > 1:
		return fmt.Errorf("plain.miss: %g, want 0 to 1", p.Miss)
	case p.N < 0:
		return fmt.Errorf("plain.n: %d, want at least 0", p.N)
	}
	return nil
}

// Restore replaces what c learned with st (from State). A state that is
// not well formed, or that was learned for another target, is refused,
// naming the field, and c is left as it was. A window longer than c's
// (a state saved at a finer step) is cut to c's, keeping its spread. A
// level from -0.5 (states saved before levelDebt bounded it) is taken up
// to levelDebt targets below 0.
func (c *Calibrator) Restore(st CalibratorState) error {
	if st.Target != c.target {
		return fmt.Errorf("target: %g, but the floors are calibrated to %g", st.Target, c.target)
	}
	if !finite(st.Level) || st.Level < -0.5 || st.Level > 1 {
		return fmt.Errorf("level: %g, want -0.5 to 1", st.Level)
	}
	if st.Observed < 0 {
		return fmt.Errorf("observed: %d, want at least 0", st.Observed)
	}
	if st.Missed < 0 || st.Missed > st.Observed {
		return fmt.Errorf("missed: %d, want 0 to observed (%d)", st.Missed, st.Observed)
	}
	if !finite(st.Recent) || st.Recent < 0 {
		return fmt.Errorf("recent: %g, want a finite number, at least 0", st.Recent)
	}
	if !finite(st.Mean) || st.Mean < 0 {
		return fmt.Errorf("mean: %g, want a finite number, at least 0", st.Mean)
	}
	if st.Means < 0 {
		return fmt.Errorf("means: %d, want at least 0", st.Means)
	}
	for _, k := range []struct {
		name string
		s    ScoreSketch
	}{{"abs", st.Abs}, {"rel", st.Rel}, {"loc", st.Loc}} {
		if err := k.s.check(); err != nil {
			return errors.New(k.name + err.Error())
		}
	}
	// Every evaluated forecast adds one score to each of rel and loc, but
	// the first, which has no local score; states saved before that gave
	// it one.
	if st.Loc.N != st.Rel.N && st.Loc.N != st.Rel.N-1 {
		return fmt.Errorf("loc.n: %d, want rel.n (%d) or one less: each evaluated forecast but the first scores both", st.Loc.N, st.Rel.N)
	}
	plain := plainMargin{level: c.target}
	if p := st.Plain; p != nil {
		if err := p.check(); err != nil {
			return err
		}
		plain = plainMargin{level: p.Level, on: p.On, cost: p.Cost, mainCost: p.MainCost, miss: p.Miss, n: p.N}
	}
	var minutes [60]float64
	var minutesN [60]int
	if m := st.Minutes; m != nil {
		if err := m.check(); err != nil {
			return err
		}
		copy(minutes[:], m.Abs)
		copy(minutesN[:], m.N)
	}
	c.hourly, c.minutes, c.minutesN = st.Minutes != nil, minutes, minutesN
	plain.level = max(c.levelMin(), plain.level)
	c.plain, c.made, c.madeOrder = plain, nil, nil
	c.level, c.observed, c.missed = max(c.levelMin(), st.Level), st.Observed, st.Missed
	c.recent, c.mean, c.means = st.Recent, st.Mean, st.Means
	c.abs, c.rel, c.loc = st.Abs.restore(c.window), st.Rel.restore(c.window), st.Loc.restore(c.window)
	return nil
}
