package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manifest"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/policies"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test mlscale's Rego policies, or evaluate manifests against them offline",
		Long:  policyHelp,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newPolicyTestCmd(), newPolicyEvalCmd())
	return cmd
}

// policyTestConfig is the configuration of `mlscale policy test`.
type policyTestConfig struct {
	// Dir holds the policies and their tests; "" means the built-in ones.
	Dir string
	// Verbose lists passing tests too.
	Verbose bool
}

func newPolicyTestCmd() *cobra.Command {
	var cfg policyTestConfig
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the Rego tests of the policies",
		Long:  policyTestHelp,
		Example: `  mlscale policy test
  mlscale policy test ./policies -v`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.Dir = args[0]
			}
			return runPolicyTest(cmd.Context(), cfg, Streams{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	cmd.Flags().BoolVarP(&cfg.Verbose, "verbose", "v", false, "list passing tests too")
	return cmd
}

// policyModules parses the policies of dir (with their tests when tests is
// true), or the built-in ones for "". A directory gets the built-in helper
// packages (mlscale.lib) it does not define, as user policies in
// ConfigMaps do.
func policyModules(dir string, tests bool) (map[string]*ast.Module, string, error) {
	if dir == "" {
		m, err := policy.ParseModules(policies.FS, tests)
		return m, "built-in policies", err
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, "", usagef("policy directory: %v", err)
	}
	if !info.IsDir() {
		return nil, "", usagef("policy directory %s is not a directory", dir)
	}
	m, err := policy.ParseDir(dir, tests)
	return m, dir, err
}

func runPolicyTest(ctx context.Context, cfg policyTestConfig, s Streams) error {
	modules, name, err := policyModules(cfg.Dir, true)
	var usage usageError
	if errors.As(err, &usage) {
		return err
	}
	var results []policy.TestResult
	if err == nil {
		results, err = policy.RunModuleTests(ctx, modules)
	}
	if err != nil {
		return fmt.Errorf("testing %s: %w", name, err)
	}
	failed := 0
	for _, r := range results {
		switch {
		case !r.Passed:
			failed++
			fmt.Fprintf(s.Out, "FAIL %s.%s (%s)", r.Package, r.Name, r.Location)
			if r.Err != "" {
				fmt.Fprintf(s.Out, ": %s", r.Err)
			}
			fmt.Fprintln(s.Out)
		case cfg.Verbose:
			fmt.Fprintf(s.Out, "PASS %s.%s (%s)\n", r.Package, r.Name, r.Location)
		}
	}
	if len(results) == 0 {
		fmt.Fprintf(s.Err, "%s: no Rego tests (rules named test_*) found\n", name)
		return reportedError{problems: 1}
	}
	if failed > 0 {
		fmt.Fprintf(s.Out, "FAIL: %d/%d tests failed (%s)\n", failed, len(results), name)
		return reportedError{problems: failed}
	}
	fmt.Fprintf(s.Out, "PASS: %d/%d tests (%s)\n", len(results), len(results), name)
	return nil
}

// policyEvalConfig is the configuration of `mlscale policy eval`.
type policyEvalConfig struct {
	// Files are the -f arguments: files, directories, "-" for stdin.
	Files []string
	// Recursive reads directories' subdirectories too.
	Recursive bool
	// Namespace is used for objects whose manifest has none.
	Namespace string
	// Dir holds the policies; "" means the built-in ones.
	Dir string
	// Policy is the policy configuration.
	Policy policy.Config
	// actionFlags are the policy names --action sets.
	actionFlags []string
	// Facts are what the renderer assumes about the cluster.
	Facts facts.Facts
}

func newPolicyEvalCmd() *cobra.Command {
	cfg := policyEvalConfig{Facts: facts.Default()}
	var (
		actions       []string
		defaultAction string
		gpuBudget     int64
		configFile    string
		endpoints     []string
	)
	cmd := &cobra.Command{
		Use:   "eval -f FILE|DIR|- [-f ...]",
		Short: "Evaluate manifests against the policies, offline",
		Long:  policyEvalHelp,
		Example: `  mlscale policy eval -f manifests/
  mlscale policy eval -f app.yaml --allowed-endpoint '*.monitoring.svc.cluster.local' --action gpu_budget=warn
  mlscale policy eval -f app.yaml --policy-config policy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile != "" {
				pc, err := policy.LoadConfig(configFile)
				if err != nil {
					return usagef("--policy-config: %v", err)
				}
				cfg.Policy = pc
			}
			if err := cfg.setPolicyFlags(cmd, actions, endpoints, defaultAction, gpuBudget); err != nil {
				return err
			}
			if len(cfg.Files) == 0 {
				return usagef(`no manifests: give -f FILE, -f DIR or -f - (standard input)`)
			}
			if cfg.Namespace == "" {
				return usagef("--namespace must not be empty")
			}
			return runPolicyEval(cmd.Context(), cfg, Streams{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Files, "filename", "f", nil, `manifest file, directory, or "-" for standard input (repeatable)`)
	f.BoolVarP(&cfg.Recursive, "recursive", "R", false, "read directories given with -f recursively")
	f.StringVarP(&cfg.Namespace, "namespace", "n", "default", "namespace of objects whose manifest names none")
	f.StringVar(&configFile, "policy-config", "", "policy configuration file, YAML or JSON, as mlscale webhook --policy-config reads it (see docs/policies.md); --action, --default-action and --gpu-budget override it, --allowed-endpoint adds to it")
	f.StringVar(&cfg.Dir, "policies", "", "directory of policies to use instead of the built-in ones")
	f.StringArrayVar(&actions, "action", nil, "enforcement action of a policy, POLICY=deny|warn|audit (repeatable)")
	f.StringVar(&defaultAction, "default-action", string(policy.ActionDeny), "enforcement action of policies no --action names")
	f.StringArrayVar(&endpoints, "allowed-endpoint", nil, `host pattern trigger endpoints may use, e.g. "*.monitoring.svc.cluster.local" (repeatable; default: any)`)
	f.Int64Var(&gpuBudget, "gpu-budget", 0, "GPU budget of every namespace in devices, besides ResourceQuotas (default: none)")
	addUnknownAnnotationsFlag(f, &cfg.Facts)
	return cmd
}

// setPolicyFlags fills the policy configuration from the flags.
func (c *policyEvalConfig) setPolicyFlags(cmd *cobra.Command, actions, endpoints []string, defaultAction string, gpuBudget int64) error {
	c.Policy.AllowedEndpoints = append(c.Policy.AllowedEndpoints, endpoints...)
	if cmd.Flags().Changed("default-action") || c.Policy.DefaultAction == "" {
		c.Policy.DefaultAction = policy.Action(defaultAction)
	}
	for _, a := range actions {
		name, action, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return usagef("--action %q: want POLICY=ACTION, e.g. gpu_budget=warn", a)
		}
		if c.Policy.Actions == nil {
			c.Policy.Actions = map[string]policy.Action{}
		}
		c.Policy.Actions[name] = policy.Action(action)
		c.actionFlags = append(c.actionFlags, name)
	}
	budget, err := gpuBudgetFlag(cmd, gpuBudget)
	if err != nil {
		return err
	}
	if budget != nil {
		c.Policy.DefaultGPUBudget = budget
	}
	return nil
}

// evalItem is one object of the manifests to review.
type evalItem struct {
	where  string
	review policy.Review
}

// evalSet is what policy eval builds from the manifests: the reviews and the
// inventory of each namespace.
type evalSet struct {
	items       []evalItem
	inventories map[string]*policy.Inventory
	problems    int
}

func (s *evalSet) inventory(ns string) *policy.Inventory {
	inv, ok := s.inventories[ns]
	if !ok {
		inv = &policy.Inventory{}
		s.inventories[ns] = inv
	}
	return inv
}

func runPolicyEval(ctx context.Context, cfg policyEvalConfig, s Streams) error {
	modules, name, err := policyModules(cfg.Dir, false)
	var usage usageError
	if errors.As(err, &usage) {
		return err
	}
	var engine *policy.Engine
	if err == nil {
		engine, err = policy.NewFromModules(ctx, modules, cfg.Policy)
	}
	if err != nil {
		return usageError{fmt.Errorf("loading %s: %w", name, err)}
	}
	// --action must name a loaded policy; the configuration file may name
	// user policies that are not loaded here, as in the cluster.
	for _, p := range cfg.Policy.UnknownPolicies(engine.Policies()) {
		if slices.Contains(cfg.actionFlags, p) {
			return usagef("--action %s: no policy %q in %s; policies: %s", p, p, name, strings.Join(engine.Policies(), ", "))
		}
		fmt.Fprintf(s.Err, "note: the policy configuration sets the action of %q, which is not among the %s\n", p, name)
	}
	sources, errs := manifest.ReadSources(cfg.Files, cfg.Recursive, s.In)
	set := &evalSet{inventories: map[string]*policy.Inventory{}, problems: len(errs)}
	for _, err := range errs {
		fmt.Fprintln(s.Err, err)
	}
	for _, src := range sources {
		for _, d := range manifest.Documents(src) {
			if d.Err != nil {
				fmt.Fprintln(s.Err, d.Err)
				set.problems++
				continue
			}
			if err := set.add(ctx, cfg, d); err != nil {
				fmt.Fprintf(s.Err, "%s: %v\n", d.Where(), err)
				set.problems++
			}
		}
	}
	var denied, warned, audited int
	for _, it := range set.items {
		inv := set.inventories[it.review.Namespace]
		if inv == nil {
			inv = &policy.Inventory{}
		}
		vs, err := engine.Evaluate(ctx, it.review, *inv)
		if err != nil {
			return fmt.Errorf("%s: %w", it.where, err)
		}
		for _, v := range vs {
			fmt.Fprintf(s.Out, "%s: %s: %s\n", it.where, v.Action, v.Message)
			switch v.Action {
			case policy.ActionDeny:
				denied++
			case policy.ActionWarn:
				warned++
			case policy.ActionAudit:
				audited++
			}
		}
	}
	fmt.Fprintf(s.Out, "%d object(s) evaluated against %d policies: %d denied, %d warning(s), %d audit\n",
		len(set.items), len(engine.Policies()), denied, warned, audited)
	if denied+set.problems > 0 {
		return reportedError{problems: denied + set.problems}
	}
	return nil
}

// add decodes a document, adds it to its namespace's inventory and, when
// policies review its kind, to the items. An annotated workload is reviewed
// together with the KEDA object mlscale renders for it, which also joins
// the inventory; annotations admission would deny give the mutating
// webhook's message.
func (s *evalSet) add(ctx context.Context, cfg policyEvalConfig, d manifest.Document) error {
	gvk := d.GVK()
	if gvk.GroupKind() == policy.QuotaGVK.GroupKind() {
		var q corev1.ResourceQuota
		if err := json.Unmarshal(d.JSON, &q); err != nil {
			return fmt.Errorf("decoding %s: %w", d.Kind, err)
		}
		if q.Namespace == "" {
			q.Namespace = cfg.Namespace
		}
		s.inventory(q.Namespace).Add(&q)
		return nil
	}
	obj, err := policy.Decode(gvk, d.JSON)
	switch {
	case errors.Is(err, policy.ErrNotReviewed):
		return nil
	case err != nil:
		return err
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(cfg.Namespace)
	}
	r, err := policy.NewReview(ctx, policy.OperationCreate, obj, facts.Static(cfg.Facts))
	if err != nil {
		return err
	}
	inv := s.inventory(obj.GetNamespace())
	inv.Add(obj)
	if r.RenderedObject != nil {
		inv.Add(r.RenderedObject)
	}
	s.items = append(s.items, evalItem{where: d.Where(), review: r})
	return nil
}
