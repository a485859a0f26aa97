package mutate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	jsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
)

// diffPatchedObject is the handler's former way of making the patch, kept as
// the reference: raw with the rendered-hash annotation set (removed when
// hash is empty) and, when suspend is true, spec.suspend set to true, read
// and written as a generic JSON document.
func diffPatchedObject(raw []byte, hash string, suspend bool) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("reading the object: %w", err)
	}
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return nil, errors.New("the object has no metadata object")
	}
	annotations, ok := meta["annotations"].(map[string]any)
	if !ok {
		return nil, errors.New("the object has no metadata.annotations object")
	}
	if hash == "" {
		delete(annotations, intent.KeyRenderedHash)
	} else {
		annotations[intent.KeyRenderedHash] = hash
	}
	if suspend {
		spec, ok := obj["spec"].(map[string]any)
		if !ok {
			return nil, errors.New("the Job has no spec object")
		}
		spec["suspend"] = true
	}
	return json.Marshal(obj)
}

// diffPatch is the former patch: the diff of raw and diffPatchedObject,
// sorted by path.
func diffPatch(raw []byte, hash string, suspend bool) ([]jsonpatch.JsonPatchOperation, []byte, error) {
	patched, err := diffPatchedObject(raw, hash, suspend)
	if err != nil {
		return nil, nil, err
	}
	resp := admission.PatchResponseFromRaw(raw, patched)
	if !resp.Allowed {
		return nil, nil, errors.New(resp.Result.Message)
	}
	slices.SortFunc(resp.Patches, func(a, b jsonpatch.JsonPatchOperation) int { return strings.Compare(a.Path, b.Path) })
	return resp.Patches, patched, nil
}

// apply applies ops to raw as the API server would.
func apply(t testing.TB, raw []byte, ops []jsonpatch.JsonPatchOperation) []byte {
	t.Helper()
	if len(ops) == 0 {
		return raw
	}
	pb, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatchapply.DecodePatch(pb)
	if err != nil {
		t.Fatalf("decoding patch %s: %v", pb, err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("applying patch %s to %s: %v", pb, raw, err)
	}
	return out
}

// sameDocument reports whether two JSON documents hold the same values,
// numbers compared as float64 (the former patch rewrote numbers through
// float64, see TestPatchOpsKeepsNumbers).
func sameDocument(t testing.TB, a, b []byte) bool {
	t.Helper()
	var av, bv any
	if err := json.Unmarshal(a, &av); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &bv); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(av, bv)
}

// opStrings writes operations as "op path value".
func opStrings(ops []jsonpatch.JsonPatchOperation) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = fmt.Sprintf("%s %s %v", o.Operation, o.Path, o.Value)
	}
	return out
}

