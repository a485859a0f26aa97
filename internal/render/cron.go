package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/utils/lru"
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
	if edge, day, ok := SkippedEdge(*bh, time.Now()); ok {
		// The trigger is still returned, so that the rest of the workload
		// renders as it would with valid hours and this is the only
		// refusal.
		r.errs.Add(intent.KeyBusinessHours, r.w.Annotations[intent.KeyBusinessHours],
			fmt.Sprintf("has an edge at %s, a time that does not exist in %s on %s (the clocks skip it for daylight saving): KEDA's cron trigger then misses that edge and holds the workload up, or down, until its next edge (up to a week)",
				edge, bh.Location, day.Format("Mon 2006-01-02")),
			"edges outside the hour the clocks skip in that zone, or a zone without daylight saving (UTC)")
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

// skippedEdges caches SkippedEdge by calendar and year: admission sees the
// same few calendars over and over. It is bounded: the calendars come from
// users' annotations.
var skippedEdges = lru.New(1024) // string -> skipped

type skipped struct {
	edge string
	day  time.Time
	ok   bool
}

// SkippedEdge reports an edge of the business hours (a start, or an end,
// which at 24:00 is the next day's 00:00) that falls on a wall-clock time
// the calendar's zone skips for daylight saving, on a working day of this
// year or the next two after now: the edge ("02:30") and the first such
// day. KEDA's cron scaler finds no such time and misses the edge.
func SkippedEdge(bh intent.BusinessHours, now time.Time) (edge string, day time.Time, ok bool) {
	loc := bh.Location
	if loc == nil {
		loc = time.UTC
	}
	key := fmt.Sprint(loc, bh.Days, bh.Start, bh.End, now.Year())
	if v, hit := skippedEdges.Get(key); hit {
		s := v.(skipped)
		return s.edge, s.day, s.ok
	}
	var s skipped
	type at struct {
		off   time.Duration
		shift int // the edge is this many days after the working day
	}
	edges := []at{{bh.Start, 0}, {bh.End, 0}}
	if bh.End >= 24*time.Hour {
		edges[1] = at{0, 1}
	}
	// Where a working day's 24:00 end is the next working day's 00:00
	// start, the hours run on through midnight: KEDA misses that end and
	// that start alike, and nothing changes.
	through := func(d time.Weekday, e at) bool {
		if bh.Start != 0 || bh.End < 24*time.Hour {
			return false
		}
		if e.shift == 0 { // the start, at 00:00 of d
			return bh.Days[(d+6)%7]
		}
		return bh.Days[(d+1)%7] // the end, at 00:00 of the day after d
	}
	first := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, loc)
search:
	for d := first; d.Year() < now.Year()+3; d = d.AddDate(0, 0, 1) {
		if !bh.Days[d.Weekday()] {
			continue
		}
		for _, e := range edges {
			if through(d.Weekday(), e) {
				continue
			}
			h, m := int(e.off/time.Hour), int(e.off/time.Minute)%60
			t := time.Date(d.Year(), d.Month(), d.Day()+e.shift, h, m, 0, 0, loc)
			if t.Hour() != h || t.Minute() != m {
				s = skipped{edge: fmt.Sprintf("%02d:%02d", h, m), day: time.Date(d.Year(), d.Month(), d.Day()+e.shift, 0, 0, 0, 0, time.UTC), ok: true}
				break search
			}
		}
	}
	skippedEdges.Add(key, s)
	return s.edge, s.day, s.ok
}
