package cli

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/internal/manager"
)

// newWebhookCmd is `mlscale webhook`: the admission webhook server and the
// reconciler, as run in the cluster. Flags map one to one onto
// manager.Config.
func newWebhookCmd() *cobra.Command {
	cfg := manager.DefaultConfig()
	var (
		gpuBudget int64
		debug     bool
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
			if cfg.Port < 1 || cfg.Port > 65535 {
				return usagef("--port must be between 1 and 65535, not %d", cfg.Port)
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
	f.BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}
