package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// EnvMemoryLimitPercent names the environment variable that lowers the Go
// runtime's soft memory limit to a percentage of GOMEMLIMIT. The chart sets
// GOMEMLIMIT to the container's memory limit (the downward API's
// limits.memory, which cannot express a fraction) and this variable to
// goMemLimitPercent, so that the garbage collector works harder before the
// kernel's OOM killer acts, with headroom for what the limit counts and the
// Go runtime does not (page cache, non-Go allocations).
const EnvMemoryLimitPercent = "MLSCALE_GOMEMLIMIT_PERCENT"

// ApplyMemoryLimitPercent sets the runtime's soft memory limit (with set,
// debug.SetMemoryLimit) to EnvMemoryLimitPercent percent of the limit
// GOMEMLIMIT gave it, when both are set. An empty variable, or no
// GOMEMLIMIT, changes nothing; a value that is not a whole number from 1 to
// 100 is an error. It returns the limit in force afterwards.
func ApplyMemoryLimitPercent(getenv func(string) string, set func(int64) int64) (int64, error) {
	current := set(-1) // a negative limit reads the limit without changing it
	v := strings.TrimSpace(getenv(EnvMemoryLimitPercent))
	if v == "" {
		return current, nil
	}
	pct, err := strconv.Atoi(v)
	if err != nil || pct < 1 || pct > 100 {
		return current, fmt.Errorf("%s=%q: want a whole number from 1 to 100", EnvMemoryLimitPercent, v)
	}
	if current == math.MaxInt64 || getenv("GOMEMLIMIT") == "" {
		return current, nil // no limit to take a share of
	}
	p := int64(pct)
	limit := current/100*p + current%100*p/100 // current*p/100 without overflow
	set(limit)
	return limit, nil
}
