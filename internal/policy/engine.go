// Package policy evaluates mlscale's Rego policies (the built-in ones of
// the policies folder, or any folder of the same layout) with the OPA Go
// library, and runs their Rego tests.
//
// # Policies
//
// A policy is a Rego (v1) package mlscale.policies.NAME with a rule
// `violation`, a set of messages; NAME is the policy's name in
// configuration and in violations. Files named *_test.rego hold the
// policies' tests and are not part of the evaluated policies. Other packages
// (e.g. mlscale.lib) are helpers.
//
// # Input
//
// input is the review of one object (see Review):
//
//	{
//	  "kind":       "HorizontalPodAutoscaler" | "ScaledObject" | "ScaledJob" |
//	                "Deployment" | "StatefulSet" | "Job",
//	  "operation":  "CREATE" | "UPDATE",
//	  "namespace":  namespace of the request,
//	  "object":     the object under review, with apiVersion and kind,
//	  "rendered":   for an annotated workload: the ScaledObject or ScaledJob
//	                mlscale renders for it (absent otherwise),
//	  "gpusPerPod": GPU devices one pod holds, for a workload, a ScaledJob, or
//	                a ScaledObject whose target is known (0 when unknown),
//	  "podsPerReplica": pods one replica runs at once (a Job's or
//	                ScaledJob's parallelism; 1 otherwise)
//	}
//
// data.workload_kinds lists the workload kinds mlscale scales
// (workload.Kinds); data.gpu_resources the extended resources counted as
// GPUs, {"names": [...], "prefixes": [...]} (workload.GPUResourceNames and
// GPUResourcePrefixes). data.inventory holds the objects related to the review (see Inventory;
// in the cluster, webhook/inventory reads those on the review's scale
// target), each with apiVersion and kind:
//
//	{"horizontalPodAutoscalers": [...], "scaledObjects": [...],
//	 "scaledJobs": [...], "resourceQuotas": [...]}
//
// The object under review may be among them (on UPDATE, its old version);
// the policies skip it by kind and name. data.config is Config.Data.
// (The engine passes the inventory as input.inventory and binds it to
// data.inventory with `with`; policies read data.inventory.)
package policy

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/mlscale/mlscale/internal/policy/native"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/policies"
)

// PackagePrefix is the package path under which policies live.
const PackagePrefix = "mlscale.policies."

// violationRule is the rule every policy defines.
const violationRule = "violation"

// Violation is one message of one policy.
type Violation struct {
	// Policy is the policy's name.
	Policy string `json:"policy"`
	// Message says what conflicts with what and how to fix it.
	Message string `json:"message"`
	// Action is the policy's enforcement action.
	Action Action `json:"action"`
}

// Engine evaluates compiled policies. It is safe for concurrent use.
type Engine struct {
	cfg      Config
	policies []compiledPolicy
	// byKind are the policies that review each kind of ReviewedKinds
	// (see KindsRule), in name order.
	byKind map[string][]compiledPolicy
	// together evaluates the policies of byKind in one query, for each
	// kind that more than one policy reviews.
	together map[string]rego.PreparedEvalQuery
	// regoTogether evaluates, in one query, the policies of byKind that
	// have no Go form, for each kind that more than one such policy
	// reviews.
	regoTogether map[string]rego.PreparedEvalQuery
	// regoOnly makes Evaluate use the Rego of every policy (WithoutNative).
	regoOnly bool
}

type compiledPolicy struct {
	name  string
	query rego.PreparedEvalQuery
	// kinds are the input kinds the policy reviews; nil for every kind.
	kinds kindSet
	// native is the policy's Go form (internal/policy/native), used while
	// the policy and the helpers it reads are the built-in ones; nil when
	// it is evaluated in Rego.
	native native.Func
}

// New compiles the built-in policies with the configuration.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	return NewFromFS(ctx, policies.FS, cfg)
}

