package e2eloop

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/webhook"
)

// The burst of scenario 4: 120 workloads created opted in (max-replicas 5),
// then 40 of them applied again with max-replicas 7, 20 opted out and 20
// deleted: 200 applies and deletes, 8 at a time.
const (
	burstCreate  = 120
	burstUpdate  = 40
	burstOptOut  = 20
	burstDelete  = 20
	burstWorkers = 8
	// mlscale is killed when this many operations have been sent, and
	// started again at burstRestartAt.
	burstKillAt    = 80
	burstRestartAt = 150
)

// burstOp is one apply or delete of the burst.
type burstOp struct {
	name   string
	delete bool
	optIn  bool
	max    int
}

// burstPlan returns the two waves of the burst (each workload's operations
// in order: its create in the first wave, its follow-up in the second) and
// what each workload must end as.
func burstPlan() (waves [2][]burstOp, final map[string]burstOp) {
	final = map[string]burstOp{}
	for i := range burstCreate {
		op := burstOp{name: fmt.Sprintf("burst-%03d", i), optIn: true, max: 5}
		waves[0] = append(waves[0], op)
		final[op.name] = op
	}
	for i := range burstUpdate + burstOptOut + burstDelete {
		op := burstOp{name: fmt.Sprintf("burst-%03d", i)}
		switch {
		case i < burstUpdate:
			op.optIn, op.max = true, 7
		case i < burstUpdate+burstOptOut:
		default:
			op.delete = true
		}
		waves[1] = append(waves[1], op)
		final[op.name] = op
	}
	return waves, final
}

// burstApply is the apply configuration of a burst workload: a CPU worker
// scaled by a query that returns nothing (so KEDA keeps it at zero), or the
// same Deployment without mlscale's annotations.
func burstApply(ns string, op burstOp) *appsv1ac.DeploymentApplyConfiguration {
	labels := map[string]string{"app": op.name}
	d := appsv1ac.Deployment(op.name, ns).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(0).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels)).
			WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).
				WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().
					WithName("worker").WithImage("registry.example/worker:1").
					WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"),
					}))))))
	if op.optIn {
		d.WithAnnotations(map[string]string{
			"mlscale.io/autoscale":        "true",
			"mlscale.io/min-replicas":     "0",
			"mlscale.io/max-replicas":     strconv.Itoa(op.max),
			"mlscale.io/prometheus-query": fmt.Sprintf(`sum(burst_backlog{workload=%q})`, op.name),
		})
	}
	return d
}

// TestWebhookOutageDuringBurst is scenario 4: 200 applies and deletes of
// opted-in workloads, during which mlscale (`mlscale webhook`, a process of
// its own here) is killed with SIGKILL and, later in the burst, started
// again. Afterwards every opted-in workload has its ScaledObject, owned by
// it and rendered from its current annotations (none stale); the opted-out
// and deleted ones have none (none orphaned).
func TestWebhookOutageDuringBurst(t *testing.T) {
	env(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "mlscale")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mlscale")
	build.Dir = suite.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/mlscale: %v\n%s", err, out)
	}
	ns := namespace(t, "loop-burst", true)
	cs, err := kubernetes.NewForConfig(suite.Cluster.Config)
	if err != nil {
		t.Fatal(err)
	}

	// Hand the webhook address over from the in-process mlscale to the process.
	if err := suite.StopMlscale(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := suite.StartMlscale(ctx); err != nil {
			t.Errorf("starting the in-process mlscale again: %v", err)
		}
	}()
	first, err := suite.KEDA.StartMlscaleWebhook(ctx, "mlscale-webhook-1", bin)
	if err != nil {
		t.Fatal(err)
	}
	var second *kedaenv.MlscaleProcess
	var lifecycle sync.WaitGroup
	var lifecycleErr error
	var sent atomic.Int32
	onSent := func() {
		switch sent.Add(1) {
		case burstKillAt:
			lifecycle.Go(func() {
				err := first.Kill()
				t.Logf("after %d operations: killed mlscale (pid %d) with SIGKILL: %v", burstKillAt, first.PID(), err)
				lifecycleErr = errors.Join(lifecycleErr, err)
			})
		case burstRestartAt:
			lifecycle.Go(func() {
				start := time.Now()
				p, err := suite.KEDA.StartMlscaleWebhook(ctx, "mlscale-webhook-2", bin)
				if err == nil {
					second = p
					t.Logf("after %d operations: mlscale started again (pid %d), serving in %s", burstRestartAt, p.PID(), time.Since(start).Round(time.Millisecond))
				}
				lifecycleErr = errors.Join(lifecycleErr, err)
			})
		}
	}
	waves, final := burstPlan()
	start := time.Now()
	for _, wave := range waves {
		runBurst(t, cs, ns, wave, onSent)
		lifecycle.Wait()
	}
	if lifecycleErr != nil {
		t.Fatal(lifecycleErr)
	}
	t.Logf("burst of %d operations sent in %s", sent.Load(), time.Since(start).Round(time.Millisecond))
	if second == nil {
		t.Fatal("mlscale was not started again")
	}

	converge := time.Now()
	kubetest.Eventually(t, 3*time.Minute, "every opted-in workload has a current ScaledObject, no other has one", func() error {
		return checkConverged(ctx, ns, final)
	})
	t.Logf("converged %s after the burst: %d ScaledObjects, none stale or orphaned", time.Since(converge).Round(time.Millisecond), burstCreate-burstOptOut-burstDelete)

	// Hand back to the in-process mlscale (deferred above), without the
	// burst's workloads and KEDA objects.
	if err := second.Stop(); err != nil {
		t.Error(err)
	}
	for _, op := range waves[0] {
		err := cs.AppsV1().Deployments(ns).Delete(ctx, op.name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
}

// runBurst sends the operations burstWorkers at a time and fails the test
// on any error; onSent is called after each.
func runBurst(t *testing.T, cs kubernetes.Interface, ns string, ops []burstOp, onSent func()) {
	t.Helper()
	work := make(chan burstOp)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range burstWorkers {
		wg.Go(func() {
			for op := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				var err error
				if op.delete {
					err = cs.AppsV1().Deployments(ns).Delete(ctx, op.name, metav1.DeleteOptions{})
				} else {
					_, err = cs.AppsV1().Deployments(ns).Apply(ctx, burstApply(ns, op), metav1.ApplyOptions{FieldManager: "e2eloop-burst", Force: true})
				}
				cancel()
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s (delete %v): %w", op.name, op.delete, err))
					mu.Unlock()
				}
				onSent()
			}
		})
	}
	for _, op := range ops {
		work <- op
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d operations of the burst failed: %v", len(errs), errors.Join(errs...))
	}
}

