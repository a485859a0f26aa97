package promsource

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"

	"github.com/mlscale/mlscale/test/promtest"
)

// countingTransport counts the HTTP requests a Source makes.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return api.DefaultRoundTripper.RoundTrip(r)
}

var t0 = time.Date(2021, 10, 1, 0, 0, 0, 0, time.UTC)

// TestRange runs every Range case against one real Prometheus.
func TestRange(t *testing.T) {
	// demand{w="a"}: 1000 one-minute samples of i, with samples 500..509
	// missing; demand{w="b"}: a second series for the many-series case.
	var a promtest.Series
	a.Name, a.Labels = "demand", map[string]string{"w": "a"}
	for i := range 1000 {
		if i >= 500 && i < 510 {
			continue
		}
		a.Samples = append(a.Samples, promtest.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Value: float64(i)})
	}
	b := promtest.Regular("demand", map[string]string{"w": "b"}, t0, time.Minute, []float64{1, 2, 3})
	// nan: NaN only; tail: 1, 2, 3 and then NaN, +Inf.
	nan, inf := math.NaN(), math.Inf(1)
	nanOnly := promtest.Regular("other", map[string]string{"w": "nan"}, t0, time.Minute, []float64{nan, nan, nan})
	tail := promtest.Regular("other", map[string]string{"w": "tail"}, t0, time.Minute, []float64{1, nan, 3, nan, inf})
	// A lookback delta under one minute, so that the gap stays a gap.
	srv := promtest.StartWithOptions(t, promtest.Options{LookbackDelta: 30 * time.Second}, a, b, nanOnly, tail)
	ctx := context.Background()

	t.Run("whole range in small pieces, gap interpolated", func(t *testing.T) {
		ct := &countingTransport{}
		src, err := New(config(Config{URL: srv.URL, PointsPerQuery: 100, RoundTripper: ct}))
		if err != nil {
			t.Fatal(err)
		}
		// Unaligned bounds are rounded to the step grid.
		s, err := src.Range(ctx, `demand{w="a"}`, t0.Add(-30*time.Second), t0.Add(999*time.Minute+10*time.Second), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Start.Equal(t0) || s.Step != time.Minute || s.Len() != 1000 {
			t.Fatalf("got start %s step %s len %d, want %s 1m 1000", s.Start, s.Step, s.Len(), t0)
		}
		for i, v := range s.Values {
			if v != float64(i) {
				t.Fatalf("value %d = %v, want %d", i, v, i)
			}
		}
		if got := ct.n.Load(); got != 10 {
			t.Errorf("%d requests, want 10 pieces of 100 points", got)
		}
		// The series says which samples were filled (the gap's ten; the
		// floor writer's cycle detection leaves them out), and so does
		// History.
		if len(s.Observed) != s.Len() {
			t.Fatalf("Range: %d observed flags for %d samples", len(s.Observed), s.Len())
		}
		for i, o := range s.Observed {
			if o != (i < 500 || i >= 510) {
				t.Fatalf("Range: observed[%d] = %v", i, o)
			}
		}
		h, err := src.History(ctx, `demand{w="a"}`, t0, t0.Add(999*time.Minute), time.Minute)
		if err != nil || len(h.Observed) != 1000 || h.Merged != 0 {
			t.Fatalf("History: %d observed flags, %d merged, %v; want 1000, 0", len(h.Observed), h.Merged, err)
		}
		for i, o := range h.Observed {
			if o != (i < 500 || i >= 510) {
				t.Fatalf("observed[%d] = %v", i, o)
			}
		}
	})
	t.Run("no gap: Observed is nil", func(t *testing.T) {
		src, _ := New(config(Config{URL: srv.URL}))
		h, err := src.History(ctx, `demand{w="a"}`, t0, t0.Add(400*time.Minute), time.Minute)
		if err != nil || h.Len() != 401 || h.Observed != nil {
			t.Fatalf("History: %d samples, observed %v, %v; want 401 and nil", h.Len(), h.Observed != nil, err)
		}
	})
	t.Run("data ends before the range does", func(t *testing.T) {
		src, _ := New(config(Config{URL: srv.URL}))
		s, err := src.Range(ctx, `demand{w="a"}`, t0.Add(900*time.Minute), t0.Add(2000*time.Minute), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !s.End().Equal(t0.Add(999*time.Minute)) || s.Len() != 100 {
			t.Errorf("got %d points ending %s, want 100 ending at the last sample", s.Len(), s.End())
		}
	})
	t.Run("bad PromQL is ErrBadQuery without retries", func(t *testing.T) {
		ct := &countingTransport{}
		src, _ := New(config(Config{URL: srv.URL, RoundTripper: ct, Retries: 3}))
		_, err := src.Range(ctx, `sum(demand`, t0, t0.Add(time.Hour), time.Minute)
		if !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "sum(demand") {
			t.Fatalf("got %v, want ErrBadQuery naming the query", err)
		}
		if ct.n.Load() != 1 {
			t.Errorf("%d requests, want 1 (no retries for bad PromQL)", ct.n.Load())
		}
	})
	t.Run("many series", func(t *testing.T) {
		src, _ := New(config(Config{URL: srv.URL}))
		_, err := src.Range(ctx, `demand`, t0, t0.Add(time.Hour), time.Minute)
		if !errors.Is(err, ErrManySeries) || !strings.Contains(err.Error(), "sum(") {
			t.Fatalf("got %v, want ErrManySeries suggesting sum(...)", err)
		}
	})
	t.Run("no data", func(t *testing.T) {
		src, _ := New(config(Config{URL: srv.URL}))
		_, err := src.Range(ctx, `demand{w="none"}`, t0, t0.Add(time.Hour), time.Minute)
		if !errors.Is(err, ErrNoData) {
			t.Fatalf("got %v, want ErrNoData", err)
		}
	})
	t.Run("NaN only is no data", func(t *testing.T) {
		src, _ := New(config(Config{URL: srv.URL}))
		_, err := src.Range(ctx, `other{w="nan"}`, t0, t0.Add(time.Hour), time.Minute)
		if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "other{w=") {
			t.Fatalf("got %v, want ErrNoData naming the query", err)
		}
	})
	t.Run("NaN and Inf samples are gaps; trailing ones end the series", func(t *testing.T) {
		src, _ := New(config(Config{URL: srv.URL}))
		s, err := src.Range(ctx, `other{w="tail"}`, t0, t0.Add(time.Hour), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Start.Equal(t0) || s.Len() != 3 || s.Values[0] != 1 || s.Values[1] != 2 || s.Values[2] != 3 {
			t.Errorf("got %v from %s, want [1 2 3] from %s", s.Values, s.Start, t0)
		}
	})
	t.Run("server down: retried with backoff, then an error", func(t *testing.T) {
		down := promtest.Start(t)
		url := down.URL
		down.Stop()
		ct := &countingTransport{}
		src, _ := New(config(Config{URL: url, RoundTripper: ct, Retries: 2, Backoff: time.Millisecond, Timeout: 5 * time.Second}))
		_, err := src.Range(ctx, `demand`, t0, t0.Add(time.Hour), time.Minute)
		if err == nil || errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "3 attempts") {
			t.Fatalf("got %v, want a connection error after 3 attempts", err)
		}
		if ct.n.Load() != 3 {
			t.Errorf("%d requests, want 3", ct.n.Load())
		}
	})
	t.Run("cancelled context stops retrying", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		src, _ := New(config(Config{URL: srv.URL, Retries: 5, Backoff: time.Hour}))
		if _, err := src.Range(cctx, `demand{w="a"}`, t0, t0.Add(time.Hour), time.Minute); err == nil {
			t.Fatal("no error with a cancelled context")
		}
	})
}

