package cli

import (
	"math"
	"strings"
	"testing"
)

func TestApplyMemoryLimitPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		env     map[string]string
		runtime int64 // the limit the runtime starts with
		want    int64
		wantErr string
	}{
		{"90 percent of 512 MiB", map[string]string{"GOMEMLIMIT": "536870912", EnvMemoryLimitPercent: "90"}, 512 * mib, 512 * mib * 9 / 10, ""},
		{"100 percent", map[string]string{"GOMEMLIMIT": "536870912", EnvMemoryLimitPercent: "100"}, 512 * mib, 512 * mib, ""},
		{"no percentage", map[string]string{"GOMEMLIMIT": "536870912"}, 512 * mib, 512 * mib, ""},
		{"no GOMEMLIMIT", map[string]string{EnvMemoryLimitPercent: "90"}, math.MaxInt64, math.MaxInt64, ""},
		{"set by debug.SetMemoryLimit, not GOMEMLIMIT", map[string]string{EnvMemoryLimitPercent: "90"}, 100 * mib, 100 * mib, ""},
		{"zero", map[string]string{"GOMEMLIMIT": "1GiB", EnvMemoryLimitPercent: "0"}, 1 << 30, 1 << 30, "from 1 to 100"},
		{"above 100", map[string]string{"GOMEMLIMIT": "1GiB", EnvMemoryLimitPercent: "150"}, 1 << 30, 1 << 30, "from 1 to 100"},
		{"a fraction", map[string]string{"GOMEMLIMIT": "1GiB", EnvMemoryLimitPercent: "0.9"}, 1 << 30, 1 << 30, "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.runtime
			set := func(v int64) int64 {
				old := limit
				if v >= 0 {
					limit = v
				}
				return old
			}
			got, err := ApplyMemoryLimitPercent(func(k string) string { return tt.env[k] }, set)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if got != tt.want || limit != tt.want {
				t.Errorf("returned %d, runtime limit %d; want %d", got, limit, tt.want)
			}
		})
	}
}
