package intent

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// TargetUnderAllowed says what mlscale.io/target-under and the
// --target-under flags accept.
const TargetUnderAllowed = `a percentage above 0% and at most 50%, such as "2%" or "5%"`

// MaxTargetUnder is the largest share of under-provisioned steps a target
// may ask for.
const MaxTargetUnder = 0.5

// ParseTargetUnder parses a target under-provisioning such as "2%" or
// "0.5%" into a share of steps (0.02, 0.005). The percent sign is
// required, so that "2" is never read as 200% or as 2%. The error says
// what is wrong; TargetUnderAllowed says what is allowed.
func ParseTargetUnder(v string) (float64, error) {
	s := strings.TrimSpace(v)
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, errors.New("is not a percentage (it needs the % sign)")
	}
	num = strings.TrimSpace(num)
	f, err := strconv.ParseFloat(num, 64)
	switch {
	case !isDecimal(num) || err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		return 0, errors.New("is not a percentage")
	case f <= 0 || f/100 > MaxTargetUnder:
		return 0, errors.New("is out of range")
	}
	return f / 100, nil
}

// FormatTargetUnder writes a share of steps as ParseTargetUnder reads it:
// 0.02 is "2%".
func FormatTargetUnder(f float64) string {
	return strconv.FormatFloat(f*100, 'g', 6, 64) + "%"
}
