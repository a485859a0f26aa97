package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/predictor/floorwriter"
	"github.com/mlscale/mlscale/webhook/audit"
)

// Output formats of `mlscale status` besides outputJSON.
const (
	outputTable = ""
	outputWide  = "wide"
)

// statusConfig is the configuration of `mlscale status`.
type statusConfig struct {
	// Kubeconfig and Context select the cluster as kubectl's flags do;
	// empty means KUBECONFIG or ~/.kube/config (or the in-cluster service
	// account) and its current context.
	Kubeconfig string
	Context    string
	// Namespace is -n; empty means the context's namespace.
	Namespace string
	// AllNamespaces is -A.
	AllNamespaces bool
	// Output is outputTable, outputWide or outputJSON.
	Output string
}

func newStatusCmd() *cobra.Command {
	var cfg statusConfig
	cmd := &cobra.Command{
		Use:   "status [-n NAMESPACE | -A]",
		Short: "Show every opted-in workload: its KEDA object, replicas, predicted floor, problems",
		Long:  statusHelp,
		Example: `  mlscale status -n ml
  mlscale status -A -o wide
  mlscale status --context prod -n ml -o json | jq '.[] | select(.violations != [])'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(); err != nil {
				return err
			}
			return runStatus(cmd.Context(), cfg, Streams{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig file; default: KUBECONFIG, ~/.kube/config, or the in-cluster service account")
	f.StringVar(&cfg.Context, "context", "", "kubeconfig context to use; default: the current context")
	f.StringVarP(&cfg.Namespace, "namespace", "n", "", "namespace to list; default: the context's namespace")
	f.BoolVarP(&cfg.AllNamespaces, "all-namespaces", "A", false, "list every namespace (overrides -n, as in kubectl)")
	f.StringVarP(&cfg.Output, "output", "o", outputTable, "output format: empty for the table, wide (with the prediction, last event and policy violations) or json (a list of every field)")
	return cmd
}

func (c statusConfig) validate() error {
	switch c.Output {
	case outputTable, outputWide, outputJSON:
	default:
		return usagef("-o %q is not supported; allowed: wide, json (or none, for the table)", c.Output)
	}
	return checkNamespaceFlag("--namespace", c.Namespace)
}

// statusScheme holds the kinds `mlscale status` lists.
func statusScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// clientTimeout bounds each request of the commands that call a server
// (status, recommend): one that accepts the connection and never answers
// fails the command instead of holding it.
var clientTimeout = time.Minute

// statusClient connects as kubectl would with the same flags, and returns
// the namespace to list ("" for every namespace). The API server's warnings
// go to warnings as kubectl prints them ("Warning: ...").
func statusClient(cfg statusConfig, warnings io.Writer) (client.Client, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}
	overrides.Context.Namespace = cfg.Namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfgRest, err := cc.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, "", errors.New("no kubeconfig: give --kubeconfig, set KUBECONFIG, or write ~/.kube/config (as kubectl reads them)")
	}
	if err != nil {
		return nil, "", fmt.Errorf("loading the kubeconfig: %w", err)
	}
	ns := ""
	if !cfg.AllNamespaces {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
		}
	}
	cfgRest.WarningHandler = rest.NewWarningWriter(warnings, rest.WarningWriterOptions{Deduplicate: true})
	// An API server that accepts the connection and never answers would
	// hold the command forever (discovery does not watch the context).
	if cfgRest.Timeout == 0 {
		cfgRest.Timeout = clientTimeout
	}
	scheme, err := statusScheme()
	if err != nil {
		return nil, "", err
	}
	c, err := client.New(cfgRest, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to %s: %w", cfgRest.Host, err)
	}
	return c, ns, nil
}

func runStatus(ctx context.Context, cfg statusConfig, s Streams) error {
	c, ns, err := statusClient(cfg, s.Err)
	if err != nil {
		return err
	}
	in, warnings, err := listStatus(ctx, c, ns)
	for _, w := range warnings {
		printWarning(s.Err, "%s", w)
	}
	if err != nil {
		return err
	}
	rows := statusRows(in)
	if len(rows) == 0 && cfg.Output != outputJSON {
		where := "any namespace"
		if ns != "" {
			where = "namespace " + ns
			// An empty namespace and one that does not exist (a typo)
			// read alike otherwise.
			var n corev1.Namespace
			if err := c.Get(ctx, client.ObjectKey{Name: ns}, &n); apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s does not exist", ns)
			}
		}
		fmt.Fprintf(s.Err, "No opted-in workloads (mlscale.io/autoscale: \"true\") found in %s.\n", where)
		return nil
	}
	return printStatus(s.Out, cfg.Output, ns == "", rows, time.Now())
}

// listStatus lists what statusRows reads, in namespace ns ("" for all).
// Missing KEDA CRDs, and Events or HPAs the user may not list, are
// warnings: the rows show less. Workloads that cannot be listed are an
// error.
func listStatus(ctx context.Context, c client.Client, ns string) (statusInput, []string, error) {
	var (
		in       statusInput
		warnings []string
		opts     []client.ListOption
	)
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	list := func(l client.ObjectList, what string, extra ...client.ListOption) error {
		if err := c.List(ctx, l, append(slices.Clone(opts), extra...)...); err != nil {
			return fmt.Errorf("listing %s: %w", what, err)
		}
		return nil
	}
	var (
		deps appsv1.DeploymentList
		sts  appsv1.StatefulSetList
		jobs batchv1.JobList
		sos  kedav1alpha1.ScaledObjectList
		sjs  kedav1alpha1.ScaledJobList
		hpas autoscalingv2.HorizontalPodAutoscalerList
	)
	for _, l := range []struct {
		list client.ObjectList
		what string
	}{{&deps, "Deployments"}, {&sts, "StatefulSets"}, {&jobs, "Jobs"}} {
		if err := list(l.list, l.what); err != nil {
			return in, warnings, err
		}
	}
	in.Deployments, in.StatefulSets, in.Jobs = deps.Items, sts.Items, jobs.Items
	for _, l := range []struct {
		list client.ObjectList
		what string
	}{{&sos, "ScaledObjects"}, {&sjs, "ScaledJobs"}} {
		err := list(l.list, l.what)
		switch {
		case apimeta.IsNoMatchError(err):
			warnings = append(warnings, fmt.Sprintf("KEDA's CRDs are not installed (no %s): the KEDA columns are empty", l.what))
		case err != nil:
			return in, warnings, err
		}
	}
	in.ScaledObjects, in.ScaledJobs = sos.Items, sjs.Items
	if err := list(&hpas, "HorizontalPodAutoscalers"); err != nil {
		warnings = append(warnings, err.Error()+": violations on HPAs are not shown")
	}
	in.HPAs = hpas.Items
	for _, reason := range slices.Concat(statusEventReasons, statusAppliedReasons, []string{audit.ReasonPolicyViolation}) {
		var events corev1.EventList
		if err := list(&events, "Events", client.MatchingFields{"reason": reason}); err != nil {
			warnings = append(warnings, fmt.Sprintf("%v: %s Events are not shown", err, reason))
			continue
		}
		in.Events = append(in.Events, events.Items...)
	}
	return in, warnings, nil
}

// printStatus writes the rows as a table (with the NAMESPACE column for
// every namespace, as kubectl does), a wide table or a JSON list.
func printStatus(w io.Writer, output string, allNamespaces bool, rows []statusRow, now time.Time) error {
	if output == outputJSON {
		if rows == nil {
			rows = []statusRow{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	header := []string{"WORKLOAD", "KEDA", "READY", "ACTIVE", "MIN", "MAX", "REPLICAS", "FLOOR"}
	if allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	if output == outputWide {
		header = append(header, "PREDICTION", "LAST EVENT", "VIOLATIONS")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := []string{r.Kind + "/" + r.Name}
		if allNamespaces {
			cells = append([]string{r.Namespace}, cells...)
		}
		if k := r.KEDA; k != nil {
			cells = append(cells, k.Kind+"/"+k.Name, orDash(k.Ready), orDash(k.Active), fmt.Sprint(k.MinReplicas), fmt.Sprint(k.MaxReplicas))
		} else {
			cells = append(cells, "<none>", "-", "-", "-", "-")
		}
		cells = append(cells, fmt.Sprint(r.Replicas), r.floorText())
		if output == outputWide {
			cells = append(cells, predictionText(r, now), lastEventText(r.LastEvent, now), violationsText(r.Violations))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// maxCell bounds the messages in a wide table's cells; -o json has them
// whole.
const maxCell = 72

// predictionText is the PREDICTION column: the predictor's mode and step,
// its confidence, the floors' achieved under-provisioning over its target
// ("under 1.8%/2%"), "plain margin" while the plain margin sets the floors
// (see floorwriter.Explanation.Margin) and the age of the decision.
func predictionText(r statusRow, now time.Time) string {
	e := r.explanation
	switch {
	case r.PredictionError != "":
		return cut("unreadable ("+r.PredictionError+")", maxCell)
	case e == nil:
		return "-"
	}
	parts := []string{e.Mode}
	if e.Reason != "" {
		parts[0] += ": " + e.Reason
	}
	if e.Confidence != nil {
		parts = append(parts, fmt.Sprintf("confidence %.2f", *e.Confidence))
	}
	if e.AchievedUnder != nil && e.TargetUnder != "" {
		parts = append(parts, fmt.Sprintf("under %.1f%%/%s", 100**e.AchievedUnder, e.TargetUnder))
	}
	if e.Margin == floorwriter.MarginPlain {
		parts = append(parts, "plain margin")
	}
	if e.Error != "" {
		parts = append(parts, e.Error)
	}
	if !e.Time.IsZero() {
		parts = append(parts, age(e.Time, now)+" ago")
	}
	return cut(strings.Join(parts, ", "), maxCell)
}

// lastEventText is the LAST EVENT column: reason, age and message.
func lastEventText(e *statusEvent, now time.Time) string {
	if e == nil {
		return "-"
	}
	s := e.Reason + " " + age(e.Time, now) + " ago"
	if e.Count > 1 {
		s += fmt.Sprintf(" (x%d)", e.Count)
	}
	return cut(s+": "+e.Message, maxCell)
}

// violationsText is the VIOLATIONS column: the latest violation and how
// many more there are.
func violationsText(vs []statusViolation) string {
	if len(vs) == 0 {
		return "-"
	}
	s := vs[0].Object + ": " + vs[0].Message
	if len(vs) > 1 {
		more := fmt.Sprintf(" (and %d more)", len(vs)-1)
		return cut(s, maxCell-len(more)) + more
	}
	return cut(s, maxCell)
}

// age is kubectl's AGE of t: "45s", "3m", "5h", "2d"; a time ahead of
// now (clocks that differ a little) is "0s".
func age(t, now time.Time) string {
	return duration.HumanDuration(max(now.Sub(t), 0))
}

// cut shortens s to n bytes at most, ending it with "..." when cut, and
// puts it on one line.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}

// orDash returns s, or "-" for "".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
