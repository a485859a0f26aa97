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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manifest"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
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
	cmd.AddCommand(newPolicyTestCmd(), newPolicyEvalCmd(), newPolicyVAPCmd())
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
  mlscale policy test ./policies --verbose`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.Dir = args[0]
			}
			return runPolicyTest(cmd.Context(), cfg, Streams{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	cmd.Flags().BoolVar(&cfg.Verbose, "verbose", false, "list passing tests too")
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

// warnBuiltinPackages warns, in one line, about the packages of a policy
// directory that are built-in ones (mlscale.lib, a built-in policy's):
// here they replace the built-in ones, but the webhook refuses a ConfigMap
// that defines one.
func warnBuiltinPackages(modules map[string]*ast.Module, dir string, s Streams) {
	builtin, err := policy.BuiltinModules()
	if err != nil {
		return
	}
	packages := map[string]bool{}
	for _, m := range builtin {
		packages[m.Package.Path.String()] = true
	}
	var found []string
	for file, m := range modules {
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		// Files named "mlscale:..." are built-in helpers the directory did
		// not define, added.
		if !strings.HasPrefix(file, "mlscale:") && packages["data."+pkg] && !slices.Contains(found, pkg) {
			found = append(found, pkg)
		}
	}
	if len(found) == 0 {
		return
	}
	slices.Sort(found)
	printWarning(s.Err, "%s defines built-in mlscale package(s) %s: here they replace the built-in ones, but the webhook refuses a ConfigMap that defines one; user policies need their own package (%sNAME)",
		dir, strings.Join(found, ", "), policy.PackagePrefix)
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
		printError(s.Err, "%s: no Rego tests (rules named test_*) found", name)
		return reportedError{problems: 1}
	}
	if cfg.Dir != "" {
		// What the webhook checks when it loads them, beyond the tests:
		// the engine compiles (reviewed_kinds names kinds it reviews).
		warnBuiltinPackages(modules, name, s)
		policyOnly, _, err := policyModules(cfg.Dir, false)
		if err == nil {
			_, err = policy.NewFromModules(ctx, policyOnly, policy.Config{})
		}
		if err != nil {
			printError(s.Err, "loading %s: %v", name, err)
			return reportedError{problems: 1}
		}
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
	// NamespaceSet is true when -n was given (see namespaceMismatch).
	NamespaceSet bool
	// Output is outputText or outputJSON.
	Output string
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
		Args: noArgsButFiles,
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
			if err := checkNamespaceFlag("--namespace", cfg.Namespace); err != nil {
				return err
			}
			cfg.NamespaceSet = cmd.Flags().Changed("namespace")
			if cfg.Output != outputText && cfg.Output != outputJSON {
				return usagef("--output %q: allowed: text, json", cfg.Output)
			}
			return runPolicyEval(cmd.Context(), cfg, Streams{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Files, "filename", "f", nil, `manifest file, directory, or "-" for standard input (repeatable)`)
	f.BoolVarP(&cfg.Recursive, "recursive", "R", false, "read directories given with -f recursively")
	f.StringVarP(&cfg.Namespace, "namespace", "n", "default", "namespace of objects whose manifest names none")
	f.StringVarP(&cfg.Output, "output", "o", outputText, "output format: text (a line per finding and a summary) or json (one object: the counts and a record per finding)")
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
	// Each flag's value is checked as the flag, so that its error names
	// the flag rather than the configuration file.
	for _, e := range endpoints {
		if err := policy.CheckEndpointPattern(e); err != nil {
			return usagef("--allowed-endpoint %q: %v; allowed: %s", e, err, policy.EndpointPatternAllowed)
		}
	}
	c.Policy.AllowedEndpoints = append(c.Policy.AllowedEndpoints, endpoints...)
	if cmd.Flags().Changed("default-action") || c.Policy.DefaultAction == "" {
		c.Policy.DefaultAction = policy.Action(defaultAction)
	}
	if !c.Policy.DefaultAction.Valid() {
		return usagef("--default-action %q is not an action; allowed: %s", defaultAction, policy.ActionsText())
	}
	for _, a := range actions {
		name, action, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return usagef("--action %q: want POLICY=ACTION, e.g. gpu_budget=warn", a)
		}
		if !policy.Action(action).Valid() {
			return usagef("--action %s: %q is not an action; allowed: %s", name, action, policy.ActionsText())
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

func runPolicyEval(ctx context.Context, cfg policyEvalConfig, s Streams) error {
	modules, name, err := policyModules(cfg.Dir, false)
	var usage usageError
	if errors.As(err, &usage) {
		return err
	}
	var engine *policy.Engine
	if err == nil {
		if cfg.Dir != "" {
			warnBuiltinPackages(modules, name, s)
		}
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
		printWarning(s.Err, "the policy configuration sets the action of %q, which is not among the %s", p, name)
	}
	objs, problems := readEvalObjects(cfg, s)
	ev := &evaluation{engine: engine, index: policy.NewIndex(), quotas: map[string][]corev1.ResourceQuota{}, problems: problems}
	ff := facts.FromQuotas(cfg.Facts, ev.quotas)
	for _, o := range objs {
		if err := ev.apply(ctx, o, ff, s); err != nil {
			return err
		}
	}
	return ev.report(cfg.Output, len(engine.Policies()), s)
}

// evaluation is `policy eval` under way: the objects are applied in the
// order of the files, as `kubectl apply -f` applies them, and each is
// reviewed with what admission would see then: the objects before it that
// admission would have admitted. A denied object never joins the index, so
// one conflict is reported once, on the object that makes it.
type evaluation struct {
	engine *policy.Engine
	index  *policy.Index
	// quotas are the ResourceQuotas applied so far, by namespace: the GPU
	// budget the renderer sees (facts.FromQuotas reads the map as it grows).
	quotas            map[string][]corev1.ResourceQuota
	findings          []evalFinding
	objects, problems int
	// unchecked counts the objects the webhooks never see (unchecked).
	unchecked               int
	denied, warned, audited int
}

// evalFinding is one line of the output: a policy's finding, or a warning
// of the renderer (Policy "mlscale").
type evalFinding struct {
	Where     string        `json:"where"`
	Kind      string        `json:"kind"`
	Namespace string        `json:"namespace"`
	Name      string        `json:"name"`
	Action    policy.Action `json:"action"`
	Policy    string        `json:"policy"`
	Message   string        `json:"message"`
	// More counts the further conflicts of the same policy on the object
	// that this finding stands for.
	More int `json:"more,omitempty"`
	// suffix is what the text output appends (moreSuffix).
	suffix string
}

// apply reviews one object and, unless admission would deny it, adds it
// (and the KEDA object rendered for it) to the index.
func (ev *evaluation) apply(ctx context.Context, o evalObject, ff facts.Func, s Streams) error {
	if q, ok := o.obj.(*corev1.ResourceQuota); ok {
		ev.quotas[q.Namespace] = append(ev.quotas[q.Namespace], *q)
		return ev.index.Add(q)
	}
	if unchecked(o.obj) {
		// The webhooks never see it: admitted unchecked, it is part of
		// the cluster the objects after it meet.
		ev.unchecked++
		return ev.index.Add(o.obj)
	}
	r, err := policy.NewReview(ctx, policy.OperationCreate, o.obj, ff)
	if err != nil {
		printError(s.Err, "%s: %v", o.where, err)
		ev.problems++
		return nil
	}
	ev.objects++
	base := evalFinding{Where: o.where, Kind: r.Kind, Namespace: o.obj.GetNamespace(), Name: o.obj.GetName()}
	for _, w := range r.RenderWarnings {
		f := base
		f.Action, f.Policy, f.Message = policy.ActionWarn, "mlscale", w
		ev.add(f)
	}
	fs, err := ev.engine.EvaluateIndexed(ctx, r, ev.index)
	if err != nil {
		// One policy's error on one object (a conflict, a wrong result)
		// is a problem of that object; the others are still evaluated.
		// The object is not admitted: admission fails closed on it.
		printError(s.Err, "%s: %v", o.where, err)
		ev.problems++
		return nil
	}
	admitted := true
	for _, pf := range fs {
		f := base
		f.Action, f.Policy, f.Message, f.More, f.suffix = pf.Action, pf.Policy, pf.Message, pf.More, moreSuffix(pf, r.Namespace)
		ev.add(f)
		admitted = admitted && pf.Action != policy.ActionDeny
	}
	if !admitted {
		return nil
	}
	if err := ev.index.Add(o.obj); err != nil {
		return err
	}
	if r.RenderedObject != nil {
		return ev.index.Add(r.RenderedObject)
	}
	return nil
}

// unchecked reports whether mlscale's validating webhooks leave the object
// alone: a workload that has not opted in (mlscale.io/autoscale), or any
// object in kube-system, which their namespace selectors always leave out.
func unchecked(obj client.Object) bool {
	if obj.GetNamespace() == metav1.NamespaceSystem {
		return true
	}
	_, isWorkload := workload.KindOf(obj.GetObjectKind().GroupVersionKind().GroupKind())
	return isWorkload && !intent.Enabled(obj.GetAnnotations())
}

// add records a finding and counts it by action.
func (ev *evaluation) add(f evalFinding) {
	ev.findings = append(ev.findings, f)
	switch f.Action {
	case policy.ActionDeny:
		ev.denied++
	case policy.ActionWarn:
		ev.warned++
	case policy.ActionAudit:
		ev.audited++
	}
}

// report prints the findings and the summary, as text lines or as one JSON
// object, and returns the error that sets the exit status.
func (ev *evaluation) report(output string, policies int, s Streams) error {
	if output == outputJSON {
		findings := ev.findings
		if findings == nil {
			findings = []evalFinding{}
		}
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]any{
			"objects": ev.objects, "policies": policies, "denied": ev.denied, "warnings": ev.warned,
			"audit": ev.audited, "problems": ev.problems, "not_checked": ev.unchecked, "findings": findings,
		}); err != nil {
			return err
		}
	} else {
		for _, f := range ev.findings {
			fmt.Fprintf(s.Out, "%s: %s: %s%s\n", f.Where, f.Action, f.Message, f.suffix)
		}
		fmt.Fprintf(s.Out, "%d object(s) evaluated against %d policies: %d denied, %d warning(s), %d audit\n",
			ev.objects, policies, ev.denied, ev.warned, ev.audited)
		if ev.unchecked > 0 {
			fmt.Fprintf(s.Out, "%d object(s) not checked, as the webhooks never see them: workloads without %s: \"true\", objects in kube-system\n",
				ev.unchecked, intent.KeyAutoscale)
		}
	}
	if ev.denied+ev.problems > 0 {
		return reportedError{problems: ev.denied + ev.problems}
	}
	return nil
}

// readEvalObjects reads the manifests into the objects that policies
// review or that inventories hold, in the order of the files, printing
// what cannot be read; problems counts those.
func readEvalObjects(cfg policyEvalConfig, s Streams) (objs []evalObject, problems int) {
	sources, errs := manifest.ReadSources(cfg.Files, cfg.Recursive, s.In)
	for _, err := range errs {
		printError(s.Err, "%v", err)
	}
	problems = len(errs)
	for _, src := range sources {
		for _, d := range manifest.Documents(src) {
			if d.Err != nil {
				printError(s.Err, "%v", d.Err)
				problems++
				continue
			}
			obj, err := decodeEvalObject(cfg, d)
			switch {
			case err != nil:
				printError(s.Err, "%s: %v", d.Where(), err)
				problems++
			case obj != nil:
				objs = append(objs, evalObject{where: d.Where(), obj: obj})
			}
		}
	}
	return objs, problems
}

// generatedSuffix stands for the five random characters the API server
// appends to metadata.generateName.
const generatedSuffix = "xxxxx"

// evalObject is a decoded document of the manifests.
type evalObject struct {
	where string
	obj   client.Object
}

// decodeEvalObject decodes a document that policies review or that an
// inventory holds (a ResourceQuota), with the default namespace set; nil
// for other kinds.
func decodeEvalObject(cfg policyEvalConfig, d manifest.Document) (client.Object, error) {
	gvk := d.GVK()
	var obj client.Object
	if gvk.GroupKind() == policy.QuotaGVK.GroupKind() {
		var q corev1.ResourceQuota
		if err := json.Unmarshal(d.JSON, &q); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", d.Kind, err)
		}
		obj = &q
	} else {
		o, err := policy.Decode(gvk, d.JSON)
		switch {
		case errors.Is(err, policy.ErrNotReviewed):
			return nil, nil
		case err != nil:
			return nil, err
		}
		obj = o
	}
	if err := namespaceMismatch(obj.GetNamespace(), cfg.Namespace, cfg.NamespaceSet); err != nil {
		return nil, err
	}
	switch {
	case obj.GetName() == "" && obj.GetGenerateName() == "":
		return nil, fmt.Errorf("%s has no metadata.name (nor metadata.generateName); the API server requires one", d.Kind)
	case obj.GetName() == "":
		// The API server names it before validating admission sees it:
		// generateName and five random characters. The policies review
		// it under such a name.
		obj.SetName(obj.GetGenerateName() + generatedSuffix)
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(cfg.Namespace)
	}
	return obj, nil
}

// moreSuffix says what a finding's one line leaves out: the policy's other
// messages on the same object (one per other object it conflicts with),
// and, for a crowded target, that the object was compared with the first
// objects on it only.
func moreSuffix(f policy.Finding, namespace string) string {
	switch {
	case f.Sampled:
		kind, name, _ := strings.Cut(f.Target, "/")
		return fmt.Sprintf(" (and %d more like it among the first %d HPAs and the first %d ScaledObjects on %s %s/%s; %d in the files target it)",
			f.More, policy.SampleSize, policy.SampleSize, kind, namespace, name, f.OnTarget)
	case f.More > 0:
		return fmt.Sprintf(" (and %d more like it)", f.More)
	}
	return ""
}
