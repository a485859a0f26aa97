package predictor

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadTrace(t *testing.T) {
	tests := []struct {
		name, in  string
		wantErr   string
		wantStep  time.Duration
		wantVals  []float64
		wantStart time.Time
		// wantRows, wantMerged and wantMissing are the rows read, merged
		// and without a value, and wantFilled the samples filled in gaps,
		// when a series is expected.
		wantRows, wantMerged, wantMissing, wantFilled, wantNegative int
		// wantUnused is the rows no sample took.
		wantUnused int
		// column is the value column asked for; wantColumn the one read
		// (the last of the header when empty).
		column, wantColumn string
		// wantNewestFirst is whether the rows were newest first, and
		// wantNoHeader whether the file had no header.
		wantNewestFirst, wantNoHeader bool
	}{
		{
			name: "nab", in: "timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,2\n2014-07-01 01:00:00,3\n",
			wantStep: 30 * time.Minute, wantVals: []float64{1, 2, 3}, wantStart: time.Date(2014, 7, 1, 0, 0, 0, 0, time.UTC),
			wantRows: 3,
		},
		{
			name: "crane", in: "ts,value\n1633651200,1.5\n1633651260,2.5\n",
			wantStep: time.Minute, wantVals: []float64{1.5, 2.5}, wantStart: time.Unix(1633651200, 0).UTC(),
			wantRows: 2,
		},
		{
			name: "gap interpolated", in: "ts,value\n0,0\n60,1\n180,3\n240,4\n",
			wantStep: time.Minute, wantVals: []float64{0, 1, 2, 3, 4}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 4, wantFilled: 1,
		},
		{
			// Half the rows missing: the spacings are 60 (three times),
			// 120 (twice), 180 and 240, so the median (120) would halve
			// the resolution; the most common spacing is the step.
			name: "half the rows missing", in: "ts,value\n0,0\n60,1\n180,3\n240,4\n420,7\n540,9\n600,10\n840,14\n",
			wantStep: time.Minute, wantVals: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 8, wantFilled: 7,
		},
		{
			// Jittered times, no spacing common: the mean spacing (the
			// median, 61 s, was the step before, off the minute).
			name: "jittered times", in: "ts,value\n0,0\n59,0\n120,0\n182,0\n240,0\n303,0\n358,0\n424,0\n481,0\n",
			wantStep: time.Minute, wantVals: make([]float64, 9), wantStart: time.Unix(0, 0).UTC(),
			wantRows: 9,
		},
		{
			// Rows about 5 minutes apart, jittered: the step is the mean
			// spacing, 300 s, and the sample at 300 s, 12 s before the row
			// at 312, lies between rows 1.04 steps apart, not in a gap.
			name: "jittered times, a spacing over the step", in: "ts,value\n0,0\n312,0\n590,0\n907,0\n1190,0\n1501,0\n1820,0\n2096,0\n2400,0\n",
			wantStep: 5 * time.Minute, wantVals: make([]float64, 9), wantStart: time.Unix(0, 0).UTC(),
			wantRows: 9,
		},
		{
			// Times alternating 53 and 67 s apart (as one probe's export
			// had them): the most common spacing (53 s here, 67 s where
			// it was one more) puts the samples off the minute; the step is
			// the mean spacing.
			name: "alternating spacings", in: "ts,value\n0,0\n53,1\n120,1\n173,2\n240,2\n293,3\n360,3\n413,4\n480,4\n533,5\n600,5\n",
			wantStep: time.Minute, wantStart: time.Unix(0, 0).UTC(),
			wantVals: []float64{0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5},
			wantRows: 11,
		},
		{
			// Five-minute rows, then one-minute ones (a downsampled
			// history and its raw end, as a long-term store exports them):
			// the five-minute step (12 of the 22 spacings; all of them
			// are multiples of a minute, but fewer are one minute); the mean
			// spacing, 3m11s, fits neither.
			name: "five-minute rows then one-minute ones", in: "ts,value\n0,0\n300,0\n600,0\n900,0\n1200,0\n1500,0\n1800,0\n2100,0\n2400,0\n2700,0\n3000,0\n3300,0\n3600,0\n3660,0\n3720,0\n3780,0\n3840,0\n3900,0\n3960,0\n4020,0\n4080,0\n4140,0\n4200,0\n",
			wantStep: 5 * time.Minute, wantVals: make([]float64, 15), wantStart: time.Unix(0, 0).UTC(),
			wantRows: 23, wantUnused: 8,
		},
		{
			// One row between two of a 1-minute trace's: not a sample of
			// its own, and counted as unused.
			name: "a row between two samples", in: "ts,value\n0,0\n60,1\n90,50\n120,2\n180,3\n240,4\n300,5\n360,6\n420,7\n480,8\n540,9\n600,10\n",
			wantStep: time.Minute, wantVals: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 12, wantUnused: 1,
		},
		{
			// As in a held-out NAB occupancy trace: two samples at 05:33.
			name: "repeated time merged keeping the maximum",
			in: "timestamp,value\n2015-09-01 05:23:00,10\n2015-09-01 05:28:00,12\n2015-09-01 05:33:00,14\n" +
				"2015-09-01 05:33:00,20\n2015-09-01 05:38:00,11\n",
			wantStep: 5 * time.Minute, wantVals: []float64{10, 12, 20, 11}, wantStart: time.Date(2015, 9, 1, 5, 23, 0, 0, time.UTC),
			wantRows: 5, wantMerged: 1,
		},
		{
			name: "lower repeat merged, three of a time", in: "ts,value\n0,1\n60,5\n60,3\n60,4\n120,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 5, 2}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 5, wantMerged: 2,
		},
		{
			name: "repeat at the start and the end", in: "ts,value\n0,1\n0,2\n60,3\n60,-4\n",
			wantStep: time.Minute, wantVals: []float64{2, 3}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 4, wantMerged: 2, wantNegative: 1,
		},
		{name: "one time repeated", in: "ts,value\n0,1\n0,2\n", wantErr: "x.csv: has 2 data rows at 1 distinct times; need at least 2"},
		{name: "bad header", in: "value,time\n0,1\n", wantErr: `x.csv:1: header is "value,time"; want the time column, named timestamp, ts, time, date, datetime, epoch, _time, @timestamp, ds or none (pandas' unnamed index), then the value column`},
		{
			// No header: the first line is the first row.
			name: "no header", in: "1633651200,1\n1633651260,2\n1633651320,\n1633651380,4\n",
			wantStep: time.Minute, wantVals: []float64{1, 2, 3, 4}, wantStart: time.Unix(1633651200, 0).UTC(),
			wantRows: 4, wantMissing: 1, wantFilled: 1, wantColumn: "value", wantNoHeader: true,
		},
		{
			name: "no header, dates, tabs", in: "2024-01-01 00:00\t1.5\n2024-01-01 00:05\t2\n",
			wantStep: 5 * time.Minute, wantVals: []float64{1.5, 2}, wantStart: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			wantRows: 2, wantColumn: "value", wantNoHeader: true,
		},
		{name: "no header, three columns", in: "1633651200,h1,1\n1633651260,h1,2\n", wantErr: `x.csv:1: "1633651200,h1,1" is a data row of 3 columns; a file without a header may have two, the time then the value; with more, the first line must be a header that names them`},
		{name: "no header, not a value", in: "1633651200,abc\n1633651260,2\n", wantErr: `x.csv:1: "1633651200,abc" is neither a header, such as timestamp,value, nor a data row (a file without a header): value "abc" is not a number`},
		{name: "no header, --column", in: "1633651200,1\n1633651260,2\n", column: "cpu", wantErr: `x.csv:1: "1633651200,1" is a data row: the file has no header, so --column cpu names nothing`},
		{
			// pandas' to_csv of a DataFrame with an unnamed index.
			name: "pandas unnamed index", in: ",value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			wantRows: 2,
		},
		{
			name: "Elasticsearch @timestamp", in: "@timestamp,count\n2024-01-01T00:00:00.000Z,1\n2024-01-01T00:01:00.000Z,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			wantRows: 2,
		},
		{
			// Prophet's frame: ds and y.
			name: "Prophet ds,y", in: "ds,y\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			wantRows: 2,
		},
		{
			name: "epoch", in: "epoch,requests\n1633651200,1\n1633651260,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Unix(1633651200, 0).UTC(),
			wantRows: 2,
		},
		{name: "empty value column name", in: "time, \n0,1\n", wantErr: "x.csv:1: header is"},
		{
			// Grafana's CSV export: quoted, the time column "Time", the
			// value column named for the series.
			name: "Grafana export", in: "\"Time\",\"gpu_util\"\n\"2015-09-01 05:00:00\",1\n\"2015-09-01 05:01:00\",2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Date(2015, 9, 1, 5, 0, 0, 0, time.UTC),
			wantRows: 2,
		},
		{
			name: "date,count", in: "date,count\n2015-09-01T05:00:00Z,1\n2015-09-01T05:01:00Z,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Date(2015, 9, 1, 5, 0, 0, 0, time.UTC),
			wantRows: 2,
		},
		{name: "bad unix time", in: "ts,value\n0,1\nabc,2\n", wantErr: `x.csv:3: time "abc" is neither a Unix time (seconds, or milliseconds to nanoseconds) nor a date and time (YYYY-MM-DD HH:MM:SS or YYYY-MM-DD HH:MM in UTC, RFC 3339 such as 2015-09-01T05:33:00Z or 2015-09-01 05:33:00+00:00, or a date YYYY-MM-DD)`},
		{name: "bad nab time", in: "timestamp,value\n2014-07-01 24:00,1\n", wantErr: `x.csv:2: time "2014-07-01 24:00" is neither`},
		{name: "day first", in: "timestamp,value\n01/07/2014 00:00,1\n", wantErr: `x.csv:2: time "01/07/2014 00:00" is neither`},
		{
			// Spreadsheets write minutes without seconds; daily exports
			// a date alone.
			name: "minutes without seconds, RFC 3339 too", in: "timestamp,value\n2015-09-01 05:00,1\n2015-09-01T05:05,2\n2015-09-01T07:10+02:00,3\n",
			wantStep: 5 * time.Minute, wantVals: []float64{1, 2, 3}, wantStart: time.Date(2015, 9, 1, 5, 0, 0, 0, time.UTC),
			wantRows: 3,
		},
		{
			name: "dates alone", in: "date,sales\n2015-09-01,10\n2015-09-02,12\n2015-09-04,16\n",
			wantStep: 24 * time.Hour, wantVals: []float64{10, 12, 14, 16}, wantStart: time.Date(2015, 9, 1, 0, 0, 0, 0, time.UTC),
			wantRows: 3, wantFilled: 1,
		},
		{name: "NaN time", in: "ts,value\n0,1\nNaN,2\n", wantErr: `x.csv:3: time "NaN" is neither`},
		{name: "decimal time out of range", in: "ts,value\n0,1\n1e300,2\n", wantErr: "x.csv:3: time 1e300 is outside the years 0001 to 9999 in Unix seconds, milliseconds, microseconds and nanoseconds"},
		{name: "decimal time before the year 1", in: "ts,value\n-1e12,1\n0,2\n", wantErr: "x.csv:2: time -1e12 is outside the years 0001 to 9999"},
		{
			// Prometheus exports times as decimal seconds; the fraction is
			// dropped, and two samples within one second are merged.
			name: "decimal Unix seconds", in: "time,value\n1633651200.250,1\n1633651260.5,2\n1633651260.9,3\n1633651320,4\n",
			wantStep: time.Minute, wantVals: []float64{1, 3, 4}, wantStart: time.Unix(1633651200, 0).UTC(),
			wantRows: 4, wantMerged: 1,
		},
		{
			name: "RFC 3339 with zones, and without", in: "timestamp,value\n2015-09-01T07:00:00+02:00,1\n2015-09-01T05:05:00Z,2\n2015-09-01T05:10:00,3\n",
			wantStep: 5 * time.Minute, wantVals: []float64{1, 2, 3}, wantStart: time.Date(2015, 9, 1, 5, 0, 0, 0, time.UTC),
			wantRows: 3,
		},
		{
			name: "Unix seconds under a timestamp header, fractions of a second in a date", in: "timestamp,value\n0,1\n1970-01-01 00:01:00.75,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 2,
		},
		{
			// Prometheus, pandas, Grafana and spreadsheets write a missing
			// sample in these ways; each is a gap, filled from its
			// neighbours.
			name:     "rows without a value are gaps",
			in:       "ts,value\n0,0\n60,\n120,NaN\n180,null\n240, N/A \n300,+Inf\n360,-inf\n420,None\n480,8\n540,-\n600,na\n660,11\n",
			wantStep: time.Minute, wantVals: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 12, wantMissing: 9, wantFilled: 9,
		},
		{
			// Three rows in four without a value: the step still comes
			// from every row's time, not from the rows with a value.
			name:     "most values missing keeps the step",
			in:       "ts,value\n0,0\n60,\n120,\n180,\n240,4\n300,\n360,\n420,\n480,8\n",
			wantStep: time.Minute, wantVals: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 9, wantMissing: 6, wantFilled: 6,
		},
		{
			name:     "missing at the ends dropped, a repeat of a missing one merged",
			in:       "ts,value\n0,NaN\n60,1\n60,\n120,2\n120,3\n180,\n",
			wantStep: time.Minute, wantVals: []float64{1, 3}, wantStart: time.Unix(60, 0).UTC(),
			wantRows: 6, wantMerged: 1, wantMissing: 3,
		},
		{name: "too few values", in: "ts,value\n0,1\n60,NaN\n120,\n", wantErr: "x.csv: has 3 data rows, 2 of them without a value, at 1 distinct times with one; need at least 2"},
		{name: "bad value", in: "ts,value\n0,1\n60,12k\n", wantErr: `x.csv:3: value "12k" is not a number; a row without a sample may leave it empty or write NaN or null`},
		{name: "value beyond float64", in: "ts,value\n0,1\n60,1e400\n", wantErr: `x.csv:3: value "1e400" is beyond the range of a 64-bit float`},
		{name: "out of order after a missing value", in: "ts,value\n0,1\n120,\n60,2\n", wantErr: "x.csv:4: time 60 is before the previous row's 120"},
		{name: "out of order", in: "ts,value\n0,1\n120,2\n60,3\n", wantErr: "x.csv:4: time 60 is before the previous row's 120; rows must be in time order"},
		// Some exports list the newest row first: read in reverse,
		// repeats merged and gaps filled alike.
		{
			name: "newest first", in: "ts,value\n240,5\n180,\n120,3\n120,1\n60,2\n0,1\n",
			wantStep: time.Minute, wantVals: []float64{1, 2, 3, 4, 5}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 6, wantMerged: 1, wantMissing: 1, wantFilled: 1, wantNewestFirst: true,
		},
		{name: "newest first, then not", in: "ts,value\n120,1\n60,2\n180,3\n", wantErr: "x.csv:4: time 180 is after the previous row's 60, and the rows before it were newest first; rows must be in time order, oldest or newest first"},
		// The rows' own text, and the likely cause, where a local-time
		// export repeats an hour.
		{name: "out of order in local time", in: "ts,value\n2024-10-27 02:00:00,1\n2024-10-27 02:55:00,1\n2024-10-27 02:00:00,2\n",
			wantErr: "x.csv:4: time 2024-10-27 02:00:00 is before the previous row's 2024-10-27 02:55:00; rows must be in time order (a local-time export repeats an hour when the clocks go back"},
		// Grafana's "Download CSV": a byte-order mark before a quoted
		// header, which the CSV reader refused ("bare \" in non-quoted
		// field"); its "Download for Excel" adds a sep=, line.
		{
			name: "byte-order mark and quoted header", in: "\ufeff\"Time\",\"gpu_util\"\n\"1704067200000\",1\n\"1704067260000\",2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Unix(1704067200, 0).UTC(), wantRows: 2, wantColumn: "gpu_util",
		},
		{
			name: "sep line for Excel", in: "\ufeffsep=,\n\"Time\",\"gpu_util\"\n1704067200,1\n1704067260,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Unix(1704067200, 0).UTC(), wantRows: 2, wantColumn: "gpu_util",
		},
		{name: "sep line keeps line numbers", in: "sep=,\nts,value\n0,1\n120,2\n60,3\n", wantErr: "x.csv:5: time 60 is before the previous row's 120"},
		{name: "sep line with an unknown separator", in: "sep=|\nts|value\n", wantErr: `x.csv:1: "sep=|" names the separator "|"; allowed: sep=, (commas), sep=; (semicolons) or sep= and a tab, or no such line`},
		// A spreadsheet set to a language with a decimal comma writes
		// semicolons between columns (and a sep=; line for Excel), or
		// tabs; its numbers have a decimal comma.
		{
			name: "semicolons and decimal commas", in: "Time;gpu_util\n2024-01-01 00:00;1,5\n2024-01-01 00:01;2\n2024-01-01 00:02;3.25\n",
			wantStep: time.Minute, wantVals: []float64{1.5, 2, 3.25}, wantStart: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), wantRows: 3, wantColumn: "gpu_util",
		},
		{
			name: "sep line for Excel with semicolons", in: "\ufeffsep=;\r\n\"Time\";\"value\"\r\n1704067200;\"1,5\"\r\n1704067260;2\r\n",
			wantStep: time.Minute, wantVals: []float64{1.5, 2}, wantStart: time.Unix(1704067200, 0).UTC(), wantRows: 2, wantColumn: "value",
		},
		{
			name: "tabs, decimal commas in Unix seconds", in: "ts\tvalue\n0,5\t1\n60\t2,25\n",
			wantStep: time.Minute, wantVals: []float64{1, 2.25}, wantStart: time.Unix(0, 0).UTC(), wantRows: 2,
		},
		{
			name: "a comma in a quoted column name is not the separator", in: "\"Time\";\"cpu, %\"\n0;1\n60;2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Unix(0, 0).UTC(), wantRows: 2, wantColumn: "cpu, %",
		},
		{name: "thousands and decimal separators", in: "ts;value\n0;1.234,5\n60;2\n", wantErr: `x.csv:2: value "1.234,5" is not a number`},
		{name: "a decimal comma between commas", in: "ts,value\n0,1,5\n", wantErr: "x.csv:2: want 2 columns separated by commas, as the header has"},
		{name: "row with another separator", in: "ts;value\n0;1\n60,2\n", wantErr: "x.csv:3: want 2 columns separated by semicolons, as the header has"},
		// pandas' to_csv of a zone-aware index; a space after the time.
		{
			name: "pandas time with an offset", in: "timestamp,value\n2024-01-01 00:00:00+00:00,1\n2024-01-01 01:05:00+01:00,2\n2024-01-01 00:10:00 UTC,3\n",
			wantStep: 5 * time.Minute, wantVals: []float64{1, 2, 3}, wantStart: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), wantRows: 3,
		},
		{
			// Demand is never negative: read as 0, and counted.
			name: "negative values", in: "ts,value\n0,-3\n60,2\n120,-0.5\n",
			wantStep: time.Minute, wantVals: []float64{0, 2, 0}, wantStart: time.Unix(0, 0).UTC(), wantRows: 3, wantNegative: 2,
		},
		{
			name: "space after the time", in: "ts,value\n1704067200 ,1\n1704067260 ,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Unix(1704067200, 0).UTC(), wantRows: 2,
		},
		{name: "wrong field count", in: "ts,value\n0,1,2\n", wantErr: "x.csv:2: want 2 columns separated by commas, as the header has"},
		{name: "one column", in: "ts value\n0 1\n", wantErr: `x.csv:1: header "ts value" is one column; want the time then the value, separated by commas, semicolons or tabs, such as timestamp,value`},
		{
			// A label column after the values (Yahoo's anomaly
			// benchmark, NAB's labelled exports): the column named value.
			name: "value column by its name", in: "timestamp,is_anomaly,Value\n0,0,1\n60,1,2\n",
			wantStep: time.Minute, wantVals: []float64{1, 2}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 2, wantColumn: "Value",
		},
		{
			// Several series in one export: the one named.
			name: "value column named by the caller", in: "Time,gpu0,gpu1\n0,1,5\n60,2,6\n", column: " GPU1",
			wantStep: time.Minute, wantVals: []float64{5, 6}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 2, wantColumn: "gpu1",
		},
		{name: "three columns, none named value", in: "Time,gpu0,gpu1\n0,1,5\n", wantErr: `x.csv:1: header "Time,gpu0,gpu1" has 3 columns and none is named value: more than one column may hold the values; name the value column (one of "gpu0", "gpu1")`},
		{name: "named column missing", in: "ts,value\n0,1\n", column: "cpu", wantErr: `x.csv:1: value column "cpu" is not in the header "ts,value"; it may be "value"`},
		{name: "time column is not a value column", in: "ts,value\n0,1\n", column: "ts", wantErr: `value column "ts" is not in the header`},
		{name: "row shorter than the header", in: "ts,a,value\n0,1,2\n60,1\n", wantErr: "x.csv:3: want 3 columns separated by commas, as the header has"},
		{name: "too short", in: "ts,value\n0,1\n", wantErr: "has 1 data rows"},
		{name: "empty", in: "", wantErr: "x.csv: is empty; want a header"},
		{name: "blank lines only", in: "\n\n\n", wantErr: "x.csv: is empty"},
		{name: "unterminated quote", in: "ts,value\n0,1\n\"60,2\n", wantErr: "x.csv:3: extraneous or missing \" in quoted-field"},
		{name: "time out of range", in: "ts,value\n-99999999999999,1\n0,2\n", wantErr: "x.csv:2: time -99999999999999 is outside the years 0001 to 9999"},
		{
			// JavaScript, InfluxDB and Datadog exports: milliseconds to
			// nanoseconds, told apart from seconds by size.
			name: "Unix milliseconds", in: "timestamp,value\n1633651200000,1\n1633651260000,2\n1633651320500,3\n",
			wantStep: time.Minute, wantVals: []float64{1, 2, 3}, wantStart: time.Unix(1633651200, 0).UTC(),
			wantRows: 3,
		},
		{
			name: "Unix microseconds, decimal milliseconds and nanoseconds", in: "ts,value\n1633651200000000,1\n1633651260000.5,2\n1633651320000000000,3\n",
			wantStep: time.Minute, wantVals: []float64{1, 2, 3}, wantStart: time.Unix(1633651200, 0).UTC(),
			wantRows: 3,
		},
		{name: "largest nanoseconds", in: "ts,value\n9223372036854775806,1\n9223372036854775807,2\n", wantErr: "x.csv: has 2 data rows at 1 distinct times"},
		{name: "too irregular", in: "ts,value\n0,1\n1000,2\n1001,3\n", wantErr: "x.csv: samples are too irregular: 3 rows would span 1002 steps of 1s"},
		{name: "samples years apart", in: "ts,value\n0,1\n100000000,2\n", wantErr: "x.csv: samples are 100000000s apart"},
		{
			// Found by FuzzReadTrace: the step is the rows' spacing, and
			// the two values were less than one step apart.
			name: "values within one step", in: "ts,0\n0,0\n1,0\n10,\n20,\n070,\n100,",
			wantErr: "x.csv: the rows with a value span 1s, less than one step of 7s",
		},
		{
			// What curl saves of /api/v1/query_range: NaN is a gap, a
			// repeated time is merged.
			name:     "Prometheus range query response",
			in:       ` {"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"demand","job":"api"},"values":[[1633651200,"1"],[1633651260.5,"NaN"],[1633651320,"3"],[1633651320,"4"],[1633651380,"-2"]]}]}}`,
			wantStep: time.Minute, wantVals: []float64{1, 2.5, 4, 0}, wantStart: time.Unix(1633651200, 0).UTC(),
			wantRows: 5, wantMissing: 1, wantMerged: 1, wantNegative: 1, wantFilled: 1, wantColumn: `demand{job="api"}`,
		},
		{
			name: "Prometheus data object, a series chosen by a label", column: `job="b"`,
			in:       "\ufeff{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"a\"},\"values\":[[0,\"9\"],[60,\"9\"]]},{\"metric\":{\"job\":\"b\"},\"values\":[[120,\"1\"],[60,\"2\"]]}]}",
			wantStep: time.Minute, wantVals: []float64{2, 1}, wantStart: time.Unix(60, 0).UTC(),
			wantRows: 2, wantColumn: `{job="b"}`, wantNewestFirst: true,
		},
		{name: "Prometheus, two series", in: `{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[]},{"metric":{"job":"b"},"values":[]}]}`, wantErr: `x.csv: data.result holds 2 series ({job="a"}, {job="b"}); the backtest replays one: aggregate them in the query (sum(...)), or choose one with --column LABEL=VALUE`},
		{name: "Prometheus, no series matches", column: "job=c", in: `{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[]},{"metric":{"job":"b"},"values":[]}]}`, wantErr: `--column job="c" matches none of the 2 series: {job="a"}, {job="b"}`},
		{name: "Prometheus, a column that is no label", column: "value", in: `{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[]}]}`, wantErr: `--column "value": a Prometheus response's series is chosen by a label, as LABEL=VALUE (such as job=api); it holds {job="a"}`},
		{name: "Prometheus, no series", in: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, wantErr: "x.csv: data.result holds no series"},
		{name: "Prometheus, instant query", in: `{"status":"success","data":{"resultType":"vector","result":[]}}`, wantErr: `x.csv: data.resultType is "vector"; want "matrix", the response of a range query (/api/v1/query_range)`},
		{name: "Prometheus, error", in: `{"status":"error","errorType":"bad_data","error":"parse error"}`, wantErr: "x.csv: the saved response is Prometheus's error, bad_data: parse error"},
		{name: "Prometheus, no data", in: `{"status":"success"}`, wantErr: `x.csv: JSON without "data"`},
		{name: "Prometheus, histograms", in: `{"resultType":"matrix","result":[{"metric":{"job":"a"},"histograms":[[0,{"count":"1","sum":"1","buckets":[]}]]}]}`, wantErr: `x.csv: data.result[0] ({job="a"}) holds native histograms`},
		{name: "Prometheus, out of order", in: `{"resultType":"matrix","result":[{"metric":{},"values":[[0,"1"],[60,"1"],[30,"1"]]}]}`, wantErr: "x.csv: data.result[0].values[2]: time 30 is out of order"},
		{name: "Prometheus, a value that is no number", in: `{"resultType":"matrix","result":[{"metric":{},"values":[[0,"x"]]}]}`, wantErr: "x.csv: data.result: "},
		{name: "not JSON after all", in: `{"status":`, wantErr: "x.csv: not a Prometheus API response (JSON): unexpected EOF; a trace is CSV"},
		{
			name: "gap between huge values interpolated without overflow", in: "ts,value\n0,1e308\n120,1.7e308\n180,0\n240,1\n",
			wantStep: time.Minute, wantVals: []float64{1e308, 1.35e308, 1.7e308, 0, 1}, wantStart: time.Unix(0, 0).UTC(),
			wantRows: 4, wantFilled: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, info, err := ReadTraceColumn("x.csv", strings.NewReader(tt.in), tt.column)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			header := strings.FieldsFunc(strings.SplitN(tt.in, "\n", 2)[0], func(r rune) bool { return r == ',' || r == ';' || r == '\t' })
			if want := cmp.Or(tt.wantColumn, header[len(header)-1]); info.Column != strings.Trim(want, `"`) {
				t.Errorf("value column %q, want %q", info.Column, want)
			}
			if info.NoHeader != tt.wantNoHeader {
				t.Errorf("no header %v, want %v", info.NoHeader, tt.wantNoHeader)
			}
			if info.NewestFirst != tt.wantNewestFirst {
				t.Errorf("newest first %v, want %v", info.NewestFirst, tt.wantNewestFirst)
			}
			if info.Rows != tt.wantRows || info.Merged != tt.wantMerged || info.Missing != tt.wantMissing || info.Negative != tt.wantNegative || info.Unused != tt.wantUnused {
				t.Errorf("read %d rows, merged %d, %d without a value, %d negative, %d unused; want %d, %d, %d, %d, %d",
					info.Rows, info.Merged, info.Missing, info.Negative, info.Unused, tt.wantRows, tt.wantMerged, tt.wantMissing, tt.wantNegative, tt.wantUnused)
			}
			filled := 0
			for _, o := range info.Observed {
				if !o {
					filled++
				}
			}
			if info.Filled != tt.wantFilled || filled != tt.wantFilled || (info.Observed != nil) != (tt.wantFilled > 0) ||
				(info.Observed != nil && len(info.Observed) != len(s.Values)) {
				t.Errorf("%d samples filled, %d flags of %d false; want %d (no flags when none)", info.Filled, filled, len(info.Observed), tt.wantFilled)
			}
			if s.Step != tt.wantStep || !s.Start.Equal(tt.wantStart) {
				t.Errorf("step %s start %s, want %s %s", s.Step, s.Start, tt.wantStep, tt.wantStart)
			}
			if len(s.Values) != len(tt.wantVals) {
				t.Fatalf("values %v, want %v", s.Values, tt.wantVals)
			}
			for i, v := range tt.wantVals {
				if s.Values[i] != v {
					t.Errorf("values %v, want %v", s.Values, tt.wantVals)
					break
				}
			}
		})
	}
}

