package e2eloop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// promQuery runs an instant query at t on the Prometheus at base and returns
// the value of its one sample.
func promQuery(ctx context.Context, base, query string, t time.Time) (float64, error) {
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return 0, fmt.Errorf("%s: %w: %s", query, err, b)
	}
	if res.Status != "success" {
		return 0, fmt.Errorf("%s: %s", query, res.Error)
	}
	if len(res.Data.Result) != 1 {
		return 0, fmt.Errorf("%s: %d series, want 1", query, len(res.Data.Result))
	}
	s, _ := res.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: value %q: %w", query, s, err)
	}
	return v, nil
}

// firstAtLeast returns the first second in [from, to] at which the query's
// value is at least want (zero time when never), from a range query at a
// one-second step.
func firstAtLeast(ctx context.Context, base, query string, want float64, from, to time.Time) (time.Time, error) {
	q := url.Values{
		"query": {query},
		"start": {strconv.FormatInt(from.Unix(), 10)},
		"end":   {strconv.FormatInt(to.Unix(), 10)},
		"step":  {"1"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query_range?"+q.Encode(), nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", query, err)
	}
	if res.Status != "success" {
		return time.Time{}, fmt.Errorf("%s: %s", query, res.Error)
	}
	if len(res.Data.Result) != 1 {
		return time.Time{}, fmt.Errorf("%s: %d series, want 1", query, len(res.Data.Result))
	}
	for _, p := range res.Data.Result[0].Values {
		ts, _ := p[0].(float64)
		s, _ := p[1].(string)
		if v, err := strconv.ParseFloat(s, 64); err == nil && v >= want {
			return time.Unix(int64(ts), 0), nil
		}
	}
	return time.Time{}, nil
}
