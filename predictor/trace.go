// Package predictor forecasts workload demand from its history and turns the
// forecast into safe replica floors. Everything here is a pure function or a
// small value type: reading from Prometheus and writing annotations happen
// elsewhere.
package predictor

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Series is a demand history on a regular time grid: Values[i] was observed
// at Start + i*Step. Missing samples are filled from their neighbours when a
// trace is loaded, so Values holds no NaN.
type Series struct {
	// Start is the time of Values[0].
	Start time.Time
	// Step is the spacing of the samples.
	Step time.Duration
	// Values are the observations, oldest first.
	Values []float64
	// Observed, when set (one flag per value; ignored otherwise), is false
	// where the value was filled in a gap rather than observed. Cycle
	// detection leaves the filled values out: a line drawn across a
	// missing night is not a night. nil means every value was observed.
	Observed []bool
}

// Len returns the number of samples.
func (s Series) Len() int { return len(s.Values) }

// Time returns the time of sample i.
func (s Series) Time(i int) time.Time { return s.Start.Add(time.Duration(i) * s.Step) }

// End returns the time of the last sample (Start when the series is empty).
func (s Series) End() time.Time {
	if len(s.Values) == 0 {
		return s.Start
	}
	return s.Time(len(s.Values) - 1)
}

// Slice returns samples [i, j) as a series sharing s's storage.
func (s Series) Slice(i, j int) Series {
	out := Series{Start: s.Time(i), Step: s.Step, Values: s.Values[i:j]}
	if len(s.Observed) == len(s.Values) {
		out.Observed = s.Observed[i:j]
	}
	return out
}

// HeldTo returns s extended on its grid up to t (the last sample time at
// or before t), each added sample holding s's last value and marked as
// not observed; s itself where none is added. A model forecasts such a
// history as of t, the window after t, weighing its candidates by the
// samples up to the last observed one (see Model.Forecast): a floor made
// when the newest sample is minutes old is for the minutes to come.
func (s Series) HeldTo(t time.Time) Series {
	n := s.Len()
	if n == 0 || s.Step <= 0 || !t.After(s.End()) {
		return s
	}
	add := int(t.Sub(s.End()) / s.Step)
	if add == 0 {
		return s
	}
	out := Series{Start: s.Start, Step: s.Step, Values: make([]float64, n+add), Observed: make([]bool, n+add)}
	copy(out.Values, s.Values)
	if len(s.Observed) == n {
		copy(out.Observed, s.Observed)
	} else {
		for k := range n {
			out.Observed[k] = true
		}
	}
	for k := n; k < n+add; k++ {
		out.Values[k] = s.Values[n-1]
	}
	return out
}

// The times a trace may hold, in Unix seconds: 0001-01-01 to 9999-12-31.
const (
	minTraceTime = -62135596800
	maxTraceTime = 253402300799
)

// maxTraceStep is the longest spacing of a trace's samples.
const maxTraceStep = 366 * 24 * 3600

// timeColumns are the names a trace's first column, its time, may have
// (in any case): NAB's, Crane's, Grafana's CSV export's, the common ones,
// Splunk's and InfluxDB's (_time), Elasticsearch's (@timestamp),
// Prophet's (ds, its frame's time column, with the value in y), and none
// at all, as pandas' to_csv writes a DataFrame's unnamed index (the
// header ",value").
var timeColumns = []string{"timestamp", "ts", "time", "date", "datetime", "epoch", "_time", "@timestamp", "ds", ""}

// timeColumnNames lists timeColumns for an error.
func timeColumnNames() string {
	return strings.Join(timeColumns[:len(timeColumns)-1], ", ") + " or none (pandas' unnamed index)"
}

// nabTimeLayout is the timestamp layout of NAB traces (no zone; UTC).
const nabTimeLayout = "2006-01-02 15:04:05"

