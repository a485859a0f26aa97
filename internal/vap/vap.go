// Package vap turns mlscale's built-in policies that CEL can express
// exactly, wholly or in part (gpu_budget and trigger_endpoints, see
// Partial), into Kubernetes ValidatingAdmissionPolicies and their bindings
// (admissionregistration.k8s.io/v1), so that the API server enforces them
// itself, also while mlscale's webhook is down.
//
// Each policy here is the CEL version of the Rego policy of the same name
// (policies/NAME/policy.rego), with the same verdicts and messages on the
// objects the API server admits: HorizontalPodAutoscalers, ScaledObjects
// and ScaledJobs. The policies that compare an object with others of its
// namespace read them as params: the binding selects every object of the
// param kind in the request's namespace, and the API server evaluates the
// policy once per object (none: the policy is not evaluated). Opted-in
// workloads (the KEDA object mlscale renders for them) and the policies
// that CEL cannot express stay with the webhook; see docs/policies.md.
//
// Besides these, AnnotationsPolicy holds the format of opted-in workloads'
// mlscale.io annotations where CEL states the parser's rule exactly (see
// annotations.go); it has no Rego policy and is not among Policies.
package vap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/policy"
)

// PolicyAnnotation is the annotation of each generated object that names
// the mlscale policy it enforces.
const PolicyAnnotation = "mlscale.io/policy"

// PartialAnnotation is "true" on the policy and the binding of a Partial
// policy: the API server holds only part of its checks, and the webhook
// the rest. The Helm chart reads it to make the binding's
// validationActions as BindingActions does.
const PartialAnnotation = "mlscale.io/partial"

// Kinds of the objects the API server's policies review.
const (
	KindHPA          = "HorizontalPodAutoscaler"
	KindScaledObject = "ScaledObject"
	KindScaledJob    = "ScaledJob"
)

// Options say where the bindings apply and how the objects are named.
type Options struct {
	// Prefix starts every object name ("<prefix>-<policy>", underscores
	// as dashes); DefaultPrefix when empty.
	Prefix string
	// Namespace is mlscale's own namespace, never checked (as the webhook
	// configurations leave it out); DefaultNamespace when empty.
	Namespace string
	// ExcludeNamespaces are further namespaces the bindings leave out;
	// kube-system always is.
	ExcludeNamespaces []string
	// Namespaces, when not empty, are the only namespaces checked.
	Namespaces []string
}

// Defaults of Options.
const (
	DefaultPrefix    = "mlscale"
	DefaultNamespace = "mlscale-system"
)

// definition is one policy: what it matches and its CEL.
type definition struct {
	// name is the mlscale policy (the Rego package's last label).
	name string
	// kinds are the kinds it reviews: HPAs, or KEDA objects.
	kinds []string
	// param is the kind each param is, if the policy reads params.
	param *admissionregistrationv1.ParamKind
	// failurePolicy applies when the API server cannot evaluate the
	// policy (a param kind that is not served, a CEL error).
	failurePolicy admissionregistrationv1.FailurePolicyType
	variables     []admissionregistrationv1.Variable
	// partial reports that the policy holds part of the Rego policy's
	// checks only (the others need lookups or are beyond CEL): the webhook
	// keeps checking it.
	partial bool
	// condition is true when the object violates the policy (it may read
	// variables); message is the CEL of the message.
	condition, message string
	// optIn limits the policy to the namespaces labelled OptInLabel
	// "true", as the workload webhooks.
	optIn bool
	// conditions are match conditions besides not-being-deleted.
	conditions []admissionregistrationv1.MatchCondition
	// fallback is the message when message cannot be evaluated; empty
	// for the policy's name and mlscale policy eval.
	fallback string
}

var (
	scaledObjectParam = &admissionregistrationv1.ParamKind{APIVersion: "keda.sh/v1alpha1", Kind: KindScaledObject}
	hpaParam          = &admissionregistrationv1.ParamKind{APIVersion: "autoscaling/v2", Kind: KindHPA}
)

