package intent

import (
	"strings"
	"testing"
	"time"
)

// days builds a Days array from weekdays.
func days(ds ...time.Weekday) [7]bool {
	var out [7]bool
	for _, d := range ds {
		out[d] = true
	}
	return out
}

const (
	sun = time.Sunday
	mon = time.Monday
	tue = time.Tuesday
	wed = time.Wednesday
	thu = time.Thursday
	fri = time.Friday
	sat = time.Saturday
)

func TestParseBusinessHours(t *testing.T) {
	tests := []struct {
		name, in   string
		days       [7]bool
		start, end time.Duration
		zone       string
	}{
		{"weekdays UTC by default", "Mon-Fri 08:00-18:00", days(mon, tue, wed, thu, fri), 8 * time.Hour, 18 * time.Hour, "UTC"},
		{"one day", "Sat 10:00-14:30", days(sat), 10 * time.Hour, 14*time.Hour + 30*time.Minute, "UTC"},
		{"list", "Mon,Wed,Fri 09:00-17:00", days(mon, wed, fri), 9 * time.Hour, 17 * time.Hour, "UTC"},
		{"list of ranges", "Mon-Tue,Thu-Fri 09:00-17:00", days(mon, tue, thu, fri), 9 * time.Hour, 17 * time.Hour, "UTC"},
		{"wrap-around Fri-Mon", "Fri-Mon 06:00-22:00", days(fri, sat, sun, mon), 6 * time.Hour, 22 * time.Hour, "UTC"},
		{"wrap-around Sat-Sun", "Sat-Sun 00:00-24:00", days(sat, sun), 0, 24 * time.Hour, "UTC"},
		{"Sun-Sat is every day", "Sun-Sat 00:00-24:00", days(sun, mon, tue, wed, thu, fri, sat), 0, 24 * time.Hour, "UTC"},
		{"Mon-Sun is every day", "Mon-Sun 07:00-08:00", days(sun, mon, tue, wed, thu, fri, sat), 7 * time.Hour, 8 * time.Hour, "UTC"},
		{"same day range", "Wed-Wed 07:00-08:00", days(wed), 7 * time.Hour, 8 * time.Hour, "UTC"},
		{"lower case days", "mon-fri 08:00-18:00", days(mon, tue, wed, thu, fri), 8 * time.Hour, 18 * time.Hour, "UTC"},
		{"upper case days", "MON-FRI 08:00-18:00", days(mon, tue, wed, thu, fri), 8 * time.Hour, 18 * time.Hour, "UTC"},
		{"IANA zone", "Mon-Fri 08:00-18:00 Europe/Berlin", days(mon, tue, wed, thu, fri), 8 * time.Hour, 18 * time.Hour, "Europe/Berlin"},
		{"zone with two slashes", "Mon-Fri 09:00-17:00 America/Argentina/Buenos_Aires", days(mon, tue, wed, thu, fri), 9 * time.Hour, 17 * time.Hour, "America/Argentina/Buenos_Aires"},
		{"explicit UTC", "Mon 00:00-00:01 UTC", days(mon), 0, time.Minute, "UTC"},
		{"extra spaces", "  Mon-Fri   08:00-18:00  Asia/Tokyo ", days(mon, tue, wed, thu, fri), 8 * time.Hour, 18 * time.Hour, "Asia/Tokyo"},
		{"duplicate days", "Mon,Mon-Tue 08:00-09:00", days(mon, tue), 8 * time.Hour, 9 * time.Hour, "UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBusinessHours(tc.in)
			if err != nil {
				t.Fatalf("ParseBusinessHours(%q): %v", tc.in, err)
			}
			if b.Days != tc.days {
				t.Errorf("Days = %v, want %v", b.Days, tc.days)
			}
			if b.Start != tc.start || b.End != tc.end {
				t.Errorf("Start, End = %v, %v; want %v, %v", b.Start, b.End, tc.start, tc.end)
			}
			if b.Location == nil || b.Location.String() != tc.zone {
				t.Errorf("Location = %v, want %s", b.Location, tc.zone)
			}
		})
	}
}

