package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mlscale/mlscale/test/crdschema"
	"github.com/mlscale/mlscale/test/kubetest"
)

// startAPIServer starts kube-apiserver and etcd (bin/k8s or
// KUBEBUILDER_ASSETS) with KEDA's CRDs for one test, stopped when it ends.
// It fails, not skips, without them, as the other envtest suites do.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	assets, err := kubetest.AssetsDir()
	if err != nil {
		t.Fatalf("no control plane (run `make control-plane`): %v", err)
	}
	crds, err := crdschema.KEDACRDDir("")
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return cfg
}

// startAPIServerClient is startAPIServer with a client of the status
// command's scheme.
func startAPIServerClient(t *testing.T) (*rest.Config, client.Client) {
	t.Helper()
	cfg := startAPIServer(t)
	scheme, err := statusScheme()
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, k8s
}

// writeKubeconfig writes a kubeconfig for cfg with one context per
// namespace given (named after it), the first current.
func writeKubeconfig(t *testing.T, cfg *rest.Config, namespaces ...string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	for _, ns := range namespaces {
		kc.Contexts[ns] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: ns}
	}
	kc.CurrentContext = namespaces[0]
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStatusAgainstAPIServer creates workloads, their KEDA objects with
// status conditions (through the status subresource, as KEDA writes them),
// and the Events mlscale records (events.k8s.io/v1, as its recorders write
// them) in a real API server, and reads them back with `mlscale status`.
func TestStatusAgainstAPIServer(t *testing.T) {
	cfg, k8s := startAPIServerClient(t)
	ctx := context.Background()
	create := func(obj client.Object) {
		t.Helper()
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
	for _, ns := range []string{"ml", "train", "empty"} {
		kubetest.Namespace(t, k8s, ns, nil)
	}
	kubeconfig := writeKubeconfig(t, cfg, "ml", "train", "empty")

	pod := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c"}}},
	}
	// ml: a served model with its ScaledObject, a prediction and Events; a
	// StatefulSet whose annotations do not render; a workload not opted in.
	prediction := `{"time":"` + time.Now().UTC().Format(time.RFC3339) + `","floor":2,"mode":"predicting","reason":"rise","lookahead":"15m","capacityPerReplica":40,"confidence":0.91,"evaluated":30}`
	llm := &appsv1.Deployment{
		ObjectMeta: optedIn("ml", "llm", "", "mlscale.io/predicted-floor", "2", "mlscale.io/prediction", prediction),
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: pod.Labels}, Template: pod},
	}
	create(llm)
	llm.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2}
	if err := k8s.Status().Update(ctx, llm); err != nil {
		t.Fatal(err)
	}
	create(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "plain"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: pod.Labels}, Template: pod},
	})
	broken := &appsv1.StatefulSet{
		ObjectMeta: optedIn("ml", "broken", "", "mlscale.io/max-replicas", "abc"),
		Spec:       appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: pod.Labels}, Template: pod},
	}
	create(broken)
	so := &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "llm"},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef:  &kedav1alpha1.ScaleTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: "llm"},
			MinReplicaCount: ptr.To[int32](2), MaxReplicaCount: ptr.To[int32](4),
			Triggers: []kedav1alpha1.ScaleTriggers{{Type: "cpu", MetricType: autoscalingv2.UtilizationMetricType, Metadata: map[string]string{"value": "60"}}},
		},
	}
	create(so)
	so.Status.Conditions = kedav1alpha1.Conditions{
		{Type: kedav1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "ScaledObjectReady", Message: "ScaledObject is defined correctly and is ready for scaling"},
		{Type: kedav1alpha1.ConditionActive, Status: metav1.ConditionFalse, Reason: "ScalerNotActive", Message: "Scaling is not performed because triggers are not active"},
	}
	if err := k8s.Status().Update(ctx, so); err != nil {
		t.Fatal(err)
	}
	now := metav1.NewMicroTime(time.Now())
	record := func(regarding client.Object, kind, reason, note string) {
		t.Helper()
		create(&eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: regarding.GetNamespace(), GenerateName: regarding.GetName() + "-"},
			EventTime:  now, ReportingController: "mlscale", ReportingInstance: "mlscale-test",
			Action: "Test", Type: corev1.EventTypeWarning, Reason: reason, Note: note,
			Regarding: corev1.ObjectReference{Kind: kind, Namespace: regarding.GetNamespace(), Name: regarding.GetName(), UID: regarding.GetUID()},
		})
	}
	record(llm, "Deployment", "TriggerQueryEmpty", "trigger gpu reads no series")
	record(llm, "Deployment", "ScaledObjectUpdated", "not a reason status shows")
	record(so, "ScaledObject", "PolicyViolation", "ScaledObject ml/llm and HPA ml/llm-hpa scale the same Deployment (enforcement action: audit)")
	record(broken, "StatefulSet", "RenderFailed", `mlscale: StatefulSet ml/broken: mlscale.io/max-replicas: "abc" is not a whole number`)

	// train: a training Job with its ScaledJob, which runs one Job.
	jobSpec := batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: pod.Spec.Containers}}}
	create(&batchv1.Job{ObjectMeta: optedIn("train", "fine-tune", ""), Spec: *jobSpec.DeepCopy()})
	create(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "train", Name: "fine-tune-x7k2p", Labels: map[string]string{kedaJobLabel: "fine-tune"}}, Spec: *jobSpec.DeepCopy()})
	sj := &kedav1alpha1.ScaledJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "train", Name: "fine-tune"},
		Spec: kedav1alpha1.ScaledJobSpec{
			JobTargetRef:    &jobSpec,
			MaxReplicaCount: ptr.To[int32](4),
			Triggers:        []kedav1alpha1.ScaleTriggers{{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs", "value": "1", "hostFromEnv": "AMQP"}}},
		},
	}
	create(sj)
	sj.Status.Conditions = kedav1alpha1.Conditions{
		{Type: kedav1alpha1.ConditionReady, Status: metav1.ConditionTrue},
		{Type: kedav1alpha1.ConditionActive, Status: metav1.ConditionTrue},
	}
	if err := k8s.Status().Update(ctx, sj); err != nil {
		t.Fatal(err)
	}

	status := func(t *testing.T, args ...string) result {
		t.Helper()
		r := runCLI(t, "", append([]string{"status", "--kubeconfig", kubeconfig}, args...)...)
		if r.Code != ExitOK {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Out, r.ErrOut)
		}
		return r
	}
	// lines splits a table into its rows' cells.
	lines := func(out string) [][]string {
		var rows [][]string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			rows = append(rows, regexp.MustCompile(`\s{3,}`).Split(l, -1))
		}
		return rows
	}
	check := func(t *testing.T, got [][]string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d: %q", len(got), len(want), got)
		}
		for i, w := range want {
			if g := strings.Join(got[i], "|"); g != w {
				t.Errorf("line %d:\n got %s\nwant %s", i, g, w)
			}
		}
	}

	t.Run("the context's namespace", func(t *testing.T) {
		r := status(t)
		check(t, lines(r.Out),
			"WORKLOAD|KEDA|READY|ACTIVE|MIN|MAX|REPLICAS|FLOOR",
			"Deployment/llm|ScaledObject/llm|True|False|2|4|3|2",
			"StatefulSet/broken|<none>|-|-|-|-|0|-")
		if r.ErrOut != "" {
			t.Errorf("stderr: %s", r.ErrOut)
		}
	})
	t.Run("another context", func(t *testing.T) {
		check(t, lines(status(t, "--context", "train").Out),
			"WORKLOAD|KEDA|READY|ACTIVE|MIN|MAX|REPLICAS|FLOOR",
			"Job/fine-tune|ScaledJob/fine-tune|True|True|0|4|1|-")
	})
	t.Run("-n", func(t *testing.T) {
		check(t, lines(status(t, "--context", "train", "-n", "ml").Out)[1:],
			"Deployment/llm|ScaledObject/llm|True|False|2|4|3|2",
			"StatefulSet/broken|<none>|-|-|-|-|0|-")
	})
	t.Run("-A -o wide", func(t *testing.T) {
		got := lines(status(t, "-A", "-o", "wide").Out)
		// The ages and the messages (cut to fit) are checked apart.
		wide := []struct{ prediction, event, violations string }{
			{`^predicting: rise, confidence 0\.91, \d+s ago$`, `^TriggerQueryEmpty \d+s ago: trigger gpu reads no series$`, `^ScaledObject/llm: ScaledObject ml/llm and HPA ml/llm-hpa scale the s.*\.\.\.$`},
			{`^-$`, `^RenderFailed \d+s ago: mlscale: StatefulSet ml/broken: mlscale\.io/max-.*\.\.\.$`, `^-$`},
			{`^-$`, `^-$`, `^-$`},
		}
		for i, w := range wide {
			if len(got) < i+2 || len(got[i+1]) != 12 {
				t.Fatalf("line %d: %q", i+1, got)
			}
			for j, re := range []string{w.prediction, w.event, w.violations} {
				if cell := got[i+1][9+j]; !regexp.MustCompile(re).MatchString(cell) {
					t.Errorf("line %d, %s: %q does not match %s", i+1, got[0][9+j], cell, re)
				}
				got[i+1][9+j] = "..."
			}
		}
		check(t, got,
			"NAMESPACE|WORKLOAD|KEDA|READY|ACTIVE|MIN|MAX|REPLICAS|FLOOR|PREDICTION|LAST EVENT|VIOLATIONS",
			"ml|Deployment/llm|ScaledObject/llm|True|False|2|4|3|2|...|...|...",
			"ml|StatefulSet/broken|<none>|-|-|-|-|0|-|...|...|...",
			"train|Job/fine-tune|ScaledJob/fine-tune|True|True|0|4|1|-|...|...|...")
	})
	t.Run("-o json", func(t *testing.T) {
		var rows []statusRow
		r := status(t, "-o", "json")
		if err := json.Unmarshal([]byte(r.Out), &rows); err != nil {
			t.Fatalf("%v:\n%s", err, r.Out)
		}
		if len(rows) != 2 {
			t.Fatalf("%d rows, want 2:\n%s", len(rows), r.Out)
		}
		l := rows[0]
		if l.Name != "llm" || l.KEDA == nil || l.KEDA.Ready != "True" || l.KEDA.Active != "False" || *l.DesiredReplicas != 3 || *l.ReadyReplicas != 2 || compactJSON(t, l.Prediction) != prediction {
			t.Errorf("llm: %s", r.Out)
		}
		if l.LastEvent == nil || l.LastEvent.Reason != "TriggerQueryEmpty" || l.LastEvent.Count != 1 || time.Since(l.LastEvent.Time) > time.Minute {
			t.Errorf("llm's last event: %+v", l.LastEvent)
		}
		if len(l.Violations) != 1 || l.Violations[0].Object != "ScaledObject/llm" || !strings.HasSuffix(l.Violations[0].Message, "(enforcement action: audit)") {
			t.Errorf("llm's violations: %+v", l.Violations)
		}
		if b := rows[1]; b.Name != "broken" || b.KEDA != nil || b.LastEvent == nil || b.LastEvent.Reason != "RenderFailed" || len(b.Violations) != 0 {
			t.Errorf("broken: %+v", b)
		}
	})
	t.Run("nothing opted in", func(t *testing.T) {
		r := status(t, "--context", "empty")
		if r.Out != "" || r.ErrOut != "No opted-in workloads (mlscale.io/autoscale: \"true\") found in namespace empty.\n" {
			t.Errorf("stdout %q, stderr %q", r.Out, r.ErrOut)
		}
		if r := status(t, "--context", "empty", "-o", "json"); r.Out != "[]\n" {
			t.Errorf("-o json: %q", r.Out)
		}
		// A namespace that does not exist (a typo) is not "nothing".
		if r := runCLI(t, "", "status", "--kubeconfig", kubeconfig, "--context", "empty", "-n", "no-such-namespace"); r.Code != ExitFailure || !strings.Contains(r.ErrOut, "namespace no-such-namespace does not exist") {
			t.Errorf("-n no-such-namespace: exit %d, stderr %q", r.Code, r.ErrOut)
		}
	})
	// Last: without KEDA's CRDs the workloads are still listed.
	t.Run("no KEDA", func(t *testing.T) {
		for _, name := range []string{"scaledobjects.keda.sh", "scaledjobs.keda.sh"} {
			crd := &unstructured.Unstructured{}
			crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
			crd.SetName(name)
			if err := k8s.Delete(ctx, crd); err != nil {
				t.Fatal(err)
			}
			kubetest.Eventually(t, time.Minute, name+" gone", func() error {
				err := k8s.Get(ctx, client.ObjectKey{Name: name}, crd)
				if apierrors.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("still there: %w", err)
			})
		}
		r := status(t)
		check(t, lines(r.Out)[1:],
			"Deployment/llm|<none>|-|-|-|-|3|2",
			"StatefulSet/broken|<none>|-|-|-|-|0|-")
		if want := "Warning: KEDA's CRDs are not installed (no ScaledObjects): the KEDA columns are empty\n" +
			"Warning: KEDA's CRDs are not installed (no ScaledJobs): the KEDA columns are empty\n"; r.ErrOut != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", r.ErrOut, want)
		}
	})
	t.Run("unknown context", func(t *testing.T) {
		r := runCLI(t, "", "status", "--kubeconfig", kubeconfig, "--context", "nope")
		if r.Code != ExitFailure || !strings.HasPrefix(r.ErrOut, `error: loading the kubeconfig: context "nope" does not exist`) {
			t.Errorf("exit %d, stderr %q", r.Code, r.ErrOut)
		}
	})
}

