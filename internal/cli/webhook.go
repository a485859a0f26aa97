package cli

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/internal/policy"
)

// newWebhookCmd is `mlscale webhook`: the admission webhook server and the
// reconciler, as run in the cluster. Flags map one to one onto
// manager.Config.
func newWebhookCmd() *cobra.Command {
	cfg := manager.DefaultConfig()
	var (
		gpuBudget    int64
		debug        bool
		policyFile   string
		userPolicies bool
	)
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Serve the admission webhook and run the reconciler (in the cluster)",
		Long: `webhook runs mlscale in the cluster:

  - the mutating admission webhook for annotated Deployments, StatefulSets and
    Jobs, over HTTPS with the certificate in --cert-dir (reloaded when it
    changes), on every replica;
  - the reconciler, which applies each opted-in workload's KEDA ScaledObject
    or ScaledJob with server-side apply and deletes it when the workload opts
    out, on the elected leader only (--leader-elect);
  - the validating admission webhook: mlscale's Rego policies (and user
    policies from ConfigMaps labelled mlscale.io/policy=true in
    --policy-namespace, tested before activation and reloaded on change)
    for HPAs, KEDA ScaledObjects and ScaledJobs and annotated workloads,
    configured by --policy-config, on every replica;
  - the policy audit loop, every --audit-interval on the elected leader:
    mlscale_policy_violations and Events on the violating objects;
  - Prometheus metrics on --metrics-bind-address, and /healthz and /readyz
    (ready once the webhook server serves) on --health-probe-bind-address.

It stops cleanly on SIGTERM or Ctrl-C.`,
		Example: `  mlscale webhook --cert-dir /certs --leader-elect --leader-election-namespace mlscale-system
  mlscale webhook --kubeconfig ~/.kube/config --leader-elect=false --prometheus-server http://prometheus.monitoring.svc:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			budget, err := gpuBudgetFlag(cmd, gpuBudget)
			if err != nil {
				return err
			}
			cfg.Facts.GPUBudget = budget
			if err := webhookPolicyFlags(cmd, &cfg, policyFile, userPolicies); err != nil {
				return err
			}
			if err := leaderElectionNamespace(&cfg, os.Getenv("POD_NAMESPACE"), serviceAccountNamespaceFile); err != nil {
				return err
			}
			if err := checkWebhookConfig(cfg); err != nil {
				return err
			}
			level := zapcore.InfoLevel
			if debug {
				level = zapcore.DebugLevel
			}
			ctrl.SetLogger(zap.New(zap.WriteTo(cmd.ErrOrStderr()), zap.Level(level), zap.StacktraceLevel(zapcore.PanicLevel)))
			return manager.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig file; default: KUBECONFIG, the in-cluster service account, or ~/.kube/config")
	f.StringVar(&cfg.CertDir, "cert-dir", cfg.CertDir, "directory with the webhook's serving certificate and key")
	f.StringVar(&cfg.CertName, "cert-name", "tls.crt", "certificate file name in --cert-dir")
	f.StringVar(&cfg.KeyName, "key-name", "tls.key", "key file name in --cert-dir")
	f.StringVar(&cfg.Host, "host", cfg.Host, "address the webhook server binds to; empty means every interface")
	f.IntVar(&cfg.Port, "port", cfg.Port, "port of the webhook server")
	f.StringVar(&cfg.MetricsAddr, "metrics-bind-address", cfg.MetricsAddr, `address of the metrics endpoint; "0" disables it`)
	f.StringVar(&cfg.ProbeAddr, "health-probe-bind-address", cfg.ProbeAddr, `address of /healthz and /readyz; "0" disables them`)
	f.BoolVar(&cfg.LeaderElection, "leader-elect", cfg.LeaderElection, "run the reconciler on one elected replica only (the webhook is served by every replica)")
	f.StringVar(&cfg.LeaderElectionNamespace, "leader-election-namespace", cfg.LeaderElectionNamespace, "namespace of the leader election Lease; default: the pod's namespace")
	f.StringVar(&cfg.LeaderElectionID, "leader-election-id", cfg.LeaderElectionID, "name of the leader election Lease")
	f.StringVar(&cfg.Facts.ClusterDomain, "cluster-domain", cfg.Facts.ClusterDomain, "cluster DNS domain, used to expand short service names")
	f.StringVar(&cfg.Facts.PrometheusServer, "prometheus-server", cfg.Facts.PrometheusServer, "Prometheus URL for workloads that name none")
	f.Int64Var(&gpuBudget, "gpu-budget", 0, "GPU budget per namespace in devices (default: none; namespaces' ResourceQuotas on requests.nvidia.com/gpu lower it)")
	f.StringVar(&policyFile, "policy-config", "", "policy configuration file, YAML or JSON: defaultAction, actions (policy: deny|warn|audit), allowedEndpoints, gpuBudgets, defaultGPUBudget (see docs/policies.md)")
	f.BoolVar(&userPolicies, "user-policies", true, "load user policies from ConfigMaps labelled mlscale.io/policy=true in --policy-namespace")
	f.StringVar(&cfg.PolicyNamespace, "policy-namespace", "", "namespace of the user policy ConfigMaps; default: the pod's namespace (POD_NAMESPACE or the service account's), else mlscale-system")
	f.DurationVar(&cfg.AuditInterval, "audit-interval", cfg.AuditInterval, "time between two policy audit rounds on the leader; 0 disables the audit")
	f.BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}

// checkWebhookConfig rejects flag values that would only fail later, or
// worse, be used: a Prometheus URL with a password written into every
// rendered trigger, a cluster domain that makes invalid hosts, addresses
// that cannot be listened on, names the API server refuses. Each error names
// its flag and is a usage error (exit status 2).
func checkWebhookConfig(cfg manager.Config) error {
	if cfg.Port < 1 || cfg.Port > 65535 {
		return usagef("--port must be between 1 and 65535, not %d", cfg.Port)
	}
	// An empty server is allowed, as in `mlscale render`: workloads that need
	// Prometheus must then name their own.
	if cfg.Facts.PrometheusServer != "" {
		if err := intent.CheckPrometheusServer(cfg.Facts.PrometheusServer); err != nil {
			// The value is not repeated: it may hold a password.
			return usagef("--prometheus-server %v; allowed: %s", err, intent.PrometheusServerAllowed)
		}
	}
	if errs := validation.IsDNS1123Subdomain(cfg.Facts.ClusterDomain); len(errs) > 0 {
		return usagef("--cluster-domain %q is not a valid DNS domain: %s", cfg.Facts.ClusterDomain, strings.Join(errs, "; "))
	}
	if cfg.Host != "" && net.ParseIP(cfg.Host) == nil && len(validation.IsDNS1123Subdomain(cfg.Host)) > 0 {
		return usagef("--host %q is not an IP address or a host name; allowed: empty (every interface), an IP address or a host name", cfg.Host)
	}
	for _, a := range []struct{ flag, value string }{
		{"--metrics-bind-address", cfg.MetricsAddr},
		{"--health-probe-bind-address", cfg.ProbeAddr},
	} {
		if err := checkBindAddress(a.value); err != nil {
			return usagef("%s %q %v; allowed: \"0\" (off) or HOST:PORT such as \":8080\" or \"127.0.0.1:8080\"", a.flag, a.value, err)
		}
	}
	if cfg.CertName == "" || cfg.KeyName == "" {
		return usagef("--cert-name and --key-name must not be empty")
	}
	if errs := validation.IsDNS1123Subdomain(cfg.LeaderElectionID); len(errs) > 0 {
		return usagef("--leader-election-id %q is not a valid Lease name: %s", cfg.LeaderElectionID, strings.Join(errs, "; "))
	}
	for _, n := range []struct{ flag, value string }{
		{"--leader-election-namespace", cfg.LeaderElectionNamespace},
		{"--policy-namespace", cfg.PolicyNamespace},
	} {
		if n.value == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(n.value); len(errs) > 0 {
			return usagef("%s %q is not a valid namespace name: %s", n.flag, n.value, strings.Join(errs, "; "))
		}
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

// serviceAccountNamespaceFile holds the pod's namespace in a cluster (a
// variable for tests).
var serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// webhookPolicyFlags reads the policy flags of `mlscale webhook` into cfg.
func webhookPolicyFlags(cmd *cobra.Command, cfg *manager.Config, file string, userPolicies bool) error {
	if file != "" {
		pc, err := policy.LoadConfig(file)
		if err != nil {
			return usagef("--policy-config: %v", err)
		}
		cfg.Policy = pc
	}
	// --gpu-budget is also the policies' default budget unless the file
	// sets one.
	if cfg.Policy.DefaultGPUBudget == nil && cfg.Facts.GPUBudget != nil {
		cfg.Policy.DefaultGPUBudget = cfg.Facts.GPUBudget
	}
	if cfg.AuditInterval < 0 {
		return usagef("--audit-interval must be 0 (off) or more, not %s", cfg.AuditInterval)
	}
	switch {
	case !userPolicies:
		cfg.PolicyNamespace = ""
	case cmd.Flags().Changed("policy-namespace") && cfg.PolicyNamespace == "":
		return usagef("--policy-namespace must not be empty; use --user-policies=false to turn user policies off")
	case cfg.PolicyNamespace == "":
		cfg.PolicyNamespace = podNamespace(os.Getenv("POD_NAMESPACE"), serviceAccountNamespaceFile)
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
func leaderElectionNamespace(cfg *manager.Config, env, file string) error {
	if !cfg.LeaderElection || cfg.LeaderElectionNamespace != "" {
		return nil
	}
	ns := inClusterNamespace(env, file)
	if ns == "" {
		return usagef("--leader-elect needs --leader-election-namespace when not running in a pod (no POD_NAMESPACE, no %s); or use --leader-elect=false", file)
	}
	cfg.LeaderElectionNamespace = ns
	return nil
}