// TraceInfo says how reading a trace changed its rows.
type TraceInfo struct {
	// Rows is the number of data rows read.
	Rows int
	// Merged is the number of rows whose time repeated the previous row's:
	// each was merged into that row, which kept the higher value.
	Merged int
	// Missing is the number of rows without a value (see missingValues):
	// gaps, filled from their neighbours like a row that is not there.
	Missing int
	// Negative is the number of rows with a negative value, read as 0.
	Negative int
	// Observed[i] is true when a row with a value falls within the step up
	// to sample i of the series, false when the sample was filled in a gap;
	// nil when no sample was filled. The backtest keeps a forecast made in
	// a gap from seeing the sample after it (see Backtest). The series has the
	// same flags (Series.Observed).
	Observed []bool
	// Filled is the number of samples filled in gaps.
	Filled int
	// Unused is the number of rows with a value that no sample of the
	// series took: rows closer together than the step, between two of its
	// samples (see gridStep).
	Unused int
	// Column is the name of the value column, as the header has it, and
	// Columns the number of columns of the header.
	Column  string
	Columns int
	// NoHeader is true when the file has no header: its first line was
	// a time and a value, read as the first row.
	NoHeader bool
	// NewestFirst is true when the rows were in time order newest first,
	// as some exports write them; the series is oldest first all the same.
	NewestFirst bool
	// Reordered is the number of rows out of time order (earlier, or in a
	// newest-first file later, than a row above them) that were put in
	// order: at most maxReorderedShare of the rows (see ReadTraceColumn).
	// ReorderedFirst describes the first of them, as "line 10151,
	// 2014-01-07 02:00:00 after a row at 2014-01-07 02:55:00".
	Reordered      int
	ReorderedFirst string
}

// maxReorderedShare is the largest share of a trace's rows that may be out
// of time order: they are put in order. A local-time export repeats an
// hour when the clocks go back (60 rows at a one-minute step, 0.3% of two
// weeks); NAB's machine_temperature_system_failure repeats one, 12 of its
// 22,695 rows. More rows out of order than that are more likely two
// series in one file, or a time column that is not the time, and are an
// error.
const maxReorderedShare = 0.01

// missingValues are the values (in any case, after trimming spaces) that
// mark a row as having no sample: what Prometheus, pandas, Grafana and
// spreadsheets write for one. Infinite values count as missing too, as
// they do from Prometheus (see predictor/promsource).
var missingValues = []string{"", "nan", "null", "none", "n/a", "na", "-"}

// LoadTrace reads a trace file; see ReadTrace.
func LoadTrace(path string) (Series, error) {
	s, _, err := LoadTraceInfo(path)
	return s, err
}

// LoadTraceInfo reads a trace file; see ReadTraceInfo.
func LoadTraceInfo(path string) (Series, TraceInfo, error) {
	return LoadTraceColumn(path, "")
}

// LoadTraceColumn reads a trace file; see ReadTraceColumn.
func LoadTraceColumn(path, column string) (Series, TraceInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return Series{}, TraceInfo{}, fmt.Errorf("reading trace: %w", err)
	}
	defer f.Close()
	return ReadTraceColumn(path, f, column)
}

// ReadTrace parses a demand trace; see ReadTraceInfo.
func ReadTrace(name string, r io.Reader) (Series, error) {
	s, _, err := ReadTraceInfo(name, r)
	return s, err
}

// ReadTraceInfo parses a demand trace in CSV; see ReadTraceColumn, with
// the value column chosen by its rule.
func ReadTraceInfo(name string, r io.Reader) (Series, TraceInfo, error) {
	return ReadTraceColumn(name, r, "")
}

// ErrValueColumn is the error when a trace's header has more than two
// columns and none is named value: the caller must name the value column
// (ReadTraceColumn's column).
var ErrValueColumn = errors.New("more than one column may hold the values")

