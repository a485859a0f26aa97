package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/gobwas/glob"
	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Action is what admission does with a policy's violations.
type Action string

// Enforcement actions.
const (
	// ActionDeny refuses the object with the policy's message.
	ActionDeny Action = "deny"
	// ActionWarn admits the object and returns the message as an admission
	// warning.
	ActionWarn Action = "warn"
	// ActionAudit admits the object silently; the violation is only
	// recorded (log, metric, audit loop).
	ActionAudit Action = "audit"
)

// Actions lists the enforcement actions in the order messages name them.
var Actions = []Action{ActionDeny, ActionWarn, ActionAudit}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool { return slices.Contains(Actions, a) }

// Config is the policy configuration: enforcement actions and the values
// the policies read as data.config.
type Config struct {
	// DefaultAction applies to policies that Actions does not list; empty
	// means ActionDeny.
	DefaultAction Action `json:"defaultAction,omitempty"`
	// Actions sets the enforcement action per policy name (the policy's
	// folder, e.g. "gpu_budget").
	Actions map[string]Action `json:"actions,omitempty"`
	// AllowedEndpoints are glob patterns for the hosts trigger endpoints may
	// name ("*" matches one DNS label). Empty: any endpoint.
	AllowedEndpoints []string `json:"allowedEndpoints,omitempty"`
	// GPUBudgets are GPU budgets in devices per namespace.
	GPUBudgets map[string]int64 `json:"gpuBudgets,omitempty"`
	// DefaultGPUBudget is the GPU budget of namespaces GPUBudgets does not
	// list; nil means none (only ResourceQuotas apply).
	DefaultGPUBudget *int64 `json:"defaultGPUBudget,omitempty"`
	// ClusterTriggerAuthentications lists, per ClusterTriggerAuthentication
	// name ("*" for any), the glob patterns of the namespaces whose triggers
	// may reference it. A reference that no entry allows is denied: empty
	// (the default) means no namespace may use one.
	ClusterTriggerAuthentications map[string][]string `json:"clusterTriggerAuthentications,omitempty"`
}

// ActionFor returns the enforcement action of the named policy.
func (c Config) ActionFor(policy string) Action {
	if a, ok := c.Actions[policy]; ok {
		return a
	}
	if c.DefaultAction != "" {
		return c.DefaultAction
	}
	return ActionDeny
}

// Validate checks the configuration against the names of the loaded
// policies: every action must be valid and name a known policy, budgets
// must not be negative.
func (c Config) Validate(policies []string) error {
	if err := c.ValidateValues(); err != nil {
		return err
	}
	if unknown := c.UnknownPolicies(policies); len(unknown) > 0 {
		return fmt.Errorf("policy configuration: actions names policy %q, which does not exist; policies: %s", unknown[0], strings.Join(policies, ", "))
	}
	return nil
}

// UnknownPolicies returns the policy names of Actions that are not among
// policies, sorted.
func (c Config) UnknownPolicies(policies []string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(c.Actions)) {
		if !slices.Contains(policies, name) {
			out = append(out, name)
		}
	}
	return out
}

