package localcluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Module is mlscale's module path; RepoRoot looks for its go.mod.
const Module = "github.com/mlscale/mlscale"

// KEDAModule is the module whose config/crd/bases holds KEDA's CRDs.
const KEDAModule = "github.com/kedacore/keda/v2"

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

// KEDACRDDir finds KEDA's config/crd/bases: MLSCALE_KEDA_CRDS when set;
// else the KEDA module at the version compiled into this binary, in the
// module cache; else `go list -m` run in repoRoot.
func KEDACRDDir(repoRoot string) (string, error) {
	if v := os.Getenv("MLSCALE_KEDA_CRDS"); v != "" {
		return v, nil
	}
	const sub = "config/crd/bases"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != KEDAModule {
				continue
			}
			if m.Replace != nil {
				m = m.Replace
			}
			for _, cache := range modCaches() {
				d := filepath.Join(cache, escapeModPath(m.Path)+"@"+m.Version, sub)
				if fi, err := os.Stat(d); err == nil && fi.IsDir() {
					return d, nil
				}
			}
		}
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", KEDAModule)
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("finding KEDA's CRDs (go list -m %s): %w: %s", KEDAModule, err, strings.TrimSpace(stderr.String()))
	}
	d := filepath.Join(strings.TrimSpace(string(out)), sub)
	if _, err := os.Stat(d); err != nil {
		return "", fmt.Errorf("finding KEDA's CRDs: %w (run `go mod download` in the repository)", err)
	}
	return d, nil
}

// modCaches lists candidate module cache directories.
func modCaches() []string {
	var out []string
	if v := os.Getenv("GOMODCACHE"); v != "" {
		out = append(out, v)
	}
	if v := os.Getenv("GOPATH"); v != "" {
		for _, p := range filepath.SplitList(v) {
			out = append(out, filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// escapeModPath applies the module cache's case encoding: an upper-case
// letter becomes '!' and its lower-case form.
func escapeModPath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			b.WriteRune(r + ('a' - 'A'))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// RepoOptions are the options for a cluster of the checkout at root:
// bin/k8s, KEDA's CRDs, and config/webhook.
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
	return o, nil
}
