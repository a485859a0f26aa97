package kedaenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/localcluster"
)

// Binaries of the simulated cluster.
const (
	SchedulerBinary = "kube-scheduler"
	KwokBinary      = "kwok"
)

// Labels and annotations of the fake nodes.
const (
	// KwokNodeAnnotation marks a node as fake: kwok's controller manages the
	// nodes that carry it (--manage-nodes-with-annotation-selector), and
	// the pods scheduled onto them.
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
	// LabelNodePool is "gpu" or "cpu" on every fake node.
	LabelNodePool = "mlscale.io/node-pool"
	// GPUResource is the extended resource of NVIDIA's device plugin.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
)

// Simulation configures the simulated cluster: kube-scheduler places pods
// for real (GPU requests count; pods stay Pending when the GPUs run out),
// and kwok's controller plays the kubelet of fake GPU and CPU nodes. No
// container runs: kwok writes the pods' status, Ready ColdStart after a
// pod was scheduled.
type Simulation struct {
	// GPUNodes is the number of fake GPU nodes (gpu-0, gpu-1, ...).
	GPUNodes int
	// GPUsPerNode is each GPU node's nvidia.com/gpu capacity; 8 when zero.
	GPUsPerNode int
	// GPUProduct is the nvidia.com/gpu.product label;
	// DefaultGPUProduct when empty.
	GPUProduct string
	// CPUNodes is the number of fake CPU nodes (cpu-0, cpu-1, ...).
	CPUNodes int
	// ColdStart is the time from a pod's start on a node (kwok's first
	// status) to Ready: image pull, model download and load, warm-up.
	ColdStart time.Duration
}

// DefaultGPUProduct is the GPU the fake GPU nodes report.
const DefaultGPUProduct = "NVIDIA-H100-80GB-HBM3"

// Simulated reports whether the environment runs the simulated cluster
// (kube-scheduler, kwok and fake nodes).
func (e *Env) Simulated() bool { return e.opts.Simulation != nil }

// RepoKwokDir returns the bin/kwok of the checkout at root.
func RepoKwokDir(root string) string { return filepath.Join(root, "bin", "kwok") }

// startSimulation starts kube-scheduler and kwok's controller, creates the
// fake nodes and waits until kwok reports each one Ready.
func (e *Env) startSimulation(ctx context.Context) error {
	if err := e.startScheduler(ctx); err != nil {
		return err
	}
	kwok, err := e.startKwok(ctx)
	if err != nil {
		return err
	}
	c, err := localcluster.NewClient(e.opts.Cluster.Config)
	if err != nil {
		return err
	}
	nodes := FakeNodes(*e.opts.Simulation)
	for _, n := range nodes {
		if err := c.Create(ctx, n); err != nil {
			return fmt.Errorf("creating fake node %s: %w", n.Name, err)
		}
	}
	return kwok.waitFor(ctx, e.opts.StartTimeout, "reporting every fake node Ready", func(ctx context.Context) error {
		for _, n := range nodes {
			cur := &corev1.Node{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(n), cur); err != nil {
				return err
			}
			if !nodeReady(cur) {
				return fmt.Errorf("node %s not Ready yet", n.Name)
			}
			if err := untaintReady(ctx, c, cur); err != nil {
				return err
			}
		}
		return nil
	})
}

