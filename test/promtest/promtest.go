// Package promtest runs a real Prometheus server for tests, over data
// backfilled from the test's own series.
//
// Start writes the series as OpenMetrics text, turns them into TSDB blocks
// with `promtool tsdb create-blocks-from openmetrics` in a throw-away
// directory (t.TempDir), starts `prometheus` over that directory on a free
// loopback port (127.0.0.1 only) with a minimal configuration (no scrape
// jobs) and a retention long enough for old timestamps, and polls /-/ready
// with a deadline until it answers. It returns a Server whose URL is the base
// URL to give to an API client. The process is stopped by its pid (SIGTERM,
// then SIGKILL after a grace period) in t.Cleanup, or earlier by Server.Stop,
// for tests of an outage.
//
// Both binaries come from Debian's prometheus package (`make prometheus`).
// When either is missing from PATH the test fails with a message naming
// `make prometheus`; it is never skipped.
//
// Prometheus answers range queries with at most 11,000 points per series, and
// an instant or range query only sees a sample within the lookback delta
// (Options.LookbackDelta, 5 minutes by default) before each step: query with
// a step no longer than the lookback delta, or raise it, for sparse series.
package promtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Sample is one observation of a series.
type Sample struct {
	// Time is when the value was observed (millisecond precision).
	Time time.Time
	// Value is the observed value.
	Value float64
}

// Series is a named time series to backfill.
type Series struct {
	// Name is the metric name, e.g. "demand_rps".
	Name string
	// Labels are the series' labels besides the name; may be nil.
	Labels map[string]string
	// Samples are the observations, in time order.
	Samples []Sample
}

// Regular returns a series of values observed every step from start:
// values[i] at start + i*step.
func Regular(name string, labels map[string]string, start time.Time, step time.Duration, values []float64) Series {
	s := Series{Name: name, Labels: labels, Samples: make([]Sample, len(values))}
	for i, v := range values {
		s.Samples[i] = Sample{Time: start.Add(time.Duration(i) * step), Value: v}
	}
	return s
}

// Options tune the server that StartWithOptions starts.
type Options struct {
	// LookbackDelta is Prometheus' --query.lookback-delta; its default
	// (5m) when zero.
	LookbackDelta time.Duration
	// ReadyTimeout bounds the wait for /-/ready (and for the backfill);
	// 2 minutes when zero.
	ReadyTimeout time.Duration
	// ExtraArgs are appended to prometheus' command line.
	ExtraArgs []string
}

// Server is a running Prometheus started by Start.
type Server struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:40123".
	URL string
	// Dir is the throw-away directory holding the TSDB, the configuration
	// and prometheus.log (prometheus' standard output and error).
	Dir string

	t       testing.TB
	proc    *os.Process
	exited  chan struct{} // closed when the process has been waited for
	waitErr error
	stop    sync.Once
}

// binaries is what Start needs on PATH.
var binaries = []string{"prometheus", "promtool"}

// Start backfills series and starts Prometheus over them with the default
// Options; see the package documentation.
func Start(t testing.TB, series ...Series) *Server {
	t.Helper()
	return StartWithOptions(t, Options{}, series...)
}

// StartWithOptions is Start with options.
func StartWithOptions(t testing.TB, opts Options, series ...Series) *Server {
	t.Helper()
	paths := map[string]string{}
	for _, b := range binaries {
		p, err := exec.LookPath(b)
		if err != nil {
			t.Fatalf("promtest: %s is not on PATH (install Debian's prometheus package with `make prometheus`): %v", b, err)
		}
		paths[b] = p
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatalf("promtest: %v", err)
	}
	if len(series) > 0 {
		if err := backfill(paths["promtool"], dir, dataDir, series, opts.ReadyTimeout); err != nil {
			t.Fatalf("promtest: backfilling: %v", err)
		}
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("# promtest: no scrape jobs; the data is backfilled\nglobal:\n  evaluation_interval: 1m\n"), 0o644); err != nil {
		t.Fatalf("promtest: writing configuration: %v", err)
	}
	// A free port can be taken between probing and binding; try a few.
	var lastErr error
	for range 3 {
		s, err := start(t, paths["prometheus"], dir, dataDir, cfg, opts)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("promtest: starting prometheus: %v", lastErr)
	return nil
}

// start starts one prometheus process and waits until it is ready; on
// failure the process is stopped and an error with its log's tail returned.
func start(t testing.TB, bin, dir, dataDir, cfg string, opts Options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + dataDir,
		"--web.listen-address=" + addr,
		// Retention is measured back from the newest block, but make sure
		// that nothing backfilled is ever old enough to be dropped.
		"--storage.tsdb.retention.time=36500d",
		"--log.level=warn",
	}
	if opts.LookbackDelta > 0 {
		args = append(args, "--query.lookback-delta="+promDuration(opts.LookbackDelta))
	}
	args = append(args, opts.ExtraArgs...)
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	s := &Server{URL: "http://" + addr, Dir: dir, t: t, proc: cmd.Process, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(s.exited)
	}()
	if err := s.waitReady(opts.ReadyTimeout); err != nil {
		s.kill()
		return nil, fmt.Errorf("%w; prometheus.log ends with:\n%s", err, tail(logPath, 20))
	}
	t.Cleanup(s.Stop)
	return s, nil
}

