package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manifest"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// Output formats of `mlscale render`.
const (
	outputYAML = "yaml"
	outputJSON = "json"
)

// renderConfig is the configuration of `mlscale render`.
type renderConfig struct {
	// Files are the -f arguments: files, directories, "-" for stdin.
	Files []string
	// Recursive reads directories' subdirectories too.
	Recursive bool
	// Output is outputYAML or outputJSON.
	Output string
	// NamespaceSet is true when -n was given: a manifest that names another
	// namespace is then an error, as kubectl makes it.
	NamespaceSet bool
	// Namespace is used for workloads whose manifest has none, as admission
	// would see them when applied to that namespace.
	Namespace string
	// Facts are what the renderer assumes about the cluster.
	Facts facts.Facts
}

func newRenderCmd() *cobra.Command {
	cfg := renderConfig{Facts: facts.Default()}
	var gpuBudget int64
	cmd := &cobra.Command{
		Use:   "render -f FILE|DIR|- [-f ...]",
		Short: "Print the KEDA objects that admission would create for manifests, offline",
		Long:  renderHelp,
		Example: `  mlscale render -f deployment.yaml
  mlscale render -f config/samples -o json
  kubectl get deploy -n ml -o yaml | mlscale render -f -`,
		Args: noArgsButFiles,
		RunE: func(cmd *cobra.Command, _ []string) error {
			budget, err := gpuBudgetFlag(cmd, gpuBudget)
			if err != nil {
				return err
			}
			cfg.Facts.GPUBudget = budget
			cfg.NamespaceSet = cmd.Flags().Changed("namespace")
			if err := cfg.validate(); err != nil {
				return err
			}
			return runRender(cfg, Streams{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Files, "filename", "f", nil, `manifest file, directory, or "-" for standard input (repeatable)`)
	f.BoolVarP(&cfg.Recursive, "recursive", "R", false, "read directories given with -f recursively")
	f.StringVarP(&cfg.Output, "output", "o", outputYAML, "output format: yaml (a multi-document stream) or json (a v1 List)")
	f.StringVarP(&cfg.Namespace, "namespace", "n", "default", "namespace of workloads whose manifest names none")
	f.StringVar(&cfg.Facts.PrometheusServer, "prometheus-server", cfg.Facts.PrometheusServer, "Prometheus URL for workloads that set no "+intent.KeyPrometheusServer)
	f.StringVar(&cfg.Facts.ClusterDomain, "cluster-domain", cfg.Facts.ClusterDomain, "cluster DNS domain, used to expand short service names")
	f.Int64Var(&gpuBudget, "gpu-budget", 0, "GPU budget of the namespace in devices, bounding GPU workloads' max replicas (default: none)")
	addUnknownAnnotationsFlag(f, &cfg.Facts)
	return cmd
}

func (c renderConfig) validate() error {
	if len(c.Files) == 0 {
		return usagef(`no manifests: give -f FILE, -f DIR or -f - (standard input)`)
	}
	if c.Output != outputYAML && c.Output != outputJSON {
		return usagef("-o %q is not supported; allowed: yaml, json", c.Output)
	}
	if c.Namespace == "" {
		return usagef("--namespace must not be empty")
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return usagef("--namespace %q is not a valid namespace name: %s", c.Namespace, strings.Join(errs, "; "))
	}
	if err := checkFactsFlags(c.Facts); err != nil {
		return err
	}
	if n := len(slices.DeleteFunc(slices.Clone(c.Files), func(f string) bool { return f != "-" })); n > 1 {
		return usagef(`-f - (standard input) may be given once, not %d times`, n)
	}
	return nil
}

// runRender renders every workload of the manifests and prints the KEDA
// objects to s.Out and warnings and problems to s.Err.
func runRender(cfg renderConfig, s Streams) error {
	sources, errs := manifest.ReadSources(cfg.Files, cfg.Recursive, s.In)
	for _, err := range errs {
		printError(s.Err, "%v", err)
	}
	var (
		objects  []rendered
		problems = len(errs)
		// made says which workload each KEDA object was made for: two
		// workloads of one name and namespace (a Deployment and a
		// StatefulSet) would make one ScaledObject, the second replacing
		// the first when applied. (One workload given twice makes the
		// same object twice, as before.)
		made = map[string]string{}
	)
	for _, src := range sources {
		for _, d := range manifest.Documents(src) {
			if d.Err != nil {
				printError(s.Err, "%v", d.Err)
				problems++
				continue
			}
			res, ok := renderDocument(cfg, d, s.Err)
			if !ok {
				problems++
			}
			if res.Object == nil {
				continue
			}
			o := res.Object
			key := fmt.Sprintf("%s %s/%s", o.GetObjectKind().GroupVersionKind().Kind, o.GetNamespace(), o.GetName())
			owner := fmt.Sprintf("%s %s/%s", o.GetLabels()[render.LabelWorkloadKind], o.GetNamespace(), o.GetName())
			if first, dup := made[key]; dup && first != owner {
				printError(s.Err, "%s: %s would make %s, which %s makes too: one ScaledObject can scale only one of them; rename one of the workloads, or leave one without %s",
					d.Where(), owner, key, first, intent.KeyAutoscale)
				problems++
				continue
			}
			made[key] = owner
			objects = append(objects, rendered{obj: res.Object, needs: res.Needs})
		}
	}
	if err := printObjects(s.Out, cfg.Output, objects); err != nil {
		return err
	}
	if problems > 0 {
		return reportedError{problems: problems}
	}
	return nil
}

// renderDocument renders one document. It returns the result, without an
// object for a document that is skipped or cannot be rendered; ok is false
// when the document has a problem, which has then been printed to stderr.
func renderDocument(cfg renderConfig, d manifest.Document, stderr io.Writer) (render.Result, bool) {
	gvk := d.GVK()
	if _, ok := workload.KindOf(gvk.GroupKind()); !ok {
		if m := objectMeta(d); intent.Enabled(m.Annotations) && slices.Contains([]string{workload.KindDeployment, workload.KindStatefulSet, workload.KindJob}, gvk.Kind) {
			printWarning(stderr, "%s %s: %s is set, but apiVersion %s is not one mlscale scales (nor one current Kubernetes serves); ignored: use apps/v1 for Deployments and StatefulSets, batch/v1 for Jobs",
				d.Kind, objectName(m), intent.KeyAutoscale, d.APIVersion)
		} else if intent.Enabled(m.Annotations) {
			printWarning(stderr, "%s %s: %s is set, but mlscale scales only Deployments, StatefulSets and Jobs; ignored",
				d.Kind, objectName(m), intent.KeyAutoscale)
		}
		return render.Result{}, true
	}
	if err := checkAnnotationValues(d, cfg.Namespace); err != nil {
		printError(stderr, "%s: %v", d.Where(), err)
		return render.Result{}, false
	}
	w, _, err := workload.Decode(gvk, d.JSON)
	if err != nil {
		printError(stderr, "%s: %v", d.Where(), err)
		return render.Result{}, false
	}
	if err := namespaceMismatch(w.Namespace, cfg.Namespace, cfg.NamespaceSet); err != nil {
		printError(stderr, "%s: %v", d.Where(), err)
		return render.Result{}, false
	}
	if w.Namespace == "" {
		w.Namespace = cfg.Namespace
	}
	res, err := render.Workload(w, cfg.Facts)
	for _, warning := range res.Warnings {
		printWarning(stderr, "%s %s/%s: %s", w.GVK.Kind, w.Namespace, w.Name, warning)
	}
	switch {
	case errors.Is(err, render.ErrNotEnabled):
		return render.Result{}, true
	case err != nil:
		printError(stderr, "%s", render.Message(w, err))
		return render.Result{}, false
	case w.Name == "":
		// Admission admits it (the API server names it later), but the KEDA
		// object needs the name for itself and its scale target.
		printError(stderr, "%s: %s in namespace %s has no metadata.name (with generateName the API server chooses it): cannot render its KEDA object, which is named after the workload and targets it by name",
			d.Where(), w.GVK.Kind, w.Namespace)
		return render.Result{}, false
	}
	return res, true
}

// checkAnnotationValues reports annotations whose value is not a string,
// such as mlscale.io/max-replicas: 3 or mlscale.io/autoscale: true without
// quotes. The API server rejects such an object with a message that names
// no annotation; this one names each and shows how to quote it. Malformed
// metadata is left to the decoder. The error names the workload as
// "KIND NAMESPACE/NAME: ", with namespace for a workload that names none.
func checkAnnotationValues(d manifest.Document, namespace string) error {
	var obj struct {
		Metadata struct {
			Name        string                     `json:"name"`
			Namespace   string                     `json:"namespace"`
			Annotations map[string]json.RawMessage `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(d.JSON, &obj); err != nil {
		return nil
	}
	if obj.Metadata.Namespace != "" {
		namespace = obj.Metadata.Namespace
	}
	var bad []string
	for k, raw := range obj.Metadata.Annotations {
		v := strings.TrimSpace(string(raw))
		switch {
		case v == "null" || strings.HasPrefix(v, `"`):
			// A string, or no value (the empty string).
		case strings.HasPrefix(v, "{") || strings.HasPrefix(v, "["):
			bad = append(bad, fmt.Sprintf("annotation %s is not a string; annotation values are strings", k))
		case v == "true" || v == "false":
			bad = append(bad, fmt.Sprintf("annotation %s: %s is not a string; annotation values are strings, quote it: %s: %q", k, v, k, v))
		default:
			// YAML has read an unquoted number, maybe not as written: 012
			// is 10 (octal) and 0x10 is 16.
			bad = append(bad, fmt.Sprintf("annotation %s: %s is not a string; annotation values are strings, quote the value as you mean it (%s: %q; unquoted, YAML reads 012 as 10 and 0x10 as 16)", k, v, k, v))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	msg := bad[0]
	if len(bad) > 1 {
		msg = fmt.Sprintf("%d problems: %s", len(bad), strings.Join(bad, "; "))
	}
	return fmt.Errorf("%s %s/%s: %s", d.Kind, namespace, obj.Metadata.Name, msg)
}

// objectMeta returns a document's metadata, or empty metadata when it has
// none that decodes.
func objectMeta(d manifest.Document) metav1.ObjectMeta {
	var obj metav1.PartialObjectMetadata
	if err := json.Unmarshal(d.JSON, &obj); err != nil {
		return metav1.ObjectMeta{}
	}
	return obj.ObjectMeta
}

// objectName returns "namespace/name" of an object, or "name" when it has no
// namespace.
func objectName(m metav1.ObjectMeta) string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}

// namespaceMismatch refuses, as kubectl does, an object whose manifest names
// another namespace than the one given with -n (set): mlscale would
// otherwise judge it in a namespace it is not applied to.
func namespaceMismatch(object, flag string, set bool) error {
	if !set || object == "" || object == flag {
		return nil
	}
	return fmt.Errorf("the object's namespace %q does not match --namespace %q; remove -n, or pass -n %s", object, flag, object)
}
