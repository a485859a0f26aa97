package localcluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlscale/mlscale/test/crdschema"
)

// Module is mlscale's module path; RepoRoot looks for its go.mod.
const Module = "github.com/mlscale/mlscale"

// RepoRoot walks up from dir to the directory holding mlscale's go.mod.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module "+Module+"\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s checkout at or above %s: run this from the mlscale repository", Module, dir)
		}
	}
}

// KEDACRDDir finds KEDA's config/crd/bases for the checkout at repoRoot;
// see crdschema.KEDACRDDir.
func KEDACRDDir(repoRoot string) (string, error) { return crdschema.KEDACRDDir(repoRoot) }

// RepoOptions are the options for a cluster of the checkout at root:
// bin/k8s, KEDA's CRDs, and config/webhook with config/default's namespace
// selectors.
func RepoOptions(root string) (Options, error) {
	crds, err := KEDACRDDir(root)
	if err != nil {
		return Options{}, err
	}
	o := Options{BinDir: filepath.Join(root, "bin", "k8s"), CRDDirs: []string{crds}}
	webhook := filepath.Join(root, "config", "webhook")
	if _, err := os.Stat(webhook); err != nil {
		return Options{}, fmt.Errorf("webhook configurations: %w (run `make manifests`)", err)
	}
	o.WebhookDirs = []string{webhook}
	// The namespace selectors of config/default, as `kubectl apply -k
	// config/default` installs them.
	def := filepath.Join(root, "config", "default")
	o.WebhookPatches = []WebhookPatch{
		{Name: "mutating-webhook-configuration", File: filepath.Join(def, "webhook_patch.yaml")},
		{Validating: true, Name: "validating-webhook-configuration", File: filepath.Join(def, "validating_webhook_patch.yaml")},
	}
	return o, nil
}