func TestLoadTraceMissingFile(t *testing.T) {
	if _, err := LoadTrace("testdata/traces/nope.csv"); err == nil || !strings.Contains(err.Error(), "nope.csv") {
		t.Fatalf("error %v, want one naming the file", err)
	}
}

// TestLoadTraceRealRepeatedTimestamp reads the NAB occupancy trace whose
// export holds two rows at 2015-09-10 05:33 (2.56 and 8.94), the case a
// held-out trace stopped the backtest on: the rows are merged into one
// that keeps the higher value. The trace's rows drift off its 5-minute
// grid (11:30, 11:35, ...), so the sample at 05:30 lies on the line from
// the row at 05:28 (6.06) to the merged one: 7.212 from 8.94, where the
// lower row would give 4.66.
func TestLoadTraceRealRepeatedTimestamp(t *testing.T) {
	s, info, err := LoadTraceInfo("testdata/traces/occupancy_t4013.csv")
	if err != nil {
		t.Fatal(err)
	}
	if info.Rows != 2500 || info.Merged != 1 {
		t.Errorf("read %d rows, merged %d; want 2500 and 1", info.Rows, info.Merged)
	}
	if s.Step != 5*time.Minute {
		t.Fatalf("step %s, want 5m", s.Step)
	}
	at := time.Date(2015, 9, 10, 5, 30, 0, 0, time.UTC)
	i := int(at.Sub(s.Start) / s.Step)
	want := 6.06 + (8.94-6.06)*2/5
	if !s.Time(i).Equal(at) || math.Abs(s.Values[i]-want) > 1e-9 {
		t.Errorf("sample %d at %s is %v, want %.3f at %s (from the higher of the two rows)", i, s.Time(i), s.Values[i], want, at)
	}
	if info.Filled == 0 || len(info.Observed) != s.Len() {
		t.Errorf("%d samples filled, %d flags for %d samples; want the gaps filled and flagged", info.Filled, len(info.Observed), s.Len())
	}
}

