// Package kubetest holds what the suites that run against a real API server
// share: polling with a deadline, per-test namespaces, and a watchdog that
// stops the servers a TestMain started before the test binary's -timeout
// panics past its deferred Stop calls. Only tests import it.
package kubetest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PollInterval is how often Eventually asks again.
const PollInterval = 100 * time.Millisecond

// Eventually polls cond every PollInterval until it returns nil, and fails
// the test with cond's last error when timeout passes first. what names the
// awaited state in that message.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(PollInterval)
	}
}

// Namespace creates the namespace name with labels for one test and deletes
// it when the test ends; it returns name.
func Namespace(t testing.TB, c client.Client, name string, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	return name
}

// Watchdog calls stop on SIGINT or SIGTERM (and then exits with status 1),
// and shortly before the test binary's -timeout, which would otherwise
// panic the binary and skip every deferred Stop. name prefixes what it
// prints. The returned function ends the watch; call it when the suite is
// done.
func Watchdog(name string, stop func()) (cancel func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var timer <-chan time.Time
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, ok := f.Value.(flag.Getter).Get().(time.Duration); ok && d > 0 {
			margin := min(30*time.Second, d/10)
			timer = time.After(d - margin)
		}
	}
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "%s: %s: stopping the servers the suite started\n", name, s)
			stop()
			os.Exit(1)
		case <-timer:
			fmt.Fprintf(os.Stderr, "%s: the test binary's -timeout is near: stopping the servers the suite started\n", name)
			stop()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// AssetsDir finds the kube-apiserver and etcd that envtest runs:
// KUBEBUILDER_ASSETS, or else bin/k8s at the root of the module holding the
// working directory (built by `make control-plane`). The error says which
// binary is missing and how to build it.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", "k8s")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("no %s in %s (run `make control-plane` or set KUBEBUILDER_ASSETS): %w", b, dir, err)
		}
	}
	return dir, nil
}

// moduleRoot is the nearest directory at or above the working directory
// with a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
