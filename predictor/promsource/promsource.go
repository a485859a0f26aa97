// Package promsource reads demand histories from Prometheus' HTTP API
// (client_golang's api/prometheus/v1) as predictor.Series: range queries on a
// regular step, split into pieces under Prometheus' per-query point limit,
// with a timeout per request, retries with exponential backoff for transient
// failures, and a distinct error (ErrBadQuery) for PromQL that Prometheus
// rejects, which is never retried.
package promsource

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mlscale/mlscale/predictor"
)

// Defaults of Config.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultRetries        = 3
	DefaultBackoff        = 500 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultPointsPerQuery = 10000
)

// Errors a Range call wraps.
var (
	// ErrBadQuery is a query Prometheus rejects as bad data (a PromQL
	// syntax or type error); retrying cannot help.
	ErrBadQuery = errors.New("bad PromQL query")
	// ErrNoData is a query that returns no series over the range.
	ErrNoData = errors.New("no data")
	// ErrManySeries is a query that returns more than one series; the
	// demand query must aggregate to one (e.g. sum(...)).
	ErrManySeries = errors.New("query returns more than one series")
)

// Config configures a Source.
type Config struct {
	// URL is Prometheus' base URL, e.g. http://prometheus.monitoring:9090.
	URL string
	// Timeout bounds each HTTP request (and Prometheus' own evaluation).
	Timeout time.Duration
	// Retries is how many times a failed request is retried (never for
	// ErrBadQuery); 0 for none.
	Retries int
	// Backoff is the wait before the first retry, doubled each time up to
	// MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// PointsPerQuery is the most points one range request asks for;
	// longer ranges are split (Prometheus refuses more than 11,000).
	PointsPerQuery int
	// RoundTripper is the HTTP transport; api.DefaultRoundTripper when nil.
	RoundTripper http.RoundTripper
}

// DefaultConfig returns the configuration `mlscale predictor` starts from,
// without a URL.
func DefaultConfig() Config {
	return Config{
		Timeout: DefaultTimeout, Retries: DefaultRetries,
		Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff,
		PointsPerQuery: DefaultPointsPerQuery,
	}
}

// Source reads range queries from one Prometheus server. It is safe for
// concurrent use.
type Source struct {
	api v1.API
	cfg Config
	// url is cfg.URL with any password redacted, for messages (they end
	// up in logs and in the workload's mlscale.io/prediction annotation).
	url string
}

// CheckURL checks a Prometheus base URL: an absolute http or https URL with
// a host. It returns the URL with any password and the values of its query
// string (where a proxy may take a token) redacted, for messages.
func CheckURL(raw string) (redacted string, err error) {
	if raw == "" {
		return "", errors.New("no URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error repeats the URL, password included.
		return "", errors.New("is not a URL (not repeated here: it may hold a password); allowed: an http(s) URL with a host, such as http://prometheus.monitoring.svc:9090")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s is not an http(s) URL with a host, such as http://prometheus.monitoring.svc:9090", redactURL(u))
	}
	return redactURL(u), nil
}

// RedactURLError hides the password and the query values of the request
// URL that an HTTP client's *url.Error in err repeats (net/http hides only
// the password; a proxy's token may sit in the query string). It changes
// the error in place and returns err; call it before err is wrapped, since
// fmt.Errorf copies the message.
func RedactURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			urlErr.URL = redactURL(u)
		} else {
			urlErr.URL = "(the Prometheus URL)"
		}
	}
	return err
}

// redactURL is u with its password and query values replaced by xxxxx; a
// query parameter without a value (?s3cret) may be the token itself and is
// replaced whole.
func redactURL(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		params := strings.Split(c.RawQuery, "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && k != "" {
				params[i] = k + "=xxxxx"
			} else if p != "" {
				params[i] = "xxxxx"
			}
		}
		c.RawQuery = strings.Join(params, "&")
	}
	return c.Redacted()
}