// definitions are the policies with the configuration of cfg, in name
// order.
func definitions(cfg policy.Config) ([]definition, error) {
	endpoints, err := endpointsDefinition(cfg)
	if err != nil {
		return nil, err
	}
	gpu, err := gpuBudgetDefinition(cfg)
	if err != nil {
		return nil, err
	}
	out := append([]definition{gpu}, lookupDefinitions...)
	out = append(out, endpoints)
	slices.SortFunc(out, func(a, b definition) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// lookupDefinitions are the policies whose CEL does not depend on the
// configuration.
var lookupDefinitions = []definition{
	{
		name:  "hpa_duplicate_target",
		kinds: []string{KindHPA},
		param: hpaParam,
		// HPAs are made by many controllers, KEDA's operator among them:
		// a policy the API server cannot evaluate must not stop them, as
		// the webhook's HPA entry fails open.
		failurePolicy: admissionregistrationv1.Ignore,
		condition: fmt.Sprintf(`params.metadata.name != object.metadata.name && %s`,
			sameTarget("params.spec.scaleTargetRef", "object.spec.scaleTargetRef")),
		message: fmt.Sprintf(`'hpa_duplicate_target: ' + %s + ' targets ' + %s + ', which ' + %s + ' already scales (two HPAs on one target flap: AmbiguousSelector); change the existing HPA instead, or delete it first'`,
			objectKey, targetKey("object.spec.scaleTargetRef"), paramKey(KindHPA)),
	},
	{
		name:          "hpa_scaledobject_conflict",
		kinds:         []string{KindHPA},
		param:         scaledObjectParam,
		failurePolicy: admissionregistrationv1.Ignore,
		condition: fmt.Sprintf(`%s && !%s`,
			sameTarget("params.spec.scaleTargetRef", "object.spec.scaleTargetRef"), kedaOwnsHPA("params", "object")),
		message: fmt.Sprintf(`'hpa_scaledobject_conflict: ' + %s + ' targets ' + %s + ', which ' + %s + ' already scales (KEDA makes its own HPA ' + %s + ' for it); delete this HPA and tune the ScaledObject instead, or delete the ScaledObject (for an mlscale workload: remove mlscale.io/autoscale) to keep this HPA'`,
			objectKey, targetKey("object.spec.scaleTargetRef"), paramKey(KindScaledObject), kedaHPAName("params")),
	},
	{
		name:  "scaledobject_duplicate_target",
		kinds: []string{KindScaledObject},
		param: scaledObjectParam,
		// A policy with params cannot be evaluated until the API server's
		// informer of the param kind has synced (after the policy is
		// installed, after a restart): failing open then keeps KEDA objects
		// creatable. A conflict that slips through is the audit's.
		failurePolicy: admissionregistrationv1.Ignore,
		condition: fmt.Sprintf(`params.metadata.name != object.metadata.name && %s`,
			sameTarget("params.spec.scaleTargetRef", "object.spec.scaleTargetRef")),
		message: fmt.Sprintf(`'scaledobject_duplicate_target: ' + %s + ' would scale ' + %s + ', which ' + %s + ' already scales (each ScaledObject makes its own HPA, and two HPAs on one target flap); change the existing ScaledObject instead, or delete it first'`,
			objectKey, targetKey("object.spec.scaleTargetRef"), paramKey(KindScaledObject)),
	},
	{
		name:          "scaledobject_foreign_hpa",
		kinds:         []string{KindScaledObject},
		param:         hpaParam,
		failurePolicy: admissionregistrationv1.Ignore,
		// An HPA on the same target that the ScaledObject does not own,
		// or one it takes over that scales another target.
		condition: fmt.Sprintf(`(%[1]s && !%[2]s) || (!%[1]s && %[3]s)`,
			sameTarget("params.spec.scaleTargetRef", "object.spec.scaleTargetRef"), kedaOwnsHPA("object", "params"), transfersHPA("object", "params")),
		message: fmt.Sprintf(`%[1]s ? 'scaledobject_foreign_hpa: ' + %[2]s + ' would scale ' + %[3]s + ', which ' + %[4]s + ' already scales; delete that HPA first, or ' + (size(%[5]s) > 0 ? 'delete the ScaledObject ' + %[5]s[0] + ' that owns it (for an mlscale workload: remove its mlscale.io/autoscale)' : 'let KEDA adopt it with the annotation scaledobject.keda.sh/transfer-hpa-ownership: "true" and spec.advanced.horizontalPodAutoscalerConfig.name: ' + params.metadata.name) : 'scaledobject_foreign_hpa: ' + %[2]s + ' would take over ' + %[4]s + ', which scales ' + %[6]s + ', not ' + %[3]s + ': KEDA would point it at ' + %[3]s + ' and ' + %[6]s + ' would lose its autoscaler; name the HPA that scales this workload in spec.advanced.horizontalPodAutoscalerConfig.name, or remove scaledobject.keda.sh/transfer-hpa-ownership'`,
			sameTarget("params.spec.scaleTargetRef", "object.spec.scaleTargetRef"), objectKey, targetKey("object.spec.scaleTargetRef"), paramKey(KindHPA),
			scaledObjectOwners("params"), targetKey("params.spec.scaleTargetRef")),
	},
	{
		name:  "scaledobject_namespace",
		kinds: []string{KindScaledObject, KindScaledJob},
		// A security rule, without params: fail closed, as the webhook's
		// entry for new KEDA objects.
		failurePolicy: admissionregistrationv1.Fail,
		variables: []admissionregistrationv1.Variable{{
			Name:       "violations",
			Expression: namespaceViolations,
		}},
		condition: `size(variables.violations) > 0`,
		message:   `variables.violations.join('; ')`,
	},
	{
		name:          "trigger_credentials",
		kinds:         []string{KindScaledObject, KindScaledJob},
		failurePolicy: admissionregistrationv1.Fail,
		variables: []admissionregistrationv1.Variable{{
			Name:       "violations",
			Expression: credentialViolations,
		}},
		condition: `size(variables.violations) > 0`,
		message:   `variables.violations.join('; ')`,
	},
}

// namespaceViolations are scaledobject_namespace's messages, sorted as the
// engine sorts them.
var namespaceViolations = "(" + strings.Join([]string{
	`(has(object.metadata.namespace) && object.metadata.namespace != '' && object.metadata.namespace != request.namespace ? ['scaledobject_namespace: ' + ` + objectKey + ` + ' is in namespace ' + object.metadata.namespace + ' but is admitted in namespace ' + request.namespace + '; create it in the namespace of the workload it scales'] : [])`,
	`(object.kind == 'ScaledObject' && has(object.spec.scaleTargetRef.namespace) && object.spec.scaleTargetRef.namespace != request.namespace ? ['scaledobject_namespace: ' + ` + objectKey + ` + ' targets ' + object.spec.scaleTargetRef.name + ' in namespace ' + object.spec.scaleTargetRef.namespace + '; a ScaledObject may scale only workloads in its own namespace ' + request.namespace + ': create the ScaledObject in namespace ' + object.spec.scaleTargetRef.namespace + ' instead'] : [])`,
	`(object.kind == 'ScaledObject' && object.spec.scaleTargetRef.name.contains('/') ? ['scaledobject_namespace: ' + ` + objectKey + ` + ' targets "' + object.spec.scaleTargetRef.name.replace('\\', '\\\\').replace('"', '\\"') + '", which names another namespace; a ScaledObject may scale only workloads in its own namespace ' + request.namespace + ': give the plain workload name and create the ScaledObject beside its workload'] : [])`,
	`(object.kind == 'ScaledJob' && has(object.spec.jobTargetRef.template.metadata) && has(object.spec.jobTargetRef.template.metadata.namespace) && object.spec.jobTargetRef.template.metadata.namespace != request.namespace ? ['scaledobject_namespace: ' + ` + objectKey + ` + ' has a job template in namespace ' + object.spec.jobTargetRef.template.metadata.namespace + '; a ScaledJob creates Jobs only in its own namespace ' + request.namespace + ': remove the template\'s namespace'] : [])`,
}, " + ") + `).sort()`

// credentialViolations are trigger_credentials' messages: one per trigger
// and metadata key with a credential inline, sorted as the engine sorts
// them.
var credentialViolations = fmt.Sprintf(`(has(object.spec.triggers) ? object.spec.triggers : []).transformList(i, t, (has(t.metadata) ? t.metadata : {}).transformList(k, v, [string(k), %s]).filter(f, f[1] != '').map(f, 'trigger_credentials: ' + %s + ' has ' + f[1] + ' inline in trigger ' + %s + ' (type ' + %s + '), metadata.' + f[0] + ' of ' + %s + '; put the credential in a Secret and reference it through a TriggerAuthentication (spec.triggers[].authenticationRef; for mlscale workloads mlscale.io/rabbitmq-auth)')).flatten().sort()`,
	inlineCredential("k", "v"), objectKey, triggerRef("i", "t"), triggerType("t"), objectKey)

// defaultDefinitions are the policies with the default configuration;
// only gpu_budget's and trigger_endpoints' CEL depend on it, not their
// names, kinds or whether they are partial.
var defaultDefinitions = func() []definition {
	d, err := definitions(policy.Config{})
	if err != nil {
		panic(fmt.Sprintf("vap: the built-in policies: %v", err))
	}
	return d
}()

// Policies are the names of the built-in policies the API server can
// enforce, wholly or in part (see Partial), sorted. Generate makes a
// policy and a binding for each, whatever the configuration: gpu_budget
// and trigger_endpoints find no violation without budgets or allowed
// endpoints configured.
func Policies() []string {
	out := make([]string, len(defaultDefinitions))
	for i, d := range defaultDefinitions {
		out[i] = d.name
	}
	return out
}

// Kinds returns the kinds of the objects the named policy reviews in the
// API server (the objects themselves, not the KEDA objects rendered for
// workloads); false when the policy has no ValidatingAdmissionPolicy.
func Kinds(policyName string) ([]string, bool) {
	for _, d := range defaultDefinitions {
		if d.name == policyName {
			return slices.Clone(d.kinds), true
		}
	}
	return nil, false
}

// Partial reports whether the API server holds only part of the named
// policy's checks: gpu_budget (the configured budgets on ScaledJobs, not
// the ResourceQuotas nor ScaledObjects) and trigger_endpoints (the hosts
// CEL can derive exactly). The webhook must keep evaluating these.
func Partial(policyName string) bool {
	for _, d := range defaultDefinitions {
		if d.name == policyName {
			return d.partial
		}
	}
	return false
}

// Enforces reports whether the API server enforces the whole of the named
// policy on objects of kind (the object under review itself): with the
// policies installed, a webhook that also reported these violations would
// report each twice. It is false for a Partial policy, whose other checks
// only the webhook makes.
func Enforces(policyName, kind string) bool {
	kinds, ok := Kinds(policyName)
	return ok && !Partial(policyName) && slices.Contains(kinds, kind)
}

// ObjectName is the name of the policy's ValidatingAdmissionPolicy and of
// its binding.
func ObjectName(prefix, policyName string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "-" + strings.ReplaceAll(policyName, "_", "-")
}

// ValidationActions maps an mlscale enforcement action to the binding's
// validationActions: deny refuses, warn returns an admission warning,
// audit records the failure in the API server's audit log only. See
// BindingActions for the bindings of Partial policies.
func ValidationActions(a policy.Action) ([]admissionregistrationv1.ValidationAction, error) {
	switch a {
	case policy.ActionDeny, "":
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}, nil
	case policy.ActionWarn:
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}, nil
	case policy.ActionAudit:
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}, nil
	}
	return nil, fmt.Errorf("action %q is not an action; allowed: deny, warn, audit", a)
}

