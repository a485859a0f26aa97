package kedaenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PrometheusOptions configure a Prometheus started by Env.StartPrometheus.
type PrometheusOptions struct {
	// Name names its directory and log file; "prometheus" when empty. Each
	// Prometheus of an Env needs a name of its own.
	Name string
	// Port is the port on Env.HostIP; a free one when zero.
	Port int
	// Scrape lists host:port targets scraped at /metrics.
	Scrape []string
	// ScrapeInterval is the scrape (and evaluation) interval; 1m when zero.
	ScrapeInterval time.Duration
	// Backfill, when set, is an OpenMetrics file that `promtool tsdb
	// create-blocks-from openmetrics` writes into the data directory before
	// Prometheus starts: history from before the start.
	Backfill string
}

// Prometheus is a Prometheus server started by Env.StartPrometheus.
type Prometheus struct {
	// URL is its base URL, http://HostIP:Port.
	URL string
	// Port is its port on Env.HostIP, where the host aliases resolve in
	// KEDA's operator.
	Port int
	// Dir holds its configuration and data.
	Dir string
}

// StartPrometheus starts Debian's prometheus on Env.HostIP with a
// throw-away data directory (backfilled first when asked) and waits until
// it is ready. Stop stops it with the rest.
func (e *Env) StartPrometheus(ctx context.Context, o PrometheusOptions) (*Prometheus, error) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, fmt.Errorf("prometheus not installed (make prometheus): %w", err)
	}
	if o.Name == "" {
		o.Name = "prometheus"
	}
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = time.Minute
	}
	if o.Port == 0 {
		if o.Port, err = freePort(e.HostIP); err != nil {
			return nil, err
		}
	}
	p := &Prometheus{Port: o.Port, Dir: filepath.Join(e.Dir, o.Name)}
	data := filepath.Join(p.Dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(p.Dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(prometheusConfig(o)), 0o644); err != nil {
		return nil, err
	}
	if o.Backfill != "" {
		if err := backfill(ctx, o.Backfill, data); err != nil {
			return nil, err
		}
	}
	addr := net.JoinHostPort(e.HostIP, strconv.Itoa(o.Port))
	p.URL = "http://" + addr
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr, "--log.level=warn")
	cmd.Dir = p.Dir
	if err := e.start(ctx, o.Name, cmd, "ready", func(ctx context.Context) error { return httpOK(ctx, p.URL+"/-/ready") }); err != nil {
		return nil, err
	}
	return p, nil
}

// prometheusConfig is the configuration file: the scrape interval and one
// job with the targets.
func prometheusConfig(o PrometheusOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", o.ScrapeInterval, o.ScrapeInterval)
	if len(o.Scrape) > 0 {
		fmt.Fprintf(&b, "scrape_configs:\n- job_name: mlscale-test\n  scrape_timeout: %s\n  static_configs:\n  - targets:\n", o.ScrapeInterval)
		for _, t := range o.Scrape {
			fmt.Fprintf(&b, "    - %q\n", t)
		}
	}
	return b.String()
}

// backfill writes the OpenMetrics file into TSDB blocks in dir.
func backfill(ctx context.Context, file, dir string) error {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		return fmt.Errorf("promtool not installed (make prometheus): %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// Blocks of up to ~2 weeks: with promtool's default of 2h, two weeks
	// take 169 blocks and half a minute of fsyncs, instead of a second.
	out, err := runOutput(ctx, exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=400h", file, dir))
	if err != nil {
		return fmt.Errorf("promtool tsdb create-blocks-from openmetrics %s: %w: %s", file, err, tailLines(out, 10))
	}
	return nil
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