// ReadTraceColumn parses a demand trace in CSV: a header, then rows of a
// time and values. The header names the time column, the first, one of
// timeColumns (timestamp for NAB, ts for Crane, time for Grafana, none
// for pandas), and the value column anything (`timestamp,value`,
// `"Time","gpu_util"`). A file of two columns may have no header: its
// first line is then a row (info.NoHeader). With more
// columns than two (a label column, several series of one export), the
// values are those of the column named column, in any case, or, when
// column is empty, of the column named value (ErrValueColumn without
// one); the other columns are not read. A time is Unix seconds, whole or
// decimal (as Prometheus exports them), Unix milliseconds, microseconds or
// nanoseconds (see unixDivisors), or a date and time: `YYYY-MM-DD
// HH:MM:SS` (NAB's; UTC) or the same without seconds, RFC 3339
// (`2015-09-01T05:33:00Z`, seconds optional) or the same without a zone
// (UTC), or a date alone; fractions of a second are dropped. Rows must be
// in time order, oldest or newest first, but for at most
// maxReorderedShare of them (a local-time export's repeated hour), which
// are put in order (info.Reordered). Rows with the same time as the previous row (real exports
// have them) are merged into one sample that keeps the highest value,
// since the predictor forecasts peaks; info counts them. A row whose value
// is missing (see missingValues) is a gap. The step is the most common
// spacing; gaps are filled by linear interpolation, and info marks the
// filled samples. name is used in errors, which have the form name:line:
// problem.
func ReadTraceColumn(name string, r io.Reader, column string) (s Series, info TraceInfo, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if isJSON(br) {
		return readPromJSON(name, br, column)
	}
	cr, err := newCSVReader(name, br)
	if err != nil {
		return Series{}, info, err
	}
	header, col, first, err := readHeader(name, cr, column)
	if err != nil {
		return Series{}, info, err
	}
	var rows traceRows
	rows.info.Column, rows.info.Columns, rows.info.NoHeader = header[col], len(header), first != nil
	// prevTime is the previous row's time as written.
	var prevTime string
	for {
		rec, err := first, error(nil)
		if rec == nil {
			rec, err = cr.Read()
		}
		first = nil
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos is only valid after a successful Read.
			line := 0
			if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
				line = pe.StartLine
			}
			return Series{}, rows.info, fmt.Errorf("%s:%d: %w", name, line, csvCause(err, len(header), cr.Comma))
		}
		line, _ := cr.FieldPos(0)
		t, v, ok, err := parseRow(rec[0], rec[col], cr.Comma)
		if err != nil {
			return Series{}, rows.info, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if !rows.add(t, v, ok) {
			// Out of order: kept aside, and put in order at the end if
			// few enough rows are (see maxReorderedShare).
			if rows.outOfOrder == nil {
				rows.outOfOrder = outOfOrder(name, line, strings.TrimSpace(rec[0]), prevTime, rows.times.order)
				rows.info.ReorderedFirst = fmt.Sprintf("line %d, %s after a row at %s", line, strings.TrimSpace(rec[0]), prevTime)
			}
			rows.late = append(rows.late, lateRow{t, v, ok})
			continue
		}
		prevTime = strings.TrimSpace(rec[0])
	}
	return rows.series(name)
}

// lateRow is a row out of time order, put in order once all are read.
type lateRow struct {
	t  int64
	v  float64
	ok bool
}

// traceRows gathers a trace's rows as they are read: rows at the time of
// the previous one are merged into it, keeping the highest value (the
// predictor forecasts peaks); a row without a value is a gap; a negative
// value is read as 0 (demand is never negative; the baselines' forecasts
// are held at 0, so a negative actual would score every forecaster
// against a demand no replica count meets). info counts each.
type traceRows struct {
	info   TraceInfo
	at     []int64
	values []float64
	// times follows the distinct times of all rows, with a value or
	// without: the step is found from them.
	times rowTimes
	// late are the rows out of time order, and outOfOrder the error
	// naming the first of them, for a trace with too many (see
	// maxReorderedShare).
	late       []lateRow
	outOfOrder error
}

// add adds a row at t with value v (ok false: without a value); false
// when t breaks the order of the rows before it.
func (a *traceRows) add(t int64, v float64, ok bool) bool {
	a.info.Rows++
	if !a.times.add(t) {
		return false
	}
	v, ok = a.value(v, ok)
	if !ok {
		return true
	}
	if n := len(a.at); n > 0 && t == a.at[n-1] {
		a.values[n-1] = max(a.values[n-1], v)
		a.info.Merged++
		return true
	}
	a.at = append(a.at, t)
	a.values = append(a.values, v)
	return true
}