// ValidateValues checks the configuration's values, whatever policies are
// loaded: every action must be one of Actions, budgets must not be
// negative, endpoint patterns must not be empty. Errors name the field and
// the allowed values.
func (c Config) ValidateValues() error {
	allowed := ActionsText
	if c.DefaultAction != "" && !c.DefaultAction.Valid() {
		return fmt.Errorf("policy configuration: defaultAction %q is not an action; allowed: %s", c.DefaultAction, allowed())
	}
	for _, name := range slices.Sorted(maps.Keys(c.Actions)) {
		if a := c.Actions[name]; !a.Valid() {
			return fmt.Errorf("policy configuration: action %q of policy %q is not an action; allowed: %s", a, name, allowed())
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(c.GPUBudgets)) {
		if c.GPUBudgets[ns] < 0 {
			return fmt.Errorf("policy configuration: gpuBudgets[%q] is %d; it must be 0 or more", ns, c.GPUBudgets[ns])
		}
	}
	if c.DefaultGPUBudget != nil && *c.DefaultGPUBudget < 0 {
		return fmt.Errorf("policy configuration: defaultGPUBudget is %d; it must be 0 or more", *c.DefaultGPUBudget)
	}
	for _, name := range slices.Sorted(maps.Keys(c.ClusterTriggerAuthentications)) {
		for i, p := range c.ClusterTriggerAuthentications[name] {
			if _, err := glob.Compile(p); err != nil || strings.TrimSpace(p) == "" {
				return fmt.Errorf("policy configuration: clusterTriggerAuthentications[%q][%d] %q is not a namespace pattern; allowed: a namespace name or a glob pattern such as \"team-*\" or \"*\"", name, i, p)
			}
		}
	}
	for i, p := range c.AllowedEndpoints {
		if err := CheckEndpointPattern(p); err != nil {
			return fmt.Errorf("policy configuration: allowedEndpoints[%d] %q %w; allowed: %s", i, p, err, EndpointPatternAllowed)
		}
	}
	return nil
}

// ActionsText lists the actions, as messages name the allowed values.
func ActionsText() string {
	s := make([]string, len(Actions))
	for i, a := range Actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// EndpointAllowed reports whether host matches one of AllowedEndpoints, as
// the trigger_endpoints policy matches it (case-insensitive globs, "*" one
// DNS label, a trailing dot ignored). With no patterns nothing matches.
func (c Config) EndpointAllowed(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, p := range c.AllowedEndpoints {
		g, err := glob.Compile(strings.ToLower(p), '.')
		if err == nil && g.Match(host) {
			return true
		}
	}
	return false
}

// EndpointPatternAllowed says what an allowedEndpoints entry may be.
const EndpointPatternAllowed = "a host name glob pattern such as \"*.monitoring.svc.cluster.local\" (\"*\" is one DNS label), without scheme, port or path"

// CheckEndpointPattern checks that p is a host pattern that the
// trigger_endpoints policy can match: not empty, without scheme, user, port
// or path (the policy compares hosts only, so such a pattern would never
// match), and a valid glob (Rego's glob.match, which is gobwas/glob with "."
// as separator; an invalid pattern never matches).
func CheckEndpointPattern(p string) error {
	switch {
	case strings.TrimSpace(p) == "":
		return errors.New("is an empty pattern")
	case strings.Contains(p, "://"):
		return errors.New("has a scheme")
	case strings.ContainsAny(p, "/@#"):
		return errors.New("is not a host pattern (it has a path, user or fragment)")
	case strings.ContainsAny(p, " \t\n"):
		return errors.New("has white space")
	case strings.Contains(p, ":") && (strings.HasPrefix(p, "[") || net.ParseIP(p) != nil):
		// In a glob "[...]" is a character class: the pattern would
		// match one character, never the address.
		return errors.New("is an IPv6 address, which a glob pattern cannot match (\"[\" starts a character class); give the endpoint a DNS name, such as a Service's, and allow that")
	case strings.Contains(p, ":"):
		return errors.New("has a port")
	case strings.HasSuffix(p, "."):
		return errors.New("ends with a dot: hosts are compared without their trailing dot, so it would never match; write it without the dot")
	}
	if _, err := glob.Compile(strings.ToLower(p), '.'); err != nil {
		return fmt.Errorf("is not a valid glob pattern: %w", err)
	}
	return nil
}

// Data returns what the policies see as data.config.
func (c Config) Data() map[string]any {
	d := map[string]any{}
	if len(c.AllowedEndpoints) > 0 {
		eps := make([]any, len(c.AllowedEndpoints))
		for i, e := range c.AllowedEndpoints {
			eps[i] = e
		}
		d["allowedEndpoints"] = eps
	}
	if len(c.GPUBudgets) > 0 {
		b := make(map[string]any, len(c.GPUBudgets))
		for ns, n := range c.GPUBudgets {
			b[ns] = n
		}
		d["gpuBudgets"] = b
	}
	if c.DefaultGPUBudget != nil {
		d["defaultGPUBudget"] = *c.DefaultGPUBudget
	}
	if len(c.ClusterTriggerAuthentications) > 0 {
		m := make(map[string]any, len(c.ClusterTriggerAuthentications))
		for name, patterns := range c.ClusterTriggerAuthentications {
			m[name] = toAny(patterns)
		}
		d["clusterTriggerAuthentications"] = m
	}
	return d
}

// ParseConfig reads a policy configuration in YAML or JSON (the fields of
// Config: defaultAction, actions, allowedEndpoints, gpuBudgets,
// defaultGPUBudget, clusterTriggerAuthentications). Unknown fields and bad values are errors that name the
// field and, for actions, the allowed values; which policies actions names
// is not checked here (see Config.UnknownPolicies).
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if n := yamlDocuments(data); n > 1 {
		return Config{}, fmt.Errorf("policy configuration: holds %d YAML documents; it is one document (remove the \"---\" lines and merge them)", n)
	}
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("policy configuration: %w; fields: %s", err, strings.Join(configFields, ", "))
	}
	// UnmarshalStrict matches field names as encoding/json does, ignoring
	// case: "allowedendpoints" after "allowedEndpoints" replaced the
	// allowlist without a word.
	if err := checkFieldNames(data); err != nil {
		return Config{}, err
	}
	if err := c.ValidateValues(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// configFields are the fields of a policy configuration, as written.
var configFields = []string{"defaultAction", "actions", "allowedEndpoints", "gpuBudgets", "defaultGPUBudget", "clusterTriggerAuthentications"}

// checkFieldNames refuses a top-level field that is one of configFields
// only when case is ignored, and gpuBudgets keys that cannot be namespaces.
func checkFieldNames(data []byte) error {
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil // UnmarshalStrict has accepted it; nothing to add
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if slices.Contains(configFields, k) {
			continue
		}
		for _, f := range configFields {
			if strings.EqualFold(k, f) {
				return fmt.Errorf("policy configuration: unknown field %q (did you mean %q? field names are case-sensitive); fields: %s", k, f, strings.Join(configFields, ", "))
			}
		}
	}
	budgets, _ := top["gpuBudgets"].(map[string]any)
	for _, ns := range slices.Sorted(maps.Keys(budgets)) {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("policy configuration: gpuBudgets names %q, which is not a namespace name (%s); allowed: namespace names, lower-case letters, digits and \"-\"", ns, strings.Join(errs, "; "))
		}
	}
	return nil
}

// yamlDocuments counts the documents of a YAML stream that hold anything
// (an empty document, such as a leading "---", does not count); 1 when it
// does not parse, which UnmarshalStrict then reports.
func yamlDocuments(data []byte) int {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var node yamlv3.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return max(n, 1)
		}
		if err != nil {
			return 1
		}
		if len(node.Content) > 0 && !(node.Content[0].Kind == yamlv3.ScalarNode && node.Content[0].Tag == "!!null") {
			n++
		}
	}
}

// LoadConfig reads the policy configuration file at path (see ParseConfig).
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return Config{}, fmt.Errorf("reading the policy configuration: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