// BindingActions are the validationActions of the named policy's binding
// for action a: ValidationActions, except that a Partial policy does not
// warn. The webhook keeps evaluating a Partial policy whole (with
// --api-server-policies too) and warns about every violation itself, the
// API server's part included; a Warn binding would make the user read
// each of those warnings twice. Its binding audits instead (a binding
// needs at least one action; Audit reaches only the API server's audit
// log). deny stays Deny: the API server's policies run before the
// webhooks, so a refusal names the policy once.
func BindingActions(policyName string, a policy.Action) ([]admissionregistrationv1.ValidationAction, error) {
	actions, err := ValidationActions(a)
	if err != nil || !Partial(policyName) {
		return actions, err
	}
	out := slices.DeleteFunc(actions, func(v admissionregistrationv1.ValidationAction) bool { return v == admissionregistrationv1.Warn })
	if len(out) == 0 {
		out = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}
	}
	return out, nil
}

// Generate returns a ValidatingAdmissionPolicy and its binding for each of
// Policies, in that order, then for AnnotationsPolicy (the format of opted-in
// workloads' annotations), with the actions of cfg (BindingActions; the
// default action for AnnotationsPolicy) and, for gpu_budget and
// trigger_endpoints, its budgets and allowed endpoints.
// An allowedEndpoints pattern outside EndpointPatternSyntax is an error.
func Generate(cfg policy.Config, o Options) ([]client.Object, error) {
	if err := cfg.ValidateValues(); err != nil {
		return nil, err
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	defs, err := definitions(cfg)
	if err != nil {
		return nil, err
	}
	ann, err := annotationsDefinition()
	if err != nil {
		return nil, err
	}
	defs = append(defs, ann)
	var out []client.Object
	for _, d := range defs {
		actions, err := BindingActions(d.name, cfg.ActionFor(d.name))
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", d.name, err)
		}
		name := ObjectName(o.Prefix, d.name)
		out = append(out, d.policy(name), d.binding(name, actions, o))
	}
	return out, nil
}