// value returns a row's value as the series takes it, counting it in info:
// false for a row without a value (a gap), 0 for a negative one.
func (a *traceRows) value(v float64, ok bool) (float64, bool) {
	switch {
	case !ok:
		a.info.Missing++
	case v < 0:
		a.info.Negative++
		return 0, true
	}
	return v, ok
}

// putInOrder adds the rows out of time order where their times go, in the
// rows already in order oldest first: a row at the time of another is
// merged into it, keeping the higher value, as add merges repeated times.
// One merge of the two sorted lists, so that a long trace with many such
// rows costs a pass, not a copy of the trace per row.
func (a *traceRows) putInOrder() {
	slices.SortStableFunc(a.late, func(x, y lateRow) int { return cmp.Compare(x.t, y.t) })
	a.info.Reordered += len(a.late)
	every := make([]int64, 0, len(a.times.every)+len(a.late))
	at := make([]int64, 0, len(a.at)+len(a.late))
	values := make([]float64, 0, cap(at))
	add := func(t int64, v float64) {
		if n := len(at); n > 0 && at[n-1] == t {
			values[n-1] = max(values[n-1], v)
			a.info.Merged++
			return
		}
		at, values = append(at, t), append(values, v)
	}
	i, k := 0, 0
	for _, r := range a.late {
		for ; k < len(a.times.every) && a.times.every[k] <= r.t; k++ {
			every = append(every, a.times.every[k])
		}
		if n := len(every); n == 0 || every[n-1] != r.t {
			every = append(every, r.t)
		}
		for ; i < len(a.at) && a.at[i] <= r.t; i++ {
			add(a.at[i], a.values[i])
		}
		if v, ok := a.value(r.v, r.ok); ok {
			add(r.t, v)
		}
	}
	a.times.every = append(every, a.times.every[k:]...)
	for ; i < len(a.at); i++ {
		add(a.at[i], a.values[i])
	}
	a.at, a.values = at, values
}

// series returns the rows as a series on a regular grid (see
// ReadTraceColumn), oldest first.
func (a *traceRows) series(name string) (s Series, info TraceInfo, err error) {
	if a.times.order < 0 {
		a.info.NewestFirst = true
		slices.Reverse(a.at)
		slices.Reverse(a.values)
		slices.Reverse(a.times.every)
	}
	if len(a.late) > 0 {
		if float64(len(a.late)) > maxReorderedShare*float64(a.info.Rows) {
			return Series{}, a.info, fmt.Errorf("%w; %d of the %d rows are out of order, more than the %g%% put in order", a.outOfOrder, len(a.late), a.info.Rows, 100*maxReorderedShare)
		}
		a.putInOrder()
	}
	info = a.info
	if len(a.at) < 2 {
		return Series{}, info, tooFew(name, info, len(a.at))
	}
	s, info.Observed, info.Unused, err = regularize(name, a.at, a.values, a.times.every)
	for _, o := range info.Observed {
		if !o {
			info.Filled++
		}
	}
	if info.Filled == 0 {
		info.Observed = nil
	}
	s.Observed = info.Observed
	return s, info, err
}

// separator is a column separator a trace may use, and its name in
// messages.
type separator struct {
	r    rune
	name string
}

// separators are the comma, and the semicolon and tab of spreadsheets set
// to a language that writes a decimal comma.
var separators = []separator{{',', "commas"}, {';', "semicolons"}, {'\t', "tabs"}}

// separatorName returns how messages name the separator r.
func separatorName(r rune) string {
	for _, s := range separators {
		if s.r == r {
			return s.name
		}
	}
	return strconv.QuoteRune(r)
}

// rowTimes follows the times of a trace's rows.
type rowTimes struct {
	// every holds the distinct times, in the rows' order.
	every []int64
	// order is 1 when the rows are oldest first, -1 newest first, 0
	// until two distinct times tell.
	order int
}

