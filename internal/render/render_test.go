package render_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

const ns = "ml"

// ctr builds a container; res maps resource names to quantities and goes
// into limits for GPUs and into requests otherwise.
func ctr(name string, res map[string]string) corev1.Container {
	c := corev1.Container{Name: name, Image: "example/" + name + ":1"}
	for k, v := range res {
		q := resource.MustParse(v)
		if workload.GPUResource(corev1.ResourceName(k)) {
			if c.Resources.Limits == nil {
				c.Resources.Limits = corev1.ResourceList{}
			}
			c.Resources.Limits[corev1.ResourceName(k)] = q
			continue
		}
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Requests[corev1.ResourceName(k)] = q
	}
	return c
}

var (
	cpuOnly = map[string]string{"cpu": "500m"}
	cpuMem  = map[string]string{"cpu": "500m", "memory": "1Gi"}
)

func gpu(resName, n string) map[string]string {
	return map[string]string{"cpu": "2", "memory": "8Gi", resName: n}
}

func podTemplate(cs ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: cs},
	}
}

func ann(kv ...string) map[string]string {
	m := map[string]string{intent.KeyAutoscale: "true"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func deployment(name string, a map[string]string, cs ...corev1.Container) workload.Workload {
	w, err := workload.FromObject(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: a},
		Spec:       appsv1.DeploymentSpec{Template: podTemplate(cs...)},
	})
	if err != nil {
		panic(err)
	}
	return w
}

func statefulSet(name string, a map[string]string, cs ...corev1.Container) workload.Workload {
	w, err := workload.FromObject(&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: a},
		Spec:       appsv1.StatefulSetSpec{Template: podTemplate(cs...)},
	})
	if err != nil {
		panic(err)
	}
	return w
}

// job is a Job as read back from the API server: suspended by admission,
// with the selector and the labels the Job controller adds.
func job(name string, a map[string]string, cs ...corev1.Container) workload.Workload {
	tpl := podTemplate(cs...)
	tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	tpl.Labels = map[string]string{
		"app": "trainer", "controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1",
		"job-name": name, "batch.kubernetes.io/job-name": name,
	}
	w, err := workload.FromObject(&batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: a, UID: "u1"},
		Spec: batchv1.JobSpec{
			Suspend:        ptr.To(true),
			ManualSelector: ptr.To(false),
			BackoffLimit:   ptr.To(int32(2)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u1"}},
			Template:       tpl,
		},
	})
	if err != nil {
		panic(err)
	}
	return w
}

// parallel sets a Job's parallelism.
func parallel(w workload.Workload, n int32) workload.Workload {
	w.Job.Parallelism = ptr.To(n)
	return w
}

// withInit adds an init container asking for res; sidecar makes it a
// sidecar (restartPolicy Always), which runs beside the main containers.
func withInit(w workload.Workload, sidecar bool, res map[string]string) workload.Workload {
	c := ctr("init", res)
	if sidecar {
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	}
	w.Template.Spec.InitContainers = append(w.Template.Spec.InitContainers, c)
	return w
}

const rabbitHost = "amqp://rabbitmq.ml.svc.cluster.local:5672/"

type renderCase struct {
	name  string
	w     workload.Workload
	facts *facts.Facts // nil: facts.Default()
	// want maps paths in the rendered object (as render.ToUnstructured
	// gives it) to values; a nil value means the path must be absent.
	want map[string]any
	// wantErr lists substrings of the error, in order; each intent.FieldError
	// named by wantKeys must be present.
	wantErr  []string
	wantKeys []string
	// wantWarn lists substrings each of which some warning must contain;
	// noWarn asserts there are none.
	wantWarn []string
	noWarn   bool
}

