package cli

import (
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/webhook"
)

// newWebhookCmd is `mlscale webhook`: the admission webhook server and the
// reconciler, as run in the cluster. Flags map one to one onto
// webhook.Config.
func newWebhookCmd() *cobra.Command {
	cfg := webhook.DefaultConfig()
	var (
		gpuBudget    int64
		debug        bool
		policyFile   string
		userPolicies bool
	)
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Serve the admission webhook and run the reconciler (in the cluster)",
		Long:  webhookHelp,
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
			if err := checkWebhookConfig(&cfg); err != nil {
				return err
			}
			setLogger(cmd, debug)
			return webhook.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	addManagerFlags(f, &cfg.Options, "run the reconciler and the policy audit on one elected replica only (the webhook is served by every replica)")
	f.StringVar(&cfg.CertDir, "cert-dir", cfg.CertDir, "directory with the webhook's serving certificate and key")
	f.StringVar(&cfg.CertName, "cert-name", cfg.CertName, "certificate file name in --cert-dir")
	f.StringVar(&cfg.KeyName, "key-name", cfg.KeyName, "key file name in --cert-dir")
	f.StringVar(&cfg.Host, "host", cfg.Host, "address the webhook server binds to; empty means every interface")
	f.IntVar(&cfg.Port, "port", cfg.Port, "port of the webhook server")
	f.StringVar(&cfg.Facts.ClusterDomain, "cluster-domain", cfg.Facts.ClusterDomain, "cluster DNS domain, used to expand short service names")
	f.StringVar(&cfg.Facts.PrometheusServer, "prometheus-server", cfg.Facts.PrometheusServer, "Prometheus URL for workloads that name none")
	f.Int64Var(&gpuBudget, "gpu-budget", 0, "GPU budget per namespace in devices (default: none; namespaces' ResourceQuotas on requests.nvidia.com/gpu lower it)")
	addUnknownAnnotationsFlag(f, &cfg.Facts)
	f.StringVar(&policyFile, "policy-config", "", "policy configuration file, YAML or JSON: defaultAction, actions (policy: deny|warn|audit), allowedEndpoints, gpuBudgets, defaultGPUBudget, clusterTriggerAuthentications (see docs/policies.md)")
	f.BoolVar(&userPolicies, "user-policies", true, "load user policies from ConfigMaps labelled mlscale.io/policy=true in --policy-namespace")
	f.StringVar(&cfg.PolicyNamespace, "policy-namespace", "", "namespace of the user policy ConfigMaps; default: the pod's namespace (POD_NAMESPACE or the service account's), else mlscale-system")
	durationVar(f, &cfg.AuditInterval, "audit-interval", cfg.AuditInterval, "time between the starts of two policy audit rounds on the leader; 0 disables the audit")
	f.Float64Var(&cfg.AuditPace, "audit-pace", cfg.AuditPace, "the pause after a policy audit round is at least this many times the round's duration (so the audit takes at most 1/(1+N) of a core at any scale); 0: every --audit-interval whatever rounds take; at most 1000")
	f.IntVar(&cfg.Reconciler.MaxConcurrentReconciles, "max-concurrent-reconciles", cfg.Reconciler.MaxConcurrentReconciles, "workloads of each kind (Deployment, StatefulSet, Job) the reconciler converges at once")
	durationVar(f, &cfg.TriggerCheck.Interval, "trigger-check-interval", cfg.TriggerCheck.Interval, "time between two checks that each Prometheus trigger's query returns a series (on the leader; also at render); only the default Prometheus server and --policy-config's allowedEndpoints are queried; 0 disables the check")
	f.BoolVar(&cfg.APIServerPolicies, "api-server-policies", false, "the ValidatingAdmissionPolicies of \"mlscale policy vap\" are installed: leave their policies on HPAs, ScaledObjects and ScaledJobs to the API server, so that each violation is reported once (the audit still checks them)")
	f.BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}

// checkWebhookConfig rejects flag values that would only fail later, or
// worse, be used: a Prometheus URL with a password written into every
// rendered trigger, a cluster domain that makes invalid hosts, addresses
// that cannot be listened on, names the API server refuses. Each error names
// its flag and is a usage error (exit status 2).
func checkWebhookConfig(cfg *webhook.Config) error {
	if cfg.Port < 1 || cfg.Port > 65535 {
		return usagef("--port must be between 1 and 65535, not %d", cfg.Port)
	}
	if err := checkFactsFlags(cfg.Facts); err != nil {
		return err
	}
	if cfg.Host != "" && net.ParseIP(cfg.Host) == nil && len(validation.IsDNS1123Subdomain(cfg.Host)) > 0 {
		return usagef("--host %q is not an IP address or a host name; allowed: empty (every interface), an IP address or a host name", cfg.Host)
	}
	if cfg.CertName == "" || cfg.KeyName == "" {
		return usagef("--cert-name and --key-name must not be empty")
	}
	if err := checkNamespaceFlag("--policy-namespace", cfg.PolicyNamespace); err != nil {
		return err
	}
	return checkManagerOptions(&cfg.Options)
}

// checkFactsFlags checks --prometheus-server and --cluster-domain, which
// render, policy eval and webhook share. An empty server is allowed: it
// stands for a cluster without a default, where workloads that need
// Prometheus must name their own.
func checkFactsFlags(f facts.Facts) error {
	if f.PrometheusServer != "" {
		if err := intent.CheckPrometheusServer(f.PrometheusServer); err != nil {
			// The value is not repeated: it may hold a password.
			return usagef("--prometheus-server %v; allowed: %s", err, intent.PrometheusServerAllowed)
		}
	}
	return checkClusterDomain(f.ClusterDomain)
}

// checkClusterDomain checks --cluster-domain, which render, policy eval,
// webhook and predictor share.
func checkClusterDomain(domain string) error {
	if errs := validation.IsDNS1123Subdomain(domain); len(errs) > 0 {
		return usagef("--cluster-domain %q is not a valid DNS domain: %s", domain, strings.Join(errs, "; "))
	}
	return nil
}

// maxAuditPace bounds --audit-pace: beyond, the pause (the pace times a
// round's duration) overflows a time.Duration and pacing is lost; a
// thousand times a round is already an audit that hardly runs.
const maxAuditPace = 1000

// webhookPolicyFlags reads the policy flags of `mlscale webhook` into cfg.
func webhookPolicyFlags(cmd *cobra.Command, cfg *webhook.Config, file string, userPolicies bool) error {
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
	if !(cfg.AuditPace >= 0 && cfg.AuditPace <= maxAuditPace) {
		return usagef("--audit-pace must be 0 (no pacing) to %g, not %v", float64(maxAuditPace), cfg.AuditPace)
	}
	if cfg.Reconciler.MaxConcurrentReconciles < 1 {
		return usagef("--max-concurrent-reconciles must be at least 1, not %d", cfg.Reconciler.MaxConcurrentReconciles)
	}
	if cfg.TriggerCheck.Interval < 0 {
		return usagef("--trigger-check-interval must be 0 (off) or more, not %s", cfg.TriggerCheck.Interval)
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