// untaintReady removes the node.kubernetes.io/not-ready taint (the API
// server's TaintNodesByCondition puts it on every new node) from a Ready
// node: the node lifecycle controller's job, which does not run here (it
// would want kubelet heartbeats).
func untaintReady(ctx context.Context, c client.Client, n *corev1.Node) error {
	var keep []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Key != corev1.TaintNodeNotReady {
			keep = append(keep, t)
		}
	}
	if len(keep) == len(n.Spec.Taints) {
		return nil
	}
	n.Spec.Taints = keep
	if err := c.Update(ctx, n); err != nil {
		return fmt.Errorf("removing the not-ready taint of node %s: %w", n.Name, err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (e *Env) startScheduler(ctx context.Context) error {
	kc := e.opts.Cluster.KubeconfigPath
	_, _, err := e.startOnFreePorts(ctx, SchedulerBinary, 1, "healthy", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		cmd := exec.Command(filepath.Join(e.opts.K8sBinDir, SchedulerBinary),
			"--kubeconfig="+kc,
			"--authentication-kubeconfig="+kc,
			"--authorization-kubeconfig="+kc,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(ports[0]),
			"--v=2",
		)
		return cmd, func(ctx context.Context) error {
			return httpOK(ctx, "https://127.0.0.1:"+strconv.Itoa(ports[0])+"/healthz")
		}
	})
	return err
}

// startKwok starts kwok's controller with the Stages of the cold start.
func (e *Env) startKwok(ctx context.Context) (*proc, error) {
	dir := filepath.Join(e.Dir, "kwok")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stages := filepath.Join(dir, "stages.yaml")
	text, err := Stages(e.opts.Simulation.ColdStart)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(stages, []byte(text), 0o644); err != nil {
		return nil, err
	}
	p, _, err := e.startOnFreePorts(ctx, KwokBinary, 1, "healthy", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		cmd := exec.Command(filepath.Join(e.opts.KwokBinDir, KwokBinary),
			"--config="+stages,
			"--kubeconfig="+e.opts.Cluster.KubeconfigPath,
			"--manage-nodes-with-annotation-selector="+KwokNodeAnnotation+"=fake",
			"--server-address=127.0.0.1:"+strconv.Itoa(ports[0]),
			"--node-ip=127.0.0.1",
			"--cidr=10.128.0.0/16",
		)
		// kwok also reads ~/.kwok/kwok.yaml: a home of its own keeps a
		// developer's configuration out.
		cmd.Env = append(os.Environ(), "HOME="+dir)
		cmd.Dir = dir
		return cmd, func(ctx context.Context) error {
			return httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(ports[0])+"/healthz")
		}
	})
	return p, err
}

// FakeNodes returns the fake nodes of a simulation: GPU nodes with
// nvidia.com/gpu capacity, the labels NVIDIA's GPU operator (GPU feature
// discovery) sets and the taint nvidia.com/gpu=present:NoSchedule, and CPU
// nodes. Each carries KwokNodeAnnotation, and its
// capacity in its status (the API server keeps a Node's status on create).
func FakeNodes(s Simulation) []*corev1.Node {
	gpus := s.GPUsPerNode
	if gpus == 0 {
		gpus = 8
	}
	product := s.GPUProduct
	if product == "" {
		product = DefaultGPUProduct
	}
	var out []*corev1.Node
	for i := range s.GPUNodes {
		n := fakeNode(fmt.Sprintf("gpu-%d", i), "gpu", "p5.48xlarge", "192", "2Ti")
		for k, v := range map[string]string{
			"nvidia.com/gpu.present":                      "true",
			"nvidia.com/gpu.product":                      product,
			"nvidia.com/gpu.count":                        strconv.Itoa(gpus),
			"nvidia.com/gpu.memory":                       "81559",
			"nvidia.com/gpu.family":                       "hopper",
			"nvidia.com/gpu.compute.major":                "9",
			"nvidia.com/gpu.compute.minor":                "0",
			"nvidia.com/gpu.machine":                      "p5.48xlarge",
			"nvidia.com/gpu.replicas":                     "1",
			"nvidia.com/gpu.sharing-strategy":             "none",
			"nvidia.com/mig.capable":                      "true",
			"nvidia.com/mig.strategy":                     "single",
			"nvidia.com/cuda.driver.major":                "570",
			"nvidia.com/cuda.driver.minor":                "133",
			"nvidia.com/cuda.driver.rev":                  "20",
			"nvidia.com/cuda.runtime.major":               "12",
			"nvidia.com/cuda.runtime.minor":               "8",
			"nvidia.com/gpu.deploy.device-plugin":         "true",
			"nvidia.com/gpu.deploy.driver":                "true",
			"nvidia.com/gpu.deploy.dcgm-exporter":         "true",
			"nvidia.com/gpu.deploy.gpu-feature-discovery": "true",
		} {
			n.Labels[k] = v
		}
		// As GPU node pools of GKE and AKS do: only pods that tolerate it
		// (GPU workloads) land on a GPU node.
		n.Spec.Taints = []corev1.Taint{{Key: string(GPUResource), Value: "present", Effect: corev1.TaintEffectNoSchedule}}
		q := resource.MustParse(strconv.Itoa(gpus))
		n.Status.Capacity[GPUResource] = q
		n.Status.Allocatable[GPUResource] = q
		out = append(out, n)
	}
	for i := range s.CPUNodes {
		out = append(out, fakeNode(fmt.Sprintf("cpu-%d", i), "cpu", "m7i.8xlarge", "32", "128Gi"))
	}
	return out
}