// add records a row's time t; false when it breaks the rows' order.
func (r *rowTimes) add(t int64) bool {
	if m := len(r.every); m > 0 {
		c := cmp.Compare(t, r.every[m-1])
		if c == 0 {
			return true
		}
		if r.order == 0 {
			r.order = c
		}
		if c != r.order {
			return false
		}
	}
	r.every = append(r.every, t)
	return true
}

// tooFew is the error of a trace whose rows have values at fewer than two
// distinct times (n).
func tooFew(name string, info TraceInfo, n int) error {
	switch {
	case info.Missing > 0:
		return fmt.Errorf("%s: has %d data rows, %d of them without a value, at %d distinct times with one; need at least 2", name, info.Rows, info.Missing, n)
	case info.Merged > 0:
		return fmt.Errorf("%s: has %d data rows at %d distinct times; need at least 2", name, info.Rows, n)
	}
	return fmt.Errorf("%s: has %d data rows; need at least 2", name, n)
}

// outOfOrder is the error of a row at line whose time, tm, breaks the
// order (1 oldest first, -1 newest first) of the rows before it, the last
// of which was at prev.
func outOfOrder(name string, line int, tm, prev string, order int) error {
	const cause = "a local-time export repeats an hour when the clocks go back: export in UTC, or with the zone's offset"
	if order > 0 {
		return fmt.Errorf("%s:%d: time %s is before the previous row's %s; rows must be in time order (%s)", name, line, tm, prev, cause)
	}
	return fmt.Errorf("%s:%d: time %s is after the previous row's %s, and the rows before it were newest first; rows must be in time order, oldest or newest first (%s)", name, line, tm, prev, cause)
}

// newCSVReader returns a CSV reader of a trace. A byte-order mark goes
// before the CSV reader sees a quoted header (Grafana's "Download CSV"
// writes both), and so does the "sep=," line of an export for Excel,
// which names the separator. Without one, the separator is the comma,
// unless the header has none and has a tab or a semicolon.
func newCSVReader(name string, r io.Reader) (*csv.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	comma := ','
	if b, _ := br.Peek(4); strings.EqualFold(string(b), "sep=") {
		first, _ := br.ReadString('\n')
		sep := strings.TrimRight(first, "\r\n")[4:]
		i := slices.IndexFunc(separators, func(s separator) bool { return string(s.r) == sep })
		if i < 0 {
			return nil, fmt.Errorf("%s:1: %q names the separator %q; allowed: sep=, (commas), sep=; (semicolons) or sep= and a tab, or no such line", name, strings.TrimSpace(first), sep)
		}
		comma = separators[i].r
		// An empty line in its place, which the CSV reader skips, keeps
		// the line numbers of errors.
		in = io.MultiReader(strings.NewReader("\n"), br)
	} else {
		b, _ := br.Peek(br.Size())
		header, _, _ := strings.Cut(string(b), "\n")
		header = unquoted(header)
		switch {
		case strings.ContainsRune(header, ','):
		case strings.ContainsRune(header, '\t'):
			comma = '\t'
		case strings.ContainsRune(header, ';'):
			comma = ';'
		}
	}
	cr := csv.NewReader(in)
	cr.Comma = comma
	cr.TrimLeadingSpace = true
	return cr, nil
}

