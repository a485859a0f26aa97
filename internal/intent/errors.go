package intent

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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

// MaxShownValue is how many bytes of a bad value an error message repeats;
// a longer value is cut and marked with "...".
const MaxShownValue = 120

// Error renders the problem as `key: "value" problem; allowed: ...`, e.g.
// `mlscale.io/max-replicas: "abc" is not a whole number; allowed: a whole
// number from 1 to 10000`. The value is omitted when it is empty.
func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(shownKey(e.Key))
	b.WriteString(": ")
	if e.Value != "" {
		fmt.Fprintf(&b, "%q ", shorten(e.Value))
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

// Error joins the problems in the order they were found (the order of the
// keys in the contract, which is stable), as "N problems: A; B; ..." when
// there are several, so that the message stays on one line.
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

// shownKey is how a message names an annotation key: as it is when it is
// printable and at most MaxShownValue bytes (every key of the contract),
// otherwise shortened and quoted, so that a key of any length or with
// control characters cannot blow up or garble a message.
func shownKey(k string) string {
	if len(k) <= MaxShownValue && strings.IndexFunc(k, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) < 0 {
		return k
	}
	return strconv.Quote(shorten(k))
}

// shorten cuts v to at most MaxShownValue bytes on a rune boundary.
func shorten(v string) string {
	if len(v) <= MaxShownValue {
		return v
	}
	cut := MaxShownValue
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "..."
}

// Add appends a FieldError.
func (es *Errors) Add(key, value, problem, allowed string) {
	*es = append(*es, FieldError{Key: key, Value: value, Problem: problem, Allowed: allowed})
}