func TestRender(t *testing.T) {
	gpuBudget := func(n int64) *facts.Facts {
		f := facts.Default()
		f.GPUBudget = &n
		return &f
	}
	tests := []renderCase{
		// Profile defaults.
		{
			name: "generic defaults to a cpu trigger at 80%",
			w:    deployment("api", ann(), ctr("api", cpuOnly)),
			want: map[string]any{
				"kind": "ScaledObject", "metadata.name": "api", "metadata.namespace": ns,
				"metadata.annotations.mlscale\\.io/profile": "generic",
				"spec.scaleTargetRef.kind":                  "Deployment", "spec.scaleTargetRef.name": "api", "spec.scaleTargetRef.apiVersion": "apps/v1",
				"spec.minReplicaCount": int64(1), "spec.maxReplicaCount": int64(10),
				"spec.cooldownPeriod": int64(300), "spec.pollingInterval": int64(30),
				"spec.triggers[0].type": "cpu", "spec.triggers[0].metricType": "Utilization", "spec.triggers[0].metadata.value": "80",
				"spec.triggers[1]": nil, "spec.advanced": nil,
			},
			noWarn: true,
		},
		{
			name: "celery-worker defaults: rabbitmq queue length, scale to zero",
			w: deployment("worker", ann(intent.KeyProfile, "celery-worker", intent.KeyRabbitMQQueue, "tasks", intent.KeyRabbitMQAuth, "rmq"),
				ctr("worker", cpuOnly)),
			want: map[string]any{
				"metadata.annotations.mlscale\\.io/profile": "celery-worker",
				"spec.minReplicaCount":                      int64(0), "spec.maxReplicaCount": int64(20),
				"spec.cooldownPeriod": int64(300), "spec.pollingInterval": int64(15),
				"spec.triggers[0].type": "rabbitmq", "spec.triggers[0].name": "rabbitmq",
				"spec.triggers[0].metadata.protocol": "amqp", "spec.triggers[0].metadata.host": rabbitHost,
				"spec.triggers[0].metadata.queueName": "tasks", "spec.triggers[0].metadata.mode": "QueueLength",
				"spec.triggers[0].metadata.value": "5", "spec.triggers[0].metadata.activationValue": "0",
				"spec.triggers[0].authenticationRef.name": "rmq",
				"spec.triggers[1]":                        nil,
			},
			noWarn: true,
		},
		{
			name:     "celery-worker without a queue",
			w:        deployment("worker", ann(intent.KeyProfile, "celery-worker"), ctr("worker", cpuOnly)),
			wantErr:  []string{`mlscale.io/rabbitmq-queue: is required by profile "celery-worker"`},
			wantKeys: []string{intent.KeyRabbitMQQueue},
			// Not "scale-to-zero is off: ... (cpu, memory and GPU triggers
			// need running pods)": there are no triggers, and it is an error.
			noWarn: true,
		},
		{
			name: "vllm with a gateway query scales to zero with GPU defaults",
			w: deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyPrometheusQuery, `sum(gateway_pending{backend="llm"})`),
				ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{
				"spec.minReplicaCount": int64(0), "spec.maxReplicaCount": int64(4),
				"spec.cooldownPeriod": int64(900), "spec.pollingInterval": int64(15),
				"spec.triggers[0].name": "prometheus", "spec.triggers[0].type": "prometheus",
				"spec.triggers[0].metadata.serverAddress":       facts.DefaultPrometheusServer,
				"spec.triggers[0].metadata.query":               `sum(gateway_pending{backend="llm"})`,
				"spec.triggers[0].metadata.threshold":           "5",
				"spec.triggers[0].metadata.activationThreshold": "0",
				"spec.triggers[0].metadata.ignoreNullValues":    "true",
				"spec.triggers[0].metricType":                   nil,
				"spec.triggers[1].name":                         "gpu", "spec.triggers[1].metricType": "Value",
				"spec.triggers[1].metadata.threshold":                                                       "80",
				"spec.triggers[1].metadata.activationThreshold":                                             "5",
				"spec.triggers[1].metadata.query":                                                           `avg(namespace_workload_pod:mlscale_gpu_utilization_percent:avg{namespace="ml",pod=~"llm-[a-z0-9]+-[a-z0-9]+"})`,
				"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds": int64(600),
				"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].type":           "Pods",
				"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].value":          int64(1),
				"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].periodSeconds":  int64(120),
			},
			noWarn: true,
		},
		{
			name: "vllm on its own queue metric keeps one replica: nothing would wake it",
			w:    deployment("llm", ann(intent.KeyProfile, "vllm"), ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{
				"spec.minReplicaCount":  int64(1),
				"spec.triggers[0].name": "vllm", "spec.triggers[0].metadata.threshold": "5",
				"spec.triggers[0].metadata.query": `sum(vllm:num_requests_waiting{namespace="ml",pod=~"llm-[a-z0-9]+-[a-z0-9]+"})`,
				"spec.triggers[1].name":           "gpu",
			},
			wantWarn: []string{"scale-to-zero is off", "vllm:num_requests_waiting is exported by vLLM's own pods", intent.KeyWakeQuery},
		},
		{
			name:     "vllm asking for scale-to-zero on its own queue metric is refused",
			w:        deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyScaleToZero, "true"), ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			wantErr:  []string{`mlscale.io/scale-to-zero: "true" asks for scale-to-zero, but no trigger can wake the workload from zero replicas: trigger vllm: vllm:num_requests_waiting is exported by vLLM's own pods`, intent.KeyWakeQuery, intent.KeySkipWakeCheck},
			wantKeys: []string{intent.KeyScaleToZero},
		},
		{
			name:     "its own prometheus-query on vLLM's metric cannot wake it either",
			w:        deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyScaleToZero, "true", intent.KeyPrometheusQuery, `sum(vllm:num_requests_waiting{namespace="ml"})`), ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			wantErr:  []string{"trigger prometheus: vllm:num_requests_waiting is exported by vLLM's own pods"},
			wantKeys: []string{intent.KeyScaleToZero},
		},
		{
			name:     "a generic workload on vLLM's request rate with min 0 is refused",
			w:        deployment("llm", ann(intent.KeyProfile, "generic", intent.KeyMinReplicas, "0", intent.KeyPrometheusQuery, `sum(rate(vllm:request_success_total[2m]))`), ctr("vllm", cpuOnly)),
			wantErr:  []string{`mlscale.io/min-replicas: "0" asks for scale-to-zero`, "vllm:request_success_total is exported by vLLM's own pods"},
			wantKeys: []string{intent.KeyMinReplicas},
		},
		{
			name:     "TGI and Triton metrics are the server's own",
			w:        deployment("tgi", ann(intent.KeyScaleToZero, "true", intent.KeyPrometheusQuery, `sum(tgi_queue_size) + sum(nv_inference_pending_request_count)`), ctr("tgi", cpuOnly)),
			wantErr:  []string{"nv_inference_pending_request_count is exported by Triton Inference Server's own pods", "tgi_queue_size is exported by Text Generation Inference (TGI)'s own pods"},
			wantKeys: []string{intent.KeyScaleToZero},
		},
		{
			name:     "a query that selects the workload's own pods is self-emitted",
			w:        deployment("api", ann(intent.KeyScaleToZero, "true", intent.KeyPrometheusQuery, `sum(rate(http_requests_total{pod=~"api-.*"}[2m]))`), ctr("api", cpuOnly)),
			wantErr:  []string{`http_requests_total selects the workload's own pods (pod=~"api-.*")`},
			wantKeys: []string{intent.KeyScaleToZero},
		},
		{
			name: "a query on another workload's pods wakes it",
			w:    deployment("api", ann(intent.KeyScaleToZero, "true", intent.KeyPrometheusQuery, `sum(rate(http_requests_total{pod=~"gateway-.*",backend="api"}[2m]))`), ctr("api", cpuOnly)),
			want: map[string]any{"spec.minReplicaCount": int64(0), "spec.triggers[0].name": "prometheus"},
		},
		{
			name: "wake-query wakes a vLLM server from zero",
			w: deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyScaleToZero, "true", intent.KeyWakeQuery, `sum(gateway_pending_requests{backend="llm"})`),
				ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{
				"spec.minReplicaCount":  int64(0),
				"spec.triggers[0].name": "vllm", "spec.triggers[1].name": "wake", "spec.triggers[2].name": "gpu",
				"spec.triggers[1].metadata.query":               `sum(gateway_pending_requests{backend="llm"})`,
				"spec.triggers[1].metadata.threshold":           "5",
				"spec.triggers[1].metadata.activationThreshold": "0",
			},
		},
		{
			name:     "a wake-query on the workload's own metric is refused",
			w:        deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyWakeQuery, `sum(vllm:num_requests_running)`), ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			wantErr:  []string{`mlscale.io/wake-query: "sum(vllm:num_requests_running)" cannot wake the workload: vllm:num_requests_running is exported by vLLM's own pods`},
			wantKeys: []string{intent.KeyWakeQuery},
		},
		{
			name:     "a wake-query naming the workload's own metrics by a regular expression is refused",
			w:        deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyWakeQuery, `sum({__name__=~"vllm:.+"})`), ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			wantErr:  []string{`cannot wake the workload: __name__=~"vllm:.+" matches vllm:num_requests_waiting, exported by vLLM's own pods`},
			wantKeys: []string{intent.KeyWakeQuery},
		},
		{
			name:     "scale-to-zero on a query naming SGLang's metrics by a regular expression is refused",
			w:        deployment("llm", ann(intent.KeyPrometheusQuery, `sum({__name__=~"sglang:.*"})`, intent.KeyMinReplicas, "0"), ctr("srv", cpuOnly)),
			wantErr:  []string{`asks for scale-to-zero`, `__name__=~"sglang:.*" matches sglang:num_queue_reqs, exported by SGLang's own pods`},
			wantKeys: []string{intent.KeyMinReplicas},
		},
		{
			name: "a metric name regular expression on a gateway's metrics can wake",
			w: deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyScaleToZero, "true", intent.KeyWakeQuery, `sum({__name__=~"gateway_(pending|queued)_requests",backend="llm"})`),
				ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{"spec.minReplicaCount": int64(0)},
		},
		{
			name:     "skip-wake-check lets the user decide, with a warning",
			w:        deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyScaleToZero, "true", intent.KeySkipWakeCheck, "true"), ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			want:     map[string]any{"spec.minReplicaCount": int64(0)},
			wantWarn: []string{"mlscale.io/skip-wake-check is set: the workload may sit at zero replicas although no trigger mlscale knows can wake it"},
		},
		// Business hours without the predictor: a cron trigger holds
		// min-replicas in those hours, zero outside them.
		{
			name: "zero at night, two in office hours",
			w: deployment("api", ann(intent.KeyScaleToZero, "true", intent.KeyMinReplicas, "2", intent.KeyBusinessHours, "Mon-Fri 08:00-18:30 Europe/Berlin",
				intent.KeyCPUTarget, "70"), ctr("api", cpuOnly)),
			want: map[string]any{
				"spec.minReplicaCount":  int64(0),
				"spec.triggers[0].name": "business-hours", "spec.triggers[0].type": "cron",
				"spec.triggers[0].metadata.timezone":        "Europe/Berlin",
				"spec.triggers[0].metadata.start":           "0 8 * * 1,2,3,4,5",
				"spec.triggers[0].metadata.end":             "30 18 * * 1,2,3,4,5",
				"spec.triggers[0].metadata.desiredReplicas": "2",
				"spec.triggers[1].name":                     "cpu",
			},
			noWarn: true,
		},
		{
			name: "business hours to midnight end on the next day",
			w:    deployment("api", ann(intent.KeyScaleToZero, "true", intent.KeyBusinessHours, "Sat,Sun 20:00-24:00", intent.KeyCPUTarget, "70"), ctr("api", cpuOnly)),
			want: map[string]any{
				"spec.triggers[0].metadata.timezone": "UTC", "spec.triggers[0].metadata.desiredReplicas": "1",
				"spec.triggers[0].metadata.start": "0 20 * * 0,6", "spec.triggers[0].metadata.end": "0 0 * * 0,1",
			},
		},
		{
			name: "business hours that never end: KEDA takes start and end written differently",
			w:    deployment("api", ann(intent.KeyScaleToZero, "true", intent.KeyBusinessHours, "Mon-Sun 00:00-24:00", intent.KeyCPUTarget, "70"), ctr("api", cpuOnly)),
			want: map[string]any{"spec.triggers[0].metadata.start": "0 0 * * 0,1,2,3,4,5,6", "spec.triggers[0].metadata.end": "0 0 * * *"},
		},
		{
			name:     "business hours need scale-to-zero or the predictor",
			w:        deployment("api", ann(intent.KeyMinReplicas, "2", intent.KeyBusinessHours, "Mon-Fri 08:00-18:00", intent.KeyCPUTarget, "70"), ctr("api", cpuOnly)),
			wantErr:  []string{`mlscale.io/business-hours: "Mon-Fri 08:00-18:00" is set without mlscale.io/scale-to-zero: "true" (or mlscale.io/predictive: "true")`},
			wantKeys: []string{intent.KeyBusinessHours},
		},
		{
			name:     "business hours hold at most max-replicas",
			w:        deployment("api", ann(intent.KeyScaleToZero, "true", intent.KeyMinReplicas, "12", intent.KeyBusinessHours, "Mon-Fri 08:00-18:00", intent.KeyCPUTarget, "70"), ctr("api", cpuOnly)),
			wantErr:  []string{`mlscale.io/min-replicas: "12" is greater than the maximum (10)`},
			wantKeys: []string{intent.KeyMinReplicas},
		},
		{
			name:     "business hours on a Job are refused",
			w:        job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "a", intent.KeyScaleToZero, "true", intent.KeyBusinessHours, "Mon-Fri 08:00-18:00"), ctr("trainer", cpuOnly)),
			wantErr:  []string{`mlscale.io/business-hours: "Mon-Fri 08:00-18:00" is not supported on a Job`},
			wantKeys: []string{intent.KeyBusinessHours},
		},
		{
			// Not "add scale-to-zero", which on a Job would only lead here.
			name:     "business hours on a Job without scale-to-zero are refused as such",
			w:        job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "a", intent.KeyBusinessHours, "Mon 08:00-09:00"), ctr("trainer", cpuOnly)),
			wantErr:  []string{`mlscale.io/business-hours: "Mon 08:00-09:00" is not supported on a Job; allowed: remove it; a ScaledJob starts Jobs for queued work, not for hours`},
			wantKeys: []string{intent.KeyBusinessHours},
		},

		// ScaledJob rollout and HPA adoption.
		{
			name: "rollout immediate on request",
			w:    job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "a", intent.KeyRolloutStrategy, "immediate"), ctr("trainer", cpuOnly)),
			want: map[string]any{"spec.rollout.strategy": "immediate"},
		},
		{
			name:     "rollout-strategy on a Deployment is refused",
			w:        deployment("api", ann(intent.KeyRolloutStrategy, "gradual", intent.KeyCPUTarget, "70"), ctr("api", cpuOnly)),
			wantErr:  []string{`mlscale.io/rollout-strategy: "gradual" is only valid on a Job`},
			wantKeys: []string{intent.KeyRolloutStrategy},
		},
		{
			name: "adopt-hpa lets KEDA take the existing HPA over",
			w:    deployment("api", ann(intent.KeyAdoptHPA, "api-hpa", intent.KeyCPUTarget, "70"), ctr("api", cpuOnly)),
			want: map[string]any{
				"metadata.annotations.scaledobject\\.keda\\.sh/transfer-hpa-ownership": "true",
				"spec.advanced.horizontalPodAutoscalerConfig.name":                     "api-hpa",
				"spec.advanced.horizontalPodAutoscalerConfig.behavior":                 nil,
			},
			noWarn: true,
		},
		{
			name:     "adopt-hpa on a Job is refused",
			w:        job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "a", intent.KeyAdoptHPA, "x"), ctr("trainer", cpuOnly)),
			wantErr:  []string{`mlscale.io/adopt-hpa: "x" is not supported on a Job`},
			wantKeys: []string{intent.KeyAdoptHPA},
		},
		{
			name:     "a ScaledJob on its own pods' metric can never start a Job",
			w:        job("train", ann(intent.KeyPrometheusQuery, `sum(trainer_pending{pod=~"train-.+"})`), ctr("trainer", cpuOnly)),
			wantErr:  []string{`mlscale.io/prometheus-query: "sum(trainer_pending{pod=~\"train-.+\"})" cannot start the first Job`},
			wantKeys: []string{intent.KeyPrometheusQuery},
		},
		{
			name:     "GPU utilisation alone cannot scale to zero",
			w:        deployment("gpu-cpu", ann(intent.KeyProfile, "generic", intent.KeyCPUTarget, "70", intent.KeyScaleToZero, "true"), ctr("w", gpu("nvidia.com/gpu", "1"))),
			wantErr:  []string{`mlscale.io/scale-to-zero: "true" asks for scale-to-zero, but no trigger can wake the workload`},
			wantKeys: []string{intent.KeyScaleToZero},
		},
		{
			name: "a GPU Deployment without a profile or trigger is a vLLM server",
			w:    deployment("llm", ann(), ctr("vllm", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{
				"metadata.annotations.mlscale\\.io/profile": "vllm", "spec.triggers[0].name": "vllm", "spec.minReplicaCount": int64(1),
			},
			wantWarn: []string{"scale-to-zero is off", "vllm:num_requests_waiting is exported by vLLM's own pods"},
		},
		{
			name: "training-job defaults: ScaledJob, one job per message, accurate strategy",
			w:    job("train", ann(intent.KeyRabbitMQQueue, "train", intent.KeyRabbitMQAuth, "rmq"), ctr("trainer", gpu("nvidia.com/gpu", "2"))),
			want: map[string]any{
				"kind": "ScaledJob", "metadata.annotations.mlscale\\.io/profile": "training-job",
				"spec.minReplicaCount": int64(0), "spec.maxReplicaCount": int64(10), "spec.pollingInterval": int64(30),
				"spec.triggers[0].metadata.value": "1", "spec.triggers[0].metadata.host": rabbitHost,
				"spec.triggers[1]": nil, "spec.scalingStrategy.strategy": "accurate", "spec.rollout.strategy": "gradual",
				"spec.successfulJobsHistoryLimit": int64(5), "spec.failedJobsHistoryLimit": int64(5),
				"spec.cooldownPeriod": nil,
				// Job -> ScaledJob template: suspend, selector and controller labels go.
				"spec.jobTargetRef.suspend":                  nil,
				"spec.jobTargetRef.selector":                 nil,
				"spec.jobTargetRef.manualSelector":           nil,
				"spec.jobTargetRef.backoffLimit":             int64(2),
				"spec.jobTargetRef.template.metadata.labels": map[string]any{"app": "trainer"},
				"metadata.ownerReferences[0].kind":           "Job",
				"metadata.ownerReferences[0].uid":            "u1",
				"metadata.ownerReferences[0].controller":     true,
			},
			noWarn: true,
		},
		{
			name: "training-job on a Prometheus query uses the default strategy",
			w:    job("train", ann(intent.KeyPrometheusQuery, "sum(pending_runs)"), ctr("trainer", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{"spec.triggers[0].metadata.threshold": "1", "spec.scalingStrategy": nil},
		},
		{
			name:     "cooldown on a Job is ignored with a warning",
			w:        job("train", ann(intent.KeyRabbitMQQueue, "train", intent.KeyRabbitMQAuth, "rmq", intent.KeyCooldown, "10m"), ctr("trainer", cpuOnly)),
			want:     map[string]any{"kind": "ScaledJob"},
			wantWarn: []string{"mlscale.io/cooldown is ignored on a Job"},
		},
		{
			name:     "scale-down stabilisation on a Job is ignored with a warning",
			w:        job("train", ann(intent.KeyRabbitMQQueue, "train", intent.KeyRabbitMQAuth, "rmq", intent.KeyScaleDownWindow, "5m"), ctr("trainer", cpuOnly)),
			want:     map[string]any{"kind": "ScaledJob"},
			wantWarn: []string{"mlscale.io/scale-down-stabilization is ignored on a Job"},
		},

		// GPU-aware defaults.
		gpuCase("nvidia.com/gpu"),
		gpuCase("nvidia.com/gpu.shared"),
		unmeasuredGPUCase("nvidia.com/mig-1g.10gb"),
		unmeasuredGPUCase("amd.com/gpu"),
		{
			name: "a whole GPU beside a MIG slice keeps the GPU trigger",
			w:    deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("w", gpu("nvidia.com/gpu", "1")), ctr("x", gpu("nvidia.com/mig-1g.10gb", "1"))),
			want: map[string]any{"spec.triggers[1].name": "gpu"}, noWarn: true,
		},
		{
			name:     "gpu-target on a MIG slice is refused",
			w:        deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyGPUTarget, "60"), ctr("w", gpu("nvidia.com/mig-1g.10gb", "1"))),
			wantErr:  []string{`mlscale.io/gpu-target: "60" is set, but the pods' GPUs (nvidia.com/mig-1g.10gb) have no utilisation series`, "NVML reports none for MIG devices", "allowed: remove it and scale on mlscale.io/rabbitmq-queue or mlscale.io/prometheus-query"},
			wantKeys: []string{intent.KeyGPUTarget},
		},
		{
			name:     "a generic MIG worker with no other trigger is refused",
			w:        deployment("w", ann(intent.KeyProfile, "generic"), ctr("w", gpu("nvidia.com/mig-1g.10gb", "1"))),
			wantErr:  []string{"mlscale.io/rabbitmq-queue: is missing: the workload has no trigger (none on GPU utilisation either: nvidia.com/mig-1g.10gb has no utilisation series); allowed: one of mlscale.io/rabbitmq-queue, mlscale.io/prometheus-query, mlscale.io/cpu-target or mlscale.io/memory-target"},
			wantKeys: []string{intent.KeyRabbitMQQueue},
		},
		{
			name: "GPU cooldown and stabilisation can be set",
			w: deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyCooldown, "30m", intent.KeyScaleDownWindow, "2m", intent.KeyGPUTarget, "60"),
				ctr("w", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{
				"spec.cooldownPeriod": int64(1800),
				"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds": int64(120),
				"spec.triggers[1].metadata.threshold":                                                       "60",
			},
		},
		{
			name:     "GPU workload with only a GPU trigger keeps one replica",
			w:        deployment("w", ann(intent.KeyProfile, "generic", intent.KeyGPUTarget, "70"), ctr("w", gpu("nvidia.com/gpu", "1"))),
			want:     map[string]any{"spec.minReplicaCount": int64(1), "spec.triggers[0].name": "gpu", "spec.triggers[1]": nil},
			wantWarn: []string{"scale-to-zero is off", "trigger gpu: namespace_workload_pod:mlscale_gpu_utilization_percent:avg selects the workload's own pods"},
		},
		{
			name:     "gpu-target without a GPU is refused",
			w:        deployment("w", ann(intent.KeyGPUTarget, "70", intent.KeyCPUTarget, "80"), ctr("w", cpuOnly)),
			wantErr:  []string{`mlscale.io/gpu-target: "70" is set but no container requests a GPU`, "the GPU trigger would read no data"},
			wantKeys: []string{intent.KeyGPUTarget},
		},

		// RabbitMQ host and authentication.
		rabbitCase("short name", "rabbitmq", "amqp://rabbitmq.ml.svc.cluster.local:5672/"),
		rabbitCase("short name with port", "rabbitmq:5673", "amqp://rabbitmq.ml.svc.cluster.local:5673/"),
		rabbitCase("service in another namespace", "rabbitmq.queues", "amqp://rabbitmq.queues:5672/"),
		rabbitCase("full DNS name", "rabbitmq.queues.svc.cluster.local", "amqp://rabbitmq.queues.svc.cluster.local:5672/"),
		rabbitCase("amqps URL with vhost", "amqps://mq.example.com/prod", "amqps://mq.example.com:5671/prod"),
		rabbitCase("IP address", "10.0.0.7:5672", "amqp://10.0.0.7:5672/"),
		{
			name:  "short host with a custom cluster domain",
			w:     deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("w", cpuOnly)),
			facts: &facts.Facts{ClusterDomain: "corp.internal", PrometheusServer: facts.DefaultPrometheusServer},
			want:  map[string]any{"spec.triggers[0].metadata.host": "amqp://rabbitmq.ml.svc.corp.internal:5672/"},
		},
		{
			name:     "rabbitmq without a TriggerAuthentication warns",
			w:        deployment("w", ann(intent.KeyRabbitMQQueue, "q"), ctr("w", cpuOnly)),
			want:     map[string]any{"spec.triggers[0].authenticationRef": nil, "spec.minReplicaCount": int64(1)},
			wantWarn: []string{"mlscale.io/rabbitmq-auth is not set"},
		},
		{
			name:     "rabbitmq settings without a queue",
			w:        deployment("w", ann(intent.KeyRabbitMQHost, "rabbitmq", intent.KeyCPUTarget, "50"), ctr("w", cpuOnly)),
			wantErr:  []string{`mlscale.io/rabbitmq-host: "rabbitmq" is set without mlscale.io/rabbitmq-queue`},
			wantKeys: []string{intent.KeyRabbitMQHost},
		},

		// Resource triggers.
		{
			name:     "cpu-target without cpu requests",
			w:        deployment("w", ann(intent.KeyCPUTarget, "70"), ctr("app", cpuMem), ctr("sidecar", nil)),
			wantErr:  []string{`mlscale.io/cpu-target: "70" needs a cpu request on every container, and container(s) sidecar have none`, "resources.requests.cpu"},
			wantKeys: []string{intent.KeyCPUTarget},
		},
		{
			name:     "memory-target without memory requests",
			w:        deployment("w", ann(intent.KeyMemoryTarget, "80"), ctr("app", cpuOnly)),
			wantErr:  []string{`mlscale.io/memory-target: "80" needs a memory request on every container, and container(s) app have none`},
			wantKeys: []string{intent.KeyMemoryTarget},
		},
		{
			name:     "generic default cpu trigger without requests",
			w:        deployment("w", ann(), ctr("app", nil)),
			wantErr:  []string{`mlscale.io/cpu-target: defaults to 80% for profile "generic", which needs a cpu request on every container`},
			wantKeys: []string{intent.KeyCPUTarget},
		},
		{
			name: "a cpu limit counts as a request",
			w: deployment("w", ann(intent.KeyCPUTarget, "70"), corev1.Container{Name: "app", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}}),
			want: map[string]any{"spec.triggers[0].metadata.value": "70"},
		},
		{
			name: "multi-trigger: rabbitmq, cpu and memory",
			w: deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyCPUTarget, "75", intent.KeyMemoryTarget, "85"),
				ctr("w", cpuMem)),
			want: map[string]any{
				"spec.triggers[0].type": "rabbitmq",
				"spec.triggers[1].type": "cpu", "spec.triggers[1].metadata.value": "75",
				"spec.triggers[2].type": "memory", "spec.triggers[2].metadata.value": "85", "spec.triggers[2].metricType": "Utilization",
				"spec.minReplicaCount": int64(1),
			},
			noWarn: true,
		},

		// Scale-to-zero.
		{
			name:     "scale-to-zero with only cpu and memory triggers",
			w:        deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyCPUTarget, "70", intent.KeyMemoryTarget, "70"), ctr("w", cpuMem)),
			wantErr:  []string{`mlscale.io/scale-to-zero: "true" asks for scale-to-zero, but the only triggers are cpu and memory, which are measured on the workload's own pods and cannot wake it`},
			wantKeys: []string{intent.KeyScaleToZero},
		},
		{
			// KEDA refuses this ScaledObject whatever mlscale says.
			name:     "skip-wake-check does not let cpu alone scale to zero",
			w:        deployment("w", ann(intent.KeyMinReplicas, "0", intent.KeySkipWakeCheck, "true"), ctr("w", cpuOnly)),
			wantErr:  []string{`mlscale.io/min-replicas: "0" asks for scale-to-zero, but the only triggers are cpu and memory`, "KEDA refuses such a ScaledObject, whatever mlscale.io/skip-wake-check says"},
			wantKeys: []string{intent.KeyMinReplicas},
		},
		{
			// The profile's zero, not asked for: the same warning.
			name:     "skip-wake-check with the vllm profile's default zero",
			w:        deployment("w", ann(intent.KeyProfile, "vllm", intent.KeySkipWakeCheck, "true"), ctr("w", gpu("nvidia.com/gpu", "1"))),
			want:     map[string]any{"spec.minReplicaCount": int64(0)},
			wantWarn: []string{"mlscale.io/skip-wake-check is set: the workload may sit at zero replicas although no trigger mlscale knows can wake it"},
		},
		{
			name:     "skip-wake-check with a GPU trigger still scales to zero",
			w:        deployment("w", ann(intent.KeyProfile, "generic", intent.KeyMinReplicas, "0", intent.KeySkipWakeCheck, "true"), ctr("w", gpu("nvidia.com/gpu", "1"))),
			want:     map[string]any{"spec.minReplicaCount": int64(0)},
			wantWarn: []string{"mlscale.io/skip-wake-check is set"},
		},
		{
			name:     "min-replicas 0 with only a GPU trigger",
			w:        deployment("w", ann(intent.KeyProfile, "generic", intent.KeyMinReplicas, "0"), ctr("w", gpu("nvidia.com/gpu.shared", "1"))),
			wantErr:  []string{`mlscale.io/min-replicas: "0" asks for scale-to-zero`, "trigger gpu"},
			wantKeys: []string{intent.KeyMinReplicas},
		},
		{
			name: "scale-to-zero with a Prometheus query and an activation target",
			w: deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyPrometheusQuery, "sum(pending)", intent.KeyActivationTarget, "2", intent.KeyCPUTarget, "70"),
				ctr("w", cpuOnly)),
			want: map[string]any{
				"spec.minReplicaCount":                          int64(0),
				"spec.triggers[0].metadata.activationThreshold": "2",
				"spec.triggers[0].metadata.threshold":           "10",
				"spec.triggers[1].type":                         "cpu",
			},
		},
		{
			name: "scale-to-zero false on a zero-default profile",
			w:    deployment("w", ann(intent.KeyProfile, "celery-worker", intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyScaleToZero, "false"), ctr("w", cpuOnly)),
			want: map[string]any{"spec.minReplicaCount": int64(1)},
		},

		// GPU budget.
		{
			name:     "GPU budget lowers max replicas",
			w:        deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyMaxReplicas, "10"), ctr("w", gpu("nvidia.com/gpu", "2"))),
			facts:    gpuBudget(5),
			want:     map[string]any{"spec.maxReplicaCount": int64(2), "spec.minReplicaCount": int64(0)},
			wantWarn: []string{"max replicas lowered from 10 to 2", "GPU budget of 5"},
		},
		{
			name:   "GPU budget large enough changes nothing",
			w:      deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyMaxReplicas, "3"), ctr("w", gpu("nvidia.com/gpu", "2"))),
			facts:  gpuBudget(6),
			want:   map[string]any{"spec.maxReplicaCount": int64(3)},
			noWarn: true,
		},
		{
			name:     "GPU budget smaller than one pod",
			w:        deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("a", gpu("nvidia.com/gpu", "1")), ctr("b", gpu("nvidia.com/gpu", "1"))),
			facts:    gpuBudget(1),
			wantErr:  []string{"mlscale.io/max-replicas: cannot be met: one replica needs 2 GPU(s) per pod but namespace ml has a GPU budget of 1"},
			wantKeys: []string{intent.KeyMaxReplicas},
		},
		{
			name:     "GPU budget below min replicas",
			w:        deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyMinReplicas, "3"), ctr("w", gpu("nvidia.com/gpu", "1"))),
			facts:    gpuBudget(2),
			wantErr:  []string{`mlscale.io/min-replicas: "3" needs 3 GPUs, over namespace ml's GPU budget of 2`},
			wantKeys: []string{intent.KeyMinReplicas},
			wantWarn: []string{"max replicas lowered from 10 to 2"},
		},
		{
			name:     "GPU budget caps the ScaledJob's parallel jobs",
			w:        job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("t", gpu("nvidia.com/gpu", "4"))),
			facts:    gpuBudget(8),
			want:     map[string]any{"kind": "ScaledJob", "spec.maxReplicaCount": int64(2)},
			wantWarn: []string{"max replicas lowered from 10 to 2"},
		},

		{
			name:     "GPU budget counts a Job's parallel pods",
			w:        parallel(job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyMaxReplicas, "4"), ctr("t", gpu("nvidia.com/gpu", "1"))), 8),
			facts:    gpuBudget(16),
			want:     map[string]any{"kind": "ScaledJob", "spec.maxReplicaCount": int64(2), "spec.jobTargetRef.parallelism": int64(8)},
			wantWarn: []string{"max replicas lowered from 4 to 2: 4 replicas x 1 GPU(s) per pod x parallelism 8 exceed namespace ml's GPU budget of 16"},
		},
		{
			name:     "GPU budget smaller than one Job's parallel pods",
			w:        parallel(job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("t", gpu("nvidia.com/gpu", "2"))), 16),
			facts:    gpuBudget(8),
			wantErr:  []string{"mlscale.io/max-replicas: cannot be met: one replica needs 2 GPU(s) per pod x parallelism 16 but namespace ml has a GPU budget of 8"},
			wantKeys: []string{intent.KeyMaxReplicas},
		},
		{
			name:     "GPU budget counts sidecar GPUs beside the main containers",
			w:        withInit(deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyMaxReplicas, "4"), ctr("w", gpu("nvidia.com/gpu", "1"))), true, gpu("nvidia.com/gpu", "1")),
			facts:    gpuBudget(4),
			want:     map[string]any{"spec.maxReplicaCount": int64(2)},
			wantWarn: []string{"max replicas lowered from 4 to 2: 4 replicas x 2 GPU(s) per pod"},
		},
		{
			name:   "GPU budget takes a run-to-completion init container's GPUs as the larger moment",
			w:      withInit(deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyMaxReplicas, "4"), ctr("w", gpu("nvidia.com/gpu", "1"))), false, gpu("nvidia.com/gpu", "1")),
			facts:  gpuBudget(4),
			want:   map[string]any{"spec.maxReplicaCount": int64(4)},
			noWarn: true,
		},
		{
			name:     "GPU requests that overflow int64 are refused, not wrapped",
			w:        deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("a", gpu("nvidia.com/gpu", "4611686018427387904")), ctr("b", gpu("nvidia.com/gpu", "4611686018427387904"))),
			facts:    gpuBudget(8),
			wantErr:  []string{"mlscale.io/max-replicas: cannot be met: one replica needs 9223372036854775807 GPU(s) per pod"},
			wantKeys: []string{intent.KeyMaxReplicas},
		},
		{
			name:     "GPU budget counts time-sliced GPUs",
			w:        deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyMaxReplicas, "4"), ctr("w", gpu("nvidia.com/gpu.shared", "1"))),
			facts:    gpuBudget(2),
			want:     map[string]any{"spec.maxReplicaCount": int64(2)},
			wantWarn: []string{"max replicas lowered from 4 to 2"},
		},

		// Predicted floor.
		floorCase("inside the bounds", "3", 3),
		floorCase("above max is capped", "50", 10),
		floorCase("below min keeps min", "0", 1),
		{
			// Left over from when the workload was predictive.
			name:     "predicted floor without predictive is ignored",
			w:        deployment("w", ann(intent.KeyCPUTarget, "70", intent.KeyMinReplicas, "1", intent.KeyPredictedFloor, "6"), ctr("w", cpuOnly)),
			want:     map[string]any{"spec.minReplicaCount": int64(1)},
			wantWarn: []string{`mlscale.io/predicted-floor is ignored: mlscale.io/predictive is not "true"`},
		},
		{
			name:  "predicted floor after the GPU budget",
			w:     deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyPredictedFloor, "6", intent.KeyPredictive, "true", intent.KeyCapacityPerReplica, "10", intent.KeyDemandQuery, "sum(rate(requests[1m]))"), ctr("w", gpu("nvidia.com/gpu", "1"))),
			facts: gpuBudget(3),
			want:  map[string]any{"spec.minReplicaCount": int64(3), "spec.maxReplicaCount": int64(3)},
		},
		{
			name: "predicted floor is ignored on a Job",
			w:    job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyPredictedFloor, "3"), ctr("t", cpuOnly)),
			want: map[string]any{"spec.minReplicaCount": int64(0)},
		},

		// Kinds and profiles.
		{
			name: "StatefulSet",
			w:    statefulSet("db", ann(intent.KeyPrometheusQuery, "sum(qps)", intent.KeyPrometheusTarget, "100"), ctr("db", cpuOnly)),
			want: map[string]any{
				"spec.scaleTargetRef.kind": "StatefulSet", "spec.triggers[0].metadata.threshold": "100",
				"metadata.labels.mlscale\\.io/workload-kind": "StatefulSet",
			},
		},
		{
			name: "StatefulSet GPU trigger matches its pod names",
			w:    statefulSet("db", ann(intent.KeyPrometheusQuery, "sum(qps)"), ctr("db", gpu("nvidia.com/gpu", "1"))),
			want: map[string]any{"spec.triggers[1].metadata.query": `avg(namespace_workload_pod:mlscale_gpu_utilization_percent:avg{namespace="ml",pod=~"db-[0-9]+"})`},
		},
		{
			name:     "training-job profile on a Deployment",
			w:        deployment("w", ann(intent.KeyProfile, "training-job", intent.KeyRabbitMQQueue, "q"), ctr("w", cpuOnly)),
			wantErr:  []string{`mlscale.io/profile: "training-job" is only valid for a Job`},
			wantKeys: []string{intent.KeyProfile},
		},
		{
			name:     "vllm profile on a Job",
			w:        job("train", ann(intent.KeyProfile, "vllm"), ctr("t", cpuOnly)),
			wantErr:  []string{`mlscale.io/profile: "vllm" is not valid for a Job; allowed: "training-job"`},
			wantKeys: []string{intent.KeyProfile},
		},
		{
			name:     "resource triggers on a Job",
			w:        job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyCPUTarget, "50", intent.KeyPredictive, "true", intent.KeyDemandQuery, "x", intent.KeyCapacityPerReplica, "1"), ctr("t", cpuOnly)),
			wantKeys: []string{intent.KeyCPUTarget, intent.KeyPredictive},
		},
		{
			name:     "Job without a trigger",
			w:        job("train", ann(), ctr("t", cpuOnly)),
			wantErr:  []string{"mlscale.io/rabbitmq-queue: is missing: the workload has no trigger; allowed: mlscale.io/rabbitmq-queue or mlscale.io/prometheus-query (a ScaledJob scales on queue length)"},
			wantKeys: []string{intent.KeyRabbitMQQueue},
		},

		// Several problems at once.
		{
			name: "every problem is reported together",
			w: deployment("w", ann(intent.KeyCPUTarget, "70", intent.KeyMemoryTarget, "70", intent.KeyQueueTarget, "3", intent.KeyPrometheusTarget, "4"),
				ctr("w", nil)),
			wantErr:  []string{"4 problems"},
			wantKeys: []string{intent.KeyQueueTarget, intent.KeyPrometheusTarget, intent.KeyCPUTarget, intent.KeyMemoryTarget},
		},
		{
			name:     "no Prometheus server known",
			w:        deployment("w", ann(intent.KeyPrometheusQuery, "sum(x)"), ctr("w", gpu("nvidia.com/gpu", "1"))),
			facts:    &facts.Facts{},
			wantErr:  []string{"mlscale.io/prometheus-server: is missing and the cluster has no default Prometheus server"},
			wantKeys: []string{intent.KeyPrometheusServer},
		},

		// Metadata.
		{
			// The API server allows 253 characters; KEDA 63.
			name:     "a workload name KEDA refuses as a ScaledObject's",
			w:        deployment(strings.Repeat("a", 70), ann(), ctr("w", cpuOnly)),
			wantErr:  []string{`metadata.name: "` + strings.Repeat("a", 70) + `" is 70 characters long`, "KEDA refuses one of more than 63 characters", "allowed: a Deployment name of at most 63 characters"},
			wantKeys: []string{"metadata.name"},
		},
		{
			// keda-hpa-NAME would be 72 characters, which KEDA refuses.
			name: "a long workload name gets an HPA name KEDA accepts",
			w:    deployment(strings.Repeat("b", 63), ann(), ctr("w", cpuOnly)),
			want: map[string]any{
				"metadata.name": strings.Repeat("b", 63),
				"spec.advanced.horizontalPodAutoscalerConfig.name": "keda-hpa-" + strings.Repeat("b", 37) + "-" + hashOf(strings.Repeat("b", 63)),
			},
		},
		{
			name: "a name of 54 characters keeps KEDA's HPA name",
			w:    deployment(strings.Repeat("c", 54), ann(), ctr("w", cpuOnly)),
			want: map[string]any{"spec.advanced": nil},
		},
		{
			name:     "adopt-hpa names an HPA KEDA refuses",
			w:        deployment("w", ann(intent.KeyAdoptHPA, strings.Repeat("h", 64)), ctr("w", cpuOnly)),
			wantErr:  []string{"is 64 characters long; allowed: a lower-case RFC 1123 name such as \"my-app-hpa\", at most 63 characters"},
			wantKeys: []string{intent.KeyAdoptHPA},
		},

		// Requests as the HPA counts them for a utilisation target.
		{
			name:     "a sidecar without a cpu request",
			w:        withSidecar(deployment("w", ann(intent.KeyCPUTarget, "70"), ctr("w", cpuOnly)), ctr("proxy", nil)),
			wantErr:  []string{"container(s) proxy have none", "sidecars too"},
			wantKeys: []string{intent.KeyCPUTarget},
		},
		{
			name: "a sidecar with a cpu request",
			w:    withSidecar(deployment("w", ann(intent.KeyCPUTarget, "70"), ctr("w", cpuOnly)), ctr("proxy", cpuOnly)),
			want: map[string]any{"spec.triggers[0].type": "cpu"},
		},
		{
			name: "a pod-level cpu request stands for the containers'",
			w:    podLevel(deployment("w", ann(intent.KeyCPUTarget, "70"), ctr("w", nil), ctr("log", nil)), "cpu", "1"),
			want: map[string]any{"spec.triggers[0].type": "cpu"},
		},
		{
			name:     "cpu requests of 0 in total",
			w:        deployment("w", ann(intent.KeyCPUTarget, "70"), ctr("w", map[string]string{"cpu": "0"})),
			wantErr:  []string{`mlscale.io/cpu-target: "70" is a utilisation of the pods' cpu requests, which are 0 in total`},
			wantKeys: []string{intent.KeyCPUTarget},
		},

		// Business hours hold a floor and do not follow load.
		{
			name: "business hours keep the profile's cpu default",
			w:    deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyMinReplicas, "2", intent.KeyBusinessHours, "Mon-Fri 08:00-18:00 Europe/Berlin"), ctr("w", cpuOnly)),
			want: map[string]any{"spec.triggers[0].type": "cron", "spec.triggers[1].type": "cpu", "spec.triggers[1].metadata.value": "80"},
		},
		{
			name:     "business hours alone, without cpu requests",
			w:        deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyMinReplicas, "2", intent.KeyBusinessHours, "Mon-Fri 08:00-18:00 Europe/Berlin"), ctr("w", nil)),
			want:     map[string]any{"spec.triggers[0].type": "cron", "spec.triggers[1]": nil},
			wantWarn: []string{"mlscale.io/business-hours is the only trigger: the workload runs 2 replicas in those hours and none outside them, whatever its load"},
		},
		{
			// 02:30 on the second Sunday of March does not exist in New York.
			name:     "business hours with an edge the clocks skip",
			w:        deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyBusinessHours, "Sun 02:30-06:00 America/New_York"), ctr("w", cpuOnly)),
			wantErr:  []string{"has an edge at 02:30, a time that does not exist in America/New_York on Sun", "holds the workload up, or down, until its next edge (up to a week)"},
			wantKeys: []string{intent.KeyBusinessHours},
		},
		{
			// Cairo's clocks skip midnight, but hours that run on through
			// it have no edge there: KEDA misses the end and the start
			// alike.
			name: "business hours through a midnight the clocks skip",
			w:    deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyBusinessHours, "Mon-Fri 00:00-24:00 Africa/Cairo"), ctr("w", cpuOnly)),
			want: map[string]any{"spec.triggers[0].type": "cron"},
		},
		{
			// Havana's clocks skip Sunday's midnight, where Saturday's hours end.
			name:     "business hours that end at a midnight the clocks skip",
			w:        deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyBusinessHours, "Sat 00:00-24:00 America/Havana"), ctr("w", cpuOnly)),
			wantErr:  []string{"has an edge at 00:00, a time that does not exist in America/Havana on Sun"},
			wantKeys: []string{intent.KeyBusinessHours},
		},
		{
			name: "business hours on days the clocks skip nothing",
			w:    deployment("w", ann(intent.KeyScaleToZero, "true", intent.KeyBusinessHours, "Mon-Fri 02:30-06:00 America/New_York"), ctr("w", cpuOnly)),
			want: map[string]any{"spec.triggers[0].type": "cron"},
		},

		// A Job's own metadata reaches the Jobs KEDA starts.
		{
			name: "a Job's labels go to the ScaledJob, its annotations do not",
			w: jobMeta(job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", "kueue.x-k8s.io/job-min-parallelism", "1", "kubectl.kubernetes.io/last-applied-configuration", "{}"), ctr("t", cpuOnly)),
				map[string]string{"kueue.x-k8s.io/queue-name": "gpu", "app.kubernetes.io/managed-by": "helm", "job-name": "train"}),
			want: map[string]any{
				"metadata.labels.kueue\\.x-k8s\\.io/queue-name":                             "gpu",
				"metadata.labels.app\\.kubernetes\\.io/managed-by":                          "mlscale",
				"metadata.labels.job-name":                                                  nil,
				"metadata.annotations.kueue\\.x-k8s\\.io/job-min-parallelism":               nil,
				"metadata.annotations.mlscale\\.io/autoscale":                               nil,
				"metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration": nil,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func runCase(t *testing.T, tc renderCase) {
	t.Helper()
	f := ptr.Deref(tc.facts, facts.Default())
	res, err := render.Workload(tc.w, f)
	checkWarnings(t, res.Warnings, tc.wantWarn, tc.noWarn)
	if len(tc.wantErr) > 0 || len(tc.wantKeys) > 0 {
		if err == nil {
			t.Fatalf("got no error, want %q", tc.wantErr)
		}
		msg := err.Error()
		pos := 0
		for _, w := range tc.wantErr {
			i := strings.Index(msg[pos:], w)
			if i < 0 {
				t.Errorf("error %q lacks %q (after offset %d)", msg, w, pos)
				continue
			}
			pos += i + len(w)
		}
		var fes intent.Errors
		if !errors.As(err, &fes) {
			t.Fatalf("error %T is not intent.Errors", err)
		}
		var keys []string
		for _, fe := range fes {
			keys = append(keys, fe.Key)
		}
		for _, k := range tc.wantKeys {
			if !contains(keys, k) {
				t.Errorf("error keys %q lack %s", keys, k)
			}
		}
		if res.Object != nil {
			t.Errorf("an error came with an object")
		}
		return
	}
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	validateKEDA(t, res.Object)
	u, err := render.ToUnstructured(res.Object)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range tc.want {
		got, ok := lookup(u.Object, path)
		switch {
		case want == nil && ok:
			t.Errorf("%s = %#v, want it absent", path, got)
		case want != nil && !ok:
			t.Errorf("%s is absent, want %#v", path, want)
		case want != nil && !reflect.DeepEqual(got, want):
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	if lv := u.GetLabels()[render.LabelWorkloadName]; len(validation.IsValidLabelValue(lv)) > 0 {
		t.Errorf("label %s=%q is not a valid label value", render.LabelWorkloadName, lv)
	}
	if got := u.GetAnnotations()[intent.KeyRenderedHash]; got != res.Hash || len(got) != 16 {
		t.Errorf("hash annotation %q, Result.Hash %q", got, res.Hash)
	}
	if res.ScaleToZero != (u.Object["spec"].(map[string]any)["minReplicaCount"] == int64(0)) {
		t.Errorf("Result.ScaleToZero = %v, minReplicaCount = %v", res.ScaleToZero, u.Object["spec"].(map[string]any)["minReplicaCount"])
	}
}

func gpuCase(res string) renderCase {
	return renderCase{
		name: "GPU defaults for " + res,
		w:    deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("w", gpu(res, "1")), ctr("sidecar", cpuOnly)),
		want: map[string]any{
			"metadata.annotations.mlscale\\.io/profile":     "generic",
			"spec.minReplicaCount":                          int64(0),
			"spec.cooldownPeriod":                           int64(render.GPUCooldown.Seconds()),
			"spec.triggers[0].type":                         "rabbitmq",
			"spec.triggers[1].name":                         "gpu",
			"spec.triggers[1].type":                         "prometheus",
			"spec.triggers[1].metricType":                   "Value",
			"spec.triggers[1].metadata.threshold":           strconv.Itoa(int(render.GPUTarget)),
			"spec.triggers[1].metadata.activationThreshold": strconv.Itoa(int(render.GPUActivationThreshold)),
			"spec.triggers[2]":                              nil,
			"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds": int64(render.GPUScaleDownWindow.Seconds()),
			"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].type":           "Pods",
			"spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp":                              nil,
		},
		noWarn: true,
	}
}

// unmeasuredGPUCase is gpuCase for a GPU whose utilisation mlscale's
// collector does not record: the GPU defaults without the GPU trigger,
// and a warning saying why.
func unmeasuredGPUCase(res string) renderCase {
	c := gpuCase(res)
	c.name = "GPU defaults without the GPU trigger for " + res
	delete(c.want, "spec.triggers[1].type")
	delete(c.want, "spec.triggers[1].metricType")
	delete(c.want, "spec.triggers[1].metadata.threshold")
	delete(c.want, "spec.triggers[1].metadata.activationThreshold")
	delete(c.want, "spec.triggers[2]")
	c.want["spec.triggers[1]"] = nil
	delete(c.want, "spec.triggers[1].name")
	c.noWarn = false
	c.wantWarn = []string{"no GPU utilisation trigger: the pods' GPUs (" + res + ") have no utilisation series"}
	return c
}

func rabbitCase(name, host, want string) renderCase {
	return renderCase{
		name:   "rabbitmq host: " + name,
		w:      deployment("w", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq", intent.KeyRabbitMQHost, host), ctr("w", cpuOnly)),
		want:   map[string]any{"spec.triggers[0].metadata.host": want, "spec.triggers[0].authenticationRef.name": "rmq"},
		noWarn: true,
	}
}

func floorCase(name, floor string, want int64) renderCase {
	return renderCase{
		name: "predicted floor " + name,
		w: deployment("w", ann(intent.KeyCPUTarget, "70", intent.KeyMinReplicas, "1", intent.KeyMaxReplicas, "10", intent.KeyPredictedFloor, floor,
			intent.KeyPredictive, "true", intent.KeyCapacityPerReplica, "10", intent.KeyDemandQuery, "sum(rate(requests[1m]))"),
			ctr("w", cpuOnly)),
		want: map[string]any{"spec.minReplicaCount": want, "spec.maxReplicaCount": int64(10)},
	}
}

func checkWarnings(t *testing.T, got, want []string, none bool) {
	t.Helper()
	if none && len(got) > 0 {
		t.Errorf("unexpected warnings %q", got)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("warnings %q lack %q", got, w)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// lookup follows a path such as `spec.triggers[0].metadata.host`; a dot
// inside a key is escaped as `\.`.
func lookup(obj any, path string) (any, bool) {
	cur := obj
	for _, part := range splitPath(path) {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			n, err := strconv.Atoi(part[i+1 : len(part)-1])
			if err != nil {
				return nil, false
			}
			name, idx = part[:i], n
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[name]; !ok {
			return nil, false
		}
		if idx >= 0 {
			l, ok := cur.([]any)
			if !ok || idx >= len(l) {
				return nil, false
			}
			cur = l[idx]
		}
	}
	return cur, true
}

func splitPath(p string) []string {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			b.WriteByte(p[i])
		case p[i] == '.':
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(p[i])
		}
	}
	return append(parts, b.String())
}

// withSidecar adds a native sidecar (an init container with restartPolicy
// Always) to the workload's pods.
func withSidecar(w workload.Workload, c corev1.Container) workload.Workload {
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	w.Template.Spec.InitContainers = append(w.Template.Spec.InitContainers, c)
	return w
}

// podLevel sets a pod-level request (spec.resources) on the workload's pods.
func podLevel(w workload.Workload, res, q string) workload.Workload {
	w.Template.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceName(res): resource.MustParse(q)}}
	return w
}

// jobMeta sets the Job's own labels.
func jobMeta(w workload.Workload, labels map[string]string) workload.Workload {
	w.Labels = labels
	return w
}

// hashOf is the first 16 hex digits of the SHA-256 of s.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