// objectMeta names a generated object of definition d.
func objectMeta(name string, d definition) metav1.ObjectMeta {
	annotations := map[string]string{PolicyAnnotation: d.name}
	if d.partial {
		annotations[PartialAnnotation] = "true"
	}
	return metav1.ObjectMeta{Name: name, Annotations: annotations}
}

// resources are the API resources of kinds, as resource rules.
func resources(kinds []string) []admissionregistrationv1.NamedRuleWithOperations {
	var hpa, keda, apps, batch []string
	for _, k := range kinds {
		switch k {
		case KindDeployment:
			apps = append(apps, "deployments")
		case KindStatefulSet:
			apps = append(apps, "statefulsets")
		case KindJob:
			batch = append(batch, "jobs")
		case KindHPA:
			hpa = append(hpa, "horizontalpodautoscalers")
		case KindScaledObject:
			keda = append(keda, "scaledobjects")
		case KindScaledJob:
			keda = append(keda, "scaledjobs")
		}
	}
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group, version string, res []string) admissionregistrationv1.NamedRuleWithOperations {
		return admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: res},
		}}
	}
	var out []admissionregistrationv1.NamedRuleWithOperations
	if len(hpa) > 0 {
		out = append(out, rule("autoscaling", "v2", hpa))
	}
	if len(keda) > 0 {
		out = append(out, rule("keda.sh", "v1alpha1", keda))
	}
	if len(apps) > 0 {
		out = append(out, rule("apps", "v1", apps))
	}
	if len(batch) > 0 {
		out = append(out, rule("batch", "v1", batch))
	}
	return out
}

