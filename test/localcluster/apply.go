package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/manifest"
)

// Manifest is one object read from a file.
type Manifest struct {
	// Source is the file it came from (manifest.StdinName for standard
	// input).
	Source string
	// Object is the object as written.
	Object *unstructured.Unstructured
}

// Ref names an object: kind, namespace and name.
type Ref struct {
	// GVK is the object's group, version and kind.
	GVK schema.GroupVersionKind
	// Namespace is empty for cluster-scoped objects.
	Namespace, Name string
}

// RefOf returns the Ref of an object.
func RefOf(u *unstructured.Unstructured) Ref {
	return Ref{GVK: u.GroupVersionKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// String is "Kind namespace/name" ("Kind name" when cluster-scoped).
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.GVK.Kind + " " + r.Name
	}
	return r.GVK.Kind + " " + r.Namespace + "/" + r.Name
}

// ReadManifests reads every object in the paths, in order, with mlscale's
// manifest reader (internal/manifest): a file, a directory (its *.yaml,
// *.yml and *.json files, sorted by name) or "-" for stdin; Lists are
// expanded. A path that cannot be read or a document that is not a
// Kubernetes object is an error naming the file, the document and its line.
func ReadManifests(stdin io.Reader, paths ...string) ([]Manifest, error) {
	sources, errs := manifest.ReadSources(paths, false, stdin)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	var out []Manifest
	for _, src := range sources {
		for _, d := range manifest.Documents(src) {
			if d.Err != nil {
				return nil, d.Err
			}
			var obj map[string]any
			if err := json.Unmarshal(d.JSON, &obj); err != nil {
				return nil, fmt.Errorf("%s: %w", d.Where(), err)
			}
			out = append(out, Manifest{Source: src.Name, Object: &unstructured.Unstructured{Object: obj}})
		}
	}
	return out, nil
}

// Outcome is what the API server said to one object.
type Outcome struct {
	Manifest
	// Ref names the object.
	Ref Ref
	// Created is the object as stored; nil when rejected.
	Created *unstructured.Unstructured
	// Err is the rejection; nil when created.
	Err error
	// Warnings are the warnings the API server (and admission) returned.
	Warnings []string
}

// Message is the rejection message without the client's decorations.
func (o Outcome) Message() string {
	if o.Err == nil {
		return ""
	}
	var status apierrors.APIStatus
	if errors.As(o.Err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return o.Err.Error()
}

// Creator creates objects one at a time and records, for each, the API
// server's answer and warnings.
type Creator struct {
	c        client.Client
	mu       sync.Mutex
	warnings []string
}

// warningCollector collects warnings of the request in flight.
type warningCollector struct{ cr *Creator }

// HandleWarningHeader implements rest.WarningHandler.
func (w warningCollector) HandleWarningHeader(code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.cr.mu.Lock()
	w.cr.warnings = append(w.cr.warnings, text)
	w.cr.mu.Unlock()
}

// NewCreator returns a Creator using cfg (copied; warnings are collected
// rather than logged).
func NewCreator(cfg *rest.Config) (*Creator, error) {
	cr := &Creator{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warningCollector{cr}
	cfg.WarningHandlerWithContext = nil
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	cr.c = c
	return cr, nil
}

// Create creates the objects in order, Namespaces first, and returns what
// happened to each, in the order given. A rejected object is reported in its
// Outcome, not as an error; the error is only for a cancelled context.
func (cr *Creator) Create(ctx context.Context, ms []Manifest) ([]Outcome, error) {
	out := make([]Outcome, len(ms))
	order := make([]int, 0, len(ms))
	for i, m := range ms {
		if m.Object.GetKind() == "Namespace" && m.Object.GroupVersionKind().Group == "" {
			order = append(order, i)
		}
	}
	for i, m := range ms {
		if !(m.Object.GetKind() == "Namespace" && m.Object.GroupVersionKind().Group == "") {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out[i] = cr.createOne(ctx, ms[i])
	}
	return out, nil
}

func (cr *Creator) createOne(ctx context.Context, m Manifest) Outcome {
	obj := m.Object.DeepCopy()
	o := Outcome{Manifest: m, Ref: RefOf(obj)}
	cr.mu.Lock()
	cr.warnings = nil
	cr.mu.Unlock()
	err := cr.c.Create(ctx, obj)
	if err != nil && obj.GetNamespace() == "" && strings.Contains(err.Error(), "an empty namespace may not be set") {
		// A namespaced object without a namespace goes to "default", as
		// kubectl apply puts it.
		obj.SetNamespace(metav1.NamespaceDefault)
		o.Ref = RefOf(obj)
		err = cr.c.Create(ctx, obj)
	}
	if apierrors.IsAlreadyExists(err) {
		// Applied again (a sample given with -f, or changed): replace the
		// stored object, as kubectl apply would update it.
		err = cr.replace(ctx, obj)
	}
	cr.mu.Lock()
	o.Warnings = slices.Clone(cr.warnings)
	cr.mu.Unlock()
	if err != nil {
		o.Err = err
		return o
	}
	o.Created = obj
	return o
}

// replace updates the stored object of obj's name to obj.
func (cr *Creator) replace(ctx context.Context, obj *unstructured.Unstructured) error {
	var stored unstructured.Unstructured
	stored.SetGroupVersionKind(obj.GroupVersionKind())
	if err := cr.c.Get(ctx, client.ObjectKeyFromObject(obj), &stored); err != nil {
		return err
	}
	obj.SetResourceVersion(stored.GetResourceVersion())
	return cr.c.Update(ctx, obj)
}

// Summary counts outcomes.
func Summary(outcomes []Outcome) (created, rejected int) {
	for _, o := range outcomes {
		if o.Err != nil {
			rejected++
		} else {
			created++
		}
	}
	return created, rejected
}