// compactJSON returns raw without insignificant white space.
func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return b.String()
}

func TestStatusNoKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	r := runCLI(t, "", "status")
	if want := "error: no kubeconfig: give --kubeconfig, set KUBECONFIG, or write ~/.kube/config (as kubectl reads them)\n"; r.Code != ExitFailure || r.ErrOut != want {
		t.Errorf("exit %d, stderr %q, want %q", r.Code, r.ErrOut, want)
	}
}

// TestServerThatNeverAnswers: status and recommend against a server that
// accepts the connection and never answers held the command until the
// server closed it (minutes); each request is now bounded (clientTimeout,
// shortened here).
func TestServerThatNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // accepted, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	saved := clientTimeout
	clientTimeout = 300 * time.Millisecond
	defer func() { clientTimeout = saved }()

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://`+ln.Addr().String()+`"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"status", "--kubeconfig", kubeconfig, "-A"},
		{"recommend", "-n", "ml", "--workload", "llm", "--prometheus-server", "http://" + ln.Addr().String()},
	} {
		done := make(chan result, 1)
		go func() { done <- runCLI(t, "", args...) }()
		select {
		case r := <-done:
			if r.Code == ExitOK || !strings.Contains(r.ErrOut, "Timeout") && !strings.Contains(r.ErrOut, "timeout") && !strings.Contains(r.ErrOut, "deadline") {
				t.Errorf("%v: exit %d, stderr %q; want a failure that says the server did not answer in time", args, r.Code, r.ErrOut)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%v: still running after 2 minutes", args)
		}
	}
}
