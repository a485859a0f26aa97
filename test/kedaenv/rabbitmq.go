package kedaenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// RabbitMQ commands of Debian's rabbitmq-server package (`make rabbitmq`).
const (
	rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	rabbitCtl    = "/usr/lib/rabbitmq/bin/rabbitmqctl"
	epmdPath     = "/usr/bin/epmd"
)

// AMQPPort is the AMQP port RabbitMQ listens on, on Env.HostIP: the port of
// the cluster DNS names mlscale renders (amqp://rabbitmq.NS.svc...:5672).
const AMQPPort = 5672

// RabbitMQ is a RabbitMQ broker on a loopback address with a throw-away
// data directory, the management plugin enabled (its HTTP API publishes
// messages and reads queue depths).
type RabbitMQ struct {
	// Node is the Erlang node name (for rabbitmqctl -n).
	Node string
	// AMQPAddr is host:port of the AMQP listener.
	AMQPAddr string
	// ManagementURL is the management HTTP API's base URL.
	ManagementURL string
	// User and Password are the default user's credentials (those of
	// config/samples/01-rabbitmq-auth.yaml).
	User, Password string

	dir    string
	env    []string
	cred   *syscall.Credential
	server *proc
	epmd   *proc
	http   *http.Client
}

// Default credentials: those of the sample Secret, so that the sample
// TriggerAuthentication works against this broker.
const (
	rabbitUser     = "mlscale-demo"
	rabbitPassword = "mlscale-demo-password"
)

// startRabbitMQ starts epmd and RabbitMQ on ip in dir (created here, owned
// by the rabbitmq user when running as root: Debian's scripts refuse to run
// the server as root).
func startRabbitMQ(ctx context.Context, dir, ip, suffix string, timeout time.Duration) (r *RabbitMQ, err error) {
	for _, p := range []string{rabbitServer, rabbitCtl, epmdPath} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("RabbitMQ not installed (%s missing): run `make rabbitmq`", p)
		}
	}
	cred, err := rabbitCredential()
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{dir, home, filepath.Join(dir, "mnesia"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("giving %s to the rabbitmq user: %w", d, err)
			}
		}
	}
	var ports [3]int // Erlang distribution, epmd, management API
	for i, host := range []string{"127.0.0.1", "127.0.0.1", ip} {
		if ports[i], err = freePort(host); err != nil {
			return nil, err
		}
	}
	r = &RabbitMQ{
		Node:          "mlscale-" + suffix + "@localhost",
		AMQPAddr:      net.JoinHostPort(ip, strconv.Itoa(AMQPPort)),
		ManagementURL: "http://" + net.JoinHostPort(ip, strconv.Itoa(ports[2])),
		User:          rabbitUser,
		Password:      rabbitPassword,
		dir:           dir,
		cred:          cred,
		http:          &http.Client{Timeout: 10 * time.Second},
	}
	if err := r.configure(ip, ports[0], ports[1], ports[2]); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.stop())
		}
	}()
	return r, r.startProcesses(ctx, ports[1], timeout)
}