// New returns a Source for cfg.URL, which must pass CheckURL.
func New(cfg Config) (*Source, error) {
	redacted, err := CheckURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("prometheus source: %w", err)
	}
	switch {
	case cfg.Timeout <= 0:
		return nil, fmt.Errorf("prometheus source: Timeout must be above 0, not %s", cfg.Timeout)
	case cfg.Retries < 0:
		return nil, fmt.Errorf("prometheus source: Retries must be 0 or more, not %d", cfg.Retries)
	case cfg.Retries > 0 && (cfg.Backoff <= 0 || cfg.MaxBackoff <= 0):
		return nil, fmt.Errorf("prometheus source: Backoff (%s) and MaxBackoff (%s) must be above 0", cfg.Backoff, cfg.MaxBackoff)
	case cfg.PointsPerQuery < 2 || cfg.PointsPerQuery > 11000:
		return nil, fmt.Errorf("prometheus source: PointsPerQuery must be from 2 to 11000, not %d", cfg.PointsPerQuery)
	}
	c, err := api.NewClient(api.Config{Address: cfg.URL, RoundTripper: cfg.RoundTripper})
	if err != nil {
		return nil, fmt.Errorf("prometheus source %s: %w", redacted, err)
	}
	return &Source{api: v1.NewAPI(c), cfg: cfg, url: redacted}, nil
}

// Range evaluates query over [start, end] every step and returns the
// result as a regular series. Start is rounded up and end down to a
// multiple of step, so that repeated calls see the same grid. The series
// begins at the first sample returned and ends at the last one (which may
// be before end when the data stops); missing steps in between are filled
// by linear interpolation and marked in the series' Observed flags (cycle
// detection leaves them out). Samples that fall on the same step (a repeated
// timestamp, which query frontends that split and merge ranges, or a
// series returned twice, can give) are merged keeping the highest value, as
// predictor.ReadTrace merges a trace's repeated rows: the predictor
// forecasts peaks. Errors wrap ErrBadQuery, ErrNoData or ErrManySeries
// where they apply, and name the query.
func (s *Source) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (predictor.Series, error) {
	h, err := s.History(ctx, query, start, end, step)
	return h.Series, err
}

// History is what Source.History read: the series Range returns, and
// what was done to make it regular. Its Observed flags (those of the
// series) are true where a sample came from Prometheus, false where it
// was filled between two that did; nil when none was filled.
type History struct {
	predictor.Series
	// Merged counts the samples that fell on a step that already had one.
	Merged int
}

