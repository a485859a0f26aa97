package mutate

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	jsonpatch "gomodules.xyz/jsonpatch/v2"

	"github.com/mlscale/mlscale/internal/intent"
)

// JSON patch paths of the two members the handler writes (RFC 6901: '~' is
// written '~0' and '/' '~1' in a reference token).
var (
	hashPath    = "/metadata/annotations/" + pointerToken(intent.KeyRenderedHash)
	suspendPath = "/spec/suspend"
)

func pointerToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// patchOps returns the JSON patch (RFC 6902) that sets the rendered-hash
// annotation of raw to hash (removes it when hash is empty) and, when
// suspend is true, sets spec.suspend to true; it is empty when raw already
// has these values. raw must be valid JSON (the handler has decoded it).
//
// It reads raw as a JSON document, the way the patch will be applied: member
// names match exactly (after unescaping), and of repeated names the last
// one counts. The operations are sorted by path. An object without a
// metadata.annotations object (or a Job without a spec object) is an error;
// a workload that opts in has the annotations.
func patchOps(raw []byte, hash string, suspend bool) ([]jsonpatch.JsonPatchOperation, error) {
	meta, ok := member(raw, "metadata")
	if !ok || !isObject(meta) {
		return nil, errors.New("the object has no metadata object")
	}
	annotations, ok := member(meta, "annotations")
	if !ok || !isObject(annotations) {
		return nil, errors.New("the object has no metadata.annotations object")
	}
	ops := make([]jsonpatch.JsonPatchOperation, 0, 2)
	cur, has := member(annotations, intent.KeyRenderedHash)
	switch {
	case hash == "" && has:
		ops = append(ops, jsonpatch.NewOperation("remove", hashPath, nil))
	case hash != "" && !has:
		ops = append(ops, jsonpatch.NewOperation("add", hashPath, hash))
	case hash != "" && !stringEquals(cur, hash):
		ops = append(ops, jsonpatch.NewOperation("replace", hashPath, hash))
	}
	if suspend {
		spec, ok := member(raw, "spec")
		if !ok || !isObject(spec) {
			return nil, errors.New("the Job has no spec object")
		}
		switch cur, has := member(spec, "suspend"); {
		case !has:
			ops = append(ops, jsonpatch.NewOperation("add", suspendPath, true))
		case !bytes.Equal(cur, []byte("true")):
			// false, null or anything else.
			ops = append(ops, jsonpatch.NewOperation("replace", suspendPath, true))
		}
	}
	return ops, nil
}

func isObject(v []byte) bool { return len(v) > 0 && v[0] == '{' }

// stringEquals reports whether the JSON value v is the string s.
func stringEquals(v []byte, s string) bool {
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == s
	}
	var got string
	return json.Unmarshal(v, &got) == nil && got == s
}

// member returns the value of the member named name of the JSON object obj
// (the last one when the name repeats), without decoding anything else.
// It reports false when obj is not an object or has no such member, and
// for JSON it cannot read.
func member(obj []byte, name string) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	var val []byte
	found := false
	for i = skipSpace(obj, i+1); i < len(obj) && obj[i] != '}'; {
		if obj[i] != '"' {
			return nil, false
		}
		end := skipString(obj, i)
		if end < 0 {
			return nil, false
		}
		match := nameEquals(obj[i:end], name)
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		start := skipSpace(obj, i+1)
		end = skipValue(obj, start)
		if end < 0 {
			return nil, false
		}
		if match {
			val, found = obj[start:end], true
		}
		i = skipSpace(obj, end)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	if i >= len(obj) {
		return nil, false
	}
	return val, found
}

// nameEquals reports whether the JSON string q (with its quotes) is name.
func nameEquals(q []byte, name string) bool {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	var s string
	return json.Unmarshal(q, &s) == nil && s == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string starting at b[i] (a
// quote), or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := skipString(b, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	// A number, true, false or null.
	start := i
	for i < len(b) && strings.IndexByte(",}] \t\r\n", b[i]) < 0 {
		i++
	}
	if i == start {
		return -1
	}
	return i
}
