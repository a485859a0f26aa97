package vap

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mlscale/mlscale/internal/intent"
)

// This file is the well-formedness of a workload's mlscale.io annotations
// (internal/intent's parser) where CEL can express it exactly: not an
// mlscale policy of policies/, but the mutating webhook's refusal of
// annotations that do not parse, for Deployments, StatefulSets and Jobs
// that opt in. Each check refuses exactly what the parser refuses for
// that key, with the parser's message (the value is quoted as Go's %q
// quotes printable ASCII); a value whose verdict CEL cannot reach
// exactly (a number or duration that might overflow) is left to the
// webhook, as are the keys whose parsing is beyond CEL (PromQL, business
// hours, hosts and URLs, names), unknown keys (--unknown-annotations=warn
// admits them) and the rules across keys other than min <= max.

// AnnotationsPolicy is the name of the generated policy that checks the
// mlscale.io annotations of opted-in workloads (its object is
// "<prefix>-annotations"). It is not one of Policies: it has no Rego
// policy; its binding's validationActions follow the configuration's
// default action.
const AnnotationsPolicy = "annotations"

// OptInLabel is the namespace label with which namespaces opt in to
// mlscale's workload webhooks (config/default, the chart's
// namespaceSelector.optInLabel): the annotations policy reviews workloads
// only in namespaces labelled with it "true", as the mutating webhook.
const OptInLabel = "mlscale.io/enabled"

// Kinds of the workloads the annotations policy reviews.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindJob         = "Job"
)

// AnnotationKeys are the annotations whose format the annotations policy
// checks, in the parser's order; the others are the webhook's alone.
func AnnotationKeys() []string {
	out := make([]string, len(annotationChecks))
	for i, c := range annotationChecks {
		out[i] = c.key
	}
	return out
}

// annotationCheck is one key's check: kind says how it parses.
type annotationCheck struct {
	key  string
	kind checkKind
	// lo and hi bound whole numbers; durations are dlo, dhi.
	lo, hi   int64
	dlo, dhi time.Duration
	// exclusive: a number must be above 0, not at least 0.
	exclusive bool
	// floor, when above 0, is a smallest number that is in range but
	// refused with floorProblem and floorAllowed.
	floor                      float64
	floorProblem, floorAllowed string
	// values are an enumeration's.
	values []string
	// problem is an enumeration's problem.
	problem string
}

type checkKind int

const (
	checkBool checkKind = iota
	checkEnum
	checkInt
	checkFloat
	checkDuration
	checkPercent
)

// annotationChecks are the keys the policy checks, in the order in which
// the parser reports them (autoscale first; the min <= max rule after
// max-replicas).
var annotationChecks = []annotationCheck{
	{key: intent.KeyAutoscale, kind: checkBool},
	{key: intent.KeyProfile, kind: checkEnum, values: profileNames(), problem: "is not a known profile"},
	{key: intent.KeyMinReplicas, kind: checkInt, lo: 0, hi: intent.MaxReplicasLimit},
	{key: intent.KeyMaxReplicas, kind: checkInt, lo: 1, hi: intent.MaxReplicasLimit},
	{key: intent.KeyScaleToZero, kind: checkBool},
	{key: intent.KeyActivationTarget, kind: checkFloat},
	{key: intent.KeyCooldown, kind: checkDuration, dlo: 0, dhi: intent.MaxDuration},
	{key: intent.KeyPollingInterval, kind: checkDuration, dlo: time.Second, dhi: intent.MaxDuration},
	{key: intent.KeyScaleDownWindow, kind: checkDuration, dlo: 0, dhi: intent.MaxScaleDownWindow},
	{key: intent.KeyQueueTarget, kind: checkInt, lo: 1, hi: math.MaxInt32},
	{key: intent.KeyPrometheusTarget, kind: checkFloat, exclusive: true,
		floor: intent.MinPrometheusTarget, floorProblem: intent.PrometheusTargetFloorProblem, floorAllowed: intent.PrometheusTargetFloorAllowed},
	{key: intent.KeyCPUTarget, kind: checkInt, lo: 1, hi: 100},
	{key: intent.KeyMemoryTarget, kind: checkInt, lo: 1, hi: 100},
	{key: intent.KeyGPUTarget, kind: checkInt, lo: 1, hi: 100},
	{key: intent.KeySkipWakeCheck, kind: checkBool},
	{key: intent.KeyRolloutStrategy, kind: checkEnum, values: []string{intent.RolloutGradual, intent.RolloutImmediate}, problem: "is not a rollout strategy"},
	{key: intent.KeyPredictive, kind: checkBool},
	{key: intent.KeyCapacityPerReplica, kind: checkFloat, exclusive: true},
	{key: intent.KeyLookahead, kind: checkDuration, dlo: time.Minute, dhi: intent.MaxDuration},
	{key: intent.KeyTargetUnder, kind: checkPercent},
	{key: intent.KeyFloorDownDelay, kind: checkDuration, dlo: 0, dhi: intent.MaxDuration},
	{key: intent.KeyFloorDownInterval, kind: checkDuration, dlo: 0, dhi: intent.MaxDuration},
	{key: intent.KeyPredictedFloor, kind: checkInt, lo: 0, hi: intent.MaxReplicasLimit},
}

