package e2ekeda

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/kubetest"
)

// TestSamplesReady applies config/samples with kubectl: mlscale's reconciler
// creates each KEDA object (admitted by KEDA's own webhook, registered with
// failurePolicy Fail), and KEDA's operator builds each one's scalers against
// the real RabbitMQ and Prometheus and reports READY=True.
func TestSamplesReady(t *testing.T) {
	env(t)
	mustKubectl(t, "", "apply", "-f", filepath.Join(suite.Root, "config", "samples")+"/")
	t.Cleanup(func() { _, _ = kubectl(t, "", "delete", "namespace", "ml-demo", "--wait=false") })
	ctx := context.Background()
	objs := renderedSamples(t)
	if len(objs) < 5 {
		t.Fatalf("only %d KEDA objects in the golden files", len(objs))
	}
	// The queues the samples name (a missing queue is a trigger error).
	queues := 0
	for _, o := range objs {
		triggers, _, _ := unstructured.NestedSlice(o.Object, "spec", "triggers")
		for _, tr := range triggers {
			if q, _, _ := unstructured.NestedString(tr.(map[string]any), "metadata", "queueName"); q != "" {
				if err := suite.KEDA.RabbitMQ.DeclareQueue(ctx, q); err != nil {
					t.Fatal(err)
				}
				queues++
			}
		}
	}
	if queues == 0 {
		t.Fatal("no RabbitMQ queue in the samples")
	}
	for _, o := range objs {
		// Ready=True and Active decided (True or False, not Unknown): the
		// scale loop has read the triggers at least once without error.
		kubetest.Eventually(t, 3*time.Minute, fmt.Sprintf("%s %s/%s READY=True after a trigger check", o.GetKind(), o.GetNamespace(), o.GetName()), func() error {
			u, err := getKEDA(ctx, o.GetKind(), o.GetNamespace(), o.GetName())
			if err != nil {
				return err
			}
			if s, msg := condition(u, "Ready"); s != "True" {
				return fmt.Errorf("Ready=%q: %s", s, msg)
			}
			if s, msg := condition(u, "Active"); s != "True" && s != "False" {
				return fmt.Errorf("Active=%q: %s", s, msg)
			}
			return nil
		})
		if o.GetKind() == "ScaledObject" {
			if _, err := kedaHPA(o.GetNamespace(), o.GetName()); err != nil {
				t.Errorf("KEDA's HPA for ScaledObject %s: %v", o.GetName(), err)
			}
		}
		t.Logf("%s %s/%s: READY=True", o.GetKind(), o.GetNamespace(), o.GetName())
	}
	// KEDA's webhook is in the admission chain: it refuses what only it
	// checks (a cpu trigger on a container without a cpu request).
	out, err := kubectl(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: no-requests, namespace: ml-demo}
spec:
  selector: {matchLabels: {app: no-requests}}
  template:
    metadata: {labels: {app: no-requests}}
    spec: {containers: [{name: app, image: registry.example/app:1}]}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: no-requests, namespace: ml-demo}
spec:
  scaleTargetRef: {name: no-requests}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "50"}}]
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "doesn't have the cpu request defined") {
		t.Errorf("a ScaledObject KEDA's webhook must refuse: err = %v, out = %s", err, out)
	}
}

