package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Manifest is one object read from a file.
type Manifest struct {
	// Source is the file it came from ("-" for standard input).
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

// ReadManifests reads every object in the paths, in order: a file, a
// directory (its *.yaml, *.yml and *.json files, sorted by name) or "-" for
// stdin. Lists (kind: List) are expanded.
func ReadManifests(stdin io.Reader, paths ...string) ([]Manifest, error) {
	var out []Manifest
	for _, p := range paths {
		if p == "-" {
			ms, err := decodeManifests("-", stdin)
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
		files := []string{p}
		if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("reading manifests: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				ext := filepath.Ext(e.Name())
				if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			slices.Sort(files)
		}
		for _, f := range files {
			r, err := os.Open(f)
			if err != nil {
				return nil, fmt.Errorf("reading manifests: %w", err)
			}
			ms, err := decodeManifests(f, r)
			r.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
		}
	}
	return out, nil
}

func decodeManifests(source string, r io.Reader) ([]Manifest, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []Manifest
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("reading %s: %w", source, err)
		}
		if len(m) == 0 {
			continue // an empty document, e.g. only comments
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("reading %s: an object without apiVersion or kind (name %q)", source, u.GetName())
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", source, err)
			}
			for i := range list.Items {
				out = append(out, Manifest{Source: source, Object: &list.Items[i]})
			}
			continue
		}
		out = append(out, Manifest{Source: source, Object: u})
	}
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
