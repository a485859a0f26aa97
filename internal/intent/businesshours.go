package intent

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	// The webhook and predictor images may have no zoneinfo of their own;
	// embed the IANA database so that every zone name resolves everywhere.
	_ "time/tzdata"
)

// BusinessHoursSyntax describes the accepted mlscale.io/business-hours form.
const BusinessHoursSyntax = `DAYS HH:MM-HH:MM [TIME ZONE], e.g. "Mon-Fri 08:00-18:00 Europe/Berlin"; DAYS is a day, a range "Mon-Fri" or a list "Mon,Wed,Fri"; the zone is an IANA name, UTC by default`

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// BusinessHours is a weekly calendar of working hours in a time zone.
type BusinessHours struct {
	// Days marks the working days, indexed by time.Weekday.
	Days [7]bool
	// Start and End are offsets from local midnight; End is after Start.
	Start, End time.Duration
	// Location is the time zone of the calendar.
	Location *time.Location
}

// Contains reports whether t falls inside the business hours: on a working
// day of the calendar's zone, at a wall-clock time in [Start, End). Wall-clock
// time means that "08:00-18:00" stays 08:00-18:00 local time across daylight
// saving changes. A nil Location is UTC.
func (b BusinessHours) Contains(t time.Time) bool {
	loc := b.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	if !b.Days[lt.Weekday()] {
		return false
	}
	off := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second
	return off >= b.Start && off < b.End
}

// ParseBusinessHours parses a business-hours calendar; see BusinessHoursSyntax.
func ParseBusinessHours(v string) (BusinessHours, error) {
	fields := strings.Fields(v)
	if len(fields) < 2 || len(fields) > 3 {
		return BusinessHours{}, errors.New("is not of the form DAYS HH:MM-HH:MM [TIME ZONE]")
	}
	var b BusinessHours
	for _, part := range strings.Split(fields[0], ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		from, ok1 := weekdays[strings.ToLower(lo)]
		to := from
		ok2 := true
		if isRange {
			to, ok2 = weekdays[strings.ToLower(hi)]
		}
		if !ok1 || !ok2 {
			return BusinessHours{}, fmt.Errorf("has an unknown day in %q (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)", shorten(part))
		}
		for d := from; ; d = (d + 1) % 7 {
			b.Days[d] = true
			if d == to {
				break
			}
		}
	}
	startS, endS, ok := strings.Cut(fields[1], "-")
	if !ok {
		return BusinessHours{}, fmt.Errorf("has no time range in %q", shorten(fields[1]))
	}
	var err error
	if b.Start, err = clock(startS); err != nil {
		return BusinessHours{}, err
	}
	if b.End, err = clock(endS); err != nil {
		return BusinessHours{}, err
	}
	if b.End <= b.Start {
		return BusinessHours{}, fmt.Errorf("does not end (%s) after it starts (%s); a range cannot cross midnight", endS, startS)
	}
	b.Location = time.UTC
	if len(fields) == 3 {
		loc, err := loadLocation(fields[2])
		if err != nil || fields[2] == "Local" {
			return BusinessHours{}, fmt.Errorf("has an unknown time zone %q", shorten(fields[2]))
		}
		b.Location = loc
	}
	return b, nil
}

// locations caches time zones by name: time.LoadLocation reads and parses
// the zone's file on every call, and admission parses the same few zones
// over and over. Only zones that loaded are kept, so the cache is bounded by
// the size of the IANA database.
var locations sync.Map // string -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}

func clock(s string) (time.Duration, error) {
	bad := fmt.Errorf("has a bad time %q (use HH:MM, 00:00 to 24:00)", shorten(s))
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, bad
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, bad
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