// checkConverged returns nil when the ScaledObjects in ns are exactly those
// of the final opted-in workloads, each owned by its Deployment and with the
// rendered-hash of its current annotations; any other is being deleted.
func checkConverged(ctx context.Context, ns string, final map[string]burstOp) error {
	var sos kedav1alpha1.ScaledObjectList
	if err := suite.Client.List(ctx, &sos, client.InNamespace(ns)); err != nil {
		return err
	}
	byName := map[string]*kedav1alpha1.ScaledObject{}
	for i := range sos.Items {
		so := &sos.Items[i]
		op, ok := final[so.Name]
		if !ok || op.delete || !op.optIn {
			if so.DeletionTimestamp != nil {
				// Deleted (by mlscale on opt-out, by the garbage
				// collector with its Deployment): KEDA's finalizer
				// removes it at the operator's pace.
				continue
			}
			return fmt.Errorf("orphaned ScaledObject %s (workload deleted %v, opted in %v)", so.Name, op.delete, op.optIn)
		}
		if so.DeletionTimestamp != nil {
			return fmt.Errorf("the ScaledObject of opted-in Deployment %s is being deleted", so.Name)
		}
		byName[so.Name] = so
	}
	cfg := webhook.DefaultConfig()
	for name, op := range final {
		d := &appsv1.Deployment{}
		err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)
		switch {
		case op.delete && apierrors.IsNotFound(err):
			continue
		case op.delete:
			return fmt.Errorf("deleted Deployment %s still there: %w", name, err)
		case err != nil:
			return err
		case !op.optIn:
			continue
		}
		so := byName[name]
		if so == nil {
			return fmt.Errorf("opted-in Deployment %s has no ScaledObject", name)
		}
		if !metav1.IsControlledBy(so, d) {
			return fmt.Errorf("ScaledObject %s is not controlled by the current Deployment (uid %s): owners %v", name, d.UID, so.OwnerReferences)
		}
		w, err := workload.FromObject(d)
		if err != nil {
			return err
		}
		want, err := render.Workload(w, cfg.Facts)
		if err != nil {
			return fmt.Errorf("rendering %s: %w", name, err)
		}
		if got := so.Annotations[intent.KeyRenderedHash]; got != want.Hash {
			return fmt.Errorf("stale ScaledObject %s: rendered-hash %s, the current annotations render %s", name, got, want.Hash)
		}
		if m := ptr.Deref(so.Spec.MaxReplicaCount, 0); m != int32(op.max) {
			return fmt.Errorf("stale ScaledObject %s: maxReplicaCount %d, want %d", name, m, op.max)
		}
	}
	return nil
}