// renderedSamples reads the golden files of internal/render: the KEDA
// objects mlscale renders from config/samples.
func renderedSamples(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(suite.Root, "internal", "render", "testdata", "golden", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

// TestMinReplicasRaisedByHPA: a celery-worker Deployment with min-replicas
// 2 and 1 replica; KEDA creates its HPA with min 2 and the HPA controller
// (kube-controller-manager) raises the Deployment to 2.
func TestMinReplicasRaisedByHPA(t *testing.T) {
	env(t)
	ns := namespace(t, "keda-min")
	if err := suite.KEDA.RabbitMQ.DeclareQueue(context.Background(), "min-tasks"); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, workload("Deployment", ns, "worker", 1, rabbitAnnotations("celery-worker", "min-tasks", map[string]string{
		"mlscale.io/min-replicas": "2",
	})), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Ready", "True")
	kubetest.Eventually(t, time.Minute, "KEDA's HPA keda-hpa-worker with minReplicas 2", func() error {
		hpa, err := kedaHPA(ns, "worker")
		if err != nil {
			return err
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != 2 {
			return fmt.Errorf("minReplicas %v", hpa.Spec.MinReplicas)
		}
		return nil
	})
	waitReplicas(t, 2*time.Minute, ns, "worker", "== 2 (raised by the HPA controller)", func(r int32) bool { return r == 2 })
	hpa, err := kedaHPA(ns, "worker")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HPA %s: desiredReplicas %d, conditions %s", hpa.Name, hpa.Status.DesiredReplicas, hpaConditions(hpa))
}

func hpaConditions(hpa *autoscalingv2.HorizontalPodAutoscaler) string {
	var parts []string
	for _, c := range hpa.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, "; ")
}

// TestScaleToZeroAndActivation: a celery-worker (min 0) on an empty queue
// is scaled to 0 by KEDA after its cooldown; messages published to the
// queue make KEDA activate it, 0 -> 1.
func TestScaleToZeroAndActivation(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "keda-zero")
	queue := "zero-tasks"
	rmq := suite.KEDA.RabbitMQ
	if err := rmq.DeclareQueue(ctx, queue); err != nil {
		t.Fatal(err)
	}
	if err := rmq.Purge(ctx, queue); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, workload("Deployment", ns, "worker", 1, rabbitAnnotations("celery-worker", queue, map[string]string{
		"mlscale.io/cooldown": "5s",
	})), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Ready", "True")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Active", "False")
	waitReplicas(t, 2*time.Minute, ns, "worker", "== 0 (scaled to zero by KEDA)", func(r int32) bool { return r == 0 })
	if err := rmq.Publish(ctx, queue, 5); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Active", "True")
	got := waitReplicas(t, 2*time.Minute, ns, "worker", ">= 1 (activated by KEDA)", func(r int32) bool { return r >= 1 })
	t.Logf("5 messages in %s: worker scaled 0 -> %d", queue, got)

	// Asleep at zero again, the worker opts out: KEDA puts back the one
	// replica it found (restoreToOriginalReplicaCount), so it is not left
	// at zero with nothing to wake it; where KEDA's restore loses to its
	// own last scale to zero (a conflict it logs and ignores), mlscale's
	// reconciler puts it back (ReplicasRestored).
	if err := rmq.Purge(ctx, queue); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, 2*time.Minute, ns, "worker", "== 0 (idle again)", func(r int32) bool { return r == 0 })
	mustKubectl(t, "", "annotate", "-n", ns, "deployment", "worker", "mlscale.io/autoscale=false", "--overwrite")
	waitReplicas(t, 2*time.Minute, ns, "worker", "== 1 (restored after the opt-out)", func(r int32) bool { return r == 1 })
}

