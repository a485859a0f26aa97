package e2ekeda

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/kubetest"
)

// The cases of "never silently wrong" where KEDA's own behaviour is the
// point: a running Job survives an edit of its ScaledJob, KEDA takes an
// existing HPA over without a gap, business hours hold replicas through
// KEDA's cron scaler.

// startJobs makes a training Job with the rollout strategy (empty: mlscale's
// default) whose queue holds messages, and returns the Jobs KEDA started.
func startJobs(t *testing.T, ns, queue, rollout string) []batchv1.Job {
	t.Helper()
	ctx := context.Background()
	rmq := suite.KEDA.RabbitMQ
	if err := rmq.DeclareQueue(ctx, queue); err != nil {
		t.Fatal(err)
	}
	if err := rmq.Purge(ctx, queue); err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{"mlscale.io/max-replicas": "3"}
	if rollout != "" {
		extra["mlscale.io/rollout-strategy"] = rollout
	}
	mustKubectl(t, workload("Job", ns, "fine-tune", 0, rabbitAnnotations("training-job", queue, extra)), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledJob", ns, "fine-tune", "Ready", "True")
	if err := rmq.Publish(ctx, queue, 2); err != nil {
		t.Fatal(err)
	}
	var jobs []batchv1.Job
	kubetest.Eventually(t, 2*time.Minute, "KEDA starts Jobs for 2 messages", func() error {
		if jobs = kedaJobs(t, ns); len(jobs) == 0 {
			return fmt.Errorf("no Jobs made by KEDA in %s", ns)
		}
		return nil
	})
	return jobs
}

// editScaledJob raises the training Job's max-replicas, which mlscale
// renders into its ScaledJob, and waits until KEDA has seen the new
// generation of the ScaledJob.
func editScaledJob(t *testing.T, ns string) {
	t.Helper()
	mustKubectl(t, "", "annotate", "--overwrite", "-n", ns, "job/fine-tune", "mlscale.io/max-replicas=4")
	kubetest.Eventually(t, time.Minute, "the ScaledJob has maxReplicaCount 4", func() error {
		u, err := getKEDA(context.Background(), "ScaledJob", ns, "fine-tune")
		if err != nil {
			return err
		}
		if v := u.Object["spec"].(map[string]any)["maxReplicaCount"]; fmt.Sprint(v) != "4" {
			return fmt.Errorf("maxReplicaCount %v", v)
		}
		return nil
	})
}

// alive reports which of the jobs still exist, by uid.
func alive(t *testing.T, ns string, jobs []batchv1.Job) []string {
	t.Helper()
	var out []string
	for _, j := range jobs {
		cur := &batchv1.Job{}
		err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: j.Name}, cur)
		switch {
		case err == nil && cur.UID == j.UID && cur.DeletionTimestamp == nil:
			out = append(out, j.Name)
		case err != nil && !apierrors.IsNotFound(err):
			t.Fatal(err)
		}
	}
	return out
}

// TestRunningJobSurvivesScaledJobEdit: mlscale renders rollout.strategy
// gradual, so editing a training job's annotations (here max-replicas)
// leaves the Jobs KEDA already started running. With
// mlscale.io/rollout-strategy "immediate", KEDA's default, the same edit
// terminates them: the control that shows the first result is KEDA's doing.
func TestRunningJobSurvivesScaledJobEdit(t *testing.T) {
	env(t)
	t.Run("gradual by default", func(t *testing.T) {
		ns := namespace(t, "keda-rollout")
		jobs := startJobs(t, ns, "rollout-gradual", "")
		editScaledJob(t, ns)
		// KEDA reconciles the changed ScaledJob at once; give it ample time
		// to delete what it would delete.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if got := alive(t, ns, jobs); len(got) != len(jobs) {
				t.Fatalf("the ScaledJob edit terminated running Jobs: %d of %d left", len(got), len(jobs))
			}
			time.Sleep(time.Second)
		}
		t.Logf("%d running Job(s) survived the edit of their ScaledJob", len(jobs))
	})
	t.Run("immediate on request terminates them", func(t *testing.T) {
		ns := namespace(t, "keda-rollout-imm")
		jobs := startJobs(t, ns, "rollout-immediate", "immediate")
		editScaledJob(t, ns)
		kubetest.Eventually(t, time.Minute, "KEDA deletes the running Jobs on the edit", func() error {
			if got := alive(t, ns, jobs); len(got) > 0 {
				return fmt.Errorf("still running: %v", got)
			}
			return nil
		})
	})
}

