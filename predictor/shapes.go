package predictor

import "math"

// Leaving the reactive candidates out where the lookahead is one sample
// (see preferShapes).
const (
	// replaySpan is the end of the history over which a model fitted
	// before it replays its forecasts with and without the reactive
	// candidates.
	replaySpan = 14 * Day
	// shapesOnlyGain is the most that the shapes' replayed error may be,
	// as a share of the whole mixture's, for the reactive candidates to be
	// left out.
	shapesOnlyGain = 0.98
)

// isShape reports whether candidate c, of count, forecasts from shapes
// learned over days: the seasonal model, Holt-Winters and, with a weekly
// cycle, the seven per-day profiles (see combiner.candidates), which of
// them fits today being what tells a holiday that looks like a Sunday.
// The others react to the last samples: the one profile of a daily cycle
// (the seasonal model's shape scaled by them), the windows a day and a
// week earlier (scaled, or raw), the level, persistence and the envelope.
// The day peaks come after the envelope only where the lookahead is more
// than one sample (Model.dayPeaksOn), and shapes are chosen only where it
// is one: Holt-Winters is then the second to last.
func isShape(c, count, days int) bool {
	return c == 0 || c == count-2 || (days > 1 && c <= days)
}

// leaveOutReactive takes the candidates that are not shapes out of sc.
func (m *Model) leaveOutReactive(sc scored) {
	for c := range sc.n {
		if !isShape(c, len(sc.n), m.profileDays()) {
			sc.n[c] = 0
		}
	}
}

// preferShapes reports whether, on s, the history that a model with a
// one-sample lookahead is fitted to, the shapes alone forecast the last
// replaySpan better than the whole mixture, their error under
// shapesOnlyGain of its: a model fitted before that span (which does not
// choose for itself) replays both over it, out of sample. Where the
// lookahead is one sample, that sample's noise is most of every error, and
// 12 or 24 scored forecasts seldom tell the reactive candidates from the
// shapes: on a smooth trace (a noisy sine) they kept a quarter of the
// weight for nothing. On one whose days depart from its shape (nyc_taxi's
// holidays and odd days), they are what follows the departure, and its
// last two weeks say so.
func preferShapes(s Series, opts Options) bool {
	r := int(replaySpan / s.Step)
	n := s.Len()
	if n-r < 2 {
		return false
	}
	sub, err := fit(s.Slice(0, n-r), opts, false)
	if err != nil || sub.cycle.Period == 0 {
		return false
	}
	vals := s.scaled(sub.scale).Values
	var all, shapes float64
	memo := newCandidateMemo()
	for j := n - r - 1; j < n-1; j++ {
		sc := sub.score(s.Start, vals, j, memo)
		only := sc.clone()
		sub.leaveOutReactive(only)
		all += math.Abs(max(0, sub.weigh(sc)) - vals[j+1])
		shapes += math.Abs(max(0, sub.weigh(only)) - vals[j+1])
	}
	return shapes < shapesOnlyGain*all
}
