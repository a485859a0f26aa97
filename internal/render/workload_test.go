package render_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

func TestWorkloadNotEnabled(t *testing.T) {
	for name, a := range map[string]map[string]string{
		"no annotations":    nil,
		"autoscale false":   {intent.KeyAutoscale: "false", intent.KeyMaxReplicas: "3"},
		"other keys only":   {intent.KeyMaxReplicas: "3"},
		"foreign namespace": {"example.com/autoscale": "true"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := render.Workload(deployment("w", a, ctr("w", cpuOnly)), facts.Default())
			if !errors.Is(err, render.ErrNotEnabled) {
				t.Fatalf("err = %v, want ErrNotEnabled", err)
			}
			if res.Object != nil {
				t.Fatal("got an object")
			}
			if name == "other keys only" && len(res.Warnings) != 1 {
				t.Errorf("warnings = %q, want one about the missing opt-in", res.Warnings)
			}
		})
	}
}

func TestWorkloadParseErrorsTogether(t *testing.T) {
	w := deployment("w", ann(intent.KeyMaxReplicas, "abc", intent.KeyCooldown, "soon", intent.KeyProfile, "llm"), ctr("w", cpuOnly))
	_, err := render.Workload(w, facts.Default())
	var fes intent.Errors
	if !errors.As(err, &fes) || len(fes) != 3 {
		t.Fatalf("err = %v, want 3 field errors", err)
	}
	msg := render.Message(w, err)
	for _, s := range []string{"mlscale: Deployment ml/w: 3 problems", `mlscale.io/max-replicas: "abc" is not a whole number`, `mlscale.io/cooldown: "soon" is not a duration`, `mlscale.io/profile: "llm" is not a known profile`} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q lacks %q", msg, s)
		}
	}
}