// waitReady polls /-/ready until it answers 200, the process exits or the
// deadline passes.
func (s *Server) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		switch {
		case err != nil:
			last = err
		case resp.StatusCode == http.StatusOK:
			_ = resp.Body.Close()
			return nil
		default:
			_ = resp.Body.Close()
			last = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("prometheus (pid %d) exited before it was ready: %w", s.proc.Pid, errors.Join(s.waitErr, last))
		case <-ctx.Done():
			return fmt.Errorf("prometheus (pid %d) not ready at %s/-/ready after %s: %w", s.proc.Pid, s.URL, timeout, last)
		case <-tick.C:
		}
	}
}

// Pid returns the process id of the prometheus process.
func (s *Server) Pid() int { return s.proc.Pid }

// Stop stops the prometheus process (SIGTERM, then SIGKILL after 10
// seconds) and waits for it to exit. It is called by t.Cleanup and may be
// called earlier, e.g. to test an outage; later calls do nothing.
func (s *Server) Stop() {
	s.stop.Do(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		if err := s.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.t.Errorf("promtest: stopping prometheus (pid %d): %v", s.proc.Pid, err)
		}
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	})
}

// kill sends SIGKILL and waits for the process to exit.
func (s *Server) kill() {
	_ = s.proc.Kill()
	<-s.exited
}

// Exited reports whether the process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// backfill writes series as OpenMetrics and runs promtool over them.
func backfill(promtool, dir, dataDir string, series []Series, timeout time.Duration) error {
	input := filepath.Join(dir, "backfill.om")
	f, err := os.Create(input)
	if err != nil {
		return err
	}
	minT, maxT, err := WriteOpenMetrics(f, series)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", input, err)
	}
	// One block over the whole span instead of one per 2 hours: far fewer
	// files for Prometheus to open, and a much faster backfill.
	span := maxT.Sub(minT) + 2*time.Hour
	span = (span + time.Hour - 1).Truncate(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
		"--max-block-duration="+promDuration(span), input, dataDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// WriteOpenMetrics writes series as an OpenMetrics text exposition with
// timestamps, as `promtool tsdb create-blocks-from openmetrics` reads it:
// one gauge family per metric name, each series' samples in time order,
// and the closing "# EOF". It returns the earliest and latest sample times.
func WriteOpenMetrics(w io.Writer, series []Series) (minT, maxT time.Time, err error) {
	byName := map[string][]Series{}
	var names []string
	for _, s := range series {
		if !metricNameRE.MatchString(s.Name) {
			return minT, maxT, fmt.Errorf("series %q: not a valid metric name", s.Name)
		}
		if _, ok := byName[s.Name]; !ok {
			names = append(names, s.Name)
		}
		byName[s.Name] = append(byName[s.Name], s)
	}
	slices.Sort(names)
	bw := bufio.NewWriter(w)
	for _, name := range names {
		fmt.Fprintf(bw, "# TYPE %s gauge\n", name)
		for _, s := range byName[name] {
			labels, err := formatLabels(s.Labels)
			if err != nil {
				return minT, maxT, fmt.Errorf("series %s: %w", s.Name, err)
			}
			for i, p := range s.Samples {
				if i > 0 && !p.Time.After(s.Samples[i-1].Time) {
					return minT, maxT, fmt.Errorf("series %s%s: sample %d at %s is not after the one before", s.Name, labels, i, p.Time.Format(time.RFC3339))
				}
				if minT.IsZero() || p.Time.Before(minT) {
					minT = p.Time
				}
				if p.Time.After(maxT) {
					maxT = p.Time
				}
				ts := strconv.FormatFloat(float64(p.Time.UnixMilli())/1000, 'f', -1, 64)
				fmt.Fprintf(bw, "%s%s %s %s\n", s.Name, labels, formatValue(p.Value), ts)
			}
		}
	}
	if _, err := bw.WriteString("# EOF\n"); err != nil {
		return minT, maxT, err
	}
	return minT, maxT, bw.Flush()
}

// formatLabels returns `{a="x",b="y"}` in name order, or "" for no labels.
func formatLabels(labels map[string]string) (string, error) {
	if len(labels) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__") {
			return "", fmt.Errorf("label %q: not a valid label name", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(labels[k])
		fmt.Fprintf(&b, `%s="%s"`, k, v)
	}
	b.WriteByte('}')
	return b.String(), nil
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// promDuration formats a duration in Prometheus' duration syntax (whole seconds).
func promDuration(d time.Duration) string {
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + "s"
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
