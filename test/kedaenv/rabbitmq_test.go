package kedaenv

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRabbitMQ starts the broker, publishes to a queue, reads the depth back
// and checks that the broker and its epmd are gone after stop. It runs with
// MLSCALE_E2E_KEDA=1 (make e2e-keda), where a missing RabbitMQ fails it.
func TestRabbitMQ(t *testing.T) {
	if os.Getenv(EnvVar) == "" {
		t.Skipf("set %s=1 (make e2e-keda) to run against Debian's rabbitmq-server", EnvVar)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "mlscale-rabbitmq-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ip, err := pickHostIP()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := startRabbitMQ(ctx, filepath.Join(dir, "rabbitmq"), ip, "test", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RabbitMQ %s up in %s at %s", r.Node, time.Since(start).Round(time.Millisecond), r.AMQPAddr)
	srv, epmd := r.Pids()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = r.stop()
		}
	})
	if srv == 0 || epmd == 0 {
		t.Fatalf("pids: server %d, epmd %d", srv, epmd)
	}
	if err := r.DeclareQueue(ctx, "q1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(ctx, "q1", 3); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(ctx, "no-such-queue", 1); err == nil {
		t.Error("publishing to a missing queue: no error")
	}
	out, err := r.Ctl(ctx, "list_queues", "name", "messages", "--no-table-headers", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	if want := "q1\t3"; !containsLine(out, want) {
		t.Errorf("rabbitmqctl list_queues = %q, want a line %q", out, want)
	}
	b, err := r.api(ctx, http.MethodGet, "/api/queues/%2F/q1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &q); err != nil || q.Name != "q1" {
		t.Errorf("queue q1 from the management API: %s (%v)", b, err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, pid := range []int{srv, epmd} {
		if n := groupMembers(pid); n > 0 {
			t.Errorf("process group %d still has %d processes after stop", pid, n)
		}
	}
}

func containsLine(out, want string) bool {
	return slices.Contains(strings.Split(strings.TrimSpace(out), "\n"), want)
}