// NewFromFS compiles the policies of the .rego files of fsys (its whole
// tree, tests excluded) with the configuration: each policy once, into a
// prepared query. Every policy the configuration names must exist.
func NewFromFS(ctx context.Context, fsys fs.FS, cfg Config) (*Engine, error) {
	modules, err := ParseModules(fsys, false)
	if err != nil {
		return nil, err
	}
	return NewChecked(ctx, modules, cfg)
}

// NewChecked compiles parsed policy modules (without tests) with the
// configuration, as NewFromFS does: every policy the configuration names
// must exist among them.
func NewChecked(ctx context.Context, modules map[string]*ast.Module, cfg Config) (*Engine, error) {
	if err := cfg.Validate(Names(modules)); err != nil {
		return nil, err
	}
	return NewFromModules(ctx, modules, cfg)
}

// NewFromModules compiles parsed policy modules (without tests) with the
// configuration, each policy once into a prepared query. The
// configuration's values are checked (Config.ValidateValues), not whether
// the policies it names exist: an action may wait for a user policy that
// is not loaded yet.
func NewFromModules(ctx context.Context, modules map[string]*ast.Module, cfg Config) (*Engine, error) {
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compiling policies: %w", compiler.Errors)
	}
	if err := checkMisnamedRules(modules); err != nil {
		return nil, err
	}
	names := Names(modules)
	if len(names) == 0 {
		return nil, fmt.Errorf("compiling policies: no package %s* with a %q rule", PackagePrefix, violationRule)
	}
	if err := cfg.ValidateValues(); err != nil {
		return nil, err
	}
	store := inmem.NewFromObject(baseData(cfg))
	e := &Engine{cfg: cfg}
	natives := native.Compile(cfg.nativeConfig())
	for _, name := range names {
		q := fmt.Sprintf("data.%s%s.%s with data.inventory as input.inventory", PackagePrefix, name, violationRule)
		pq, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("preparing policy %s: %w", name, err)
		}
		kinds, err := policyKinds(ctx, compiler, store, modules, name)
		if err != nil {
			return nil, err
		}
		p := compiledPolicy{name: name, query: pq, kinds: kinds}
		if f, ok := natives[name]; ok && builtinUnchanged(modules, name) && kinds.equal(builtinKinds[name]) {
			p.native = f
		}
		e.policies = append(e.policies, p)
	}
	e.byKind = map[string][]compiledPolicy{}
	e.together = map[string]rego.PreparedEvalQuery{}
	e.regoTogether = map[string]rego.PreparedEvalQuery{}
	prepare := func(ps []compiledPolicy, kind string, into map[string]rego.PreparedEvalQuery) error {
		if len(ps) < 2 {
			return nil
		}
		pq, err := rego.New(rego.Query(togetherQuery(ps)), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(ctx)
		if err != nil {
			return fmt.Errorf("preparing the policies of %s: %w", kind, err)
		}
		into[kind] = pq
		return nil
	}
	for _, k := range ReviewedKinds {
		ps := e.policiesFor(k.GVK.Kind)
		e.byKind[k.GVK.Kind] = ps
		if err := prepare(ps, k.GVK.Kind, e.together); err != nil {
			return nil, err
		}
		if err := prepare(withoutNative(ps), k.GVK.Kind, e.regoTogether); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// withoutNative returns the policies of ps that have no Go form.
func withoutNative(ps []compiledPolicy) []compiledPolicy {
	return slices.DeleteFunc(slices.Clone(ps), func(p compiledPolicy) bool { return p.native != nil })
}

// WithoutNative returns a copy of e that evaluates every policy in Rego,
// also those that have a Go form: the reference the Go forms are compared
// with.
func (e *Engine) WithoutNative() *Engine {
	c := *e
	c.regoOnly = true
	return &c
}

// Native returns the names of the policies e evaluates with their Go form
// (internal/policy/native), sorted; none after WithoutNative.
func (e *Engine) Native() []string {
	var out []string
	for _, p := range e.policies {
		if p.native != nil && !e.regoOnly {
			out = append(out, p.name)
		}
	}
	return out
}

// togetherVar is the variable togetherQuery binds.
const togetherVar = "violations"

// togetherQuery is one query that evaluates the violation rules of ps,
// binding togetherVar to an array with, for each policy in order, the
// array of the values of its rule: [] when the rule is undefined, else
// one value (a set, for a policy that follows the contract). One
// expression under one `with`, so that the helpers every policy reads
// (mlscale.lib's triggers, subject, inventory lists) are evaluated once
// per review rather than once per policy.
func togetherQuery(ps []compiledPolicy) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("[v | v := data.%s%s.%s]", PackagePrefix, p.name, violationRule)
	}
	return fmt.Sprintf("%s := [%s] with data.inventory as input.inventory", togetherVar, strings.Join(parts, ", "))
}

