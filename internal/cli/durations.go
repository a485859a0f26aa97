package cli

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/spf13/pflag"
)

// durationAllowed says what a duration flag takes, for its errors.
const durationAllowed = `allowed: a number and a unit, ms, s, m, h, d (24h) or w (7d), such as 30s, 15m, 1h30m, 336h or 14d`

// parseDuration reads a duration as Go writes it (1h30m, 1.5h, 336h) or
// as Prometheus does, with days and weeks (14d, 2w, 1d12h): history and
// windows are thought of in days.
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; %s", s, durationAllowed)
	}
	return time.Duration(d), nil
}

// durationValue is a pflag.Value of a time.Duration read by parseDuration.
type durationValue struct{ p *time.Duration }

func (v durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.p = d
	return nil
}

func (v durationValue) Type() string { return "duration" }

// durationVar defines a duration flag as f.DurationVar does, that also
// takes days and weeks (see parseDuration).
func durationVar(f *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	f.Var(durationValue{p}, name, usage)
}