func TestInterpolate(t *testing.T) {
	nan := math.NaN()
	v := []float64{0, nan, nan, 3, 4, nan, 8}
	interpolate(v)
	want := []float64{0, 1, 2, 3, 4, 6, 8}
	for i := range v {
		if v[i] != want[i] {
			t.Fatalf("got %v, want %v", v, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, tt := range []struct {
		url, want, err string
	}{
		{"http://prometheus.monitoring.svc:9090", "http://prometheus.monitoring.svc:9090", ""},
		{"https://p.example/prom/", "https://p.example/prom/", ""},
		{"http://user:s3cret@p:9090", "http://user:xxxxx@p:9090", ""},
		{"http://p:9090/prom?token=s3cret&org=1", "http://p:9090/prom?token=xxxxx&org=xxxxx", ""},
		{"http://p:9090/?s3cret", "http://p:9090/?xxxxx", ""},
		{"http://p:9090/?a=1&&s3cret&=s3cret", "http://p:9090/?a=xxxxx&&xxxxx&xxxxx", ""},
		{"ftp://p:21?token=s3cret", "", "not an http(s) URL"},
		{"", "", "no URL"},
		{"not-a-url", "", "not an http(s) URL"},
		{"prometheus:9090", "", "not an http(s) URL"},
		{"ftp://p:21", "", "not an http(s) URL"},
		{"http://", "", "not an http(s) URL"},
		{"http://user:s3cret@p:9090/%zz", "", "not a URL"},
		{"ftp://user:s3cret@p", "", "not an http(s) URL"},
	} {
		got, err := CheckURL(tt.url)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("CheckURL(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("CheckURL(%q) error %v, want one saying %q", tt.url, err, tt.err)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("CheckURL(%q) error %q repeats the password", tt.url, err)
		}
		if _, nerr := New(config(Config{URL: tt.url})); (nerr != nil) != (tt.err != "") {
			t.Errorf("New(%q): %v, want an error: %v", tt.url, nerr, tt.err != "")
		}
	}
}

// TestErrorsHideThePassword: a Prometheus URL with credentials must not
// show its password in errors, which end up in logs and in the workload's
// mlscale.io/prediction annotation (readable by anyone who can read the
// Deployment). Before, "query ... at URL" repeated it, and the HTTP
// client's error repeated a token in the query string.
func TestErrorsHideThePassword(t *testing.T) {
	down := promtest.Start(t)
	addr := strings.TrimPrefix(down.URL, "http://")
	down.Stop()
	cfg := config(Config{URL: "http://predictor:s3cret@" + addr + "/?token=s3cret", Timeout: 5 * time.Second})
	cfg.Retries = 0
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Range(context.Background(), `demand`, t0, t0.Add(time.Hour), time.Minute)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v, want an error naming %s without the password", err, addr)
	}
}

// config fills the zero fields of c from DefaultConfig, for tests that set
// only what they test.
func config(c Config) Config {
	d := DefaultConfig()
	d.URL, d.RoundTripper = c.URL, c.RoundTripper
	if c.Timeout != 0 {
		d.Timeout = c.Timeout
	}
	if c.Retries != 0 {
		d.Retries = c.Retries
	}
	if c.Backoff != 0 {
		d.Backoff = c.Backoff
	}
	if c.MaxBackoff != 0 {
		d.MaxBackoff = c.MaxBackoff
	}
	if c.PointsPerQuery != 0 {
		d.PointsPerQuery = c.PointsPerQuery
	}
	return d
}

// fakePrometheus serves /api/v1/query_range from respond, which gets the
// requested range in Unix seconds and returns the result matrix as JSON.
func fakePrometheus(t *testing.T, respond func(start, end float64) string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/api/v1/query_range" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":%s}}`, respond(start, end))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRangeMergesRepeatedTimestamps: samples on the same step, from a
// repeated timestamp, a series returned twice or pieces that overlap (as a
// query frontend may give; Prometheus itself never does), are merged keeping
// the highest value, as predictor.ReadTrace merges a trace's rows.
func TestRangeMergesRepeatedTimestamps(t *testing.T) {
	ts := func(i int) int64 { return t0.Add(time.Duration(i) * time.Minute).Unix() }
	ctx := context.Background()
	tests := []struct {
		name       string
		points     int // PointsPerQuery
		respond    func(start, end float64) string
		want       []float64
		wantMerged int
		wantErr    error
	}{
		{
			name: "repeated timestamps in one series and a series returned twice",
			respond: func(float64, float64) string {
				return fmt.Sprintf(`[{"metric":{"w":"a"},"values":[[%[1]d,"1"],[%[1]d,"3"],[%[2]d,"2"],[%[3]d,"NaN"]]},`+
					`{"metric":{"w":"a"},"values":[[%[2]d,"5"],[%[2]d,"4"],[%[3]d,"6"],[%[4]d,"7"],[%[4]d,"+Inf"]]}]`,
					ts(0), ts(1), ts(2), ts(3))
			},
			want: []float64{3, 5, 6, 7}, wantMerged: 5,
		},
		{
			// Each piece also returns the step before it, 0.5 higher.
			name: "overlapping pieces", points: 3,
			respond: func(start, end float64) string {
				var vals []string
				for x := int64(start) - 60; x <= int64(end); x += 60 {
					i := (x - ts(0)) / 60
					if i < 0 {
						continue
					}
					v := float64(i)
					if x < int64(start) {
						v += 0.5
					}
					vals = append(vals, fmt.Sprintf(`[%d,"%g"]`, x, v))
				}
				return `[{"metric":{},"values":[` + strings.Join(vals, ",") + `]}]`
			},
			want: []float64{0, 1, 2.5, 3, 4, 5.5, 6, 7, 8.5, 9}, wantMerged: 3,
		},
		{
			name: "different series are still many series",
			respond: func(float64, float64) string {
				return fmt.Sprintf(`[{"metric":{"w":"a"},"values":[[%[1]d,"1"]]},{"metric":{"w":"b"},"values":[[%[1]d,"2"]]}]`, ts(0))
			},
			want: []float64{1, 2}, wantErr: ErrManySeries,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New(config(Config{URL: fakePrometheus(t, tt.respond), PointsPerQuery: tt.points}))
			if err != nil {
				t.Fatal(err)
			}
			h, err := src.History(ctx, `demand`, t0, t0.Add(time.Duration(len(tt.want)-1)*time.Minute), time.Minute)
			s, merged := h.Series, h.Merged
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !s.Start.Equal(t0) || !slices.Equal(s.Values, tt.want) || merged != tt.wantMerged {
				t.Errorf("got %v from %s, %d merged; want %v from %s, %d merged", s.Values, s.Start, merged, tt.want, t0, tt.wantMerged)
			}
			// Range is the same without the count.
			if r, err := src.Range(ctx, `demand`, t0, t0.Add(time.Duration(len(tt.want)-1)*time.Minute), time.Minute); err != nil || !slices.Equal(r.Values, s.Values) {
				t.Errorf("Range gave %v, %v", r.Values, err)
			}
		})
	}
}