// patchDocuments are objects for the property tests: the fuzz seeds, the
// handler cases' objects, and JSON spellings a generic reader and a typed one
// read differently.
func patchDocuments(t testing.TB) [][]byte {
	docs := fuzzSeeds(t)
	for _, tc := range handleCases(t) {
		docs = append(docs, tc.req.Object.Raw, tc.req.OldObject.Raw)
	}
	docs = append(docs, [][]byte{
		[]byte(`{"metadata":{"annotations":{}},"spec":{}}`),
		[]byte(`{"metadata":{"annotations":null},"spec":{}}`),
		[]byte(`{"metadata":{},"spec":{}}`),
		[]byte(`{"metadata":null}`),
		[]byte(`{"metadata":[],"spec":{}}`),
		[]byte(`{"metadata":{"annotations":[]}}`),
		[]byte(`{"metadata":{"annotations":{"a":"b"}},"spec":null}`),
		[]byte(`{"metadata":{"annotations":{"a":"b"}},"spec":[{"suspend":false}]}`),
		[]byte(` { "metadata" : { "annotations" : { "mlscale.io/rendered-hash" : "0123456789abcdef" } } , "spec" : { "suspend" : true } } `),
		[]byte("{\n\t\"metadata\":{\"annotations\":{\"mlscale.io/rendered-hash\":\"x\"}},\r\n\"spec\":{\"suspend\":false}\n}"),
		// Names and values spelled with escapes.
		[]byte(`{"meta\u0064ata":{"annotations":{"mlscale.io\/rendered-hash":"\u0030123456789abcdef"}},"spec":{"susp\u0065nd":false}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/rendered-hash":"0123456789abcde\u0066","x\"}":"{\"metadata\":1}"}},"spec":{"a":"}]\\"}}`),
		// Names in another case: the typed decoder reads them, a patch does not.
		[]byte(`{"Metadata":{"annotations":{"mlscale.io/autoscale":"true"}},"spec":{}}`),
		[]byte(`{"metadata":{"Annotations":{"mlscale.io/autoscale":"true"}},"spec":{}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/autoscale":"true"}},"Spec":{}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/autoscale":"true","Mlscale.io/rendered-hash":"0123456789abcdef"}},"spec":{"Suspend":true}}`),
		// Repeated names: the last one counts.
		[]byte(`{"metadata":{"annotations":{"a":"b"}},"metadata":{"annotations":{"mlscale.io/rendered-hash":"0123456789abcdef"}},"spec":{}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/rendered-hash":"0123456789abcdef"}},"metadata":{"annotations":{"a":"b"}}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/rendered-hash":"0123456789abcdef","mlscale.io/rendered-hash":"1"}},"spec":{"suspend":true,"suspend":false}}`),
		[]byte(`{"metadata":{"annotations":{"a":"b"}},"spec":{},"spec":7}`),
		// Hash and suspend of other types.
		[]byte(`{"metadata":{"annotations":{"mlscale.io/rendered-hash":12}},"spec":{"suspend":"true"}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/rendered-hash":null}},"spec":{"suspend":null}}`),
		[]byte(`{"metadata":{"annotations":{"mlscale.io/rendered-hash":{"0123456789abcdef":1}}},"spec":{"suspend":[true]}}`),
		// Numbers a float64 round trip spells differently.
		[]byte(`{"metadata":{"annotations":{"a":"b"},"generation":1.0},"spec":{"replicas":1e1,"x":-0,"big":12345678901234567891,"f":[0.10,2E-3]}}`),
		// Strings that are not UTF-8.
		[]byte("{\"metadata\":{\"annotations\":{\"a\":\"\xff\xfe\"}},\"spec\":{\"\xff\":\"\xc3\"}}"),
	}...)
	return docs
}

// TestPatchOpsMatchesDiff is the property test: for every document, hash
// and suspend, patchOps fails exactly when the former diff-based patch
// failed, makes the same operations on the two members it writes, and
// applying it gives the same document the former patch gave.
func TestPatchOpsMatchesDiff(t *testing.T) {
	checked, repeated := 0, 0
	for _, raw := range patchDocuments(t) {
		if !json.Valid(raw) {
			continue
		}
		if repeatsNames(raw) {
			repeated++
		}
		for _, hash := range []string{"", "0123456789abcdef", "1", "fedcba9876543210"} {
			for _, suspend := range []bool{false, true} {
				checkPatchOps(t, raw, hash, suspend, true)
				checked++
			}
		}
	}
	if checked < 100 || repeated != 4 {
		t.Fatalf("%d cases checked, %d documents with repeated names (want 4)", checked, repeated)
	}
}