// policiesFor returns the policies that review kind, in name order.
func (e *Engine) policiesFor(kind string) []compiledPolicy {
	if ps, ok := e.byKind[kind]; ok {
		return ps
	}
	var out []compiledPolicy
	for _, p := range e.policies {
		if p.kinds.has(kind) {
			out = append(out, p)
		}
	}
	return out
}

// Reviews reports whether any policy reviews objects of the kind (see
// KindsRule): when none does, Evaluate finds nothing without evaluating.
func (e *Engine) Reviews(kind string) bool { return len(e.policiesFor(kind)) > 0 }

// Kinds returns the input kinds the named policy reviews, sorted, and
// false when it reviews every kind (or is not one of the engine's).
func (e *Engine) Kinds(policy string) ([]string, bool) {
	for _, p := range e.policies {
		if p.name == policy && p.kinds != nil {
			return p.kinds.sorted(), true
		}
	}
	return nil, false
}

// baseData is the data every policy and test evaluates over:
// data.config (Config.Data), data.workload_kinds (the kinds of
// workload.Kinds) and data.gpu_resources (what workload.GPUResource counts).
func baseData(cfg Config) map[string]any {
	return map[string]any{
		"config":         cfg.Data(),
		"workload_kinds": toAny(workload.KindNames()),
		"gpu_resources": map[string]any{
			"names":    toAny(workload.GPUResourceNames),
			"prefixes": toAny(workload.GPUResourcePrefixes),
		},
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}

// BuiltinModules parses the built-in policies (tests excluded).
func BuiltinModules() (map[string]*ast.Module, error) {
	return ParseModules(policies.FS, false)
}

// Policies returns the names of the compiled policies, sorted.
func (e *Engine) Policies() []string {
	out := make([]string, len(e.policies))
	for i, p := range e.policies {
		out[i] = p.name
	}
	return out
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Evaluate runs every policy that reviews the review's kind (see
// KindsRule) on the review with the inventory and returns the violations
// sorted by policy and message. A DELETE is never evaluated.
func (e *Engine) Evaluate(ctx context.Context, r Review, inv Inventory) ([]Violation, error) {
	if r.Operation == OperationDelete {
		return nil, nil
	}
	policies := e.policiesFor(r.Kind)
	if len(policies) == 0 {
		return nil, nil
	}
	useNative := !e.regoOnly && r.TypedObject != nil
	together, inRego := e.together[r.Kind], policies
	if useNative {
		together, inRego = e.regoTogether[r.Kind], withoutNative(policies)
	}
	var value ast.Value
	var all [][]string
	var ok bool
	if len(inRego) > 0 {
		var err error
		if value, err = inputValue(r, inv); err != nil {
			return nil, err
		}
		all, ok = evalTogether(ctx, together, len(inRego), value)
	}
	var in *native.Input
	if useNative && len(inRego) < len(policies) {
		in = nativeInput(r, inv)
	}
	var out []Violation
	j := 0
	for _, p := range policies {
		var msgs []string
		switch {
		case useNative && p.native != nil:
			msgs = p.native(in)
			slices.Sort(msgs)
			msgs = slices.Compact(msgs)
		case ok:
			msgs = all[j]
			j++
		default:
			var err error
			if msgs, err = e.evalPolicy(ctx, p, r, value); err != nil {
				return nil, err
			}
		}
		for _, m := range msgs {
			out = append(out, Violation{Policy: p.name, Message: m, Action: e.cfg.ActionFor(p.name)})
		}
	}
	return out, nil
}

// evalTogether evaluates n policies in one query (see togetherQuery)
// and returns each one's messages, sorted, in the query's order. It
// reports false when there is no such query (pq is the zero value), or
// when the query fails or a policy's rule is not a set of strings: the
// caller then evaluates the policies one by one, for the error that names
// the policy.
func evalTogether(ctx context.Context, pq rego.PreparedEvalQuery, n int, input ast.Value) ([][]string, bool) {
	if n < 2 {
		return nil, false
	}
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil || len(rs) != 1 {
		return nil, false
	}
	perPolicy, ok := rs[0].Bindings[togetherVar].([]any)
	if !ok || len(perPolicy) != n {
		return nil, false
	}
	out := make([][]string, len(perPolicy))
	for i, values := range perPolicy {
		list, ok := values.([]any)
		if !ok {
			return nil, false
		}
		var msgs []string
		for _, v := range list {
			m, err := setOfStrings(v)
			if err != nil {
				return nil, false
			}
			msgs = append(msgs, m...)
		}
		slices.Sort(msgs)
		out[i] = msgs
	}
	return out, true
}

// evalPolicy evaluates one policy on an input value and returns its
// messages, sorted.
func (e *Engine) evalPolicy(ctx context.Context, p compiledPolicy, r Review, input ast.Value) ([]string, error) {
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("evaluating policy %s on %s %s/%s: %w", p.name, r.Kind, r.Namespace, r.name(), err)
	}
	msgs, err := messages(rs)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p.name, err)
	}
	return msgs, nil
}

