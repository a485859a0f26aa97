package render

import (
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
)

// The Prometheus triggers: KEDA's prometheus scaler on a user query, on the
// vllm profile's queue depth, or on GPU utilisation (gpu.go). All are built
// by prometheusTrigger.

func (r *renderer) prometheusServer() string {
	if r.in.Prometheus.Server != "" {
		return r.in.Prometheus.Server
	}
	if r.f.PrometheusServer != "" {
		return r.f.PrometheusServer
	}
	for _, e := range r.errs {
		if e.Key == intent.KeyPrometheusServer {
			return ""
		}
	}
	r.errs.Add(intent.KeyPrometheusServer, "", "is missing and the cluster has no default Prometheus server",
		"an http(s) URL such as \"http://prometheus.monitoring.svc:9090\"")
	return ""
}

func (r *renderer) activation() float64 {
	if r.in.ActivationTarget != nil {
		return *r.in.ActivationTarget
	}
	return 0
}

// queryTrigger renders the Prometheus trigger of mlscale.io/prometheus-query
// or, for the vllm profile without one, of vLLM's own queue depth.
func (r *renderer) queryTrigger() (kedav1alpha1.ScaleTriggers, bool) {
	in := r.in
	query, name := in.Prometheus.Query, TriggerPrometheus
	if query == "" && r.profile == intent.ProfileVLLM {
		query = fmt.Sprintf(`sum(%s{namespace=%q,pod=~%q})`, VLLMQueueMetric, r.w.Namespace, r.podRegex())
		name = TriggerVLLM
	}
	if query == "" {
		if in.Prometheus.Target != nil {
			r.errs.Add(intent.KeyPrometheusTarget, r.w.Annotations[intent.KeyPrometheusTarget], "is set without "+intent.KeyPrometheusQuery, "set "+intent.KeyPrometheusQuery+" too, or remove it")
		}
		return kedav1alpha1.ScaleTriggers{}, false
	}
	target := ptr.Deref(in.Prometheus.Target, r.def.PrometheusTarget)
	return r.prometheusTrigger(name, "", query, fmtFloat(target), fmtFloat(r.activation()))
}

// prometheusTrigger is the one builder of KEDA prometheus triggers: the
// query on the workload's (or the cluster's default) Prometheus server,
// with missing series read as 0 (ignoreNullValues). It reports false, with
// the error in r.errs, when there is no server.
func (r *renderer) prometheusTrigger(name string, metricType autoscalingv2.MetricTargetType, query, threshold, activation string) (kedav1alpha1.ScaleTriggers, bool) {
	server := r.prometheusServer()
	if server == "" {
		return kedav1alpha1.ScaleTriggers{}, false
	}
	return kedav1alpha1.ScaleTriggers{
		Type: "prometheus", Name: name, MetricType: metricType,
		Metadata: map[string]string{
			"serverAddress":       server,
			"query":               query,
			"threshold":           threshold,
			"activationThreshold": activation,
			"ignoreNullValues":    "true",
		},
	}, true
}