func checkPatchOps(t testing.TB, raw []byte, hash string, suspend, again bool) {
	t.Helper()
	got, err := patchOps(raw, hash, suspend)
	want, wantDoc, wantErr := diffPatch(raw, hash, suspend)
	if wantErr != nil && strings.HasPrefix(wantErr.Error(), "reading the object") {
		// JSON the generic reader refuses (not an object, or a number
		// beyond float64) but the typed one can accept in a field it
		// ignores: the patch need not read those.
		return
	}
	if (err != nil) != (wantErr != nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%s hash=%q suspend=%v: error %v, the diff's %v", raw, hash, suspend, err, wantErr)
	}
	if err != nil {
		return
	}
	// The former diff also rewrote numbers that a float64 spells
	// differently; the operations on the two members must be the same.
	var wantOwn []jsonpatch.JsonPatchOperation
	for _, o := range want {
		if o.Path == hashPath || o.Path == suspendPath {
			wantOwn = append(wantOwn, o)
		} else if _, num := o.Value.(json.Number); !num || o.Operation != "replace" {
			t.Fatalf("%s: the diff made %v", raw, opStrings(want))
		}
	}
	if !slices.Equal(opStrings(got), opStrings(wantOwn)) {
		t.Fatalf("%s hash=%q suspend=%v: ops %q, the diff's %q", raw, hash, suspend, opStrings(got), opStrings(want))
	}
	// Applied to the object, the two patches give the same document; so
	// does the former patched object, except for repeated names, which
	// JSON patch implementations read in their own ways.
	patched := apply(t, raw, got)
	if !sameDocument(t, patched, apply(t, raw, want)) {
		t.Fatalf("%s hash=%q suspend=%v: patched to\n%s\nthe diff patch gives\n%s", raw, hash, suspend, patched, apply(t, raw, want))
	}
	if !sameDocument(t, patched, wantDoc) && !repeatsNames(raw) {
		t.Fatalf("%s hash=%q suspend=%v: patched to\n%s\nthe diff's object is\n%s", raw, hash, suspend, patched, wantDoc)
	}
	if again {
		// Admitting the patched object again: the same answer as the
		// diff's, nothing for documents without repeated names.
		checkPatchOps(t, patched, hash, suspend, false)
		if ops, _ := patchOps(patched, hash, suspend); len(ops) > 0 && !repeatsNames(raw) {
			t.Fatalf("%s: patching the patched document again: %v", raw, opStrings(ops))
		}
	}
}