func profileNames() []string {
	out := make([]string, len(intent.Profiles))
	for i, p := range intent.Profiles {
		out[i] = string(p)
	}
	return out
}

// probeValue is a value every checked key's parser refuses with the
// key's "allowed" text: it is of no kind at all.
const probeValue = "x"

// allowedText is the "allowed" part of the parser's message for key,
// read from the parser itself.
func allowedText(c annotationCheck) (string, error) {
	ann := map[string]string{intent.KeyAutoscale: "true", c.key: probeValue}
	if c.key == intent.KeyAutoscale {
		ann = map[string]string{intent.KeyAutoscale: probeValue}
	}
	_, _, err := intent.Parse(ann)
	var es intent.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			if e.Key == c.key && e.Allowed != "" {
				return e.Allowed, nil
			}
		}
	}
	return "", fmt.Errorf("vap: the parser gives no message for %s: %q", c.key, probeValue)
}

// The regular expressions of the parser's syntax, on the trimmed value.
const (
	// wholeRE is strconv.ParseInt's base-10 syntax.
	wholeRE = `^[+-]?[0-9]+$`
	// smallWholeRE: at most 18 significant digits, so that int() cannot
	// overflow (every bound is below 10^18).
	smallWholeRE = `^[+-]?0*[0-9]{1,18}$`
	// decimalRE is what isDecimal and strconv.ParseFloat both accept.
	decimalRE = `^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`
	// durationRE is time.ParseDuration's syntax.
	durationRE = `^[+-]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`
)

// moderateDecimal is true for a decimal whose value is neither above
// 10^139 nor, unless 0, below 10^-139: double() then reads it as
// ParseFloat does, without overflow or underflow.
func moderateDecimal(s string) string {
	return fmt.Sprintf(`(size(%[1]s) <= 40 && !%[1]s.matches('[eE][+-]?[0-9]{3}'))`, s)
}

// moderateDuration is true for a duration of at most 10 characters and
// no 7 digits in a row: under 1.1 million hours, so that duration()
// cannot overflow.
func moderateDuration(s string) string {
	return fmt.Sprintf(`(size(%[1]s) <= 10 && !%[1]s.matches('[0-9]{7}'))`, s)
}

// shown is how intent.FieldError shows a value: %q (exact for printable
// ASCII), cut at MaxShownValue with "...".
func shown(v string) string {
	cut := fmt.Sprintf(`(size(%[1]s) > %[2]d ? %[1]s.substring(0, %[2]d) + '...' : %[1]s)`, v, intent.MaxShownValue)
	return fmt.Sprintf(`'"' + %s.replace('\\', '\\\\').replace('"', '\\"') + '"'`, cut)
}

