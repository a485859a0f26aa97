package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestParseDuration: Go's durations and Prometheus's, with days and weeks;
// anything else is an error that lists the units.
func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "30s", want: 30 * time.Second}, {in: "1.5h", want: 90 * time.Minute}, {in: "336h", want: 14 * 24 * time.Hour},
		{in: "14d", want: 14 * 24 * time.Hour}, {in: "2w", want: 14 * 24 * time.Hour}, {in: "1d12h", want: 36 * time.Hour},
		{in: "0s"}, {in: "-5m", want: -5 * time.Minute},
		{in: "15", err: true}, {in: "1.5d", err: true}, {in: "14 days", err: true}, {in: "", err: true}, {in: "d", err: true},
	} {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%q: %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), "d (24h) or w (7d)") {
			t.Errorf("%q: error %q does not list the units", tt.in, err)
		}
	}
}

// TestDurationFlag: a duration flag keeps its default, shows it as Go
// does, and takes days.
func TestDurationFlag(t *testing.T) {
	var d time.Duration
	f := pflag.NewFlagSet("x", pflag.ContinueOnError)
	durationVar(f, &d, "window", 336*time.Hour, "history")
	if d != 336*time.Hour || f.Lookup("window").DefValue != "336h0m0s" {
		t.Fatalf("default %v, shown %q; want 336h", d, f.Lookup("window").DefValue)
	}
	if err := f.Parse([]string{"--window", "28d"}); err != nil || d != 28*24*time.Hour {
		t.Errorf("--window 28d: %v, %v; want 672h", d, err)
	}
	if err := f.Parse([]string{"--window", "4 weeks"}); err == nil || !strings.Contains(err.Error(), `"4 weeks" is not a duration`) {
		t.Errorf("--window '4 weeks': %v; want an error naming the value", err)
	}
}
