// Package crdschema validates objects against the OpenAPI schemas of
// CustomResourceDefinitions the way the Kubernetes API server does on create:
// type and metadata checks, unknown-field detection (strict field
// validation), structural defaulting, the OpenAPI value validations,
// list-type invariants and the CEL rules of x-kubernetes-validations.
//
// It exists so that unit tests can prove a rendered KEDA ScaledObject or
// ScaledJob would be accepted by a cluster running KEDA's real CRDs, without
// starting one. Load the CRDs once (LoadDir, KEDA) and call Set.Validate for
// each object.
package crdschema

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// KEDAModule is the Go module whose config/crd/bases holds KEDA's CRDs.
const KEDAModule = "github.com/kedacore/keda/v2"

// Set holds the validators of every served version of a set of CRDs,
// keyed by group, version and kind. It is safe for concurrent use.
type Set struct {
	versions map[schema.GroupVersionKind]*Version
}

// Version validates objects of one served version of one CRD.
type Version struct {
	// GVK is the group, version and kind the version serves.
	GVK schema.GroupVersionKind
	// Namespaced is true for namespace-scoped resources.
	Namespaced bool

	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no CEL rules
}

// LoadDir reads every *.yaml and *.yml file in dir and adds the
// CustomResourceDefinitions found in them. Documents of other kinds are
// skipped.
func LoadDir(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading CRD directory: %w", err)
	}
	s := &Set{versions: map[schema.GroupVersionKind]*Version{}}
	for _, e := range entries {
		if e.IsDir() || (!strings.HasSuffix(e.Name(), ".yaml") && !strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading CRD file: %w", err)
		}
		if err := s.Add(data); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	if len(s.versions) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinitions in %s", dir)
	}
	return s, nil
}

// Add parses one or more YAML documents and adds every apiextensions.k8s.io/v1
// CustomResourceDefinition among them.
func (s *Set) Add(data []byte) error {
	if s.versions == nil {
		s.versions = map[schema.GroupVersionKind]*Version{}
	}
	r := utilyaml.NewYAMLReader(bufioReader(data))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("splitting YAML documents: %w", err)
		}
		var tm runtime.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return fmt.Errorf("reading document kind: %w", err)
		}
		if tm.Kind != "CustomResourceDefinition" || tm.APIVersion != apiextensionsv1.SchemeGroupVersion.String() {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
			return fmt.Errorf("decoding CustomResourceDefinition: %w", err)
		}
		if err := s.addCRD(&crd); err != nil {
			return fmt.Errorf("CustomResourceDefinition %s: %w", crd.Name, err)
		}
	}
}

func (s *Set) addCRD(in *apiextensionsv1.CustomResourceDefinition) error {
	var crd apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(in, &crd, nil); err != nil {
		return fmt.Errorf("converting to the internal version: %w", err)
	}
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		props := crd.Spec.Validation // pre-v1 top-level schema, if any
		if v.Schema != nil {
			props = v.Schema
		}
		if props == nil || props.OpenAPIV3Schema == nil {
			return fmt.Errorf("version %s has no OpenAPI v3 schema", v.Name)
		}
		st, err := structuralschema.NewStructural(props.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("version %s: building the structural schema: %w", v.Name, err)
		}
		if errs := structuralschema.ValidateStructural(field.NewPath("spec", "versions").Key(v.Name), st); len(errs) > 0 {
			return fmt.Errorf("version %s: schema is not structural: %w", v.Name, errs.ToAggregate())
		}
		sv, _, err := apiservervalidation.NewSchemaValidator(props.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("version %s: building the schema validator: %w", v.Name, err)
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		s.versions[gvk] = &Version{
			GVK:        gvk,
			Namespaced: crd.Spec.Scope == apiextensions.NamespaceScoped,
			structural: st,
			validator:  sv,
			cel:        cel.NewValidator(st, true, celconfig.PerCallLimit),
		}
	}
	return nil
}

// Kinds lists the group, version and kinds the set validates, sorted.
func (s *Set) Kinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(s.versions))
	for gvk := range s.versions {
		out = append(out, gvk)
	}
	slices.SortFunc(out, func(a, b schema.GroupVersionKind) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Version returns the validator of a served version, or nil.
func (s *Set) Version(gvk schema.GroupVersionKind) *Version {
	return s.versions[gvk]
}

// Validate checks an object, given as the unstructured map of its JSON form
// (integers as int64, as the API server and runtime.DefaultUnstructuredConverter
// produce them), against the served version its apiVersion and kind name. It returns every
// problem found; none means the API server would accept the object on
// create. The object is not modified.
func (s *Set) Validate(obj map[string]any) field.ErrorList {
	u := &unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	v := s.versions[gvk]
	if v == nil {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), gvk.String(), gvkStrings(s.Kinds()))}
	}
	return v.Validate(obj)
}

// ValidateJSON decodes a JSON object as the API server does (whole numbers
// become int64, as CEL rules on integer fields expect) and validates it.
func (s *Set) ValidateJSON(data []byte) (field.ErrorList, error) {
	var m map[string]any
	if err := utiljson.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding JSON object: %w", err)
	}
	return s.Validate(m), nil
}

// ValidateObject converts a typed object (e.g. a *ScaledObject) to its
// unstructured form and validates it.
func (s *Set) ValidateObject(obj runtime.Object) (field.ErrorList, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T to unstructured: %w", obj, err)
	}
	return s.Validate(m), nil
}

// Validate checks an object against this version's schema, as the API
// server does on create: apiVersion and kind, metadata, unknown fields (as
// with fieldValidation=Strict), defaults, OpenAPI value validations, list
// types, and the CEL rules unless an earlier error makes them unreliable.
// The object is not modified.
func (v *Version) Validate(obj map[string]any) field.ErrorList {
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
	var errs field.ErrorList
	if u.GetKind() != v.GVK.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), u.GetKind(), "must be "+v.GVK.Kind))
	}
	if gv := v.GVK.GroupVersion().String(); u.GetAPIVersion() != gv {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), u.GetAPIVersion(), "must be "+gv))
	}
	if len(errs) > 0 {
		return errs
	}

	unknown := structuralpruning.PruneWithOptions(u.Object, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range unknown {
		errs = append(errs, field.Invalid(field.NewPath(p), nil, "unknown field: the API server drops it, or rejects the object with strict field validation"))
	}
	structuraldefaulting.Default(u.Object, v.structural)

	errs = append(errs, apivalidation.ValidateObjectMetaAccessor(u, v.Namespaced, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u.Object, v.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, u.Object, v.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, u.Object)...)

	if v.cel != nil {
		if blocking(errs) {
			errs = append(errs, field.Invalid(nil, nil, "CEL validation rules were not checked because the object has type or required-field errors"))
		} else {
			celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

// blocking reports errors after which the API server skips CEL rules.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

func gvkStrings(gvks []schema.GroupVersionKind) []string {
	out := make([]string, len(gvks))
	for i, g := range gvks {
		out[i] = g.GroupVersion().String() + ", Kind=" + g.Kind
	}
	return out
}

var loadKEDA = sync.OnceValues(func() (*Set, error) {
	dir, err := KEDACRDDir("")
	if err != nil {
		return nil, err
	}
	return LoadDir(dir)
})

// KEDA returns the validators of KEDA's CRDs (ScaledObject, ScaledJob,
// TriggerAuthentication, ...), loaded once per process from the KEDA module
// the current module requires.
func KEDA() (*Set, error) { return loadKEDA() }

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