// messages reads the set of strings a violation query returns.
func messages(rs rego.ResultSet) ([]string, error) {
	var out []string
	for _, r := range rs {
		for _, expr := range r.Expressions {
			msgs, err := setOfStrings(expr.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, msgs...)
		}
	}
	slices.Sort(out)
	return out, nil
}

// setOfStrings reads one value of a violation rule: a set of strings.
func setOfStrings(value any) ([]string, error) {
	set, ok := value.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want a set of strings (violation contains msg if { ... })", violationRule, regoType(value))
	}
	out := make([]string, 0, len(set))
	for _, v := range set {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s has %s (%v), want strings only", violationRule, regoType(v), v)
		}
		out = append(out, s)
	}
	return out, nil
}

// regoType names the Rego type of a value that OPA returned (decoded from
// JSON), as a policy's author writes it.
func regoType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "a set or an array"
	case map[string]any:
		return "an object"
	}
	return "a number"
}

// Denied returns the violations whose action is ActionDeny.
func Denied(vs []Violation) []Violation {
	return slices.DeleteFunc(slices.Clone(vs), func(v Violation) bool { return v.Action != ActionDeny })
}

// ParseModules parses every .rego file of fsys, walking the whole tree.
// With tests false, files ending in _test.rego are left out.
func ParseModules(fsys fs.FS, tests bool) (map[string]*ast.Module, error) {
	return parseModules(fsys, tests, func(p string) string { return p })
}

// ParseDir parses the policies of a directory on disk as ParseModules does,
// naming each module (and so its errors and test locations) by its path
// under dir, and adds the built-in helper packages (mlscale.lib) that the
// directory does not define itself: user policies may import
// data.mlscale.lib, as they may in ConfigMaps.
func ParseDir(dir string, tests bool) (map[string]*ast.Module, error) {
	modules, err := parseModules(os.DirFS(dir), tests, func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) })
	if err != nil {
		return nil, err
	}
	return WithBuiltinHelpers(modules)
}

