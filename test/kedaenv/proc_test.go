package kedaenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listenEnv makes this test binary, run as a child, a server: it listens
// on 127.0.0.1 at the port the variable holds, answers /healthz, and exits
// 1 with the error when it cannot listen, as KEDA's processes do; "fail"
// makes it exit 1 with another error.
const listenEnv = "MLSCALE_KEDAENV_TEST_LISTEN"

func TestMain(m *testing.M) {
	if port := os.Getenv(listenEnv); port != "" {
		if port == "fail" {
			fmt.Println("error: no configuration")
			os.Exit(1)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
		_ = srv.Serve(l)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// listener returns a command that runs this test binary as the server of
// listenEnv on port, and its readiness check.
func listener(port string) (*exec.Cmd, func(context.Context) error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), listenEnv+"="+port)
	return cmd, func(ctx context.Context) error {
		return httpOK(ctx, "http://127.0.0.1:"+port+"/healthz")
	}
}

// TestStartOnFreePortsRetriesATakenPort: when the port a process was given
// is taken before it binds it, the process is started again on another
// one; a process that fails for another reason is not.
func TestStartOnFreePortsRetriesATakenPort(t *testing.T) {
	e := &Env{Dir: t.TempDir(), opts: Options{StartTimeout: 20 * time.Second}}
	ctx := context.Background()
	var given [][]int
	p, ports, err := e.startOnFreePorts(ctx, "server", 2, "ready", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		given = append(given, ports)
		if len(given) == 1 {
			// Another process takes the first port in the meantime.
			t.Cleanup(takePort(t, ports[0]))
		}
		return listener(strconv.Itoa(ports[0]))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	if len(given) != 2 || ports[0] == given[0][0] || ports[0] != given[1][0] || ports[0] == ports[1] {
		t.Fatalf("ports given %v, used %v; want a second start on new, distinct ports", given, ports)
	}
	if p == nil || p.exited() {
		t.Fatal("the second start is not running")
	}
	if !bindConflict(p.logPath, 0) {
		t.Errorf("the log does not hold the first start's bind error:\n%s", tailFile(p.logPath, 5))
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if !p.exited() {
		t.Error("Stop left the server running")
	}

	e = &Env{Dir: t.TempDir(), opts: Options{StartTimeout: 20 * time.Second}}
	starts := 0
	_, _, err = e.startOnFreePorts(ctx, "broken", 1, "ready", func([]int) (*exec.Cmd, func(context.Context) error) {
		starts++
		return listener("fail")
	})
	if err == nil || !strings.Contains(err.Error(), "exited before ready") || starts != 1 {
		t.Errorf("error %v after %d starts; want one start and its exit", err, starts)
	}

	e = &Env{Dir: t.TempDir(), opts: Options{StartTimeout: 20 * time.Second}}
	starts = 0
	_, _, err = e.startOnFreePorts(ctx, "unlucky", 1, "ready", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		starts++
		t.Cleanup(takePort(t, ports[0]))
		return listener(strconv.Itoa(ports[0]))
	})
	if err == nil || !strings.Contains(err.Error(), "address already in use") || starts != bindAttempts {
		t.Errorf("error %v after %d starts; want the bind error after %d", err, starts, bindAttempts)
	}
}

// takePort listens on port of 127.0.0.1, closing every connection at once,
// until the returned function is called.
func takePort(t *testing.T, port int) func() {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return func() { _ = l.Close() }
}
