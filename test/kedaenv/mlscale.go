package kedaenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// MlscaleProcess is `mlscale webhook` running as a process of its own, on
// the webhook address and certificate of the cluster (the e2e suites
// otherwise run mlscale in the test process), so that a test can kill it.
type MlscaleProcess struct {
	p *proc
}

// StartMlscaleWebhook starts bin (a build of cmd/mlscale) as `mlscale
// webhook` against the cluster, without leader election, metrics or probes,
// and waits until its webhook server completes a TLS handshake. Stop stops
// it with the rest, if it still runs. name tells the processes apart in the
// logs (each start needs a new one).
func (e *Env) StartMlscaleWebhook(ctx context.Context, name, bin string) (*MlscaleProcess, error) {
	c := e.opts.Cluster
	addr := net.JoinHostPort(c.WebhookHost, strconv.Itoa(c.WebhookPort))
	cmd := exec.Command(bin, "webhook",
		"--kubeconfig="+c.KubeconfigPath,
		"--cert-dir="+c.WebhookCertDir,
		"--host="+c.WebhookHost,
		"--port="+strconv.Itoa(c.WebhookPort),
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--leader-elect=false",
		"--user-policies=false",
	)
	p, err := e.startProcess(ctx, name, cmd, "serving admission webhooks on "+addr, func(ctx context.Context) error {
		d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // readiness probe of our own child
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
	if err != nil {
		return nil, err
	}
	return &MlscaleProcess{p: p}, nil
}

// PID is the process id.
func (m *MlscaleProcess) PID() int { return m.p.pid() }

// Kill kills the process with SIGKILL (no graceful shutdown: in-flight
// admission requests and reconciles are cut off) and waits until it is gone.
func (m *MlscaleProcess) Kill() error {
	if m.p.exited() {
		return fmt.Errorf("%s (pid %d) had already exited: %w", m.p.name, m.p.pid(), m.p.waitErr)
	}
	if err := syscall.Kill(m.p.pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s (pid %d): %w", m.p.name, m.p.pid(), err)
	}
	select {
	case <-m.p.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s (pid %d) still running 30s after SIGKILL", m.p.name, m.p.pid())
	}
}

// Stop stops the process (SIGTERM, then SIGKILL after 15s).
func (m *MlscaleProcess) Stop() error { return m.p.stop(15 * time.Second) }