// History is Range, also saying which samples were filled and how many
// were merged, as predictor.TraceInfo says of a trace file: the backtest
// of a query's history treats them as it treats a file's.
func (s *Source) History(ctx context.Context, query string, start, end time.Time, step time.Duration) (History, error) {
	if step < time.Second {
		return History{}, fmt.Errorf("query %q: step %s is under a second", query, step)
	}
	start = time.Unix(0, 0).Add((time.Duration(start.UnixNano()) + step - 1).Truncate(step)).UTC()
	end = time.Unix(0, 0).Add(time.Duration(end.UnixNano()).Truncate(step)).UTC()
	if end.Before(start) {
		return History{}, fmt.Errorf("query %q: %w: the range %s..%s holds no step", query, ErrNoData, start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	n := int(end.Sub(start)/step) + 1
	g := grid{start: start, step: step, vals: make([]float64, n), seen: make([]bool, n)}
	for from := 0; from < n; from += s.cfg.PointsPerQuery {
		to := min(n, from+s.cfg.PointsPerQuery) - 1
		r := v1.Range{Start: start.Add(time.Duration(from) * step), End: start.Add(time.Duration(to) * step), Step: step}
		m, err := s.queryRange(ctx, query, r)
		if err != nil {
			return History{}, err
		}
		if err := g.add(m); err != nil {
			return History{}, fmt.Errorf("query %q: %w", query, err)
		}
	}
	first, last := -1, -1
	vals := g.vals
	for i, v := range vals {
		if g.seen[i] && !math.IsNaN(v) && !math.IsInf(v, 0) {
			if first < 0 {
				first = i
			}
			last = i
		} else {
			vals[i] = math.NaN()
			g.seen[i] = false
		}
	}
	if first < 0 {
		return History{}, fmt.Errorf("query %q: %w over %s..%s", query, ErrNoData, start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	vals = vals[first : last+1]
	interpolate(vals)
	h := History{Series: predictor.Series{Start: start.Add(time.Duration(first) * step), Step: step, Values: vals}, Merged: g.merged}
	if observed := g.seen[first : last+1]; slices.Contains(observed, false) {
		h.Observed = observed
	}
	return h, nil
}

// grid assembles the samples of range queries on a regular grid.
type grid struct {
	start time.Time
	step  time.Duration
	// vals[i] is the sample at start + i*step; seen[i] whether there is one.
	vals []float64
	seen []bool
	// labels are the labels of the series, once hasLabels; merged counts
	// the samples that fell on a step that already had one.
	labels    model.Metric
	hasLabels bool
	merged    int
}

// add puts the samples of m on the grid. Every series of m must have the
// labels of the first series added (a series returned twice is merged);
// others are ErrManySeries. A sample on a step that already has one keeps
// the higher of the two; NaN and infinite samples count as none.
func (g *grid) add(m model.Matrix) error {
	for _, ss := range m {
		if g.hasLabels && !g.labels.Equal(ss.Metric) {
			return fmt.Errorf("%w (%s, %s); aggregate it, e.g. sum(...)", ErrManySeries, g.labels, ss.Metric)
		}
		g.labels, g.hasLabels = ss.Metric, true
		for _, p := range ss.Values {
			i := int(p.Timestamp.Time().Sub(g.start) / g.step)
			if i < 0 || i >= len(g.vals) {
				continue
			}
			v := float64(p.Value)
			switch old := g.vals[i]; {
			case !g.seen[i]:
				g.vals[i], g.seen[i] = v, true
				continue
			case math.IsNaN(old) || math.IsInf(old, 0):
				g.vals[i] = v
			case !math.IsNaN(v) && !math.IsInf(v, 0):
				g.vals[i] = max(old, v)
			}
			g.merged++
		}
	}
	return nil
}

// queryRange runs one range request with retries.
func (s *Source) queryRange(ctx context.Context, query string, r v1.Range) (model.Matrix, error) {
	wait := s.cfg.Backoff
	for attempt := 0; ; attempt++ {
		m, err := s.queryOnce(ctx, query, r)
		if err == nil {
			return m, nil
		}
		if errors.Is(err, ErrBadQuery) || attempt >= s.cfg.Retries || ctx.Err() != nil {
			if attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (retry cancelled: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, s.cfg.MaxBackoff)
	}
}

func (s *Source) queryOnce(ctx context.Context, query string, r v1.Range) (model.Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	val, _, _, err := s.api.QueryRange(ctx, query, r, v1.WithTimeout(s.cfg.Timeout))
	if err != nil {
		var apiErr *v1.Error
		if errors.As(err, &apiErr) && apiErr.Type == v1.ErrBadData {
			return nil, fmt.Errorf("query %q: %w: %s", query, ErrBadQuery, apiErr.Msg)
		}
		return nil, fmt.Errorf("query %q at %s: %w", query, s.url, RedactURLError(err))
	}
	switch v := val.(type) {
	case model.Matrix:
		return v, nil
	default:
		return nil, fmt.Errorf("query %q: %w: a range query returned a %s, not a matrix", query, ErrBadQuery, val.Type())
	}
}

// interpolate fills NaNs between finite values linearly; vals must start
// and end with finite values.
func interpolate(vals []float64) {
	prev := 0
	for i := 1; i < len(vals); i++ {
		if math.IsNaN(vals[i]) {
			continue
		}
		if i-prev > 1 {
			for j := prev + 1; j < i; j++ {
				f := float64(j-prev) / float64(i-prev)
				vals[j] = vals[prev] + f*(vals[i]-vals[prev])
			}
		}
		prev = i
	}
}