// repeatsNames reports whether some object in the JSON document raw
// repeats a member name.
func repeatsNames(raw []byte) bool {
	type frame struct {
		object, wantName bool
		names            map[string]bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if name, ok := tok.(string); ok && top != nil && top.object && top.wantName {
			if top.names[name] {
				return true
			}
			top.names[name], top.wantName = true, false
			continue
		}
		if top != nil && top.object {
			top.wantName = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantName: true, names: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// TestPatchOpsKeepsNumbers shows where the operations differ from the
// former diff: the diff read the object through float64 and replaced every
// number written otherwise, rounding integers above 2^53; the patch now
// touches only the members it sets.
func TestPatchOpsKeepsNumbers(t *testing.T) {
	raw := []byte(`{"metadata":{"annotations":{"mlscale.io/autoscale":"true"},"generation":1.0},"spec":{"activeDeadlineSeconds":9007199254740993}}`)
	got, err := patchOps(raw, "0123456789abcdef", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"add " + hashPath + " 0123456789abcdef"}; !slices.Equal(opStrings(got), want) {
		t.Fatalf("ops %q, want %q", opStrings(got), want)
	}
	patched := string(apply(t, raw, got))
	if !strings.Contains(patched, `"generation":1.0`) || !strings.Contains(patched, "9007199254740993") {
		t.Errorf("numbers rewritten: %s", patched)
	}
	old, _, err := diffPatch(raw, "0123456789abcdef", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 3 {
		t.Errorf("the former diff made %q; this test documents its 3 operations", opStrings(old))
	}
}

// TestHandlePatchMatchesDiff checks the handler end to end on the handler
// cases and the fuzz seeds under every workload kind and both operations:
// applying the answer's patch gives the object the former diff-based
// handler built (with the hash rendered here).
func TestHandlePatchMatchesDiff(t *testing.T) {
	type input struct {
		req   admission.Request
		facts facts.Func
	}
	var inputs []input
	for _, tc := range handleCases(t) {
		inputs = append(inputs, input{tc.req, tc.facts})
	}
	for _, raw := range patchDocuments(t) {
		for _, gvk := range fuzzKinds[:3] {
			for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Update} {
				inputs = append(inputs, input{req: rawRequest(op, gvk, "fuzz", testNamespace, raw)})
			}
		}
	}
	patchedN := 0
	for _, in := range inputs {
		resp := (&Handler{Facts: in.facts}).Handle(context.Background(), in.req)
		hash, suspend, ok := handlerDecision(t, in.req, in.facts)
		if !ok {
			if resp.Allowed && len(resp.Patches) > 0 {
				t.Fatalf("%s: patched %v though the handler renders nothing", in.req.Object.Raw, opStrings(resp.Patches))
			}
			continue
		}
		want, err := diffPatchedObject(in.req.Object.Raw, hash, suspend)
		if err != nil {
			if resp.Allowed || resp.Result.Code != 400 || !strings.Contains(resp.Result.Message, err.Error()) {
				t.Fatalf("%s: the diff fails (%v), the handler answers %+v", in.req.Object.Raw, err, resp.Result)
			}
			continue
		}
		if !resp.Allowed {
			t.Fatalf("%s: refused: %+v", in.req.Object.Raw, resp.Result)
		}
		if got := apply(t, in.req.Object.Raw, resp.Patches); !sameDocument(t, got, want) {
			t.Fatalf("%s: patched to\n%s\nthe diff's\n%s", in.req.Object.Raw, got, want)
		}
		if len(resp.Patches) > 0 {
			patchedN++
			if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
				t.Fatalf("patch type %v", resp.PatchType)
			}
		} else if resp.PatchType != nil {
			t.Fatalf("patch type %v without a patch", *resp.PatchType)
		}
	}
	if patchedN < 20 {
		t.Fatalf("only %d answers carried a patch", patchedN)
	}
}

// handlerDecision works out, as the handler does, the hash and suspend its
// patch sets; ok is false when the handler makes no patch (not handled, not
// decodable, being deleted, not opted in, facts missing, or refused).
func handlerDecision(t testing.TB, req admission.Request, ff facts.Func) (hash string, suspend, ok bool) {
	t.Helper()
	gvk := schema.GroupVersionKind(req.Kind)
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update || req.UID == "" || !handled(gvk) || req.SubResource != "" {
		return "", false, false
	}
	w, deleting, err := decode(gvk, req)
	if err != nil || deleting || !intent.Enabled(w.Annotations) {
		return "", false, false
	}
	f, err := ff.For(context.Background(), w.Namespace)
	if err != nil {
		return "", false, false
	}
	res, err := render.Workload(w, f)
	if err != nil {
		return "", false, false
	}
	if res.ScaledJob() != nil && req.Operation == admissionv1.Update && runningJob(req.Object.Raw, req.OldObject.Raw) != "" {
		return "", false, false // refused: suspending it would stop its pods
	}
	hash = res.Hash
	if w.Name == "" {
		hash = ""
	}
	return hash, res.ScaledJob() != nil, true
}

// TestMember checks the member reader on JSON a generic reader reads.
func TestMember(t *testing.T) {
	cases := []struct {
		obj, name, want string
		found           bool
	}{
		{`{"a":1}`, "a", "1", true},
		{` {"a" : "x" , "b":[1,{"a":2}] } `, "b", `[1,{"a":2}]`, true},
		{`{"b":{"a":2}}`, "a", "", false},
		{`{"a":1,"a":{"x":"}"}}`, "a", `{"x":"}"}`, true},
		{`{"\u0061":true}`, "a", "true", true},
		{`{"a\"":null,"a":null}`, "a", "null", true},
		{`{"a\\":"\\","b":"\"{"}`, "b", `"\"{"`, true},
		{`{}`, "a", "", false},
		{`[{"a":1}]`, "a", "", false},
		{`"a"`, "a", "", false},
		{`null`, "a", "", false},
		{``, "a", "", false},
		{`{"a":1`, "a", "", false},
		{`{"a":{"b":1}`, "a", "", false},
		{`{"a":"x`, "a", "", false},
		{`{"a"`, "a", "", false},
		{`{"a":}`, "a", "", false},
		{`{a:1}`, "a", "", false},
	}
	for _, tc := range cases {
		got, found := member([]byte(tc.obj), tc.name)
		if found != tc.found || string(got) != tc.want {
			t.Errorf("member(%s, %q) = %s, %v; want %s, %v", tc.obj, tc.name, got, found, tc.want, tc.found)
		}
	}
}

// FuzzPatchOps compares patchOps with the former diff-based patch on any
// JSON document.
func FuzzPatchOps(f *testing.F) {
	for _, raw := range patchDocuments(f) {
		f.Add(raw, "0123456789abcdef", true)
	}
	f.Add([]byte(`{"metadata":{"annotations":{"mlscale.io/rendered-hash":"x"}},"spec":{}}`), "", false)
	f.Fuzz(func(t *testing.T, raw []byte, hash string, suspend bool) {
		if !json.Valid(raw) || !utf8.ValidString(hash) {
			// The hash is hexadecimal.
			return
		}
		checkPatchOps(t, raw, hash, suspend, true)
	})
}