// WithBuiltinHelpers returns modules with the built-in helper modules
// (packages outside PackagePrefix, e.g. mlscale.lib; tests excluded) whose
// package modules do not define, named "mlscale:PATH".
func WithBuiltinHelpers(modules map[string]*ast.Module) (map[string]*ast.Module, error) {
	builtin, err := BuiltinModules()
	if err != nil {
		return nil, err
	}
	defined := map[string]bool{}
	for _, m := range modules {
		defined[m.Package.Path.String()] = true
	}
	out := maps.Clone(modules)
	for p, m := range builtin {
		pkg := m.Package.Path.String()
		if strings.HasPrefix(strings.TrimPrefix(pkg, "data."), PackagePrefix) || defined[pkg] {
			continue
		}
		out["mlscale:"+p] = m
	}
	return out, nil
}

func parseModules(fsys fs.FS, tests bool, name func(string) string) (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".rego" || (!tests && strings.HasSuffix(p, "_test.rego")) {
			return nil
		}
		file := name(p)
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("reading policy %s: %w", file, err)
		}
		m, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return fmt.Errorf("parsing policy %s: %w", file, err)
		}
		modules[file] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading policies: %w", err)
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("loading policies: no .rego files")
	}
	return modules, nil
}

// Names returns the names of the policies among the modules: the
// packages under PackagePrefix that define a violation rule and are not
// tests, sorted.
func Names(modules map[string]*ast.Module) []string {
	var names []string
	for _, m := range modules {
		name, ok := policyName(m.Package.Path)
		if !ok || strings.HasSuffix(name, "_test") || slices.Contains(names, name) {
			continue
		}
		for _, r := range m.Rules {
			if r.Head.Name.String() == violationRule || r.Head.Ref().String() == violationRule {
				names = append(names, name)
				break
			}
		}
	}
	slices.Sort(names)
	return names
}

// misnamedRules are the rules other policy engines report through
// (Gatekeeper's violation[...] aside): a policy package that defines one
// of them and no violation rule would be loaded and never report.
var misnamedRules = []string{"deny", "warn", "violations", "denies"}

// checkMisnamedRules refuses a package NAME under PackagePrefix (not a
// test) that defines no violation rule but one of misnamedRules.
func checkMisnamedRules(modules map[string]*ast.Module) error {
	rules := map[string][]string{} // package -> rule names
	for _, m := range modules {
		name, ok := policyName(m.Package.Path)
		if !ok || strings.HasSuffix(name, "_test") {
			continue
		}
		for _, r := range m.Rules {
			rules[name] = append(rules[name], r.Head.Name.String(), r.Head.Ref().String())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		if slices.Contains(rules[name], violationRule) {
			continue
		}
		for _, bad := range misnamedRules {
			if slices.Contains(rules[name], bad) {
				return fmt.Errorf("compiling policies: package %s%s defines %q but no %q rule, so it would never report; mlscale reads `%s contains msg if { ... }`: rename %s to %s",
					PackagePrefix, name, bad, violationRule, violationRule, bad, violationRule)
			}
		}
	}
	return nil
}

// policyName returns NAME of a package path data.mlscale.policies.NAME.
func policyName(p ast.Ref) (string, bool) {
	s := strings.TrimPrefix(p.String(), "data.")
	name, ok := strings.CutPrefix(s, PackagePrefix)
	if !ok || name == "" || strings.Contains(name, ".") {
		return "", false
	}
	return name, true
}

// Holder holds the engine in use, swapped atomically when the policies
// change (user policies reloaded): readers get a whole engine, old or new,
// never a mix. The zero Holder holds nil.
type Holder struct {
	p atomic.Pointer[Engine]
}

// NewHolder returns a Holder holding e.
func NewHolder(e *Engine) *Holder {
	h := &Holder{}
	h.p.Store(e)
	return h
}

// Load returns the engine in use.
func (h *Holder) Load() *Engine { return h.p.Load() }

// Store makes e the engine in use.
func (h *Holder) Store(e *Engine) { h.p.Store(e) }
