// Package kubejson decodes the JSON of Kubernetes objects into their Go
// types as encoding/json does, about three times faster and with a third
// of the allocations: admission decodes every reviewed object, and
// encoding/json was the largest part of the mutating webhook's time.
//
// Decoding is goccy/go-json's, which follows encoding/json's rules
// (case-insensitive field names, UnmarshalJSON methods, unknown fields
// ignored); a differential fuzz test holds the two to the same result. On
// any error the value is reset and the input decoded again with
// encoding/json, so that errors, and the partly filled value an error
// leaves, are encoding/json's.
package kubejson

import (
	"encoding/json"
	"reflect"

	gojson "github.com/goccy/go-json"
)

// Unmarshal decodes data into v, a pointer to a zero value (a new
// object), as encoding/json.Unmarshal does.
func Unmarshal(data []byte, v any) error {
	if err := gojson.Unmarshal(data, v); err != nil {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
			rv.Elem().SetZero()
		}
		return json.Unmarshal(data, v)
	}
	return nil
}
