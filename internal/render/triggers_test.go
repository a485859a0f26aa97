package render

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/storage/names"
)

// TestDeploymentPodRegex checks the Deployment pod regex against names made
// as the API server makes them (names.SimpleNameGenerator on the
// ReplicaSet's name and "-"), for every name length and template-hash
// length: the API server cuts a generated name's prefix to 58 characters,
// so a Deployment named with more than 46 characters has pods whose names
// lose the second "-" or the hash, which NAME-[a-z0-9]+-[a-z0-9]+ missed.
func TestDeploymentPodRegex(t *testing.T) {
	hash := "5d8f7c9b6f"
	for n := 1; n <= 70; n++ {
		name := strings.Repeat("a", n-1) + "z"
		re := regexp.MustCompile("^(?:" + deploymentPodRegex(name) + ")$")
		for h := 1; h <= len(hash); h++ {
			for range 5 {
				pod := names.SimpleNameGenerator.GenerateName(name + "-" + hash[:h] + "-")
				if !re.MatchString(pod) {
					t.Errorf("name of %d characters, hash of %d: %q does not match %s", n, h, pod, re)
				}
			}
		}
		// A pod of another Deployment whose name extends this one, or of
		// a StatefulSet of the same name, is not this workload's.
		if n <= 46 {
			for _, other := range []string{name + "-canary-" + hash + "-x7k2p", name + "-0", name + "-" + hash} {
				if re.MatchString(other) {
					t.Errorf("name of %d characters: %q matches %s", n, other, re)
				}
			}
		}
	}
}
