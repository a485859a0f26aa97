package crdschema

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// KEDACRDDir finds config/crd/bases of the KEDA module: MLSCALE_KEDA_CRDS
// when set; else the KEDA module at the version compiled into this binary,
// in the module cache; else the one `go list -m` resolves in dir (the
// current directory when dir is empty).
func KEDACRDDir(dir string) (string, error) {
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
	cmd.Dir = dir
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
