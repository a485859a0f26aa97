package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/cli"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/localcluster"
)

// The sample worker the --with-keda demo scales from zero.
const (
	demoNamespace = "ml-demo"
	demoWorker    = "celery-worker"
	demoQueue     = "preprocess"
	// demoCooldown replaces the sample's 5 minute cooldown, so that the
	// worker reaches zero while you watch.
	demoCooldown = "15s"
)

// startDemoKEDA starts KEDA and its helpers next to the cluster.
func startDemoKEDA(ctx context.Context, root string, cluster *localcluster.Cluster, s cli.Streams) (*kedaenv.Env, error) {
	k8s, keda := kedaenv.RepoBinDirs(root)
	_, promErr := exec.LookPath("prometheus")
	_, adapterErr := os.Stat(filepath.Join(keda, kedaenv.AdapterBinary))
	opts := kedaenv.Options{Cluster: cluster, K8sBinDir: k8s, KEDABinDir: keda, Prometheus: promErr == nil, Adapter: adapterErr == nil}
	if err := kedaenv.CheckBinaries(opts); err != nil {
		return nil, fmt.Errorf("%w; build them with `make kube-controller-manager keda rabbitmq` (KEDA: about 15 minutes, once)", err)
	}
	// The fake nodes come along when kube-scheduler and kwok are built.
	sim := demoSimulation
	withNodes := opts
	withNodes.Simulation, withNodes.KwokBinDir = &sim, kedaenv.RepoKwokDir(root)
	if err := kedaenv.CheckBinaries(withNodes); err == nil {
		opts = withNodes
		fmt.Fprintf(s.Err, "Simulated nodes: %d GPU nodes (%d x nvidia.com/gpu each), %d CPU nodes (kwok; pods are scheduled by kube-scheduler and Ready %s after they start; no container runs).\n",
			sim.GPUNodes, sim.GPUsPerNode, sim.CPUNodes, sim.ColdStart)
	} else {
		fmt.Fprintf(s.Err, "No simulated nodes (%v): pods stay Pending; `make kube-scheduler kwok` builds them.\n", err)
	}
	fmt.Fprintln(s.Err, "Starting RabbitMQ, kube-controller-manager and KEDA's operator and admission webhooks (about a minute) ...")
	started := time.Now()
	env, err := kedaenv.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, p := range env.Processes() {
		parts = append(parts, fmt.Sprintf("%s pid %d", p.Name, p.PID))
	}
	fmt.Fprintf(s.Err, "KEDA up in %s: %s.\n", time.Since(started).Round(100*time.Millisecond), strings.Join(parts, ", "))
	fmt.Fprintf(s.Err, "RabbitMQ on %s (management API %s, user %s); logs in %s.\n", env.RabbitMQ.AMQPAddr, env.RabbitMQ.ManagementURL, env.RabbitMQ.User, env.Dir)
	if !opts.Prometheus {
		fmt.Fprintln(s.Err, "Prometheus not installed (`make prometheus`): the samples' prometheus triggers will report errors.")
	}
	return env, nil
}

// shortenDemoCooldown sets the sample worker's cooldown to demoCooldown.
func shortenDemoCooldown(ms []localcluster.Manifest) bool {
	for _, m := range ms {
		o := m.Object
		if o.GetKind() == "Deployment" && o.GetNamespace() == demoNamespace && o.GetName() == demoWorker {
			a := o.GetAnnotations()
			a["mlscale.io/cooldown"] = demoCooldown
			a["mlscale.io/polling-interval"] = "2s"
			o.SetAnnotations(a)
			return true
		}
	}
	return false
}