// readHeader reads a trace's header (see ReadTraceColumn) and sets the
// number of fields of every row to its own. It returns the header, trimmed,
// and the index of the value column. A file without a header, whose first
// line is two fields, a time and a value (or none), is read as the time
// and the value: the header returned is time,value and first is that line,
// the first data row; first is nil otherwise.
func readHeader(name string, cr *csv.Reader, column string) (header []string, col int, first []string, err error) {
	header, err = cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, 0, nil, fmt.Errorf("%s: is empty; want a header, such as timestamp,value, and a row for each sample", name)
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%s:1: reading header: %w", name, csvCause(err, 2, cr.Comma))
	}
	cr.FieldsPerRecord = len(header)
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	if len(header) < 2 {
		return nil, 0, nil, fmt.Errorf("%s:1: header %q is one column; want the time then the value, separated by commas, semicolons or tabs, such as timestamp,value", name, header[0])
	}
	if _, err := parseTime(header[0]); err == nil {
		row := strings.Join(header, string(cr.Comma))
		_, _, _, err := parseRow(header[0], header[1], cr.Comma)
		switch {
		case len(header) > 2:
			return nil, 0, nil, fmt.Errorf("%s:1: %q is a data row of %d columns; a file without a header may have two, the time then the value; with more, the first line must be a header that names them, such as timestamp,host,value", name, row, len(header))
		case err != nil:
			return nil, 0, nil, fmt.Errorf("%s:1: %q is neither a header, such as timestamp,value, nor a data row (a file without a header): %w", name, row, err)
		case column != "":
			return nil, 0, nil, fmt.Errorf("%s:1: %q is a data row: the file has no header, so --column %s names nothing; leave --column out (the value is the second column) or add a header", name, row, column)
		}
		return []string{"time", "value"}, 1, header, nil
	}
	if !slices.Contains(timeColumns, strings.ToLower(header[0])) || (len(header) == 2 && header[1] == "") {
		return nil, 0, nil, fmt.Errorf("%s:1: header is %q; want the time column, named %s, then the value column under any name, such as timestamp,value (NAB) or ts,value (Crane)",
			name, strings.Join(header, ","), timeColumnNames())
	}
	col, err = valueColumn(header, column)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%s:1: %w", name, err)
	}
	return header, col, nil, nil
}

// valueColumn returns the index of the value column in header (see
// ReadTraceColumn), or an error naming the columns it may be.
func valueColumn(header []string, column string) (int, error) {
	values := header[1:]
	quoted := make([]string, len(values))
	for i, h := range values {
		quoted[i] = strconv.Quote(h)
	}
	switch {
	case column != "":
		for i, h := range values {
			if strings.EqualFold(h, strings.TrimSpace(column)) {
				return i + 1, nil
			}
		}
		return 0, fmt.Errorf("value column %q is not in the header %q; it may be %s", column, strings.Join(header, ","), strings.Join(quoted, ", "))
	case len(header) == 2:
		return 1, nil
	}
	for i, h := range values {
		if strings.EqualFold(h, "value") {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("header %q has %d columns and none is named value: %w; name the value column (one of %s)",
		strings.Join(header, ","), len(header), ErrValueColumn, strings.Join(quoted, ", "))
}

// parseRow parses one data row's time, in Unix seconds, and value; ok is
// false when the row has no value (see missingValues). In columns not
// separated by commas, a number may have a decimal comma (see
// decimalPoint).
func parseRow(tm, value string, comma rune) (t int64, v float64, ok bool, err error) {
	tm, field := strings.TrimSpace(tm), strings.TrimSpace(value)
	if comma != ',' {
		tm, field = decimalPoint(tm), decimalPoint(field)
	}
	if t, err = parseTime(tm); err != nil {
		return 0, 0, false, err
	}
	if slices.Contains(missingValues, strings.ToLower(field)) {
		return t, 0, false, nil
	}
	v, err = strconv.ParseFloat(field, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0):
		return 0, 0, false, fmt.Errorf("value %q is beyond the range of a 64-bit float (about 1.8e308)", value)
	case err != nil:
		return 0, 0, false, fmt.Errorf("value %q is not a number; a row without a sample may leave it empty or write NaN or null", value)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return t, 0, false, nil // NaN or Inf, as Prometheus writes: no sample
	}
	return t, v, true, nil
}

// timeLayouts are the date-and-time forms a trace's times may take; a
// fraction of a second is accepted after the seconds in each. Times
// without a zone are UTC. Spreadsheets often write minutes without
// seconds, and daily exports a date alone.
var timeLayouts = []string{
	nabTimeLayout, time.RFC3339, "2006-01-02T15:04:05",
	"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02T15:04Z07:00", "2006-01-02",
	// pandas' to_csv of a zone-aware index, an offset without a colon,
	// and UTC spelt out.
	"2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05 UTC",
}

// unixDivisors turn a numeric time into Unix seconds: it is in seconds,
// milliseconds, microseconds or nanoseconds, the first unit in which it
// falls before the year 10000 (exports from JavaScript, InfluxDB or
// Datadog count milliseconds or nanoseconds; seconds and milliseconds
// agree on no date after 1978).
var unixDivisors = []float64{1, 1e3, 1e6, 1e9}

// unixDivisor returns the first of unixDivisors that puts the numeric time
// x before the year 10000, or the last.
func unixDivisor(x float64) float64 {
	for _, d := range unixDivisors[:len(unixDivisors)-1] {
		if x/d <= maxTraceTime {
			return d
		}
	}
	return unixDivisors[len(unixDivisors)-1]
}

// parseTime parses a trace's time, in Unix seconds: a whole or decimal
// number of seconds (Prometheus exports them with a fraction),
// milliseconds, microseconds or nanoseconds (see unixDivisors), or a date
// and time in one of timeLayouts. Fractions of a second are dropped.
func parseTime(s string) (int64, error) {
	var t int64
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		t = n / int64(unixDivisor(float64(n)))
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		secs := f / unixDivisor(f)
		if !(secs >= minTraceTime && secs <= maxTraceTime) {
			return 0, fmt.Errorf("time %s is outside the years 0001 to 9999 in Unix seconds, milliseconds, microseconds and nanoseconds", s)
		}
		t = int64(math.Floor(secs))
	} else {
		parsed := false
		for _, layout := range timeLayouts {
			if tt, err := time.Parse(layout, s); err == nil {
				t, parsed = tt.Unix(), true
				break
			}
		}
		if !parsed {
			return 0, fmt.Errorf("time %q is neither a Unix time (seconds, or milliseconds to nanoseconds) nor a date and time (YYYY-MM-DD HH:MM:SS or YYYY-MM-DD HH:MM in UTC, RFC 3339 such as 2015-09-01T05:33:00Z or 2015-09-01 05:33:00+00:00, or a date YYYY-MM-DD)", s)
		}
	}
	if t < minTraceTime || t > maxTraceTime {
		return 0, fmt.Errorf("time %d is outside the years 0001 to 9999", t)
	}
	return t, nil
}