// loadTrace loads a copied trace or fails the test.
func loadTrace(t testing.TB, name string) Series {
	t.Helper()
	s, err := LoadTrace("testdata/traces/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestValueColumnErrorIsTyped: callers tell an export whose value column
// must be named (and name it) from other bad headers.
func TestValueColumnErrorIsTyped(t *testing.T) {
	_, _, err := ReadTraceColumn("x.csv", strings.NewReader("ts,a,b\n0,1,2\n60,1,2\n"), "")
	if !errors.Is(err, ErrValueColumn) {
		t.Errorf("error %v, want ErrValueColumn", err)
	}
	_, _, err = ReadTraceColumn("x.csv", strings.NewReader("value,ts\n0,1\n"), "")
	if err == nil || errors.Is(err, ErrValueColumn) {
		t.Errorf("error %v, want another", err)
	}
}

// TestSliceKeepsObservedFlags: a slice of a series carries the flags of
// its samples; flags that are not one per value are ignored, not sliced
// out of range.
func TestSliceKeepsObservedFlags(t *testing.T) {
	s := Series{Start: monday, Step: time.Minute, Values: []float64{1, 2, 3, 4}, Observed: []bool{true, false, false, true}}
	if got := s.Slice(1, 4); !slices.Equal(got.Observed, []bool{false, false, true}) {
		t.Errorf("flags of samples 1-3: %v", got.Observed)
	}
	s.Observed = s.Observed[:2]
	if got := s.Slice(1, 4); got.Observed != nil {
		t.Errorf("flags %v from two flags for four samples, want none", got.Observed)
	}
	if got := s.observedOnly(); !slices.Equal(got.Values, s.Values) {
		t.Errorf("values %v with two flags for four samples, want them as they are", got.Values)
	}
}

// repeatedHourTrace returns a trace of n rows a minute apart from
// 2024-10-27 00:00 (value 10, 11, ...), then, after the row at minute
// after, the rows from minute from to minute after again with value 100
// plus their minute and, at each repeated minute m%7 == 3, a half-minute
// row that is new: a local-time export's repeated hour, as the clocks go
// back.
func repeatedHourTrace(n, from, after int) string {
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	at := func(m int, sec int) string {
		return time.Date(2024, 10, 27, 0, m, sec, 0, time.UTC).Format("2006-01-02 15:04:05")
	}
	for m := range n {
		fmt.Fprintf(&b, "%s,%d\n", at(m, 0), 10+m)
		if m == after {
			for r := from; r <= after; r++ {
				fmt.Fprintf(&b, "%s,%d\n", at(r, 0), 100+r)
			}
		}
	}
	return b.String()
}

// TestReadTraceRepeatedHour: a few rows out of time order (at most 1% of
// them; NAB's machine_temperature_system_failure repeats an hour, 12 of
// its 22,695 rows) are put in order, each merged into the row at its time
// keeping the higher value, and counted; more are an error that says how
// many.
func TestReadTraceRepeatedHour(t *testing.T) {
	in := repeatedHourTrace(1000, 120, 125)
	s, info, err := ReadTraceInfo("x.csv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	// The repeat of the last minute, 02:05, follows the row at 02:05: it
	// is merged in place, not out of order.
	if info.Reordered != 5 || info.Merged != 6 || info.Rows != 1006 {
		t.Errorf("%d rows, %d put in order, %d merged; want 1006, 5 and 6", info.Rows, info.Reordered, info.Merged)
	}
	if want := "line 128, 2024-10-27 02:00:00 after a row at 2024-10-27 02:05:00"; info.ReorderedFirst != want {
		t.Errorf("first reordered %q, want %q", info.ReorderedFirst, want)
	}
	if s.Step != time.Minute || s.Len() != 1000 {
		t.Fatalf("step %s, %d samples; want 1m and 1000", s.Step, s.Len())
	}
	for m, want := range map[int]float64{119: 129, 120: 220, 125: 225, 126: 136} {
		if s.Values[m] != want {
			t.Errorf("minute %d: %v, want %v", m, s.Values[m], want)
		}
	}

	// The same rows newest first: the same series.
	lines := strings.Split(strings.TrimSuffix(in, "\n"), "\n")
	slices.Reverse(lines[1:])
	rs, rinfo, err := ReadTraceInfo("x.csv", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !rinfo.NewestFirst || rinfo.Reordered != 5 || !slices.Equal(rs.Values, s.Values) || !rs.Start.Equal(s.Start) {
		t.Errorf("newest first: %v, %d put in order, series equal %v; want true, 5, true", rinfo.NewestFirst, rinfo.Reordered, slices.Equal(rs.Values, s.Values))
	}

	// 12 of 1,013 rows out of order: over 1%.
	_, _, err = ReadTraceInfo("x.csv", strings.NewReader(repeatedHourTrace(1000, 118, 130)))
	if want := "x.csv:133: time 2024-10-27 01:58:00 is before the previous row's 2024-10-27 02:10:00; rows must be in time order (a local-time export repeats an hour when the clocks go back: export in UTC, or with the zone's offset); 12 of the 1013 rows are out of order, more than the 1% put in order"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestSeriesHeldTo(t *testing.T) {
	s := Series{Start: monday, Step: time.Minute, Values: []float64{1, 2, 3}}
	gappy := Series{Start: monday, Step: time.Minute, Values: []float64{1, 2, 3}, Observed: []bool{true, false, true}}
	tests := []struct {
		name     string
		s        Series
		t        time.Time
		values   []float64
		observed []bool
	}{
		{"before the end", s, monday.Add(time.Minute), []float64{1, 2, 3}, nil},
		{"at the end", s, monday.Add(2 * time.Minute), []float64{1, 2, 3}, nil},
		{"less than a step after", s, monday.Add(2*time.Minute + 59*time.Second), []float64{1, 2, 3}, nil},
		{"three steps after", s, monday.Add(5*time.Minute + 30*time.Second), []float64{1, 2, 3, 3, 3, 3}, []bool{true, true, true, false, false, false}},
		{"observed flags kept", gappy, monday.Add(3 * time.Minute), []float64{1, 2, 3, 3}, []bool{true, false, true, false}},
		{"empty", Series{Start: monday, Step: time.Minute}, monday.Add(time.Hour), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.HeldTo(tt.t)
			if !slices.Equal(got.Values, tt.values) || !slices.Equal(got.Observed, tt.observed) && tt.observed != nil {
				t.Errorf("values %v observed %v, want %v %v", got.Values, got.Observed, tt.values, tt.observed)
			}
			if tt.observed == nil && !slices.Equal(got.Observed, tt.s.Observed) {
				t.Errorf("observed %v, want the series' own %v", got.Observed, tt.s.Observed)
			}
			if got.Start != tt.s.Start || got.Step != tt.s.Step {
				t.Errorf("start %s step %s, want %s %s", got.Start, got.Step, tt.s.Start, tt.s.Step)
			}
		})
	}
	// The series held is a copy: holding does not write into s.
	long := Series{Start: monday, Step: time.Minute, Values: make([]float64, 3, 10)}
	long.HeldTo(monday.Add(5 * time.Minute))
	if ext := long.Values[:5]; ext[3] != 0 || ext[4] != 0 {
		t.Errorf("HeldTo wrote past the series' end into its storage: %v", ext)
	}
}
