package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	yamlv3 "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The API server decodes request bodies with sigs.k8s.io/json: field names
// match case-sensitively (Go's encoding/json would also take
// "maxreplicacount" for maxReplicaCount, and the last of the two wins), and
// kubectl's default --validate=strict (fieldValidation=Strict) makes a
// duplicate or unknown field an error. This file reads manifests the same
// way, so that what render and policy eval judge is what the API server
// would store, and a misspelt field cannot fool a CI gate.

// kinds are the kinds whose schema is known: Kubernetes' built-in ones
// (client-go's scheme) and KEDA's.
var kinds = sync.OnceValues(func() (*runtime.Scheme, map[string]map[string]string) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("registering Kubernetes types: %v", err))
	}
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("registering KEDA types: %v", err))
	}
	// byGroup maps a group and a lower-case kind to the kind's spelling.
	byGroup := map[string]map[string]string{}
	for gvk := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		if byGroup[gvk.Group] == nil {
			byGroup[gvk.Group] = map[string]string{}
		}
		byGroup[gvk.Group][strings.ToLower(gvk.Kind)] = gvk.Kind
	}
	return s, byGroup
})

// topFields are the fields every Kubernetes object has at its top level,
// besides what its kind adds.
var topFields = []string{"apiVersion", "kind", "metadata"}

// head is the top level of an object: its fields, undecoded, and its type.
type head struct {
	fields           map[string]json.RawMessage
	apiVersion, kind string
	items            []json.RawMessage
	hasItems         bool
}

// readHead decodes the top level of a document as the API server does:
// field names case-sensitive, a duplicate field an error, a field that
// differs from apiVersion, kind or metadata only in case an error.
func readHead(data []byte) (head, error) {
	var h head
	strict, err := kjson.UnmarshalStrict(data, &h.fields, kjson.DisallowDuplicateFields)
	if err != nil || h.fields == nil {
		return h, errors.New("not a Kubernetes object: want a mapping with apiVersion and kind")
	}
	var errs []error
	errs = append(errs, strict...)
	for name := range h.fields {
		for _, f := range topFields {
			if name != f && strings.EqualFold(name, f) {
				errs = append(errs, caseError(name, f))
			}
		}
	}
	for f, dst := range map[string]*string{"apiVersion": &h.apiVersion, "kind": &h.kind} {
		if raw, ok := h.fields[f]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				errs = append(errs, fmt.Errorf("field %q: want a string", f))
			}
		}
	}
	if raw, ok := h.fields["items"]; ok && string(raw) != "null" {
		h.hasItems = true
		if err := json.Unmarshal(raw, &h.items); err != nil {
			errs = append(errs, errors.New(`field "items": want a list`))
		}
	}
	return h, joinSorted(errs)
}

// caseError is the error of a field written in the wrong case.
func caseError(got, want string) error {
	return fmt.Errorf("unknown field %q: field names are case-sensitive; did you mean %q?", got, want)
}

// joinSorted joins errors in the order of their messages (the decoder's
// order follows Go's map iteration in places), nil for none.
func joinSorted(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(slices.Compact(msgs), "; "))
}

// checkObject checks an object (not a List) as the API server reads it
// with fieldValidation=Strict: a kind of a known group written in the
// wrong case is an error naming the right kind; an object of a known kind
// is decoded into its type, where a duplicate field or an unknown field
// (one written in the wrong case included, with the field meant) is an
// error; of another kind (a custom resource whose schema mlscale does not
// know), duplicate fields anywhere and unknown fields of metadata are.
// Values of the wrong type are left to the callers' decoders.
func checkObject(d Document, h head) error {
	scheme, byGroup := kinds()
	gvk := d.GVK()
	if !scheme.Recognizes(gvk) {
		if right, ok := byGroup[gvk.Group][strings.ToLower(gvk.Kind)]; ok && right != gvk.Kind {
			return fmt.Errorf("unknown kind %q in %s: kinds are case-sensitive; did you mean %q?", gvk.Kind, d.APIVersion, right)
		}
		return checkUntyped(d, h)
	}
	obj, err := scheme.New(gvk)
	if err != nil {
		return checkUntyped(d, h)
	}
	strict, err := kjson.UnmarshalStrict(d.JSON, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		// A value of the wrong type: the decoder stops short of the strict
		// checks. Whoever decodes the object reports the type error (render
		// and policy eval, with messages of their own); duplicates are
		// still checked here.
		return checkUntyped(d, h)
	}
	return withHints(strict, reflect.TypeOf(obj))
}

