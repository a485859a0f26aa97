package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manager"
)

// The flags and checks that `mlscale webhook` and `mlscale predictor` share:
// both run one manager (internal/manager) with the same options.

// serviceAccountNamespaceFile holds the pod's namespace in a cluster (a
// variable for tests).
var serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// addManagerFlags registers the manager's flags; electHelp is --leader-elect's
// help, which names the process's leader-elected work.
func addManagerFlags(f *pflag.FlagSet, o *manager.Options, electHelp string) {
	f.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig file; default: KUBECONFIG, the in-cluster service account, or ~/.kube/config")
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, `address of the metrics endpoint; "0" disables it`)
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, `address of /healthz and /readyz; "0" disables them`)
	f.BoolVar(&o.LeaderElection, "leader-elect", o.LeaderElection, electHelp)
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "namespace of the leader election Lease; default: the pod's namespace (required outside a cluster with --leader-elect)")
	f.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the leader election Lease")
}

// checkManagerOptions rejects values the manager would only fail on later
// (addresses it cannot listen on, names the API server refuses), each error
// naming its flag (exit status 2), and fills in the Lease's namespace from
// the pod (see leaderElectionNamespace).
func checkManagerOptions(o *manager.Options) error {
	for _, a := range []struct{ flag, value string }{
		{"--metrics-bind-address", o.MetricsAddr},
		{"--health-probe-bind-address", o.ProbeAddr},
	} {
		if err := checkBindAddress(a.value); err != nil {
			return usagef("%s %q %v; allowed: \"0\" (off) or HOST:PORT such as \":8080\" or \"127.0.0.1:8080\"", a.flag, a.value, err)
		}
	}
	if errs := validation.IsDNS1123Subdomain(o.LeaderElectionID); len(errs) > 0 {
		return usagef("--leader-election-id %q is not a valid Lease name: %s", o.LeaderElectionID, strings.Join(errs, "; "))
	}
	if err := checkNamespaceFlag("--leader-election-namespace", o.LeaderElectionNamespace); err != nil {
		return err
	}
	return leaderElectionNamespace(o, os.Getenv("POD_NAMESPACE"), serviceAccountNamespaceFile)
}

// checkNamespaceFlag accepts an empty value or a valid namespace name.
func checkNamespaceFlag(flag, value string) error {
	if value == "" {
		return nil
	}
	if errs := validation.IsDNS1123Label(value); len(errs) > 0 {
		return usagef("%s %q is not a valid namespace name: %s", flag, value, strings.Join(errs, "; "))
	}
	return nil
}

// checkBindAddress accepts what controller-runtime listens on: "0" or ""
// (off) or HOST:PORT with a port from 0 to 65535.
func checkBindAddress(addr string) error {
	if addr == "" || addr == "0" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not HOST:PORT")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("has no port from 0 to 65535")
	}
	return nil
}

// podNamespace is the pod's namespace: env (POD_NAMESPACE), else the
// service account's namespace file, else mlscale-system.
func podNamespace(env, file string) string {
	if ns := inClusterNamespace(env, file); ns != "" {
		return ns
	}
	return "mlscale-system"
}

// inClusterNamespace is env (POD_NAMESPACE), else the service account's
// namespace file, else "" (not running in a pod).
func inClusterNamespace(env, file string) string {
	if env != "" {
		return env
	}
	if b, err := os.ReadFile(file); err == nil { //nolint:gosec // a fixed path
		return strings.TrimSpace(string(b))
	}
	return ""
}

// leaderElectionNamespace fills in the Lease's namespace when leader
// election is on and --leader-election-namespace is not set: the pod's
// namespace, or outside a pod a usage error naming the flag (instead of the
// manager's "please specify LeaderElectionNamespace" with exit status 1).
func leaderElectionNamespace(o *manager.Options, env, file string) error {
	if !o.LeaderElection || o.LeaderElectionNamespace != "" {
		return nil
	}
	ns := inClusterNamespace(env, file)
	if ns == "" {
		return usagef("--leader-elect needs --leader-election-namespace when not running in a pod (no POD_NAMESPACE, no %s); or use --leader-elect=false", file)
	}
	o.LeaderElectionNamespace = ns
	return nil
}

// setLogger makes controller-runtime log to the command's standard error,
// at debug level with --debug.
func setLogger(cmd *cobra.Command, debug bool) {
	level := zapcore.InfoLevel
	if debug {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(cmd.ErrOrStderr()), zap.Level(level), zap.StacktraceLevel(zapcore.PanicLevel)))
}

// unknownAnnotations is the --unknown-annotations flag: how mlscale.io/ keys
// that are not in the contract are judged (deny or warn), stored in
// facts.Facts.AllowUnknownKeys.
type unknownAnnotations struct{ f *facts.Facts }

func (u unknownAnnotations) String() string {
	if u.f != nil && u.f.AllowUnknownKeys {
		return "warn"
	}
	return "deny"
}

func (u unknownAnnotations) Set(v string) error {
	switch v {
	case "deny":
		u.f.AllowUnknownKeys = false
	case "warn":
		u.f.AllowUnknownKeys = true
	default:
		return fmt.Errorf("%q is not allowed; allowed: deny, warn", v)
	}
	return nil
}

func (u unknownAnnotations) Type() string { return "deny|warn" }

// addUnknownAnnotationsFlag registers --unknown-annotations.
func addUnknownAnnotationsFlag(f *pflag.FlagSet, facts *facts.Facts) {
	f.Var(unknownAnnotations{facts}, "unknown-annotations", "how mlscale.io/ annotations that mlscale does not know are judged: deny (refused, naming the nearest key) or warn (ignored with a warning)")
}