// runKEDAStory declares the samples' queues, waits for KEDA to report each
// KEDA object READY, then shows the sample worker scaled to zero by KEDA and
// woken by messages. With once it returns after the wake-up; otherwise it
// keeps printing changes until ctx ends.
func runKEDAStory(ctx context.Context, env *kedaenv.Env, c client.Client, rows []localcluster.Row, messages int, timeout time.Duration, once bool, s cli.Streams) error {
	rmq := env.RabbitMQ
	for _, r := range rows {
		for _, q := range rabbitQueues(r.KEDA) {
			if err := rmq.DeclareQueue(ctx, q); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(timeout)
	notReady, err := reportKEDAReady(ctx, env, c, rows, deadline, s)
	if err != nil {
		return err
	}

	key := client.ObjectKey{Namespace: demoNamespace, Name: demoWorker}
	fmt.Fprintf(s.Out, "\nWatching Deployment %s (queue %q, cooldown %s): KEDA scales it to 0 while the queue is empty ...\n", key, demoQueue, demoCooldown)
	last := int32(-1)
	published := false
	activated := false
	for {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, key, d); err != nil {
			return fmt.Errorf("reading %s: %w", key, err)
		}
		cur := int32(1)
		if d.Spec.Replicas != nil {
			cur = *d.Spec.Replicas
		}
		if cur != last {
			fmt.Fprintf(s.Out, "  %s  %s spec.replicas = %d\n", time.Now().Format("15:04:05"), demoWorker, cur)
			last = cur
		}
		switch {
		case cur == 0 && !published:
			if err := rmq.Publish(ctx, demoQueue, messages); err != nil {
				return err
			}
			published = true
			fmt.Fprintf(s.Out, "  %s  published %d messages to %q: KEDA activates the worker ...\n", time.Now().Format("15:04:05"), messages, demoQueue)
		case cur >= 1 && published && !activated:
			activated = true
			fmt.Fprintf(s.Out, "  %s  %s woke up from zero (0 -> %d).\n", time.Now().Format("15:04:05"), demoWorker, cur)
			if env.Simulated() {
				if err := closingPods(ctx, c, rows, deadline, once, s); err != nil {
					return err
				}
			}
			if once {
				if notReady > 0 {
					return fmt.Errorf("%d KEDA object(s) not READY", notReady)
				}
				return nil
			}
			fmt.Fprintf(s.Out, "\nPublish more with:\n  curl -u %s:%s -H 'content-type: application/json' -d '{\"properties\":{},\"routing_key\":\"%s\",\"payload\":\"x\",\"payload_encoding\":\"string\"}' %s/api/exchanges/%%2F/amq.default/publish\n",
				rmq.User, rmq.Password, demoQueue, rmq.ManagementURL)
		}
		if once && time.Now().After(deadline) {
			return fmt.Errorf("%s did not scale to zero and back within %s", key, timeout)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// reportKEDAReady waits for each KEDA object's READY condition (until the
// deadline), prints it, and returns how many are not READY.
func reportKEDAReady(ctx context.Context, env *kedaenv.Env, c client.Client, rows []localcluster.Row, deadline time.Time, s cli.Streams) (int, error) {
	if env.Simulated() {
		fmt.Fprintln(s.Out, "\nKEDA (pods run on kwok's fake nodes: scheduled for real, Ready after a cold start, no containers):")
	} else {
		fmt.Fprintln(s.Out, "\nKEDA (no kubelet runs here: scaling shows in spec.replicas, not in pods):")
	}
	notReady := 0
	for _, r := range rows {
		if r.KEDA == nil {
			continue
		}
		status, msg, err := waitKEDAReady(ctx, c, r.KEDA, deadline)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(s.Out, "  %s %s/%s: READY=%s %s\n", localcluster.KEDAKind(r.Workload.GVK.Kind), r.KEDA.GetNamespace(), r.KEDA.GetName(), status, msg)
		if status != string(metav1.ConditionTrue) {
			notReady++
		}
	}
	return notReady, nil
}

// rabbitQueues lists the RabbitMQ queues of a KEDA object's triggers.
func rabbitQueues(obj client.Object) []string {
	_, _, ts := render.KEDASpec(obj)
	var out []string
	for _, t := range ts {
		if q := t.Metadata["queueName"]; t.Type == "rabbitmq" && q != "" && !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// waitKEDAReady polls a KEDA object until its Ready condition is True or
// the deadline passes, and returns the last status and message.
func waitKEDAReady(ctx context.Context, c client.Client, obj client.Object, deadline time.Time) (status, message string, err error) {
	key := client.ObjectKeyFromObject(obj)
	for {
		var conds kedav1alpha1.Conditions
		switch obj.(type) {
		case *kedav1alpha1.ScaledObject:
			so := &kedav1alpha1.ScaledObject{}
			err = c.Get(ctx, key, so)
			conds = so.Status.Conditions
		case *kedav1alpha1.ScaledJob:
			sj := &kedav1alpha1.ScaledJob{}
			err = c.Get(ctx, key, sj)
			conds = sj.Status.Conditions
		default:
			return "", "", fmt.Errorf("%T is not a KEDA object", obj)
		}
		if err != nil && ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		status, message = "Unknown", "(no status yet)"
		if err == nil {
			if r := conds.GetReadyCondition(); r.Status != "" {
				status, message = string(r.Status), r.Message
			}
		}
		if status == string(metav1.ConditionTrue) || time.Now().After(deadline) {
			return status, message, nil
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stopDemoKEDA stops KEDA's processes and reports them.
func stopDemoKEDA(env *kedaenv.Env, s cli.Streams) error {
	procs := env.Processes()
	if err := env.Stop(); err != nil {
		return fmt.Errorf("stopping KEDA: %w", err)
	}
	var parts []string
	for _, p := range procs {
		parts = append(parts, fmt.Sprintf("%s pid %d", p.Name, p.PID))
	}
	fmt.Fprintf(s.Err, "Stopped %s; removed %s.\n", strings.Join(parts, ", "), filepath.Clean(env.Dir))
	return nil
}

var errNoWorker = errors.New("config/samples has no Deployment ml-demo/celery-worker")

// closingPods waits for the woken worker's pods to finish their cold start
// and prints the pods of every KEDA object's workload.
func closingPods(ctx context.Context, c client.Client, rows []localcluster.Row, deadline time.Time, once bool, s cli.Streams) error {
	worker := localcluster.Ref{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Namespace: demoNamespace, Name: demoWorker}
	if err := waitPodsReady(ctx, c, worker, deadline); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "  %s  %s's pods are Ready on the fake nodes.\n", time.Now().Format("15:04:05"), demoWorker)
	if err := printPodsTable(ctx, s.Out, c, rows); err != nil {
		return err
	}
	if !once { // with --once the cluster is about to go
		fmt.Fprintln(s.Out, "\nSee them with: kubectl get nodes; kubectl get pods -A -o wide")
	}
	return nil
}
