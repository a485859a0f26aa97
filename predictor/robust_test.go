package predictor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func TestMedianMAD(t *testing.T) {
	tests := []struct {
		in           []float64
		med, wantMAD float64
	}{
		{[]float64{3, 1, 2}, 2, madScale},
		{[]float64{1, 2, 3, 4}, 2.5, madScale},
		{[]float64{1, 1, 1, 1000}, 1, 0},
	}
	for _, tt := range tests {
		med, sd := mad(tt.in)
		if med != tt.med || math.Abs(sd-tt.wantMAD) > 1e-12 {
			t.Errorf("mad(%v) = %g, %g; want %g, %g", tt.in, med, sd, tt.med, tt.wantMAD)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

// TestSpread checks the fallback of spread where more than half of the
// values are one value: the median absolute deviation is 0 there, the
// scaled mean absolute deviation is not (0 only for a constant).
func TestSpread(t *testing.T) {
	tests := []struct {
		name    string
		in      []float64
		med, sd float64
	}{
		{"spread values: the scaled median absolute deviation", []float64{3, 1, 2}, 2, madScale},
		{"one value but one", []float64{1, 1, 1, 1000}, 1, meanAbsScale * 999 / 4},
		{"a counter's steady steps and a reset", []float64{5, 5, 5, 5, -20}, 5, meanAbsScale * 25 / 5},
		{"constant", []float64{7, 7, 7}, 7, 0},
		{"one value", []float64{4}, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			med, sd := spread(tt.in)
			if med != tt.med || math.Abs(sd-tt.sd) > 1e-9 {
				t.Errorf("spread(%v) = %g, %g; want %g, %g", tt.in, med, sd, tt.med, tt.sd)
			}
		})
	}
}

func TestTheilSenIgnoresOutlier(t *testing.T) {
	var xs, ys []float64
	for i := range 20 {
		xs = append(xs, float64(i))
		ys = append(ys, 2*float64(i)+1)
	}
	ys[19] = 1e6 // one outlier would tilt least squares badly
	if got := theilSen(xs, ys); math.Abs(got-2) > 1e-9 {
		t.Fatalf("slope %g, want 2", got)
	}
	if got := theilSen([]float64{1}, []float64{1}); got != 0 {
		t.Fatalf("slope of one point %g, want 0", got)
	}
}

// TestSelectionMatchesSorting checks median and quantile, which select
// rather than sort, against sorting, with ties and odd and even lengths.
func TestSelectionMatchesSorting(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := 1; n < 60; n++ {
		for _, ties := range []int{2, 5, 1000} {
			x := make([]float64, n)
			for i := range x {
				x[i] = float64(r.IntN(ties)) + 0.5*float64(r.IntN(2))
			}
			s := slices.Sorted(slices.Values(x))
			want := (s[(n-1)/2] + s[n/2]) / 2
			if got := median(x); got != want {
				t.Fatalf("median of %v = %g, want %g", x, got, want)
			}
			for _, p := range []float64{0.05, 0.5, 0.9, 0.95, 0.99} {
				if got, want := quantile(p, x), stat.Quantile(p, stat.Empirical, s, nil); got != want {
					t.Fatalf("%g-quantile of %v = %g, want %g", p, x, got, want)
				}
			}
		}
	}
}

// TestNthOrders checks nth's value and order at every k, on sizes either
// side of nthSort and far above it, with values all distinct, few and all
// equal: a partition that moved an element to the wrong side of k, or a
// sort that stopped one short, fails it.
func TestNthOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 2, nthSort - 1, nthSort, nthSort + 1, 2 * nthSort, 100, 1001} {
		for _, kind := range []string{"distinct", "few", "equal"} {
			x := make([]float64, n)
			for i := range x {
				switch kind {
				case "distinct":
					x[i] = r.NormFloat64()
				case "few":
					x[i] = float64(r.IntN(3))
				default:
					x[i] = 4
				}
			}
			s := slices.Sorted(slices.Values(x))
			for k := range n {
				y := slices.Clone(x)
				if got := nth(y, k); got != s[k] {
					t.Fatalf("%s n=%d: nth(%d) = %g, want %g", kind, n, k, got, s[k])
				}
				if m := slices.Max(y[:k+1]); m != s[k] {
					t.Fatalf("%s n=%d k=%d: %g before k", kind, n, k, m)
				}
				if m := slices.Min(y[k:]); m != s[k] {
					t.Fatalf("%s n=%d k=%d: %g after k", kind, n, k, m)
				}
			}
		}
	}
}

// TestRollingMediansMatchMedian checks every window's value against median
// of the same window, at window sizes from one to past the series, with
// values all distinct, few (runs of equal values, where a removal that
// took the wrong copy still passes only if it took an equal one) and
// all equal; and that a NaN anywhere refuses, leaving dst as it was.
func TestRollingMediansMatchMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ties := range []int{1, 3, 1 << 30} {
		x := make([]float64, 300)
		for i := range x {
			x[i] = float64(r.IntN(ties)) - float64(ties/2)
		}
		for _, n := range []int{1, 2, 3, 7, 60, 61, 240, 400} {
			got := make([]float64, len(x))
			if !rollingMedians(got, x, n) {
				t.Fatalf("ties %d, n %d: refused without a NaN", ties, n)
			}
			for i := range x {
				if want := median(x[max(0, i-n+1) : i+1]); got[i] != want {
					t.Fatalf("ties %d, n %d: window ending at %d: %g, want %g", ties, n, i, got[i], want)
				}
			}
		}
	}
	x := []float64{1, 2, math.NaN(), 4}
	dst := []float64{9, 9, 9, 9}
	if rollingMedians(dst, x, 2) || !slices.Equal(dst, []float64{9, 9, 9, 9}) {
		t.Fatalf("with a NaN: wrote %v, want it refused and untouched", dst)
	}
}