// TestTrainingJobScaledJob: a training Job becomes a ScaledJob (the Job
// itself suspended by admission); messages in its queue make KEDA create
// Jobs from the template.
func TestTrainingJobScaledJob(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "keda-train")
	queue := "train-requests"
	rmq := suite.KEDA.RabbitMQ
	if err := rmq.DeclareQueue(ctx, queue); err != nil {
		t.Fatal(err)
	}
	if err := rmq.Purge(ctx, queue); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, workload("Job", ns, "fine-tune", 0, rabbitAnnotations("training-job", queue, map[string]string{
		"mlscale.io/max-replicas": "3",
	})), "apply", "-f", "-")
	job := &batchv1.Job{}
	if err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fine-tune"}, job); err != nil {
		t.Fatal(err)
	}
	if job.Spec.Suspend == nil || !*job.Spec.Suspend {
		t.Errorf("the template Job is not suspended: spec.suspend = %v", job.Spec.Suspend)
	}
	waitCondition(t, 2*time.Minute, "ScaledJob", ns, "fine-tune", "Ready", "True")
	if n := len(kedaJobs(t, ns)); n != 0 {
		t.Fatalf("%d Jobs before any message", n)
	}
	if err := rmq.Publish(ctx, queue, 2); err != nil {
		t.Fatal(err)
	}
	var jobs []batchv1.Job
	kubetest.Eventually(t, 2*time.Minute, "KEDA creates Jobs for 2 messages", func() error {
		jobs = kedaJobs(t, ns)
		if len(jobs) == 0 {
			return fmt.Errorf("no Jobs made by KEDA in %s", ns)
		}
		return nil
	})
	for _, j := range jobs {
		owner := ""
		for _, r := range j.OwnerReferences {
			owner += r.Kind + "/" + r.Name
		}
		if owner != "ScaledJob/fine-tune" {
			t.Errorf("Job %s owned by %q, want ScaledJob/fine-tune", j.Name, owner)
		}
	}
	t.Logf("2 messages: KEDA created %d Job(s)", len(jobs))

	// Opting out deletes the ScaledJob but not the training runs it
	// started: the garbage collector orphans them.
	mustKubectl(t, "", "annotate", "-n", ns, "job", "fine-tune", "mlscale.io/autoscale=false", "--overwrite")
	kubetest.Eventually(t, 2*time.Minute, "the ScaledJob deleted after the opt-out", func() error {
		err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fine-tune"}, &kedav1alpha1.ScaledJob{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("ScaledJob still there (get: %w)", err)
	})
	for _, j := range jobs {
		got := &batchv1.Job{}
		if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(&j), got); err != nil {
			t.Errorf("Job %s started by the ScaledJob is gone after the opt-out: %v", j.Name, err)
			continue
		}
		if len(got.OwnerReferences) != 0 {
			t.Errorf("Job %s still has owners %v", j.Name, got.OwnerReferences)
		}
	}
}

// kedaJobs lists the Jobs in namespace made by KEDA (not the template).
func kedaJobs(t *testing.T, namespace string) []batchv1.Job {
	t.Helper()
	var list batchv1.JobList
	if err := suite.Client.List(context.Background(), &list, client.InNamespace(namespace), client.HasLabels{"scaledjob.keda.sh/name"}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// TestDemoWithKEDA runs `mlscale-demo --with-keda --once` as a user would
// (a second control plane and KEDA of its own): every sample's KEDA object
// is READY, and the sample worker is scaled to zero and woken by messages.
func TestDemoWithKEDA(t *testing.T) {
	env(t)
	run := kedaenv.RunDemo(t, suite.Root)
	out := run.Stdout
	for _, want := range []string{"READY=True", "celery-worker spec.replicas = 0", "woke up from zero"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "READY=False") || strings.Contains(out, "READY=Unknown") {
		t.Errorf("a KEDA object is not READY")
	}
	if !strings.Contains(run.Stderr, "Stopped ") {
		t.Errorf("stderr does not report the stopped processes")
	}
}

// TestQueueGrowthScalesUp: with KEDA's metrics adapter registered as the
// external.metrics.k8s.io APIService, the HPA controller reads the queue
// length through it: 30 messages with a target of 5 per replica raise a
// 1-replica worker above its minimum.
func TestQueueGrowthScalesUp(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "keda-grow")
	queue := "grow-tasks"
	rmq := suite.KEDA.RabbitMQ
	if err := rmq.DeclareQueue(ctx, queue); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, workload("Deployment", ns, "worker", 1, rabbitAnnotations("celery-worker", queue, map[string]string{
		"mlscale.io/min-replicas":  "1",
		"mlscale.io/max-replicas":  "10",
		"mlscale.io/queue-target":  "5",
		"mlscale.io/scale-to-zero": "false",
	})), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Ready", "True")
	if err := rmq.Publish(ctx, queue, 30); err != nil {
		t.Fatal(err)
	}
	got := waitReplicas(t, 3*time.Minute, ns, "worker", ">= 2 (raised by the HPA from the queue length)", func(r int32) bool { return r >= 2 })
	hpa, err := kedaHPA(ns, "worker")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("30 messages, target 5: worker 1 -> %d; HPA %s", got, hpaConditions(hpa))
}