// rabbitCredential is the rabbitmq user's, when running as root; nil
// otherwise.
func rabbitCredential() (*syscall.Credential, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("rabbitmq")
	if err != nil {
		return nil, fmt.Errorf("RabbitMQ runs as the rabbitmq user (Debian's package creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// configure writes the broker's configuration and plugins into its
// directory and sets its environment.
func (r *RabbitMQ) configure(ip string, distPort, epmdPort, mgmtPort int) error {
	dir := r.dir
	conf := filepath.Join(dir, "rabbitmq.conf")
	confText := fmt.Sprintf(`listeners.tcp.1 = %s
management.tcp.ip = %s
management.tcp.port = %d
default_user = %s
default_pass = %s
loopback_users = none
log.console = true
log.console.level = warning
log.file = false
collect_statistics_interval = 1000
`, r.AMQPAddr, ip, mgmtPort, rabbitUser, rabbitPassword)
	plugins := filepath.Join(dir, "enabled_plugins")
	for path, text := range map[string]string{conf: confText, plugins: "[rabbitmq_management].\n"} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	r.env = append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"RABBITMQ_NODENAME="+r.Node,
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"RABBITMQ_CONFIG_FILE="+conf,
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONF_ENV_FILE=/dev/null",
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
	)
	return nil
}

// startProcesses starts our own epmd, on its own port so that it can be
// stopped by pid, then the server, and waits for its management API.
func (r *RabbitMQ) startProcesses(ctx context.Context, epmdPort int, timeout time.Duration) error {
	var err error
	epmd := exec.Command(epmdPath, "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1")
	epmd.Env, epmd.Dir = r.env, r.dir
	epmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	if r.epmd, err = startProc("epmd", filepath.Join(r.dir, "epmd.log"), epmd); err != nil {
		return err
	}
	if err := r.epmd.waitFor(ctx, 10*time.Second, "listening", func(ctx context.Context) error {
		return dialTCP(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(epmdPort)))
	}); err != nil {
		return err
	}
	srv := exec.Command(rabbitServer)
	srv.Env, srv.Dir = r.env, filepath.Join(r.dir, "home")
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	if r.server, err = startProc("rabbitmq-server", filepath.Join(r.dir, "rabbitmq.log"), srv); err != nil {
		return err
	}
	return r.server.waitFor(ctx, timeout, "serving the management API", func(ctx context.Context) error {
		_, err := r.api(ctx, http.MethodGet, "/api/overview", nil)
		return err
	})
}

func dialTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// api calls the management HTTP API and returns the body of a 2xx answer.
func (r *RabbitMQ) api(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.ManagementURL+path, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(r.User, r.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("RabbitMQ management API %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// DeclareQueue creates a durable queue in the default vhost (no change
// when it exists).
func (r *RabbitMQ) DeclareQueue(ctx context.Context, queue string) error {
	_, err := r.api(ctx, http.MethodPut, "/api/queues/%2F/"+url.PathEscape(queue), map[string]any{"durable": true})
	return err
}

// Publish publishes n messages to queue through the default exchange and
// fails unless every one was routed.
func (r *RabbitMQ) Publish(ctx context.Context, queue string, n int) error {
	for i := range n {
		b, err := r.api(ctx, http.MethodPost, "/api/exchanges/%2F/amq.default/publish", map[string]any{
			"properties":       map[string]any{"delivery_mode": 2},
			"routing_key":      queue,
			"payload":          fmt.Sprintf("message %d", i),
			"payload_encoding": "string",
		})
		if err != nil {
			return err
		}
		var res struct {
			Routed bool `json:"routed"`
		}
		if err := json.Unmarshal(b, &res); err != nil || !res.Routed {
			return fmt.Errorf("publishing to queue %q: not routed (does the queue exist?): %s", queue, b)
		}
	}
	return nil
}

// Purge removes every message from queue.
func (r *RabbitMQ) Purge(ctx context.Context, queue string) error {
	_, err := r.api(ctx, http.MethodDelete, "/api/queues/%2F/"+url.PathEscape(queue)+"/contents", nil)
	return err
}

// Ctl runs rabbitmqctl -n NODE with args as the broker's user.
func (r *RabbitMQ) Ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.Command(rabbitCtl, append([]string{"-n", r.Node}, args...)...)
	cmd.Env, cmd.Dir = r.env, r.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	out, err := runOutput(ctx, cmd)
	if err != nil {
		return out, fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, out)
	}
	return out, nil
}

// Pids returns the process ids of the broker and its epmd (0 when not running).
func (r *RabbitMQ) Pids() (server, epmd int) {
	if r.server != nil && !r.server.exited() {
		server = r.server.pid()
	}
	if r.epmd != nil && !r.epmd.exited() {
		epmd = r.epmd.pid()
	}
	return server, epmd
}

// stop stops the broker with rabbitmqctl stop (then by pid), then epmd.
func (r *RabbitMQ) stop() error {
	var errs []error
	if r.server != nil && !r.server.exited() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		// Up to 90s: under load the CLI alone takes many seconds to start.
		if _, err := r.Ctl(ctx, "stop"); err != nil {
			errs = append(errs, err)
		}
		cancel()
		select {
		case <-r.server.done:
		case <-time.After(15 * time.Second):
		}
		if err := r.server.stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if r.epmd != nil {
		if err := r.epmd.stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
