package intent

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one annotation: which key, the value it had
// and what is allowed instead.
type FieldError struct {
	// Key is the annotation key, e.g. mlscale.io/max-replicas.
	Key string
	// Value is the offending value as written; empty when the key is missing.
	Value string
	// Problem says what is wrong, e.g. "is not a whole number".
	Problem string
	// Allowed says what would be accepted, e.g. "a whole number from 1 to 1000".
	Allowed string
}

// Error renders the problem as `key: "value" problem; allowed: ...`.
func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Key)
	b.WriteString(": ")
	if e.Value != "" {
		fmt.Fprintf(&b, "%q ", e.Value)
	}
	b.WriteString(e.Problem)
	if e.Allowed != "" {
		b.WriteString("; allowed: ")
		b.WriteString(e.Allowed)
	}
	return b.String()
}

// Errors collects every FieldError of one object so that a user sees all of
// them at once.
type Errors []FieldError

// Error joins the problems in a stable order, one per line when there are
// several.
func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return fmt.Sprintf("%d problems: %s", len(es), strings.Join(parts, "; "))
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Add appends a FieldError.
func (es *Errors) Add(key, value, problem, allowed string) {
	*es = append(*es, FieldError{Key: key, Value: value, Problem: problem, Allowed: allowed})
}
