// Package demo is mlscale-demo, the README's main job: a throw-away local
// control plane (test/localcluster) with mlscale's webhook and reconciler in
// process, the samples of config/samples applied through the real admission
// chain, and a table of what mlscale made of them; with --with-keda also the
// real KEDA, the HPA controller and RabbitMQ (test/kedaenv). It is test bed,
// not product: it lives outside cmd/mlscale, so that the in-cluster binary
// never links envtest.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/internal/cli"
	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/localcluster"
)

// demoHelp is mlscale-demo --help.
const demoHelp = `mlscale-demo starts etcd and kube-apiserver (built from source into bin/k8s by
` + "`make control-plane`" + `) on loopback with throw-away data, installs KEDA's CRDs,
starts mlscale (admission webhook and reconciler) in this process, applies
config/samples and every -f FILE, waits for the reconciler, and prints:

  - each workload and the KEDA object mlscale made for it: kind, triggers,
    min/max replicas, scale-to-zero and the GPUs each pod requests;
  - each object the API server rejected, with the rejection message (for
    workloads with bad mlscale.io annotations, mlscale's own message);
  - each workload the reconciler could not render (bad mlscale.io
    annotations in a namespace without the mlscale.io/enabled label, which
    admission does not check), with its RenderFailed Event's message.

It then prints the kubeconfig path, so that you can explore with kubectl,
and runs until Ctrl-C, when it stops everything it started. With --once it
exits after printing the tables (and removes the cluster, so it prints no
kubeconfig).

With --with-keda it also starts kube-controller-manager (HPA, garbage
collector, Job, Deployment and ReplicaSet controllers), KEDA's operator and
admission webhooks (built by ` + "`make kube-controller-manager keda`" + `) and RabbitMQ
(` + "`make rabbitmq`" + `) on loopback, shortens the sample celery-worker's cooldown
to 15s, prints KEDA's READY condition for each object, and shows the worker
scaled to zero by KEDA and woken up (0 -> 1) when it publishes messages to
its queue. When kube-scheduler and kwok are built (` + "`make kube-scheduler kwok`" + `),
it also runs 2 fake GPU nodes (8 nvidia.com/gpu each, with the labels of
NVIDIA's GPU operator) and 2 fake CPU nodes: kube-scheduler places the pods
for real, kwok makes them Running and Ready 10s after they start, and the
demo closes with a table of each KEDA object's Ready pods and their nodes
(kubectl get pods -A -o wide shows them too). No container runs: kwok only
writes the pods' status. Without them no pod is scheduled, and scaling shows
in spec.replicas. With --once it exits after the wake-up.

Exit status: 0 when every object was accepted and every opted-in workload got
its KEDA object; 1 otherwise (the tables say which); 2 for a bad command line.`

// demoConfig is the configuration of mlscale-demo.
type demoConfig struct {
	// Files are the -f arguments applied after config/samples.
	Files []string
	// Once exits after printing instead of waiting for Ctrl-C.
	Once bool
	// Timeout bounds the wait for the reconciler to converge.
	Timeout time.Duration
	// Build runs `make control-plane` when bin/k8s lacks the binaries.
	Build bool
	// Repo is the mlscale checkout; found from the working directory when empty.
	Repo string
	// Verbose sends the control plane's and mlscale's logs to stderr.
	Verbose bool
	// WithKEDA also runs KEDA (operator, admission webhooks),
	// kube-controller-manager and RabbitMQ, and shows the sample worker
	// scaled to zero and woken by messages.
	WithKEDA bool
	// Messages is how many messages --with-keda publishes.
	Messages int
	// KEDATimeout bounds the --with-keda story (READY, zero, wake-up).
	KEDATimeout time.Duration
}

