package predictor

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// hourlyNoise is days of Gaussian noise around 5 at an hourly step: no
// cycle.
func hourlyNoise(days int) Series {
	r := rand.New(rand.NewPCG(3, 4))
	s := Series{Start: monday, Step: time.Hour, Values: make([]float64, days*24)}
	for i := range s.Values {
		s.Values[i] = 5 + r.NormFloat64()
	}
	return s
}

// TestPreferShapes: a model with a one-sample lookahead leaves its
// reactive candidates out where, replayed over the last two weeks of its
// history, they cost it (a noisy hourly sine), and keeps them where they
// follow days unlike the shape (nyc_taxi at 30 minutes); a model whose
// lookahead is longer, or without a cycle, keeps them.
func TestPreferShapes(t *testing.T) {
	nyc := loadTrace(t, "nyc_taxi.csv")
	crane := loadTrace(t, "crane_input9.csv")
	noise := hourlyNoise(30)
	tests := []struct {
		name string
		s    Series
		want bool
	}{
		{"hourly sine, 30 days", hourlySine(1, 30), true},
		{"hourly sine, another seed", hourlySine(4, 30), true},
		{"nyc_taxi, first half", nyc.Slice(0, nyc.Len()/2), false},
		{"nyc_taxi, to New Year", nyc.Slice(0, nyc.Len()*3/4), false},
		{"crane_input9, 1 minute", crane, false},
		{"hourly noise, no cycle", noise, false},
	}
	for _, tt := range tests {
		m, err := Fit(tt.s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.shapesOnly != tt.want {
			t.Errorf("%s: reactive candidates left out %v, want %v", tt.name, m.shapesOnly, tt.want)
		}
	}
}

// TestIsShape: the shapes are the seasonal model and Holt-Winters, at the
// places combiner.candidates puts them.
func TestIsShape(t *testing.T) {
	nyc := loadTrace(t, "nyc_taxi.csv")
	noise := hourlyNoise(30)
	for _, tt := range []struct {
		s      Series
		period time.Duration
		shapes []int
	}{
		{noise, 0, []int{0, 7}},
		{hourlySine(1, 30), Day, []int{0, 8}},
		{nyc.Slice(0, nyc.Len()/2), Week, []int{0, 1, 2, 3, 4, 5, 6, 7, 14}},
	} {
		m, err := Fit(tt.s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.cycle.Period != tt.period {
			t.Fatalf("cycle %s, want %s", m.cycle.Period, tt.period)
		}
		c := combiner{m: m, start: tt.s.Start, vals: tt.s.scaled(m.scale).Values}
		count := len(c.candidates(tt.s.Len()-1, nil))
		if want := 1 + m.profileDays() + 8; count != want {
			t.Fatalf("period %s: %d candidates, want %d", tt.period, count, want)
		}
		var got []int
		for k := range count {
			if isShape(k, count, m.profileDays()) {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, tt.shapes) {
			t.Errorf("period %s: shapes %v, want %v", tt.period, got, tt.shapes)
		}
	}
}
