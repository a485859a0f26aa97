package predictor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/prometheus/common/model"
)

// isJSON reports whether the trace in br starts, after a byte-order mark
// and white space, with '{': a Prometheus HTTP API response rather than
// CSV. It consumes nothing but the byte-order mark.
func isJSON(br *bufio.Reader) bool {
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if err != nil || len(b) < n {
			return false
		}
		if c := rune(b[n-1]); !unicode.IsSpace(c) {
			return c == '{'
		}
	}
}

// promResponse is a Prometheus HTTP API response, or its data object alone.
type promResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      *promData       `json:"data"`
	Result    json.RawMessage `json:"result"`
	// ResultType is set where the file holds the data object alone.
	ResultType string `json:"resultType"`
}

// promData is the data object of a query's response.
type promData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// readPromJSON reads a trace saved from Prometheus's HTTP API: the response
// to a range query (/api/v1/query_range, as curl writes it), or its data
// object alone. It must hold one series, or column must choose one by a
// label, as LABEL=VALUE (the quotes of LABEL="VALUE" are allowed). A
// sample's time is its timestamp in seconds (the fraction dropped, as in
// CSV); NaN and infinite values are gaps, as they are from the
// Prometheus source. The rows then go as a CSV trace's do (see
// ReadTraceColumn). Errors name the file and, for a sample, its place in
// the JSON (data.result[0].values[12]).
func readPromJSON(name string, r io.Reader, column string) (Series, TraceInfo, error) {
	var resp promResponse
	if err := json.NewDecoder(r).Decode(&resp); err != nil {
		return Series{}, TraceInfo{}, fmt.Errorf("%s: not a Prometheus API response (JSON): %w; a trace is CSV with a header such as timestamp,value, or the JSON that /api/v1/query_range returns", name, err)
	}
	if resp.Status == "error" {
		return Series{}, TraceInfo{}, fmt.Errorf("%s: the saved response is Prometheus's error, %s: %s", name, resp.ErrorType, resp.Error)
	}
	data := resp.Data
	if data == nil && resp.ResultType != "" {
		data = &promData{ResultType: resp.ResultType, Result: resp.Result}
	}
	switch {
	case data == nil:
		return Series{}, TraceInfo{}, fmt.Errorf(`%s: JSON without "data": want the response of a range query, {"status":"success","data":{"resultType":"matrix","result":[...]}}`, name)
	case data.ResultType != model.ValMatrix.String():
		return Series{}, TraceInfo{}, fmt.Errorf("%s: data.resultType is %q; want \"matrix\", the response of a range query (/api/v1/query_range): an instant query (/api/v1/query) holds one sample per series", name, data.ResultType)
	}
	var m model.Matrix
	if err := json.Unmarshal(data.Result, &m); err != nil {
		return Series{}, TraceInfo{}, fmt.Errorf("%s: data.result: %w", name, err)
	}
	i, err := pickSeries(m, column)
	if err != nil {
		return Series{}, TraceInfo{}, fmt.Errorf("%s: %w", name, err)
	}
	ss := m[i]
	if len(ss.Values) == 0 && len(ss.Histograms) > 0 {
		return Series{}, TraceInfo{}, fmt.Errorf("%s: data.result[%d] (%s) holds native histograms, not float samples: save a query of a rate or a quantile of it", name, i, ss.Metric)
	}
	var rows traceRows
	rows.info.Column = ss.Metric.String()
	for k, p := range ss.Values {
		t := int64(p.Timestamp) / 1000
		if int64(p.Timestamp) < 0 && int64(p.Timestamp)%1000 != 0 {
			t-- // the fraction dropped, towards the past
		}
		if t < minTraceTime || t > maxTraceTime {
			return Series{}, rows.info, fmt.Errorf("%s: data.result[%d].values[%d]: time %s is outside the years 0001 to 9999", name, i, k, p.Timestamp)
		}
		v := float64(p.Value)
		if !rows.add(t, v, finite(v)) {
			return Series{}, rows.info, fmt.Errorf("%s: data.result[%d].values[%d]: time %s is out of order with the samples before it; a range query's samples are oldest first", name, i, k, p.Timestamp)
		}
	}
	return rows.series(name)
}

// pickSeries returns the index of the series of m that column chooses
// (see readPromJSON), or an error that lists the series.
func pickSeries(m model.Matrix, column string) (int, error) {
	list := func(idx []int) string {
		var b strings.Builder
		for n, i := range idx {
			if n == 5 {
				fmt.Fprintf(&b, " and %d more", len(idx)-n)
				break
			}
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m[i].Metric.String())
		}
		return b.String()
	}
	all := make([]int, len(m))
	for i := range m {
		all[i] = i
	}
	if len(m) == 0 {
		return 0, fmt.Errorf("data.result holds no series: the query returned no data over its range")
	}
	if column == "" {
		if len(m) == 1 {
			return 0, nil
		}
		return 0, fmt.Errorf("data.result holds %d series (%s); the backtest replays one: aggregate them in the query (sum(...)), or choose one with --column LABEL=VALUE", len(m), list(all))
	}
	label, value, ok := strings.Cut(column, "=")
	label, value = strings.TrimSpace(label), strings.Trim(strings.TrimSpace(value), `"`)
	if !ok || !model.UTF8Validation.IsValidLabelName(label) || label == "" {
		return 0, fmt.Errorf("--column %q: a Prometheus response's series is chosen by a label, as LABEL=VALUE (such as job=api); it holds %s", column, list(all))
	}
	var match []int
	for i, ss := range m {
		if string(ss.Metric[model.LabelName(label)]) == value {
			match = append(match, i)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return 0, fmt.Errorf("--column %s=%q matches none of the %d series: %s", label, value, len(m), list(all))
	}
	return 0, fmt.Errorf("--column %s=%q matches %d series (%s); choose one", label, value, len(match), list(match))
}
