package localcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/mlscale/mlscale/webhook"
)

// MlscaleOptions configure mlscale started in-process against a Cluster.
type MlscaleOptions struct {
	// ReadyTimeout bounds the wait for the webhook server; 30s when zero.
	ReadyTimeout time.Duration
	// Configure, when set, changes the manager's configuration after the
	// defaults above are set (e.g. policies, audit interval, metrics).
	Configure func(*webhook.Config)
}

// Mlscale is mlscale's manager (admission webhook and reconciler) running
// in this process.
type Mlscale struct {
	cancel context.CancelFunc
	done   chan error
}

// StartMlscale starts mlscale's manager (webhook.New, as `mlscale webhook`
// runs it, without leader election, metrics or probes) in this process: the
// webhook server on the address and certificate envtest generated, and the
// reconciler. It returns once the webhook server accepts TLS connections
// and the reconciler's caches have synced.
func (c *Cluster) StartMlscale(ctx context.Context, o MlscaleOptions) (*Mlscale, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	cfg := webhook.DefaultConfig()
	cfg.RESTConfig = c.Config
	cfg.Host, cfg.Port, cfg.CertDir = c.WebhookHost, c.WebhookPort, c.WebhookCertDir
	cfg.MetricsAddr, cfg.ProbeAddr = "0", "0"
	cfg.LeaderElection = false
	cfg.GracefulShutdown = 10 * time.Second
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	// Build before starting, so that a wiring error is returned here.
	mgr, err := webhook.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating mlscale's manager: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Mlscale{cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(runCtx) }()
	if err := m.waitReady(ctx, net.JoinHostPort(c.WebhookHost, strconv.Itoa(c.WebhookPort)), o.ReadyTimeout); err != nil {
		return nil, errors.Join(err, m.Stop())
	}
	// The reconciler starts from the informer caches.
	syncCtx, cancelSync := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		return nil, errors.Join(fmt.Errorf("mlscale's caches did not sync within %s", o.ReadyTimeout), m.Stop())
	}
	return m, nil
}

// waitReady polls the webhook server until it completes a TLS handshake.
func (m *Mlscale) waitReady(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a readiness probe of our own server
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("mlscale stopped while starting: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mlscale's webhook server on %s not ready within %s: %w", addr, timeout, err)
		}
	}
}

// Stop stops the manager and waits for it to return.
func (m *Mlscale) Stop() error {
	m.cancel()
	err := <-m.done
	m.done <- err
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