// NewCommand returns the mlscale-demo command.
func NewCommand() *cobra.Command {
	var cfg demoConfig
	cmd := &cobra.Command{
		Use:   "mlscale-demo [-f FILE|DIR|-]... [--once]",
		Short: "Run mlscale against a throw-away local control plane and show what it does",
		Long:  demoHelp,
		Example: `  mlscale-demo
  mlscale-demo -f my-deployment.yaml
  mlscale-demo --once -f config/samples -f broken.yaml
  mlscale-demo --with-keda`,
		Args: cobra.NoArgs,
		// cli.Execute prints the error once, as mlscale does.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Timeout <= 0 {
				return cli.Usagef("--timeout must be positive, not %s", cfg.Timeout)
			}
			if cfg.Messages < 1 {
				return cli.Usagef("--messages must be at least 1, not %d", cfg.Messages)
			}
			if cfg.KEDATimeout <= 0 {
				return cli.Usagef("--keda-timeout must be positive, not %s", cfg.KEDATimeout)
			}
			return runDemo(cmd.Context(), cfg, cli.Streams{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Files, "filename", "f", nil, `manifests to apply after config/samples: a file, a directory or "-" for stdin (repeatable)`)
	f.BoolVar(&cfg.Once, "once", false, "exit after printing the tables instead of waiting for Ctrl-C")
	f.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "how long to wait for the reconciler to create every KEDA object")
	f.BoolVar(&cfg.Build, "build", false, "run `make control-plane` first when bin/k8s lacks kube-apiserver or etcd (about 10 minutes, once)")
	f.StringVar(&cfg.Repo, "repo", "", "the mlscale checkout (default: found from the working directory)")
	f.BoolVarP(&cfg.Verbose, "verbose", "v", false, "show the control plane's and mlscale's logs on stderr")
	f.BoolVar(&cfg.WithKEDA, "with-keda", false, "also run KEDA, kube-controller-manager and RabbitMQ, and show a worker scale from zero when messages arrive (needs `make kube-controller-manager keda rabbitmq`)")
	f.IntVar(&cfg.Messages, "messages", 20, "with --with-keda: how many messages to publish once the worker is at zero")
	f.DurationVar(&cfg.KEDATimeout, "keda-timeout", 5*time.Minute, "with --with-keda --once: how long to wait for READY, zero and the wake-up")
	return cmd
}

func runDemo(ctx context.Context, cfg demoConfig, s cli.Streams) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	root, err := repoRoot(cfg.Repo)
	if err != nil {
		return err
	}
	// Read everything first: a typo in -f should not cost a cluster start.
	manifests, err := localcluster.ReadManifests(s.In, append([]string{filepath.Join(root, "config", "samples")}, cfg.Files...)...)
	if err != nil {
		return err
	}
	if cfg.WithKEDA && !shortenDemoCooldown(manifests) {
		return errNoWorker
	}
	opts, err := localcluster.RepoOptions(root)
	if err != nil {
		return err
	}
	if cfg.Verbose {
		opts.Log = s.Err
		ctrllog.SetLogger(zap.New(zap.WriteTo(s.Err)))
	} else {
		ctrllog.SetLogger(logr.Discard())
	}
	if err := ensureControlPlane(ctx, root, opts.BinDir, cfg.Build, s); err != nil {
		return err
	}
	env := &demoEnv{}
	defer func() { err = errors.Join(err, env.stop(s)) }()
	if err := env.start(ctx, root, opts, cfg.WithKEDA, s); err != nil {
		return err
	}
	res, err := env.apply(ctx, manifests, cfg.Timeout, s)
	if err != nil {
		return err
	}
	if err := res.print(s.Out); err != nil {
		return err
	}
	if cfg.Once {
		fmt.Fprintln(s.Out, "\nThe cluster is removed on exit; run without --once to explore it with kubectl.")
	} else {
		fmt.Fprintf(s.Out, "\nkubeconfig: %s\n", env.cluster.KubeconfigPath)
		fmt.Fprintf(s.Out, "  export KUBECONFIG=%s\n  kubectl get scaledobjects,scaledjobs -A\n", env.cluster.KubeconfigPath)
	}
	if err := env.run(ctx, res, cfg, s); err != nil {
		return err
	}
	if problems := res.problems(); problems > 0 {
		return cli.Problems(problems)
	}
	return nil
}

