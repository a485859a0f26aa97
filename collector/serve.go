package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlscale/mlscale/collector/gpu"
	"github.com/mlscale/mlscale/collector/podresources"
)

// Run runs the collector until ctx is done: it opens NVML (a missing
// libnvidia-ml is reported, not fatal), samples every cfg.SampleInterval and
// serves /metrics and /healthz on cfg.ListenAddress. ready, when not nil,
// receives the address actually listened on (useful with port 0).
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	src := gpu.New(cfg.NVMLLibrary)
	defer func() { _ = src.Close() }()
	if st := src.Status(); st.Up {
		log.Info("NVML up", "driver", st.DriverVersion)
	}
	owners, err := podresources.New(cfg.PodResourcesSocket, 5*time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = owners.Close() }()
	return Serve(ctx, cfg, New(cfg, src, owners, log), log, ready)
}

// Serve samples c every cfg.SampleInterval and serves its metrics (with the
// Go and process collectors) on cfg.ListenAddress until ctx is done.
func Serve(ctx context.Context, cfg Config, c *Collector, log *slog.Logger, ready func(addr string)) error {
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("registering the GPU collector: %w", err)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	lis, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("--listen-address %s: %w", cfg.ListenAddress, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	_ = c.Sample(ctx, time.Now()) // failures are in the metrics and the log
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	log.Info("serving GPU metrics", "address", lis.Addr().String(), "path", "/metrics")
	if ready != nil {
		ready(lis.Addr().String())
	}

	tick := time.NewTicker(cfg.SampleInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				return fmt.Errorf("stopping the metrics server: %w", err)
			}
			return nil
		case err := <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serving metrics: %w", err)
		case now := <-tick.C:
			_ = c.Sample(ctx, now)
		}
	}
}