// fieldError is the CEL of intent.FieldError's message for the value v:
// the key, the value, then tail, a CEL string expression of the problem
// and "; allowed: ...".
func fieldError(key, v, tail string) string {
	return fmt.Sprintf(`%s + (%s == '' ? '' : %s + ' ') + %s`, quote(key+": "), v, shown(v), tail)
}

// wholeIn is true when the trimmed value s is a whole number in [lo, hi].
func wholeIn(s string, lo, hi int64) string {
	return fmt.Sprintf(`(%[1]s.matches(%[2]s) && %[1]s.matches(%[3]s) ? (int(%[1]s) >= %[4]d && int(%[1]s) <= %[5]d) : false)`,
		s, quote(wholeRE), quote(smallWholeRE), lo, hi)
}

// durationLiteral is d as a CEL duration.
func durationLiteral(d time.Duration) string {
	return fmt.Sprintf(`duration('%ds')`, int64(d/time.Second))
}

// checkExpr is the CEL list of the messages of c for the value v (a
// comprehension variable) and its trimmed form s.
func checkExpr(c annotationCheck, allowed string) string {
	const v, s = "v", "s"
	fe := func(problem string) string {
		return "[" + fieldError(c.key, v, quote(problem+"; allowed: "+allowed)) + "]"
	}
	empty := fmt.Sprintf(`%s == '' ? %s : `, s, fe("is empty"))
	var body string
	switch c.kind {
	case checkBool:
		body = fmt.Sprintf(`%[1]s == 'true' || %[1]s == 'false' ? [] : (%[2]s%[3]s)`, v, empty, fe("is not a boolean"))
	case checkEnum:
		body = fmt.Sprintf(`%s%s in %s ? [] : %s`, empty, v, list(c.values), fe(c.problem))
	case checkInt:
		body = fmt.Sprintf(`%[1]s!%[2]s.matches(%[3]s) ? %[4]s : (%[5]s ? [] : %[6]s)`,
			empty, s, quote(wholeRE), fe("is not a whole number"), wholeIn(s, c.lo, c.hi), fe("is out of range"))
	case checkFloat:
		out := fmt.Sprintf(`double(%s) < 0.0`, s)
		if c.exclusive {
			out = fmt.Sprintf(`double(%s) <= 0.0`, s)
		}
		tail := "[]"
		if c.floor > 0 {
			tail = fmt.Sprintf(`(%s && double(%s) < %s ? [%s] : [])`, moderateDecimal(s), s, strconv.FormatFloat(c.floor, 'f', -1, 64),
				fieldError(c.key, v, quote(c.floorProblem+"; allowed: "+c.floorAllowed)))
		}
		body = fmt.Sprintf(`%[1]s!%[2]s.matches(%[3]s) ? %[4]s : (%[5]s && %[6]s ? %[7]s : %[8]s)`,
			empty, s, quote(decimalRE), fe("is not a number"), moderateDecimal(s), out, fe("is out of range"), tail)
	case checkDuration:
		body = fmt.Sprintf(`%[1]s!%[2]s.matches(%[3]s) ? %[4]s : (!%[5]s ? [] : [duration(%[2]s)].map(d, d < %[6]s || d > %[7]s ? %[8]s : (d != duration(string(d.getSeconds()) + 's') ? %[9]s : [])).flatten())`,
			empty, s, quote(durationRE), fe("is not a duration"), moderateDuration(s), durationLiteral(c.dlo), durationLiteral(c.dhi),
			fe("is out of range"), fe("is not a whole number of seconds"))
	case checkPercent:
		body = fmt.Sprintf(`%[1]s!%[2]s.endsWith('%%') ? %[3]s : [%[2]s.substring(0, size(%[2]s) - 1).trim()].map(n, !n.matches(%[4]s) ? %[5]s : (%[6]s && (double(n) <= 0.0 || double(n) / 100.0 > %[7]s) ? %[8]s : [])).flatten()`,
			empty, s, fe("is not a percentage (it needs the % sign)"), quote(decimalRE), fe("is not a percentage"), moderateDecimal("n"),
			strconv.FormatFloat(intent.MaxTargetUnder, 'f', -1, 64), fe("is out of range"))
	}
	return fmt.Sprintf(`(%[1]s in variables.annotations ? [variables.annotations[%[1]s]].map(%[2]s, [%[2]s.trim()].map(%[3]s, %[4]s).flatten()).flatten() : [])`,
		quote(c.key), v, s, body)
}

