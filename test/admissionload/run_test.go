package admissionload

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/localcluster"
)

// TestRunSmoke runs the whole load command briefly (one round, 1 s per
// server, 2 clients) against the local control plane and checks that every
// server answered reviews and none failed. Speed is not checked.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	root, err := localcluster.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Run(t.Context(), Options{RepoRoot: root, Clients: 2, Duration: time.Second, Rounds: 1, Warmup: 200 * time.Millisecond}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 9 || f[0] != "all" {
			continue
		}
		reviews, _ := strconv.Atoi(f[7])
		if reviews == 0 || f[8] != "0" {
			t.Errorf("%s: %s reviews, %s errors", f[1], f[7], f[8])
		}
		seen[f[1]] = true
	}
	for _, name := range []string{NameFloor, NameFloorDecode, NameMutate, NameValidate} {
		if !seen[name] {
			t.Errorf("no totals of %s in the report:\n%s", name, out.String())
		}
	}
	if strings.Contains(out.String(), "first error") {
		t.Errorf("errors reported:\n%s", out.String())
	}
}