// repoRoot is the mlscale checkout: repo, or found from the working
// directory.
func repoRoot(repo string) (string, error) {
	if repo != "" {
		return repo, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return localcluster.RepoRoot(wd)
}

// demoEnv is what the demo runs: the control plane, mlscale and, with
// --with-keda, KEDA and its helpers.
type demoEnv struct {
	cluster *localcluster.Cluster
	ml      *localcluster.Mlscale
	keda    *kedaenv.Env
	client  client.Client
}

// start starts the control plane, mlscale and, with withKEDA, KEDA.
func (e *demoEnv) start(ctx context.Context, root string, opts localcluster.Options, withKEDA bool, s cli.Streams) error {
	fmt.Fprintln(s.Err, "Starting etcd and kube-apiserver on 127.0.0.1 ...")
	started := time.Now()
	cluster, err := localcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	e.cluster = cluster
	fmt.Fprintf(s.Err, "Control plane up in %s: %s (%s).\n", time.Since(started).Round(100*time.Millisecond), cluster.Config.Host, describeProcs(cluster.Processes()))
	if e.ml, err = cluster.StartMlscale(ctx, localcluster.MlscaleOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "mlscale webhook serving on https://%s:%d; reconciler running.\n", cluster.WebhookHost, cluster.WebhookPort)
	if withKEDA {
		if e.keda, err = startDemoKEDA(ctx, root, cluster, s); err != nil {
			return err
		}
	}
	e.client, err = localcluster.NewClient(cluster.Config)
	return err
}

// stop stops what start started, in the reverse order, and reports it.
func (e *demoEnv) stop(s cli.Streams) error {
	var errs []error
	if e.keda != nil {
		errs = append(errs, stopDemoKEDA(e.keda, s))
	}
	if e.ml != nil {
		if err := e.ml.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping mlscale: %w", err))
		}
	}
	if e.cluster != nil {
		procs := e.cluster.Processes()
		if err := e.cluster.Stop(); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(s.Err, "Stopped %s; removed %s.\n", describeProcs(procs), e.cluster.Dir)
		}
	}
	return errors.Join(errs...)
}

// demoResult is what the API server and the reconciler made of the
// manifests.
type demoResult struct {
	outcomes []localcluster.Outcome
	rows     []localcluster.Row
	// missing counts the KEDA objects still missing at the timeout.
	missing int
}

// problems counts the rejected objects, the missing KEDA objects and the
// workloads the reconciler could not render.
func (r demoResult) problems() int {
	_, rejected := localcluster.Summary(r.outcomes)
	return rejected + r.missing + countRenderFailed(r.rows)
}

// apply creates the manifests and waits up to timeout for the reconciler.
func (e *demoEnv) apply(ctx context.Context, manifests []localcluster.Manifest, timeout time.Duration, s cli.Streams) (demoResult, error) {
	creator, err := localcluster.NewCreator(e.cluster.Config)
	if err != nil {
		return demoResult{}, err
	}
	fmt.Fprintf(s.Err, "Applying %d objects ...\n", len(manifests))
	var res demoResult
	if res.outcomes, err = creator.Create(ctx, manifests); err != nil {
		return res, err
	}
	if res.rows, err = localcluster.Workloads(res.outcomes); err != nil {
		return res, err
	}
	waitStart := time.Now()
	if res.missing, err = localcluster.WaitForKEDA(ctx, e.client, res.rows, timeout, 100*time.Millisecond); err != nil {
		return res, err
	}
	renderFailed := countRenderFailed(res.rows)
	switch {
	case res.missing > 0:
		fmt.Fprintf(s.Err, "Timed out after %s: %d KEDA object(s) missing.\n", timeout, res.missing)
	case renderFailed > 0:
		fmt.Fprintf(s.Err, "Reconciler converged in %s; it could not render %d workload(s).\n", time.Since(waitStart).Round(10*time.Millisecond), renderFailed)
	default:
		fmt.Fprintf(s.Err, "Reconciler converged in %s.\n", time.Since(waitStart).Round(10*time.Millisecond))
	}
	return res, nil
}

// print prints the tables: workloads, rejected objects, workloads not
// rendered, and the admission warnings.
func (r demoResult) print(w io.Writer) error {
	fmt.Fprintln(w)
	if err := printWorkloadTable(w, r.rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := printRejectedTable(w, r.outcomes); err != nil {
		return err
	}
	if err := printRenderFailedTable(w, r.rows); err != nil {
		return err
	}
	printWarnings(w, r.outcomes)
	return nil
}

// run keeps the demo going: the KEDA story with --with-keda, and until
// Ctrl-C without --once.
func (e *demoEnv) run(ctx context.Context, res demoResult, cfg demoConfig, s cli.Streams) error {
	if !cfg.Once {
		fmt.Fprintln(s.Err, "\nRunning until Ctrl-C.")
	}
	if e.keda != nil {
		if err := runKEDAStory(ctx, e.keda, e.client, res.rows, cfg.Messages, cfg.KEDATimeout, cfg.Once, s); err != nil && ctx.Err() == nil {
			return err
		}
	} else if !cfg.Once {
		<-ctx.Done()
	}
	if !cfg.Once {
		fmt.Fprintln(s.Err, "\nStopping ...")
	}
	return nil
}

// ensureControlPlane checks for kube-apiserver and etcd, and builds them with
// `make control-plane` when asked to.
func ensureControlPlane(ctx context.Context, root, binDir string, build bool, s cli.Streams) error {
	if v := os.Getenv("KUBEBUILDER_ASSETS"); v != "" {
		binDir = v
	}
	err := localcluster.CheckBinaries(binDir)
	var missing *localcluster.MissingBinariesError
	if !errors.As(err, &missing) {
		return err
	}
	if !build {
		return fmt.Errorf("%w, or run `mlscale-demo --build`", err)
	}
	fmt.Fprintf(s.Err, "Building the control plane (%s) with `make control-plane` ...\n", strings.Join(missing.Missing, ", "))
	cmd := exec.CommandContext(ctx, "make", "control-plane")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = s.Err, s.Err
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("make control-plane: %w", err)
	}
	return localcluster.CheckBinaries(binDir)
}

