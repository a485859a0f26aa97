package intent

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docPath is the user-facing reference of the annotation contract.
const docPath = "../../docs/annotations.md"

// docOnlyKeys are mlscale.io/ names the reference may mention that are not
// annotations a workload carries: labels and annotations set on the rendered
// KEDA objects, the policy annotation, and the typo of an example.
var docOnlyKeys = []string{
	Prefix + "workload-kind",   // label on rendered objects
	Prefix + "workload-name",   // label on rendered objects
	Prefix + "profile",         // also an annotation on rendered objects
	Prefix + "policy",          // reserved for policies
	Prefix + "enabled",         // namespace label that opts a namespace in to the webhook
	Prefix + "max-replica",     // the misspelt key in the "did you mean" warning example
	Prefix + "cooldown-period", // the unknown key of the "did you mean" error example
	Prefix + "autoscal",        // the misspelt opt-in of the warning example
	Prefix + "Auto-Scale",      // another misspelt opt-in of the same example
}

var docKeyRE = regexp.MustCompile(`mlscale\.io/[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]`)

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("reading the annotation reference: %v", err)
	}
	return string(b)
}

// TestDocsCoverEveryKey fails when a key of the contract has no section of
// its own in docs/annotations.md.
func TestDocsCoverEveryKey(t *testing.T) {
	doc := readDoc(t)
	headings := map[string]bool{}
	for line := range strings.SplitSeq(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "### `"); ok {
			headings[strings.TrimSuffix(h, "`")] = true
		}
	}
	for _, k := range slices.Concat(UserKeys, SystemKeys, RetiredKeys) {
		if !headings[k] {
			t.Errorf("%s has no section (a line \"### `%s`\") in %s", k, k, docPath)
		}
	}
	for _, p := range Profiles {
		if !strings.Contains(doc, "`"+string(p)+"`") {
			t.Errorf("profile %q is not in %s", p, docPath)
		}
	}
}

// TestDocsNameOnlyKnownKeys fails when docs/annotations.md mentions an
// mlscale.io/ key the code does not know, e.g. a renamed or removed one.
func TestDocsNameOnlyKnownKeys(t *testing.T) {
	doc := readDoc(t)
	known := slices.Concat(UserKeys, SystemKeys, RetiredKeys, docOnlyKeys)
	seen := map[string]bool{}
	for _, k := range docKeyRE.FindAllString(doc, -1) {
		if seen[k] {
			continue
		}
		seen[k] = true
		if !slices.Contains(known, k) {
			t.Errorf("%s mentions %s, which is not a key of the contract (intent.UserKeys, intent.SystemKeys) nor in docOnlyKeys", docPath, k)
		}
	}
	if len(seen) < len(UserKeys) {
		t.Errorf("found only %d keys in %s; is the pattern broken?", len(seen), docPath)
	}
}

func TestDocKeyPattern(t *testing.T) {
	got := docKeyRE.FindAllString("`mlscale.io/max-replicas`: \"3\"; mlscale.io/gpu-target. mlscale.io annotations, mlscale.io/Foo_bar-", -1)
	want := []string{"mlscale.io/max-replicas", "mlscale.io/gpu-target", "mlscale.io/Foo_bar"}
	if !slices.Equal(got, want) {
		t.Errorf("pattern found %q, want %q", got, want)
	}
}