// legacyHPA is a user's HPA on Deployment name, made before mlscale.
func legacyHPA(ns, name string) string {
	return fmt.Sprintf(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: %[2]s-legacy
  namespace: %[1]s
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %[2]s}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 60}
`, ns, name)
}

// TestAdoptHPA: a Deployment scaled by a user's HPA opts in to mlscale with
// mlscale.io/adopt-hpa. mlscale's policies admit it, KEDA's webhook admits
// the ScaledObject, and KEDA takes the same HPA over: it never disappears
// (same uid throughout), it ends up owned by the ScaledObject, and the
// Deployment never drops below the HPA's minimum meanwhile.
func TestAdoptHPA(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "keda-adopt")
	plain := workload("Deployment", ns, "api", 2, map[string]string{"team": "search"})
	mustKubectl(t, plain, "apply", "-f", "-")
	mustKubectl(t, legacyHPA(ns, "api"), "apply", "-f", "-")
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	key := client.ObjectKey{Namespace: ns, Name: "api-legacy"}
	if err := suite.Client.Get(ctx, key, hpa); err != nil {
		t.Fatal(err)
	}
	uid := hpa.UID

	// Watch the HPA and the Deployment through the take-over.
	stop := make(chan struct{})
	done := make(chan []string)
	go func() {
		var problems []string
		for {
			select {
			case <-stop:
				done <- problems
				return
			case <-time.After(200 * time.Millisecond):
			}
			cur := &autoscalingv2.HorizontalPodAutoscaler{}
			if err := suite.Client.Get(ctx, key, cur); err != nil || cur.UID != uid {
				problems = append(problems, fmt.Sprintf("HPA gone or replaced: %v (uid %s)", err, cur.UID))
			}
			if r, err := replicas(ns, "api"); err == nil && r < 2 {
				problems = append(problems, fmt.Sprintf("spec.replicas fell to %d", r))
			}
		}
	}()
	annotations := map[string]string{
		"team": "search", "mlscale.io/autoscale": "true", "mlscale.io/cpu-target": "60",
		"mlscale.io/min-replicas": "2", "mlscale.io/max-replicas": "5", "mlscale.io/adopt-hpa": "api-legacy",
	}
	mustKubectl(t, workload("Deployment", ns, "api", 2, annotations), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "api", "Ready", "True")
	kubetest.Eventually(t, time.Minute, "KEDA owns the adopted HPA", func() error {
		if err := suite.Client.Get(ctx, key, hpa); err != nil {
			return err
		}
		for _, r := range hpa.OwnerReferences {
			if r.Kind == "ScaledObject" && r.Name == "api" {
				return nil
			}
		}
		return fmt.Errorf("owners %+v", hpa.OwnerReferences)
	})
	close(stop)
	if problems := <-done; len(problems) > 0 {
		t.Errorf("the take-over had a gap: %s", strings.Join(slices.Compact(problems), "; "))
	}
	if hpa.UID != uid {
		t.Errorf("the HPA was replaced (uid %s, was %s)", hpa.UID, uid)
	}
	if _, err := kedaHPA(ns, "api"); !apierrors.IsNotFound(err) {
		t.Errorf("KEDA made an HPA of its own beside the adopted one: %v", err)
	}
	t.Logf("KEDA took HPA %s over (uid %s unchanged); owners %v", key, uid, hpa.OwnerReferences)
}

// TestBusinessHoursHoldReplicas: business hours without the predictor
// render KEDA's cron scaler. In business hours (here: every day, all day)
// KEDA holds min-replicas; with hours that exclude now, the workload
// scales to zero.
func TestBusinessHoursHoldReplicas(t *testing.T) {
	env(t)
	ns := namespace(t, "keda-hours")
	if err := suite.KEDA.RabbitMQ.DeclareQueue(context.Background(), "hours-tasks"); err != nil {
		t.Fatal(err)
	}
	annotations := rabbitAnnotations("celery-worker", "hours-tasks", map[string]string{
		"mlscale.io/scale-to-zero": "true", "mlscale.io/min-replicas": "2", "mlscale.io/cooldown": "5s",
		"mlscale.io/business-hours": "Mon-Sun 00:00-24:00 UTC",
	})
	mustKubectl(t, workload("Deployment", ns, "worker", 0, annotations), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Ready", "True")
	waitReplicas(t, 2*time.Minute, ns, "worker", "== 2 (held by the business hours)", func(r int32) bool { return r == 2 })

	// Hours that never include now: an hour that ended a while ago.
	h := (time.Now().UTC().Hour() + 12) % 24
	closed := maps.Clone(annotations)
	closed["mlscale.io/business-hours"] = fmt.Sprintf("Mon-Sun %02d:00-%02d:30 UTC", h, h)
	mustKubectl(t, workload("Deployment", ns, "worker", 2, closed), "apply", "-f", "-")
	waitReplicas(t, 2*time.Minute, ns, "worker", "== 0 (outside the business hours)", func(r int32) bool { return r == 0 })
}
