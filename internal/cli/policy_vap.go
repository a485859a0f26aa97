package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/vap"
)

// policyVAPHelp is `mlscale policy vap --help`.
var policyVAPHelp = `vap prints, as a YAML stream, the ValidatingAdmissionPolicies and
ValidatingAdmissionPolicyBindings (admissionregistration.k8s.io/v1) that let
the API server enforce the built-in policies, or the part of them that CEL
can express exactly, without mlscale: also while mlscale's webhook is down.
One policy and one binding per policy:

  ` + strings.Join(vap.Policies(), "\n  ") + `

Each holds the same rule and message as the Rego policy of that name, on
HorizontalPodAutoscalers, ScaledObjects and ScaledJobs (the KEDA object
mlscale renders for an opted-in workload is still checked by the webhook
only). Two hold part of their policy, and the webhook keeps checking the
whole of it: gpu_budget checks ScaledJobs against the configured budgets
(gpuBudgets, defaultGPUBudget or --gpu-budget; not the ResourceQuotas, nor
ScaledObjects), trigger_endpoints the hosts CEL derives exactly against
allowedEndpoints (patterns of letters, digits, "-", "_", "." and the globs
"*", "**" and "?"). Without budgets or allowed endpoints configured they
find no violation.

One more, annotations, checks the format of the mlscale.io/* annotations of
opted-in Deployments, StatefulSets and Jobs in namespaces labelled
mlscale.io/enabled: "true" (booleans, enumerations, whole numbers with their
bounds, numbers, durations, target-under, min-replicas <= max-replicas), with
the mutating webhook's messages; PromQL, RabbitMQ hosts, names, business
hours and unknown keys stay with the webhook. Its action is the
configuration's defaultAction.

The binding's validationActions follow the policy configuration
(--policy-config, the file of mlscale webhook --policy-config): deny is
Deny, warn is Warn (an admission warning), audit is Audit (the API server's
audit log); for gpu_budget and trigger_endpoints warn is Audit, since the
webhook gives the warning. The policies that compare an object with the
other objects of its namespace read them as params (every ScaledObject or
HPA of the request's namespace; none: not evaluated). The bindings leave
out kube-system and mlscale's namespace, as the webhook configurations do.

The Helm chart installs the same objects, for the configuration of its
values (apiServerPolicies.enabled), and runs the webhook with
--api-server-policies, so that a violation is reported once. See
docs/policies.md.

Exit status: 0, or 2 for a bad command line or configuration.`

// policyVAPConfig is the configuration of `mlscale policy vap`.
type policyVAPConfig struct {
	// ConfigFile is the policy configuration file; "" for the defaults.
	ConfigFile string
	// GPUBudget is --gpu-budget: the default GPU budget unless the file
	// sets defaultGPUBudget, as for mlscale webhook; nil when not given.
	GPUBudget *int64
	// Options name the objects and say where the bindings apply.
	Options vap.Options
}

func newPolicyVAPCmd() *cobra.Command {
	var (
		cfg       policyVAPConfig
		gpuBudget int64
	)
	cmd := &cobra.Command{
		Use:   "vap",
		Short: "Print the ValidatingAdmissionPolicies that enforce the policies in the API server",
		Long:  policyVAPHelp,
		Example: `  mlscale policy vap | kubectl apply -f -
  mlscale policy vap --policy-config policy.yaml --namespace mlscale --exclude-namespace monitoring
  mlscale policy vap --policy-config policy.yaml --gpu-budget 8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			budget, err := gpuBudgetFlag(cmd, gpuBudget)
			if err != nil {
				return err
			}
			cfg.GPUBudget = budget
			return runPolicyVAP(cfg, Streams{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ConfigFile, "policy-config", "", "policy configuration file, YAML or JSON, as mlscale webhook --policy-config reads it: its actions set the bindings' validationActions")
	f.Int64Var(&gpuBudget, "gpu-budget", 0, "GPU budget per namespace in devices, as mlscale webhook --gpu-budget: gpu_budget's default budget unless --policy-config sets defaultGPUBudget (default: none)")
	f.StringVar(&cfg.Options.Prefix, "prefix", vap.DefaultPrefix, "prefix of the objects' names (PREFIX-POLICY)")
	f.StringVar(&cfg.Options.Namespace, "namespace", vap.DefaultNamespace, "mlscale's namespace, never checked")
	f.StringArrayVar(&cfg.Options.ExcludeNamespaces, "exclude-namespace", nil, "a further namespace the bindings leave out (repeatable; kube-system always is)")
	f.StringArrayVar(&cfg.Options.Namespaces, "only-namespace", nil, "check only this namespace (repeatable; default: every namespace)")
	return cmd
}

func runPolicyVAP(cfg policyVAPConfig, s Streams) error {
	var pc policy.Config
	if cfg.ConfigFile != "" {
		c, err := policy.LoadConfig(cfg.ConfigFile)
		if err != nil {
			return usagef("--policy-config: %v", err)
		}
		pc = c
	}
	// --gpu-budget is the policies' default budget unless the file sets
	// one, as in mlscale webhook.
	if pc.DefaultGPUBudget == nil && cfg.GPUBudget != nil {
		pc.DefaultGPUBudget = cfg.GPUBudget
	}
	if err := checkNamespaceFlag("--namespace", cfg.Options.Namespace); err != nil {
		return err
	}
	for flag, values := range map[string][]string{"--exclude-namespace": cfg.Options.ExcludeNamespaces, "--only-namespace": cfg.Options.Namespaces} {
		for _, ns := range values {
			if ns == "" {
				return usagef("%s must not be empty", flag)
			}
			if err := checkNamespaceFlag(flag, ns); err != nil {
				return err
			}
		}
	}
	if err := checkOnlyNamespaces(cfg.Options); err != nil {
		return err
	}
	if err := checkPrefix(cfg.Options.Prefix); err != nil {
		return err
	}
	objs, err := vap.Generate(pc, cfg.Options)
	if err != nil {
		return usagef("%v", err)
	}
	out, err := vap.YAML(objs)
	if err != nil {
		return err
	}
	_, err = s.Out.Write(out)
	return err
}

// checkOnlyNamespaces refuses an --only-namespace that the bindings leave
// out anyway (mlscale's own, kube-system, or an --exclude-namespace): the
// policies would check nothing there, and with it alone nothing at all.
func checkOnlyNamespaces(o vap.Options) error {
	for _, ns := range o.Namespaces {
		switch {
		case ns == o.Namespace:
			return usagef("--only-namespace %s is mlscale's own namespace (--namespace), which the policies never check; allowed: the namespaces of the workloads to check", ns)
		case ns == "kube-system":
			return usagef("--only-namespace kube-system is never checked (the bindings always leave it out); allowed: the namespaces of the workloads to check")
		case slices.Contains(o.ExcludeNamespaces, ns):
			return usagef("--only-namespace %s is also given to --exclude-namespace; allowed: one or the other", ns)
		}
	}
	return nil
}

// checkPrefix refuses a --prefix that makes names the API server refuses.
func checkPrefix(prefix string) error {
	for _, p := range vap.Policies() {
		if prefix == "" {
			return usagef("--prefix must not be empty; allowed: lower-case letters, digits, \"-\" and \".\", starting with a letter or digit (default %q)", vap.DefaultPrefix)
		}
		if errs := validation.IsDNS1123Subdomain(vap.ObjectName(prefix, p)); len(errs) > 0 {
			return usagef("--prefix %q does not make a valid object name (%s); allowed: lower-case letters, digits, \"-\" and \".\", starting with a letter or digit", prefix, vap.ObjectName(prefix, p))
		}
	}
	return nil
}