// minMaxExpr is the parser's min <= max rule, once both parse.
func minMaxExpr() string {
	const a = "variables.annotations"
	mn, mx := quote(intent.KeyMinReplicas), quote(intent.KeyMaxReplicas)
	both := fmt.Sprintf(`%[1]s in %[3]s && %[2]s in %[3]s && %[4]s && %[5]s`, mn, mx, a,
		wholeIn(a+"["+mn+"].trim()", 0, intent.MaxReplicasLimit), wholeIn(a+"["+mx+"].trim()", 1, intent.MaxReplicasLimit))
	msg := fieldError(intent.KeyMinReplicas, a+"["+mn+"]",
		quote(fmt.Sprintf("is greater than %s (", intent.KeyMaxReplicas))+` + string(int(`+a+`[`+mx+`].trim())) + `+quote("); allowed: a value at most the maximum"))
	return fmt.Sprintf(`(%s ? (int(%s[%s].trim()) > int(%s[%s].trim()) ? [%s] : []) : [])`, both, a, mn, a, mx, msg)
}

// annotationsDefinition is the annotations policy.
func annotationsDefinition() (definition, error) {
	var parts []string
	for _, c := range annotationChecks {
		allowed, err := allowedText(c)
		if err != nil {
			return definition{}, err
		}
		parts = append(parts, checkExpr(c, allowed))
		if c.key == intent.KeyMaxReplicas {
			parts = append(parts, minMaxExpr())
		}
	}
	name := `(has(object.metadata.name) ? object.metadata.name : '')`
	return definition{
		name:  AnnotationsPolicy,
		kinds: []string{KindDeployment, KindStatefulSet, KindJob},
		// The webhook still checks every workload it sees: a policy the
		// API server cannot evaluate must not stop workloads.
		failurePolicy: admissionregistrationv1.Ignore,
		optIn:         true,
		conditions: []admissionregistrationv1.MatchCondition{{
			// intent.Parse checks nothing without mlscale.io/autoscale, or
			// with it "false"; any other value is checked.
			Name:       "opted-in",
			Expression: fmt.Sprintf(`has(object.metadata.annotations) && %[1]s in object.metadata.annotations && object.metadata.annotations[%[1]s] != 'false'`, quote(intent.KeyAutoscale)),
		}},
		variables: []admissionregistrationv1.Variable{
			{Name: "annotations", Expression: `object.metadata.annotations`},
			{Name: "violations", Expression: strings.Join(parts, " + ")},
		},
		condition: `size(variables.violations) > 0`,
		fallback:  "mlscale: an mlscale.io annotation of the workload does not parse (see docs/annotations.md)",
		message: `'mlscale: ' + object.kind + ' ' + object.metadata.namespace + '/' + ` + name +
			` + ': ' + (size(variables.violations) == 1 ? variables.violations[0] : string(size(variables.violations)) + ' problems: ' + variables.violations.join('; '))`,
	}, nil
}

// optInSelector is the namespaces of the workload webhooks: labelled
// OptInLabel "true".
func optInSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: OptInLabel, Operator: metav1.LabelSelectorOpIn, Values: []string{"true"},
	}}}
}
