// Package mutate is mlscale's mutating admission webhook for workloads
// (apps/v1 Deployments and StatefulSets, batch/v1 Jobs).
//
// For a workload that opts in (mlscale.io/autoscale: "true") it parses the
// annotations and renders the KEDA object with internal/render, and answers
// with a JSON patch that records the rendered spec's hash in the
// mlscale.io/rendered-hash annotation and, for a Job that becomes a ScaledJob
// template, sets spec.suspend to true. Bad annotations are denied with the
// same message `mlscale render` prints; harmless oddities come back as
// admission warnings. The handler has no side effects, so a dry-run request
// gets exactly the answer a real one would. The reconciler, not the webhook,
// creates the KEDA objects.
package mutate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/kubejson"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/reviewhttp"
	"github.com/mlscale/mlscale/webhook/screen"
)

// Path is the URL path the mutating webhook is served on; the
// MutatingWebhookConfiguration's clientConfig names it.
const Path = "/mutate-mlscale-workloads"

// Handler is the mutating admission handler for workloads. It implements
// controller-runtime's admission.Handler; the zero value is ready to use.
type Handler struct {
	// Facts returns the cluster facts rendering needs; it is called only for
	// workloads that opt in. Nil means facts.Default().
	Facts facts.Func
}

var _ admission.Handler = (*Handler)(nil)

// Webhook wraps h in a controller-runtime admission.Webhook served by
// reviewhttp (one decoding pass over each review), ready to be registered
// on a webhook server at Path (or served with its ServeHTTP).
func Webhook(h *Handler) *reviewhttp.Handler {
	return reviewhttp.New(&admission.Webhook{Handler: h})
}

// handled reports whether gvk is a workload kind this webhook mutates (in
// the version the webhook configuration names).
func handled(gvk schema.GroupVersionKind) bool {
	k, ok := workload.KindOf(gvk.GroupKind())
	return ok && k.GVK == gvk
}

// Handle answers one AdmissionRequest:
//   - CREATE and UPDATE of a handled workload that opts in: a patch setting
//     the rendered-hash annotation (and spec.suspend on a Job), with the
//     render warnings; a denial carrying render.Message for bad annotations;
//   - a workload that does not opt in: allowed, no patch, parse warnings;
//   - DELETE, CONNECT, other kinds, subresources (status, scale) and
//     updates of an object being deleted: allowed;
//   - a request that cannot be decoded: a 400 with the reason.
//
// If the cluster facts cannot be read, the workload is admitted unpatched
// with a warning (bad annotations are still denied): a denial would block
// the write even with failurePolicy Ignore, and the reconciler renders the
// workload later anyway.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	if resp, done := screen.Request(req); done {
		return resp
	}
	gvk := schema.GroupVersionKind(req.Kind)
	if !handled(gvk) {
		return admission.Allowed(fmt.Sprintf("mlscale does not handle %s", kindString(gvk)))
	}
	if req.SubResource != "" {
		// status, scale: written by controllers, never annotations.
		return admission.Allowed(fmt.Sprintf("mlscale does not handle the %s subresource", req.SubResource))
	}

	w, deleting, err := decode(gvk, req)
	if err != nil {
		return screen.BadRequest(fmt.Errorf("mlscale: %s %s/%s: %w", gvk.Kind, req.Namespace, req.Name, err))
	}
	if deleting {
		// Updates of an object being deleted (finalizers) must never be
		// blocked, and its KEDA object goes with it.
		return admission.Allowed("the workload is being deleted")
	}
	if _, ok := w.Labels[workload.LabelKEDAJob]; ok && w.GVK.Kind == workload.KindJob {
		// KEDA copies the ScaledJob's mlscale.io/profile onto the Jobs it
		// starts; they are runs of a workload, not workloads, and get no
		// "annotations are ignored" warning.
		return admission.Allowed("a Job that KEDA started from a ScaledJob")
	}

	var f facts.Facts
	if intent.Enabled(w.Annotations) {
		f, err = h.facts(ctx, w.Namespace)
		if err != nil {
			return h.factsUnavailable(ctx, w, err)
		}
	}

	res, err := render.Workload(w, f)
	switch {
	case errors.Is(err, render.ErrNotEnabled):
		return admission.Allowed("").WithWarnings(res.Warnings...)
	case err != nil:
		return deny(w, err).WithWarnings(res.Warnings...)
	}

	suspend := res.ScaledJob() != nil
	if suspend && req.Operation == admissionv1.Update {
		// The status is the stored object's: mutating admission sees the
		// status the client sent (none from kubectl replace of a
		// manifest), the API server puts the stored one back after it.
		if running := runningJob(req.Object.Raw, req.OldObject.Raw); running != "" {
			// Suspending a started Job deletes its pods: a training run
			// would stop without a word.
			var es intent.Errors
			es.Add(intent.KeyAutoscale, w.Annotations[intent.KeyAutoscale],
				"the Job is running ("+running+"): opting it in, or changing the annotations of a Job that runs unsuspended, would suspend it and stop its pods",
				fmt.Sprintf("apply the annotations to a new Job (a copy under another name), or suspend this one first if stopping it is meant (kubectl patch job %s -n %s --type=merge -p '{\"spec\":{\"suspend\":true}}')", w.Name, w.Namespace))
			return deny(w, es).WithWarnings(res.Warnings...)
		}
	}
	hash := res.Hash
	if w.Name == "" {
		// CREATE with generateName: the KEDA object will target a name
		// that does not exist yet, so no hash made now can match the one
		// the reconciler renders. It is written at the next update.
		hash = ""
	}
	// The operations are written directly, in path order, so the answer
	// is the same byte for byte every time.
	patches, err := patchOps(req.Object.Raw, hash, suspend)
	if err != nil {
		return screen.BadRequest(fmt.Errorf("mlscale: %s %s/%s: %w", gvk.Kind, w.Namespace, w.Name, err))
	}
	resp := admission.Response{Patches: patches, AdmissionResponse: admissionv1.AdmissionResponse{Allowed: true}}
	if len(patches) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
	}
	return resp.WithWarnings(res.Warnings...)
}