// unquoted returns line without its double-quoted parts, where a
// separator is text.
func unquoted(line string) string {
	var b strings.Builder
	in := false
	for _, r := range line {
		switch {
		case r == '"':
			in = !in
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// decimalPoint returns a number written with a decimal comma ("12,5",
// as spreadsheets set to many languages write it) with a decimal point;
// anything else (no comma, or also a point or another comma, as in
// "1.234,5") as it is.
func decimalPoint(s string) string {
	if strings.Count(s, ",") != 1 || strings.ContainsRune(s, '.') {
		return s
	}
	return strings.Replace(s, ",", ".", 1)
}

// csvCause drops encoding/csv's own position prefix from an error; the
// caller adds file:line. fields is the number of columns each row must
// have: the header's; comma their separator.
func csvCause(err error, fields int, comma rune) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("want %d columns separated by %s, as the header has", fields, separatorName(comma))
		}
		return pe.Err
	}
	return err
}

// regularize puts samples on a grid with the trace's step (see gridStep
// of the spacings of every, the times of all rows, including those without
// a value), interpolating linearly over gaps; observed[i] says whether a
// row falls within the step up to sample i or the rows around it are less
// than 1.5 steps apart (false: filled in a gap). unused counts the rows
// with a value that no sample took (neither its own nor one of the two
// rows a sample is interpolated between).
func regularize(name string, times []int64, values []float64, every []int64) (_ Series, observed []bool, unused int, _ error) {
	diffs := make([]int64, len(every)-1)
	for i := range diffs {
		diffs[i] = every[i+1] - every[i]
	}
	step := gridStep(diffs)
	if step > maxTraceStep {
		return Series{}, nil, 0, fmt.Errorf("%s: samples are %ds apart; the most common spacing must be at most a year", name, step)
	}
	n := int((times[len(times)-1]-times[0])/step) + 1
	if n < 2 {
		return Series{}, nil, 0, fmt.Errorf("%s: the rows with a value span %ds, less than one step of %ds (the most common spacing of the rows); need values at least a step apart", name, times[len(times)-1]-times[0], step)
	}
	if n > 10*len(every) {
		return Series{}, nil, 0, fmt.Errorf("%s: samples are too irregular: %d rows would span %d steps of %ds (the most common spacing); a trace needs rows at one spacing, with gaps no longer than about 10 times the rows it has", name, len(every), n, step)
	}
	out := make([]float64, n)
	observed = make([]bool, n)
	used := make([]bool, len(times))
	j := 0
	for i := range out {
		t := times[0] + int64(i)*step
		for j+1 < len(times) && times[j+1] <= t {
			j++
		}
		used[j] = true
		if times[j] != t && j+1 < len(times) {
			used[j+1] = true
		}
		// A sample with a row less than a step before it (or on it) is
		// observed, and so is one between two rows less than 1.5 steps
		// apart: jittered times, not a missing row.
		observed[i] = t-times[j] < step || (j+1 < len(times) && 2*(times[j+1]-times[j]) < 3*step)
		if times[j] == t || j+1 == len(times) {
			out[i] = values[j]
			continue
		}
		f := float64(t-times[j]) / float64(times[j+1]-times[j])
		out[i] = (1-f)*values[j] + f*values[j+1] // no overflow between huge values
	}
	for _, u := range used {
		if !u {
			unused++
		}
	}
	return Series{Start: time.Unix(times[0], 0).UTC(), Step: time.Duration(step) * time.Second, Values: out}, observed, unused, nil
}

