// Package validate is mlscale's validating admission webhook: it evaluates
// the Rego policies (internal/policy) for autoscaling/v2
// HorizontalPodAutoscalers, KEDA ScaledObjects and ScaledJobs, and workloads
// that opt in to mlscale (evaluated together with the KEDA object mlscale
// renders for them), with the namespace's inventory of related objects.
//
// Violations whose action is deny refuse the object with the policies'
// messages; warn violations come back as admission warnings; audit
// violations are only logged. The handler has no side effects, so a dry-run
// request gets exactly the answer a real one would.
package validate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/reviewhttp"
	"github.com/mlscale/mlscale/webhook/screen"
)

// Path is the URL path the validating webhook is served on.
const Path = "/validate-mlscale-policies"

// InventorySource gives the objects related to a review (HPAs,
// ScaledObjects, ScaledJobs, ResourceQuotas of its namespace) that the
// policies read as data.inventory; webhook/inventory reads them from the
// manager's informer cache.
type InventorySource interface {
	// Inventory returns the review's inventory.
	Inventory(ctx context.Context, r policy.Review) (policy.Inventory, error)
}

// Handler is the validating admission handler. It implements
// controller-runtime's admission.Handler.
type Handler struct {
	// Engine evaluates the policies when Engines is nil.
	Engine *policy.Engine
	// Engines holds the current engine (built-in and user policies),
	// swapped atomically when user policies change; it takes precedence
	// over Engine.
	Engines *policy.Holder
	// Inventory gives the namespace's related objects; nil means an empty
	// inventory.
	Inventory InventorySource
	// Facts returns the cluster facts for rendering; nil means
	// facts.Default().
	Facts facts.Func
	// Metrics count the violations found; nil counts nothing.
	Metrics *Metrics
	// APIServer, when set, reports whether the API server enforces a
	// policy on a kind itself (its ValidatingAdmissionPolicies, see
	// internal/vap): such violations are left to it, so that a user sees
	// each once.
	APIServer func(policy, kind string) bool
}

var _ admission.Handler = (*Handler)(nil)

// Webhook wraps h in a controller-runtime admission.Webhook served by
// reviewhttp (one decoding pass over each review).
func Webhook(h *Handler) *reviewhttp.Handler {
	return reviewhttp.New(&admission.Webhook{Handler: h})
}

// Handle answers one AdmissionRequest:
//   - CREATE and UPDATE of an HPA (autoscaling/v2), ScaledObject, ScaledJob
//     or opted-in workload: the policies' verdict;
//   - DELETE, CONNECT, other kinds, subresources, workloads that have not
//     opted in or whose annotations do not render (the mutating webhook
//     denies those), objects being deleted, and kinds that no policy
//     reviews (policy.KindsRule): allowed, without reading the inventory;
//   - a request that cannot be decoded: a 400 with the reason;
//   - an inventory or evaluation failure: a 500, so that the webhook's
//     failurePolicy decides.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	if resp, done := screen.Request(req); done {
		return resp
	}
	if req.SubResource != "" {
		return admission.Allowed(fmt.Sprintf("mlscale does not check the %s subresource", req.SubResource))
	}
	engine := h.engine()
	if engine == nil {
		return admission.Errored(http.StatusInternalServerError, errors.New("mlscale: the policy engine is not configured"))
	}
	gvk := schema.GroupVersionKind(req.Kind)
	review, skip, err := h.review(ctx, gvk, req)
	if err != nil {
		return screen.BadRequest(fmt.Errorf("mlscale: %s %s/%s: %w", gvk.Kind, req.Namespace, req.Name, err))
	}
	if skip != "" {
		return admission.Allowed(skip)
	}
	if !engine.Reviews(review.Kind) {
		return admission.Allowed(fmt.Sprintf("no policy reviews %s", review.Kind))
	}
	var inv policy.Inventory
	if h.Inventory != nil {
		if inv, err = h.Inventory.Inventory(ctx, review); err != nil {
			return admission.Errored(http.StatusInternalServerError, fmt.Errorf("mlscale: reading the inventory of namespace %q: %w", review.Namespace, err))
		}
	}
	vs, err := engine.Evaluate(ctx, review, inv)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("mlscale: %w", err))
	}
	if h.APIServer != nil {
		vs = slices.DeleteFunc(vs, func(v policy.Violation) bool { return h.APIServer(v.Policy, review.Kind) })
	}
	if req.DryRun == nil || !*req.DryRun {
		h.Metrics.observe(review.Namespace, gvk.Kind, vs)
	}
	return respond(ctx, vs)
}

// engine returns the engine to evaluate with, or nil.
func (h *Handler) engine() *policy.Engine {
	switch {
	case h == nil:
		return nil
	case h.Engines != nil:
		return h.Engines.Load()
	}
	return h.Engine
}

// respond turns violations into the admission answer.
func respond(ctx context.Context, vs []policy.Violation) admission.Response {
	var denied, warnings []string
	for _, v := range vs {
		switch v.Action {
		case policy.ActionDeny:
			denied = append(denied, v.Message)
		case policy.ActionWarn:
			warnings = append(warnings, v.Message)
		default:
			logf.FromContext(ctx).Info("policy violation (audit)", "policy", v.Policy, "message", v.Message)
		}
	}
	if len(denied) > 0 {
		return admission.Denied(strings.Join(denied, "; ")).WithWarnings(warnings...)
	}
	return admission.Allowed("").WithWarnings(warnings...)
}

// review decodes the request's object into a policy review. A non-empty
// skip says why the object is admitted without evaluation.
func (h *Handler) review(ctx context.Context, gvk schema.GroupVersionKind, req admission.Request) (r policy.Review, skip string, err error) {
	if !policy.Reviewed(gvk) {
		return r, fmt.Sprintf("mlscale does not check %s", gvk), nil
	}
	obj, err := policy.Decode(gvk, req.Object.Raw)
	if err != nil {
		return r, "", err
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(req.Namespace)
	}
	if obj.GetDeletionTimestamp() != nil {
		return r, "the object is being deleted", nil
	}
	if _, isWorkload := workload.KindOf(gvk.GroupKind()); isWorkload && !intent.Enabled(obj.GetAnnotations()) {
		return r, "the workload has not opted in to mlscale", nil
	}
	r, err = policy.NewTypedReview(ctx, string(req.Operation), obj, h.Facts)
	var renderErr *policy.RenderError
	switch {
	case errors.As(err, &renderErr):
		return r, "the annotations do not render; the mutating webhook reports them", nil
	case errors.Is(err, policy.ErrFacts):
		return r, "the cluster facts are unavailable; the mlscale controller checks the workload later", nil
	case err != nil:
		return r, "", err
	}
	if req.Namespace != "" {
		r.Namespace = req.Namespace
	}
	return r, "", nil
}