// runningJob describes a Job that has started, is not suspended and has
// not finished ("started 2026-12-04T10:00:00Z, 2 active pod(s)"), or
// returns "" for any other Job: its spec.suspend as the update sets it (raw,
// the JSON of the new object) and its status as stored (old, the JSON of
// the old object).
func runningJob(raw, old []byte) string {
	var spec struct {
		Spec struct {
			Suspend *bool `json:"suspend"`
		} `json:"spec"`
	}
	var j struct {
		Status batchv1.JobStatus `json:"status"`
	}
	if json.Unmarshal(raw, &spec) != nil || (spec.Spec.Suspend != nil && *spec.Spec.Suspend) ||
		json.Unmarshal(old, &j) != nil || workload.JobFinished(j.Status) || (j.Status.StartTime == nil && j.Status.Active == 0) {
		return ""
	}
	started := "started"
	if j.Status.StartTime != nil {
		started += " " + j.Status.StartTime.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s, %d active pod(s)", started, j.Status.Active)
}

func (h *Handler) facts(ctx context.Context, namespace string) (facts.Facts, error) {
	var ff facts.Func
	if h != nil {
		ff = h.Facts
	}
	f, err := ff.For(ctx, namespace)
	if err != nil {
		return facts.Facts{}, fmt.Errorf("reading cluster facts for namespace %q: %w", namespace, err)
	}
	return f, nil
}

// factsUnavailable answers when the cluster facts cannot be read: the
// annotations are still checked (parse errors do not depend on the facts),
// and a workload that parses is admitted unpatched with a warning.
func (h *Handler) factsUnavailable(ctx context.Context, w workload.Workload, err error) admission.Response {
	logf.FromContext(ctx).Error(err, "admitting workload without rendering it", "kind", w.GVK.Kind, "namespace", w.Namespace, "name", w.Name)
	_, warns, perr := intent.ParseWith(w.Annotations, intent.Options{Job: w.GVK.Kind == workload.KindJob})
	if perr != nil {
		return deny(w, perr).WithWarnings(warns...)
	}
	warns = append(warns, fmt.Sprintf("mlscale: %s %s/%s was admitted without checking its KEDA object: %v; the mlscale controller renders it when the facts are available",
		w.GVK.Kind, w.Namespace, w.Name, err))
	return admission.Allowed("").WithWarnings(warns...)
}

// decode builds the Workload from the request's object and checks that it is
// the object the request is about; deleting reports a deletionTimestamp.
func decode(gvk schema.GroupVersionKind, req admission.Request) (w workload.Workload, deleting bool, err error) {
	w, obj, err := decodeWorkload(gvk, req.Object.Raw)
	if err != nil {
		return workload.Workload{}, false, err
	}
	if ro, ok := obj.(runtime.Object); ok {
		if got := ro.GetObjectKind().GroupVersionKind(); got != (schema.GroupVersionKind{}) && got != gvk {
			return workload.Workload{}, false, fmt.Errorf("the object's kind %s differs from the request's kind %s", kindString(got), kindString(gvk))
		}
	}
	if mo, ok := obj.(metav1.Object); ok {
		deleting = mo.GetDeletionTimestamp() != nil
	}
	// The API server sets the namespace before admission; a name may still
	// be missing on CREATE with generateName.
	switch {
	case w.Namespace == "":
		w.Namespace = req.Namespace
	case req.Namespace != "" && w.Namespace != req.Namespace:
		return workload.Workload{}, false, fmt.Errorf("the object's namespace %q differs from the request's namespace %q", w.Namespace, req.Namespace)
	}
	if w.Name == "" {
		w.Name = req.Name
	}
	return w, deleting, nil
}

// decodeWorkload is workload.Decode with kubejson's decoder (the same
// result, a third of the time); an object it cannot decode is decoded by
// workload.Decode, for its error.
func decodeWorkload(gvk schema.GroupVersionKind, raw []byte) (workload.Workload, client.Object, error) {
	k, ok := workload.KindOf(gvk.GroupKind())
	if !ok || len(raw) == 0 {
		return workload.Decode(gvk, raw)
	}
	obj := k.New()
	if err := kubejson.Unmarshal(raw, obj); err != nil {
		return workload.Decode(gvk, raw)
	}
	w, err := workload.FromObject(obj)
	return w, obj, err
}

// deny is the answer for a workload whose annotations cannot be rendered:
// the shared denial message, and one cause per bad annotation.
func deny(w workload.Workload, err error) admission.Response {
	resp := admission.Denied(render.Message(w, err))
	var fes intent.Errors
	if errors.As(err, &fes) && len(fes) > 0 {
		details := &metav1.StatusDetails{Name: w.Name, Kind: w.GVK.Kind, Group: w.GVK.Group}
		for _, fe := range fes {
			details.Causes = append(details.Causes, metav1.StatusCause{
				Type:    metav1.CauseTypeFieldValueInvalid,
				Field:   "metadata.annotations[" + fe.Key + "]",
				Message: fe.Error(),
			})
		}
		resp.Result.Details = details
	}
	return resp
}

// kindString writes a GVK as a user would: "apps/v1 Deployment".
func kindString(gvk schema.GroupVersionKind) string {
	if gvk.Empty() {
		return "an object without apiVersion and kind"
	}
	return gvk.GroupVersion().String() + " " + gvk.Kind
}