// checkUntyped checks an object of a kind whose schema is unknown:
// duplicate fields anywhere, and metadata as every object's.
func checkUntyped(d Document, h head) error {
	var v any
	strict, err := kjson.UnmarshalStrict(d.JSON, &v, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	errs := strict
	if raw, ok := h.fields["metadata"]; ok {
		var meta metav1.ObjectMeta
		// A value of the wrong type (an unquoted annotation, say) is left
		// to the callers' decoders, as in checkObject.
		metaStrict, _ := kjson.UnmarshalStrict(raw, &meta, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
		for _, e := range metaStrict {
			if f, ok := strictField(e); ok && !strings.HasPrefix(e.Error(), "duplicate") { // duplicates are in strict already
				errs = append(errs, fieldError{kind: "unknown", path: "metadata." + f})
			}
		}
	}
	type wrapper struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	return withHints(errs, reflect.TypeFor[wrapper]())
}

// fieldError is a strict decoding error of one field.
type fieldError struct {
	kind, path, hint string
}

func (e fieldError) Error() string {
	s := fmt.Sprintf("%s field %q", e.kind, e.path)
	if e.hint != "" {
		s += fmt.Sprintf(": field names are case-sensitive; did you mean %q?", e.hint)
	}
	return s
}

// strictField returns the path of a strict decoding error of
// sigs.k8s.io/json ("unknown field \"spec.x\"", "duplicate field ...").
func strictField(err error) (string, bool) {
	_, quoted, ok := strings.Cut(err.Error(), " field ")
	if !ok {
		return "", false
	}
	f, uerr := strconv.Unquote(quoted)
	return f, uerr == nil
}

// withHints joins strict decoding errors, and names, for an unknown field
// that differs from a field of t only in case, the field meant.
func withHints(errs []error, t reflect.Type) error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		path, ok := strictField(e)
		if !ok {
			out = append(out, e)
			continue
		}
		kind, _, _ := strings.Cut(e.Error(), " ")
		fe := fieldError{kind: kind, path: path}
		if kind == "unknown" {
			fe.hint = caseHint(t, path)
		}
		out = append(out, fe)
	}
	return joinSorted(out)
}

// caseHint returns path with its last element spelt as the field of t it
// matches without regard to case, or "" when there is none.
func caseHint(t reflect.Type, path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		name, indexes, _ := strings.Cut(p, "[")
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if i == len(parts)-1 {
			f, ok := jsonField(t, name, true)
			if !ok || f == name {
				return ""
			}
			return strings.Join(append(parts[:i:i], f), ".")
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			sf, ok := structField(t, name, false)
			if !ok {
				return ""
			}
			t = sf.Type
		default:
			return ""
		}
		for range strings.Count(indexes, "]") {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return ""
			}
			t = t.Elem()
		}
	}
	return ""
}

// jsonField returns the JSON name of t's field called name (without
// regard to case when fold is set).
func jsonField(t reflect.Type, name string, fold bool) (string, bool) {
	if t.Kind() != reflect.Struct {
		return "", false
	}
	sf, ok := structField(t, name, fold)
	if !ok {
		return "", false
	}
	return jsonName(sf), true
}

// structField finds the field of struct t whose JSON name is name,
// looking into inlined (embedded, unnamed) structs as encoding/json does.
func structField(t reflect.Type, name string, fold bool) (reflect.StructField, bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		n := jsonName(sf)
		if n == "-" || !sf.IsExported() && !sf.Anonymous {
			continue
		}
		if n == "" && sf.Anonymous {
			inner := sf.Type
			for inner.Kind() == reflect.Pointer {
				inner = inner.Elem()
			}
			if inner.Kind() == reflect.Struct {
				if f, ok := structField(inner, name, fold); ok {
					return f, true
				}
			}
			continue
		}
		if n == name || fold && strings.EqualFold(n, name) {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

// jsonName is a struct field's JSON name: its tag's, its Go name when the
// tag has none, "" for an inlined embedded struct.
func jsonName(sf reflect.StructField) string {
	tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
	switch {
	case tag != "":
		return tag
	case sf.Anonymous:
		return ""
	}
	return sf.Name
}

// yamlDuplicates finds the keys a YAML document repeats within one
// mapping, as "duplicate field \"a.b\" (line N)" errors; line numbers are
// offset by first, the line the document starts on.
func yamlDuplicates(text []byte, first int) error {
	var n yamlv3.Node
	if err := yamlv3.Unmarshal(text, &n); err != nil {
		return nil
	}
	var errs []error
	var walk func(n *yamlv3.Node, path string)
	walk = func(n *yamlv3.Node, path string) {
		switch n.Kind {
		case yamlv3.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yamlv3.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yamlv3.MappingNode:
			seen := map[string]bool{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Value == "<<" && k.Tag == "!!merge" {
					continue
				}
				if seen[k.Value] {
					errs = append(errs, fmt.Errorf("duplicate field %q (line %d)", p, first+k.Line-1))
				}
				seen[k.Value] = true
				walk(v, p)
			}
		}
	}
	walk(&n, "")
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// yamlObjectName names the object of a YAML document that does not
// decode strictly, " (Kind namespace/name)", as far as it can be read; ""
// when it cannot.
func yamlObjectName(text []byte) string {
	js, err := yaml.YAMLToJSON(text)
	if err != nil {
		return ""
	}
	var h head
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &h.fields); err != nil {
		return ""
	}
	var kind string
	if err := json.Unmarshal(h.fields["kind"], &kind); err != nil || kind == "" {
		return ""
	}
	return " (" + objectName(kind, h) + ")"
}

// objectName names an object in messages: "Kind namespace/name", "Kind
// name" without a namespace, "Kind" without a name.
func objectName(kind string, h head) string {
	var meta struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	if raw, ok := h.fields["metadata"]; ok {
		_ = kjson.UnmarshalCaseSensitivePreserveInts(raw, &meta)
	}
	switch {
	case meta.Name == "":
		return kind
	case meta.Namespace == "":
		return kind + " " + meta.Name
	}
	return kind + " " + meta.Namespace + "/" + meta.Name
}