func TestParseBusinessHoursInvalid(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "is not of the form DAYS HH:MM-HH:MM [TIME ZONE]"},
		{"days only", "Mon-Fri", "is not of the form DAYS HH:MM-HH:MM [TIME ZONE]"},
		{"too many fields", "Mon-Fri 08:00-18:00 Europe/Berlin extra", "is not of the form DAYS HH:MM-HH:MM [TIME ZONE]"},
		{"full day names", "Monday-Friday 08:00-18:00", `has an unknown day in "Monday-Friday"`},
		{"empty list entry", "Mon,,Fri 08:00-18:00", `has an unknown day in ""`},
		{"open range", "Mon- 08:00-18:00", `has an unknown day in "Mon-"`},
		{"three-part range", "Mon-Wed-Fri 08:00-18:00", `has an unknown day in "Mon-Wed-Fri"`},
		{"no time range", "Mon-Fri 08:00", `has no time range in "08:00"`},
		{"single digit hour", "Mon-Fri 8:00-18:00", `has a bad time "8:00"`},
		{"sign in hour", "Mon-Fri +8:00-18:00", `has a bad time "+8:00"`},
		{"sign in minute", "Mon-Fri 08:+5-18:00", `has a bad time "08:+5"`},
		{"hour 25", "Mon-Fri 08:00-25:00", `has a bad time "25:00"`},
		{"minute 60", "Mon-Fri 08:60-18:00", `has a bad time "08:60"`},
		{"24:30", "Mon-Fri 08:00-24:30", `has a bad time "24:30"`},
		{"seconds", "Mon-Fri 08:00:00-18:00", `has a bad time "08:00:00"`},
		{"am/pm", "Mon-Fri 8am-6pm", `has a bad time "8am"`},
		{"end before start", "Mon-Fri 18:00-08:00", "does not end (08:00) after it starts (18:00); a range cannot cross midnight"},
		{"empty range", "Mon-Fri 08:00-08:00", "does not end (08:00) after it starts (08:00)"},
		{"unknown zone", "Mon-Fri 08:00-18:00 Mars/Olympus", `has an unknown time zone "Mars/Olympus"`},
		{"Local zone", "Mon-Fri 08:00-18:00 Local", `has an unknown time zone "Local"`},
		{"path zone", "Mon-Fri 08:00-18:00 ../../etc/passwd", `has an unknown time zone "../../etc/passwd"`},
		{"absolute path zone", "Mon-Fri 08:00-18:00 /etc/localtime", `has an unknown time zone "/etc/localtime"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBusinessHours(tc.in)
			if err == nil {
				t.Fatalf("ParseBusinessHours(%q) = %+v, want an error", tc.in, b)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func mustBH(t *testing.T, v string) BusinessHours {
	t.Helper()
	b, err := ParseBusinessHours(v)
	if err != nil {
		t.Fatalf("ParseBusinessHours(%q): %v", v, err)
	}
	return b
}

func TestBusinessHoursContains(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name, hours, at string
		want            bool
	}{
		// 2026-03-27 is a Friday; Europe/Berlin is UTC+1 until 2026-03-29 and UTC+2 after.
		{"Berlin winter inside", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-27T07:30:00Z", true},
		{"Berlin winter before start", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-27T06:59:59Z", false},
		{"Berlin winter at start", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-27T07:00:00Z", true},
		{"Berlin winter last second", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-27T16:59:59Z", true},
		{"Berlin winter end is exclusive", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-27T17:00:00Z", false},
		// After the spring change the same wall-clock hours are an hour earlier in UTC.
		{"Berlin summer 08:30 local", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-30T06:30:00Z", true},
		{"Berlin summer 07:30 local", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-30T05:30:00Z", false},
		{"Berlin summer 17:30 local", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-30T15:30:00Z", true},
		{"Berlin summer 18:30 local", "Mon-Fri 08:00-18:00 Europe/Berlin", "2026-03-30T16:30:00Z", false},
		// On the change itself (02:00 -> 03:00 local, 01:00 UTC).
		{"Berlin spring change before", "Sun 02:00-04:00 Europe/Berlin", "2026-03-29T00:59:59Z", false},
		{"Berlin spring change after", "Sun 02:00-04:00 Europe/Berlin", "2026-03-29T01:00:00Z", true},
		{"Berlin spring change 04:00 local", "Sun 02:00-04:00 Europe/Berlin", "2026-03-29T02:00:00Z", false},
		// Autumn change: 02:00-03:00 local happens twice (00:00-01:00 and 01:00-02:00 UTC).
		{"Berlin autumn first 02:30", "Sun 02:00-03:00 Europe/Berlin", "2026-10-25T00:30:00Z", true},
		{"Berlin autumn second 02:30", "Sun 02:00-03:00 Europe/Berlin", "2026-10-25T01:30:00Z", true},
		{"Berlin autumn 03:00 local", "Sun 02:00-03:00 Europe/Berlin", "2026-10-25T02:00:00Z", false},
		// New York changes on 2026-03-08.
		{"New York before change", "Mon-Fri 09:00-17:00 America/New_York", "2026-03-06T14:00:00Z", true},
		{"New York after change", "Mon-Fri 09:00-17:00 America/New_York", "2026-03-09T13:00:00Z", true},
		{"New York after change 17:30 EDT", "Mon-Fri 09:00-17:00 America/New_York", "2026-03-09T21:30:00Z", false},
		// The weekday is the zone's weekday, not UTC's.
		{"Tokyo Monday while UTC is Sunday", "Mon 00:00-02:00 Asia/Tokyo", "2026-03-29T16:00:00Z", true},
		{"Tokyo Sunday while UTC is Sunday", "Mon 00:00-02:00 Asia/Tokyo", "2026-03-29T14:00:00Z", false},
		// Wrap-around day ranges.
		{"Fri-Mon on Saturday", "Fri-Mon 08:00-18:00", "2026-03-28T12:00:00Z", true},
		{"Fri-Mon on Sunday", "Fri-Mon 08:00-18:00", "2026-03-29T12:00:00Z", true},
		{"Fri-Mon on Monday", "Fri-Mon 08:00-18:00", "2026-03-30T12:00:00Z", true},
		{"Fri-Mon on Tuesday", "Fri-Mon 08:00-18:00", "2026-03-31T12:00:00Z", false},
		{"Fri-Mon on Thursday", "Fri-Mon 08:00-18:00", "2026-03-26T12:00:00Z", false},
		{"until midnight", "Mon-Sun 00:00-24:00", "2026-03-31T23:59:59Z", true},
		{"list excludes Tuesday", "Mon,Wed 08:00-18:00", "2026-03-31T12:00:00Z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustBH(t, tc.hours)
			if got := b.Contains(utc(tc.at)); got != tc.want {
				t.Errorf("%q.Contains(%s) = %v, want %v (local %s)", tc.hours, tc.at, got, tc.want, utc(tc.at).In(b.Location).Format(time.RFC1123))
			}
		})
	}
}

func TestBusinessHoursZeroLocationIsUTC(t *testing.T) {
	b := BusinessHours{Days: days(mon), Start: 8 * time.Hour, End: 9 * time.Hour}
	at := time.Date(2026, 3, 30, 8, 30, 0, 0, time.FixedZone("X", 5*3600))
	if b.Contains(at) { // 03:30 UTC
		t.Error("Contains = true at 03:30 UTC")
	}
	if !b.Contains(at.Add(5 * time.Hour)) { // 08:30 UTC
		t.Error("Contains = false at 08:30 UTC")
	}
}

func TestParseBusinessHoursAnnotation(t *testing.T) {
	in, _, err := Parse(on(KeyPredictive, "true", KeyDemandQuery, "sum(x)", KeyCapacityPerReplica, "10", KeyBusinessHours, "Mon-Fri 08:00-18:00 Europe/Berlin"))
	if err != nil {
		t.Fatal(err)
	}
	if in.BusinessHours == nil || in.BusinessHours.Location.String() != "Europe/Berlin" || !in.BusinessHours.Days[time.Wednesday] || in.BusinessHours.Days[time.Sunday] {
		t.Errorf("BusinessHours = %+v", in.BusinessHours)
	}
}

func TestBusinessHoursErrorsStayShort(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, v := range []string{long + " 08:00-09:00", "Mon " + long, "Mon 08:00-" + long, "Mon 08:00-09:00 " + long} {
		_, err := ParseBusinessHours(v)
		if err == nil {
			t.Fatalf("ParseBusinessHours accepted %.20q...", v)
		}
		if len(err.Error()) > 2*MaxShownValue {
			t.Errorf("error of %d bytes: %.80s...", len(err.Error()), err)
		}
	}
	_, _, err := Parse(on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyBusinessHours, "Mon "+long))
	if err == nil || len(err.Error()) > 4*MaxShownValue+len(BusinessHoursSyntax) {
		t.Errorf("Parse error of %d bytes", len(err.Error()))
	}
}
