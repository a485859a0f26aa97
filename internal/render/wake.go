package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

// Waking from zero. A workload that may sit at zero replicas needs at least
// one trigger whose metric exists while it has no pods: a queue, a
// schedule, or a metric of a gateway or router. A metric that the
// workload's own pods export, or that is measured on them, vanishes with the
// last pod and can never wake it.

// SelfFamily is a family of metrics that a serving stack's pods export
// themselves.
type SelfFamily struct {
	// Prefix starts every metric of the family.
	Prefix string
	// Stack names the server that exports them.
	Stack string
	// Example is one metric of the family, the queue or request count a
	// query would scale on; a metric name given as a regular expression
	// that matches it reads the family.
	Example string
}

// SelfFamilies are the metric families of the serving stacks mlscale knows:
// a query on them reads the workload's own pods.
var SelfFamilies = []SelfFamily{
	{"vllm:", "vLLM", "vllm:num_requests_waiting"},
	{"tgi_", "Text Generation Inference (TGI)", "tgi_queue_size"},
	{"nv_inference_", "Triton Inference Server", "nv_inference_pending_request_count"},
	{"sglang:", "SGLang", "sglang:num_queue_reqs"},
	{"ts_inference_", "TorchServe", "ts_inference_requests_total"},
	{"ovms_", "OpenVINO Model Server", "ovms_requests_success"},
}

// podLabels are the labels Prometheus puts a pod's name in.
var podLabels = []string{"pod", "pod_name", "exported_pod", "kubernetes_pod_name"}

// wakeReason returns "" when the trigger's metric exists while the workload
// has no pods, and otherwise why it does not.
func (r *renderer) wakeReason(t kedav1alpha1.ScaleTriggers) string {
	switch t.Type {
	case "rabbitmq", "cron":
		return ""
	case "prometheus":
		if why := r.queryReason(t.Metadata["query"]); why != "" {
			return fmt.Sprintf("trigger %s: %s", t.Name, why)
		}
		return ""
	}
	return fmt.Sprintf("trigger %s: %s is measured on running pods", t.Name, t.Type)
}

// queryReason returns "" when a PromQL query reads no metric of the
// workload's own pods, and otherwise which selector does: a metric of a
// serving stack the workload runs (SelfFamilies), or a selector on the
// workload's pod names. One such selector is enough: with it the query
// returns nothing, or something else, once the pods are gone.
func (r *renderer) queryReason(query string) string {
	expr, err := intent.ParsePromQL(query)
	if err != nil {
		return "" // refused by the parser already
	}
	var reasons []string
	promparser.Inspect(expr, func(node promparser.Node, _ []promparser.Node) error {
		vs, ok := node.(*promparser.VectorSelector)
		if !ok {
			return nil
		}
		name := metricName(vs)
		for _, f := range SelfFamilies {
			if strings.HasPrefix(name, f.Prefix) {
				reasons = append(reasons, fmt.Sprintf("%s is exported by %s's own pods", name, f.Stack))
				return nil
			}
			if m := nameRegexp(vs); m != nil && m.Matches(f.Example) {
				reasons = append(reasons, fmt.Sprintf("%s matches %s, exported by %s's own pods", m, f.Example, f.Stack))
				return nil
			}
		}
		if m := r.podMatcher(vs.LabelMatchers); m != nil {
			reasons = append(reasons, fmt.Sprintf("%s selects the workload's own pods (%s)", orAnyMetric(name), m))
		}
		return nil
	})
	slices.Sort(reasons)
	return strings.Join(slices.Compact(reasons), "; ")
}

// metricName is a selector's metric name, or "" for a selector by labels
// only.
func metricName(vs *promparser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// nameRegexp is a selector's metric name given as a regular expression
// (`{__name__=~"vllm:.+"}`), or nil.
func nameRegexp(vs *promparser.VectorSelector) *labels.Matcher {
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchRegexp {
			return m
		}
	}
	return nil
}

func orAnyMetric(name string) string {
	if name == "" {
		return "a selector"
	}
	return name
}

// podMatcher returns the matcher that selects the workload's own pods by
// name, or nil: an equality on one of its pod names, or a regular
// expression that matches them.
func (r *renderer) podMatcher(ms []*labels.Matcher) *labels.Matcher {
	// Compiled only for a query that names a pod: most select none, and
	// the expression would be a tenth of a review's allocations.
	var own *regexp.Regexp
	for _, m := range ms {
		if !slices.Contains(podLabels, m.Name) {
			continue
		}
		switch m.Type {
		case labels.MatchEqual:
			if own == nil {
				own = regexp.MustCompile("^(?:" + r.podRegex() + ")$")
			}
			if own.MatchString(m.Value) {
				return m
			}
		case labels.MatchRegexp:
			if m.Matches(r.examplePod()) {
				return m
			}
		}
	}
	return nil
}

// examplePod is a name the workload's pods could have.
func (r *renderer) examplePod() string {
	switch r.w.GVK.Kind {
	case workload.KindStatefulSet:
		return r.w.Name + "-0"
	case workload.KindJob:
		return r.w.Name + "-x7k2p"
	}
	return r.w.Name + "-5d8f9c7b6d-x7k2p"
}

// wakeTrigger renders mlscale.io/wake-query: a Prometheus trigger on a
// metric that exists while the workload has no pods, which wakes it from
// zero (and scales it like any trigger, on the profile's Prometheus
// target). A query on the workload's own pods is refused.
func (r *renderer) wakeTrigger() (kedav1alpha1.ScaleTriggers, bool) {
	q := r.in.WakeQuery
	if q == "" {
		return kedav1alpha1.ScaleTriggers{}, false
	}
	if why := r.queryReason(q); why != "" {
		r.errs.Add(intent.KeyWakeQuery, q, "cannot wake the workload: "+why,
			"a query on a metric that exists while the workload has no pods, such as a gateway's or router's count of requests for it")
		return kedav1alpha1.ScaleTriggers{}, false
	}
	return r.prometheusTrigger(TriggerWake, "", q, fmtFloat(r.def.PrometheusTarget), fmtFloat(r.activation()))
}

// wakeCheck resolves whether the workload may sit at zero replicas: it
// returns the reasons no trigger can wake it (nil when one can).
func (r *renderer) wakeCheck(ts []kedav1alpha1.ScaleTriggers) []string {
	var reasons []string
	for _, t := range ts {
		why := r.wakeReason(t)
		if why == "" {
			return nil
		}
		reasons = append(reasons, why)
	}
	return reasons
}

// wakeAllowed is the "allowed" part of the messages about waking from zero.
func wakeAllowed() string {
	return fmt.Sprintf(`add %s (a gateway or router metric that counts requests while no pod runs), %s or %s with %s; keep at least 1 replica (%s: "1"); or, if the metric outlives the pods, set %s: "true"`,
		intent.KeyWakeQuery, intent.KeyRabbitMQQueue, intent.KeyBusinessHours, intent.KeyMinReplicas, intent.KeyMinReplicas, intent.KeySkipWakeCheck)
}