func describeProcs(procs []localcluster.Process) string {
	var parts []string
	for _, p := range procs {
		parts = append(parts, fmt.Sprintf("%s pid %d", filepath.Base(p.Exe), p.PID))
	}
	return strings.Join(parts, ", ")
}

// printWorkloadTable prints workload -> KEDA object.
func printWorkloadTable(w io.Writer, rows []localcluster.Row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tKEDA OBJECT\tTRIGGERS\tMIN\tMAX\tSCALE-TO-ZERO\tGPU")
	for _, r := range rows {
		gpu := "-"
		if r.GPU.Count > 0 {
			gpu = fmt.Sprintf("%d x %s", r.GPU.Count, strings.Join(r.GPU.Resources, "+"))
		}
		switch {
		case !r.OptedIn:
			fmt.Fprintf(tw, "%s\t(not opted in)\t-\t-\t-\t-\t%s\n", r.Workload, gpu)
		case r.KEDA == nil && r.RenderFailed != "":
			fmt.Fprintf(tw, "%s\tNOT RENDERED (see below)\t-\t-\t-\t-\t%s\n", r.Workload, gpu)
		case r.KEDA == nil:
			fmt.Fprintf(tw, "%s\tMISSING %s\t-\t-\t-\t-\t%s\n", r.Workload, localcluster.KEDAKind(r.Workload.GVK.Kind), gpu)
		default:
			minR, maxR := r.MinMax()
			zero := "no"
			if minR == 0 {
				zero = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", r.Workload, localcluster.KEDAKind(r.Workload.GVK.Kind), r.KEDA.GetName(),
				strings.Join(r.Triggers(), ","), fmtCount(minR), fmtCount(maxR), zero, gpu)
		}
	}
	return tw.Flush()
}

func fmtCount(n int32) string {
	if n < 0 {
		return "-"
	}
	return strconv.Itoa(int(n))
}

// printRejectedTable prints the objects the API server rejected.
func printRejectedTable(w io.Writer, outcomes []localcluster.Outcome) error {
	_, rejected := localcluster.Summary(outcomes)
	if rejected == 0 {
		fmt.Fprintln(w, "Rejected objects: none.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REJECTED OBJECT\tFROM\tMESSAGE")
	for _, o := range outcomes {
		if o.Err == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Ref, filepath.Base(o.Source), strings.Join(strings.Fields(o.Message()), " "))
	}
	return tw.Flush()
}

// countRenderFailed counts the workloads the reconciler could not render.
func countRenderFailed(rows []localcluster.Row) int {
	n := 0
	for _, r := range rows {
		if r.KEDA == nil && r.RenderFailed != "" {
			n++
		}
	}
	return n
}

// printRenderFailedTable prints the workloads the reconciler reported it
// cannot render: admitted (their namespace is not checked by admission) but
// with bad mlscale.io annotations. It prints nothing when there are none.
func printRenderFailedTable(w io.Writer, rows []localcluster.Row) error {
	if countRenderFailed(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nNot rendered (the reconciler's RenderFailed Events; admission does not check these namespaces):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tMESSAGE")
	for _, r := range rows {
		if r.KEDA == nil && r.RenderFailed != "" {
			fmt.Fprintf(tw, "%s\t%s\n", r.Workload, strings.Join(strings.Fields(r.RenderFailed), " "))
		}
	}
	return tw.Flush()
}

// printWarnings prints admission warnings, one per line under the object.
func printWarnings(w io.Writer, outcomes []localcluster.Outcome) {
	first := true
	for _, o := range outcomes {
		if len(o.Warnings) == 0 {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nWarnings:")
			first = false
		}
		for _, warn := range o.Warnings {
			fmt.Fprintf(w, "  %s: %s\n", o.Ref, warn)
		}
	}
}
