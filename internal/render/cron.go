package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
)

// The business-hours trigger: KEDA's cron scaler holds mlscale.io/min-replicas
// replicas in the hours of mlscale.io/business-hours, in its time zone; with
// scale-to-zero the workload sits at zero outside them.

// cronTrigger renders mlscale.io/business-hours with
// mlscale.io/scale-to-zero "true" (intent.Parse refuses business hours
// that mean nothing); without scale-to-zero they are the predictor's input
// only and render no trigger.
func (r *renderer) cronTrigger() (kedav1alpha1.ScaleTriggers, bool) {
	bh := r.in.BusinessHours
	if bh == nil || !ptr.Deref(r.in.ScaleToZero, false) {
		return kedav1alpha1.ScaleTriggers{}, false
	}
	if r.isJob() {
		r.errs.Add(intent.KeyBusinessHours, r.w.Annotations[intent.KeyBusinessHours], "is not supported on a Job", intent.BusinessHoursOnJobAllowed)
		return kedav1alpha1.ScaleTriggers{}, false
	}
	start, end := CronSchedule(*bh)
	zone := "UTC"
	if bh.Location != nil {
		zone = bh.Location.String()
	}
	return kedav1alpha1.ScaleTriggers{
		Type: "cron", Name: TriggerBusinessHours,
		Metadata: map[string]string{
			"timezone":        zone,
			"start":           start,
			"end":             end,
			"desiredReplicas": strconv.Itoa(int(ptr.Deref(r.in.MinReplicas, 1))),
		},
	}, true
}

// CronSchedule turns business hours into the start and end cron expressions
// of KEDA's cron scaler ("MIN HOUR * * DAYS"). An end at 24:00 is midnight
// of the next day. KEDA refuses a start and an end written the same; for
// hours that never end (every day, 00:00-24:00) the end's days are written
// "*", the same days in another form, and KEDA holds the replicas always.
func CronSchedule(bh intent.BusinessHours) (start, end string) {
	var days, next []string
	for d := range 7 {
		if bh.Days[d] {
			days = append(days, strconv.Itoa(d))
			next = append(next, strconv.Itoa((d+1)%7))
		}
	}
	slices.SortFunc(next, func(a, b string) int { return strings.Compare(a, b) })
	at := func(off time.Duration, days []string) string {
		return fmt.Sprintf("%d %d * * %s", int(off/time.Minute)%60, int(off/time.Hour), strings.Join(days, ","))
	}
	start = at(bh.Start, days)
	end = at(bh.End, days)
	if bh.End >= 24*time.Hour {
		end = at(0, next)
	}
	if end == start {
		end = at(0, []string{"*"})
	}
	return start, end
}
