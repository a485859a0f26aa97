package predictor

import (
	"math"
	"testing"
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