// gridStep returns the step of a trace from the spacings of its rows: the
// most common spacing (the shortest of equally common ones) when at least
// a quarter of the rows have it and three fifths of the spacings are whole
// multiples of it (within a tenth of it), so that a trace with half its
// rows missing keeps its own step instead of twice it, and one with a few
// rows off the grid keeps it too. Otherwise the times may jitter (no
// spacing is common, or they alternate 53 and 67 seconds apart, where
// either would put the samples off the minute): the step is the mean
// spacing of the rows, leaving out gaps (spacings over 1.5 times the
// median), where that mean explains more of the spacings, as whole
// multiples within 15% of it, than the most common spacing does within a
// tenth (an export of five-minute rows followed by one-minute ones keeps
// five minutes: a mean of 3m20s explains neither). diffs must not be
// empty; it is sorted in place.
func gridStep(diffs []int64) int64 {
	slices.Sort(diffs)
	mode, modeN := diffs[0], 0
	for i := 0; i < len(diffs); {
		j := i
		for j < len(diffs) && diffs[j] == diffs[i] {
			j++
		}
		if j-i > modeN {
			mode, modeN = diffs[i], j-i
		}
		i = j
	}
	common := 4*modeN >= len(diffs)
	byMode := multiples(diffs, mode, 10)
	if common && 5*byMode >= 3*len(diffs) {
		return mode
	}
	limit := diffs[len(diffs)/2] + diffs[len(diffs)/2]/2
	span, rows := 0.0, 0 // float64: the fuzzer's times overflow a sum
	for _, d := range diffs {
		if d <= limit {
			span += float64(d)
			rows++
		}
	}
	mean := max(1, int64(math.Round(span/float64(rows))))
	if common && multiples(diffs, mean, 100/15.0) <= byMode {
		return mode
	}
	return mean
}

// multiples counts the spacings within step/per of a whole multiple of
// step (once at least).
func multiples(diffs []int64, step int64, per float64) int {
	n := 0
	for _, d := range diffs {
		k := max(1, (d+step/2)/step)
		if per*math.Abs(float64(d)-float64(k)*float64(step)) <= float64(step) {
			n++
		}
	}
	return n
}