func TestWorkloadWarningsOrder(t *testing.T) {
	// Misplaced keys, then parse warnings (an unknown key, with the
	// opt-out), then render warnings (no auth).
	w := deployment("w", ann(intent.KeyRabbitMQQueue, "q", "mlscale.io/max-replica", "3"), ctr("w", cpuOnly))
	w.Template.Annotations = map[string]string{intent.KeyMinReplicas: "2"}
	f := facts.Default()
	f.AllowUnknownKeys = true
	res, err := render.Workload(w, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 3 || !strings.Contains(res.Warnings[0], "mlscale.io/min-replicas is set on the pod template") ||
		!strings.Contains(res.Warnings[1], "did you mean mlscale.io/max-replicas?") || !strings.Contains(res.Warnings[2], intent.KeyRabbitMQAuth) {
		t.Fatalf("warnings = %q", res.Warnings)
	}
	// By default the unknown key is refused, naming the nearest key.
	if _, err := render.Workload(w, facts.Default()); err == nil || !strings.Contains(err.Error(), "did you mean mlscale.io/max-replicas?") {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestMisplaced: mlscale.io/ keys as labels or on the pod template are
// warned about, with where they belong, also on a workload that has not
// opted in (the opt-in itself may be the misplaced key).
func TestMisplaced(t *testing.T) {
	w := deployment("w", nil, ctr("w", cpuOnly))
	w.Labels = map[string]string{intent.KeyAutoscale: "true", "app": "w"}
	w.Template.Labels = map[string]string{intent.KeyMaxReplicas: "3"}
	res, err := render.Workload(w, facts.Default())
	if !errors.Is(err, render.ErrNotEnabled) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"mlscale.io/autoscale is set as a label of the Deployment (metadata.labels), where mlscale does not read it; move it to the Deployment's metadata.annotations",
		"mlscale.io/max-replicas is set as a pod template label (spec.template.metadata.labels), where mlscale does not read it; move it to the Deployment's metadata.annotations",
	}
	if !reflect.DeepEqual(res.Warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", res.Warnings, want)
	}
}

// TestNeeds: each Prometheus trigger says which series it reads and what
// records them.
func TestNeeds(t *testing.T) {
	res, err := render.Workload(deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyWakeQuery, `sum(gateway_pending{backend="llm"})`),
		ctr("vllm", gpu("nvidia.com/gpu", "1"))), facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range res.Needs {
		got[n.Trigger] = n.String()
	}
	for trigger, want := range map[string]string{
		"vllm": "trigger vllm reads vllm:num_requests_waiting: exported by vLLM's pods",
		"wake": "trigger wake reads gateway_pending: exported by whatever serves these metrics",
		"gpu":  "trigger gpu reads " + render.GPUUtilizationMetric + ": recorded by mlscale's rules",
	} {
		if !strings.HasPrefix(got[trigger], want) {
			t.Errorf("%s: %q, want it to start with %q", trigger, got[trigger], want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	mk := func() workload.Workload {
		return deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyPrometheusQuery, "sum(gw)", intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq",
			intent.KeyCPUTarget, "70", intent.KeyMemoryTarget, "70"), ctr("vllm", map[string]string{"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}))
	}
	first, err := render.Workload(mk(), facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	firstJSON, _ := json.Marshal(first.Object)
	for range 50 {
		r, err := render.Workload(mk(), facts.Default())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r.Object)
		if r.Hash != first.Hash || string(b) != string(firstJSON) {
			t.Fatalf("render is not deterministic: %s vs %s", r.Hash, first.Hash)
		}
	}
	other := mk()
	other.Annotations[intent.KeyMaxReplicas] = "3"
	r, err := render.Workload(other, facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	if r.Hash == first.Hash {
		t.Fatal("a different spec gave the same hash")
	}
	// The hash covers the spec only: the UID (owner reference) does not change it.
	withUID := mk()
	withUID.UID = "1234"
	r, err = render.Workload(withUID, facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	if r.Hash != first.Hash || len(r.Object.GetOwnerReferences()) != 1 {
		t.Fatalf("hash %s (want %s), owner references %v", r.Hash, first.Hash, r.Object.GetOwnerReferences())
	}
}

func TestRenderJobWithoutSpec(t *testing.T) {
	w := job("train", ann(intent.KeyRabbitMQQueue, "q", intent.KeyRabbitMQAuth, "rmq"), ctr("t", cpuOnly))
	w.Job = nil
	res, err := render.Workload(w, facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	if sj := res.ScaledJob(); sj == nil || len(sj.Spec.JobTargetRef.Template.Spec.Containers) != 1 || res.ScaledObject() != nil {
		t.Fatalf("want a ScaledJob built from the pod template, got %#v", res.Object)
	}
}

func TestWorkloadNameLabelValue(t *testing.T) {
	for _, name := range []string{"a", "llm-server", "v1.2-model", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("ab.", 80) + "c", strings.Repeat("a", 45) + ".-" + strings.Repeat("b", 30)} {
		v := render.WorkloadNameLabelValue(name)
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("%q -> %q: %v", name, v, errs)
		}
		if len(name) <= 63 && v != name {
			t.Errorf("%q -> %q, want it unchanged", name, v)
		}
	}
	a, b := strings.Repeat("a", 60)+"-one", strings.Repeat("a", 60)+"-two"
	if render.WorkloadNameLabelValue(a) == render.WorkloadNameLabelValue(b) {
		t.Error("long names with a common prefix share a label value")
	}
}

func TestToUnstructuredDropsEmptyFields(t *testing.T) {
	res, err := render.Workload(job("train", ann(intent.KeyPrometheusQuery, "sum(x)"), ctr("t", cpuOnly)), facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	u, err := render.ToUnstructured(res.Object)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"status", "metadata.creationTimestamp", "spec.scalingStrategy", "spec.jobTargetRef.template.metadata.creationTimestamp"} {
		if v, ok := lookup(u.Object, p); ok {
			t.Errorf("%s = %#v, want it absent", p, v)
		}
	}
	sj := &kedav1alpha1.ScaledJob{}
	if u, err = render.ToUnstructured(sj); err != nil {
		t.Fatal(err)
	}
	if v, ok := lookup(u.Object, "spec.rollout"); ok {
		t.Errorf("an empty spec.rollout = %#v, want it absent", v)
	}
	so := &kedav1alpha1.ScaledObject{Spec: kedav1alpha1.ScaledObjectSpec{Advanced: &kedav1alpha1.AdvancedConfig{
		ScalingModifiers: kedav1alpha1.ScalingModifiers{Formula: "a + b"},
	}}}
	u, err = render.ToUnstructured(so)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := lookup(u.Object, "spec.advanced.scalingModifiers.formula"); v != "a + b" {
		t.Errorf("a set scalingModifiers was dropped: %v", u.Object)
	}
}