func (d definition) policy(name string) *admissionregistrationv1.ValidatingAdmissionPolicy {
	equivalent := admissionregistrationv1.Equivalent
	fp := d.failurePolicy
	var nsSelector *metav1.LabelSelector
	if d.optIn {
		nsSelector = optInSelector()
	}
	fallback := d.fallback
	if fallback == "" {
		fallback = d.name + ": violated (see mlscale policy eval for the details)"
	}
	return &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: objectMeta(name, d),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			ParamKind: d.param,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				// autoscaling/v1 requests are converted to v2 and checked.
				MatchPolicy:       &equivalent,
				ResourceRules:     resources(d.kinds),
				NamespaceSelector: nsSelector,
			},
			FailurePolicy: &fp,
			// As the webhook: an object being deleted is not checked (KEDA
			// removes its finalizer from it).
			MatchConditions: append([]admissionregistrationv1.MatchCondition{{
				Name:       "not-being-deleted",
				Expression: `!has(object.metadata.deletionTimestamp)`,
			}}, d.conditions...),
			Variables: d.variables,
			Validations: []admissionregistrationv1.Validation{{
				Expression:        "!(" + d.condition + ")",
				MessageExpression: d.message,
				// The message when messageExpression cannot be evaluated.
				Message: fallback,
				Reason:  ptr(metav1.StatusReasonForbidden),
			}},
		},
	}
}

func (d definition) binding(name string, actions []admissionregistrationv1.ValidationAction, o Options) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: objectMeta(name, d),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: actions,
			MatchResources:    &admissionregistrationv1.MatchResources{NamespaceSelector: namespaceSelector(o)},
		},
	}
	if d.param != nil {
		// Every object of the param kind in the request's namespace; with
		// none, the policy is not evaluated and the object is admitted.
		allow := admissionregistrationv1.AllowAction
		b.Spec.ParamRef = &admissionregistrationv1.ParamRef{
			Selector:                &metav1.LabelSelector{},
			ParameterNotFoundAction: &allow,
		}
	}
	return b
}

// namespaceSelector is the webhook configurations' selector for HPAs and
// KEDA objects: every namespace but kube-system, mlscale's and the
// excluded ones, or only the listed ones.
func namespaceSelector(o Options) *metav1.LabelSelector {
	exclude := []string{"kube-system", o.Namespace}
	for _, ns := range o.ExcludeNamespaces {
		if !slices.Contains(exclude, ns) {
			exclude = append(exclude, ns)
		}
	}
	sel := &metav1.LabelSelector{}
	if len(o.Namespaces) > 0 {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: slices.Clone(o.Namespaces),
		})
	}
	sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: exclude,
	})
	return sel
}

// YAML writes objs as a YAML stream, each document after "---", without
// the empty status the API types carry.
func YAML(objs []client.Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		j, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		b, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

func ptr[T any](v T) *T { return &v }