func fakeNode(name, pool, instanceType, cpu, memory string) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname":           name,
				"kubernetes.io/os":                 "linux",
				"kubernetes.io/arch":               "amd64",
				"node.kubernetes.io/instance-type": instanceType,
				"type":                             "kwok",
				LabelNodePool:                      pool,
			},
			Annotations: map[string]string{KwokNodeAnnotation: "fake"},
		},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy()},
	}
}

// stagesTemplate holds kwok's Stages: a node becomes Ready at once; a pod
// scheduled onto a fake node gets an IP and waits in ContainerCreating,
// becomes Running and Ready after the cold start, and is removed as soon
// as it is deleted (there is no kubelet to wait for).
var stagesTemplate = template.Must(template.New("stages").Delims("[[", "]]").Parse(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: mlscale-node-ready
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: Ready, status: "True", reason: KubeletReady, message: "kwok: fake node", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      - {type: MemoryPressure, status: "False", reason: KubeletHasSufficientMemory, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      - {type: DiskPressure, status: "False", reason: KubeletHasNoDiskPressure, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      - {type: PIDPressure, status: "False", reason: KubeletHasSufficientPID, message: "", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      addresses:
      - {type: InternalIP, address: {{ NodeIP | Quote }}}
      - {type: Hostname, address: {{ .metadata.name | Quote }}}
      allocatable:
      {{ YAML .status.allocatable 1 }}
      capacity:
      {{ YAML .status.capacity 1 }}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
        containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
        kernelVersion: {{ printf "kwok-%s" Version | Quote }}
        kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
        osImage: "kwok fake node: no containers run"
        machineID: ""
        bootID: ""
        systemUUID: ""
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: mlscale-pod-start
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.status.podIP', operator: DoesNotExist}
  next:
    event: {type: Normal, reason: Pulling, message: "kwok: cold start of [[ .ColdStart ]] before Ready"}
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: PodScheduled, status: "True", lastProbeTime: null, lastTransitionTime: {{ $now | Quote }}}
      - {type: Initialized, status: "True", lastProbeTime: null, lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "False", reason: ContainersNotReady, lastProbeTime: null, lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "False", reason: ContainersNotReady, lastProbeTime: null, lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: false, started: false, restartCount: 0, state: {waiting: {reason: ContainerCreating}}}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName false ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Pending
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: mlscale-pod-ready
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.status.podIP', operator: Exists}
    - {key: '.status.phase', operator: In, values: [Pending]}
  delay:
    durationMilliseconds: [[ .ColdStartMillis ]]
  next:
    event: {type: Normal, reason: Started, message: "kwok: Ready after the cold start"}
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: PodScheduled, status: "True", lastProbeTime: null, lastTransitionTime: {{ .status.startTime | Quote }}}
      - {type: Initialized, status: "True", lastProbeTime: null, lastTransitionTime: {{ .status.startTime | Quote }}}
      - {type: ContainersReady, status: "True", lastProbeTime: null, lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "True", lastProbeTime: null, lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: true, started: true, restartCount: 0, state: {running: {startedAt: {{ $now | Quote }}}}}
      {{ end }}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: mlscale-pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: Exists}
    - {key: '.metadata.finalizers', operator: DoesNotExist}
  next:
    delete: true
`))

// Stages returns kwok's Stage configuration for a cold start: nodes Ready at
// once, pods Running and Ready coldStart after kwok starts them, deleted
// pods removed at once.
func Stages(coldStart time.Duration) (string, error) {
	if coldStart < 0 {
		return "", fmt.Errorf("cold start %s is negative", coldStart)
	}
	var b strings.Builder
	err := stagesTemplate.Execute(&b, map[string]any{"ColdStart": coldStart.String(), "ColdStartMillis": coldStart.Milliseconds()})
	return b.String(), err
}
