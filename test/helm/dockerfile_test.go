package helm

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/mlscale/mlscale/test/localcluster"
)

// stage is one FROM ... of a Dockerfile with its instructions.
type stage struct {
	base, name string
	// platform is FROM's --platform, "" when it has none.
	platform string
	// instr are the instructions after FROM, continuation lines joined.
	instr [][2]string
}

// parseDockerfile reads the stages of a Dockerfile.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var stages []stage
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur += rest + " "
			continue
		}
		cur += line
		op, arg, _ := strings.Cut(cur, " ")
		cur = ""
		op = strings.ToUpper(op)
		if op == "FROM" {
			f := strings.Fields(arg)
			var s stage
			if p, ok := strings.CutPrefix(f[0], "--platform="); ok {
				s.platform, f = p, f[1:]
			}
			s.base = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if op != "ARG" {
				t.Fatalf("Dockerfile: %s before FROM", op)
			}
			continue
		}
		stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, [2]string{op, strings.TrimSpace(arg)})
	}
	return stages
}

// TestDockerfile checks the Dockerfile statically (no container engine
// runs here): a golang builder that compiles cmd/mlscale with cgo, for the
// target platform from the build machine's, and copies every directory the
// binary's packages and embeds come from; a
// distroless glibc run-time stage that runs as non-root, copies only the
// binary and runs nothing (it has no shell); and a .dockerignore that
// keeps those directories.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a builder and the run-time stage", len(stages))
	}
	build, final := stages[0], stages[1]
	if !strings.HasPrefix(build.base, "golang:1.26") {
		t.Errorf("builder FROM %s, want golang:1.26 (go.mod's Go)", build.base)
	}
	var copied []string
	var compiled bool
	for _, in := range build.instr {
		switch in[0] {
		case "COPY":
			f := strings.Fields(in[1])
			for _, src := range f[:len(f)-1] {
				copied = append(copied, strings.TrimSuffix(src, "/"))
			}
		case "RUN":
			if strings.Contains(in[1], "go build") {
				compiled = true
				if !strings.Contains(in[1], "CGO_ENABLED=1") {
					t.Errorf("go build without CGO_ENABLED=1 (go-nvml needs cgo): %s", in[1])
				}
				if !strings.Contains(in[1], "./cmd/mlscale") {
					t.Errorf("go build does not build ./cmd/mlscale: %s", in[1])
				}
				if !strings.Contains(in[1], "GOARCH=$target") || !strings.Contains(in[1], "target=${TARGETARCH:-$build}") {
					t.Errorf("go build does not build for TARGETARCH (the platform buildx builds for): %s", in[1])
				}
				for _, cc := range []string{"amd64) cc=x86_64-linux-gnu-gcc", "arm64) cc=aarch64-linux-gnu-gcc", "CC=$cc"} {
					if !strings.Contains(in[1], cc) {
						t.Errorf("go build lacks %q: cgo needs the target's C compiler: %s", cc, in[1])
					}
				}
			}
		}
	}
	if !compiled {
		t.Error("the builder runs no go build")
	}
	// Multi-arch (the release workflow builds linux/amd64 and linux/arm64):
	// the builder runs natively and cross-compiles, with the cross C
	// compilers installed; the run-time stage is the target platform's.
	if build.platform != "$BUILDPLATFORM" {
		t.Errorf("builder FROM --platform=%q, want $BUILDPLATFORM (cross-compile instead of emulating the target)", build.platform)
	}
	var args []string
	var crossPkgs string
	for _, in := range build.instr {
		switch {
		case in[0] == "ARG":
			args = append(args, strings.Fields(in[1])...)
		case in[0] == "RUN" && strings.Contains(in[1], "apt-get install"):
			crossPkgs = in[1]
		}
	}
	for _, a := range []string{"TARGETOS", "TARGETARCH"} {
		if !slices.Contains(args, a) {
			t.Errorf("the builder does not declare ARG %s (buildx sets it per platform)", a)
		}
	}
	for _, p := range []string{"gcc-aarch64-linux-gnu libc6-dev-arm64-cross", "gcc-x86-64-linux-gnu libc6-dev-amd64-cross"} {
		if !strings.Contains(crossPkgs, p) {
			t.Errorf("the builder does not install %s for cgo", p)
		}
	}
	// Every directory of the module that cmd/mlscale's packages live in.
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if eq .Module.Path \""+localcluster.Module+"\"}}{{.Dir}}{{end}}{{end}}", "./cmd/mlscale")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	need := map[string]bool{"go.mod": true, "go.sum": true}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		need[strings.Split(filepath.ToSlash(rel), "/")[0]] = true
	}
	for top := range need {
		if !slices.Contains(copied, top) {
			t.Errorf("the builder does not COPY %s, which cmd/mlscale needs", top)
		}
		for _, line := range strings.Split(string(ignore), "\n") {
			if p := strings.TrimSuffix(strings.TrimSpace(line), "/"); p == top {
				t.Errorf(".dockerignore excludes %s, which the build needs", top)
			}
		}
	}
	if !strings.HasPrefix(final.base, "gcr.io/distroless/base-debian12") && !strings.HasPrefix(final.base, "gcr.io/distroless/cc-debian12") {
		t.Errorf("run-time base %s, want distroless base or cc (glibc for cgo)", final.base)
	}
	if !strings.HasSuffix(final.base, ":nonroot") {
		t.Errorf("run-time base %s, want the :nonroot variant", final.base)
	}
	if final.platform != "" {
		t.Errorf("run-time stage FROM --platform=%s: it must be the target platform's", final.platform)
	}
	var user, entry string
	for _, in := range final.instr {
		switch in[0] {
		case "RUN":
			t.Errorf("the run-time stage RUNs %q; distroless has no shell", in[1])
		case "COPY":
			if !strings.HasPrefix(in[1], "--from="+build.name+" ") {
				t.Errorf("the run-time stage copies %q from outside the builder", in[1])
			}
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entry = in[1]
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q, want a non-root user", user)
	}
	if !strings.HasPrefix(entry, "[") {
		t.Errorf("ENTRYPOINT %s is in shell form; the image has no shell", entry)
	}
	// The chart's default securityContext (webhook.podSecurityContext's
	// runAsUser) must match the image's user.
	var dep appsv1.Deployment
	template(t).mustGet(t, "Deployment", "mlscale-webhook", &dep)
	uid, _, _ := strings.Cut(user, ":")
	if psc := dep.Spec.Template.Spec.SecurityContext; psc == nil || psc.RunAsUser == nil || strconv.FormatInt(*psc.RunAsUser, 10) != uid {
		t.Errorf("the chart's Deployment does not run as the image's user %s by default: %+v", uid, psc)
	}
}
