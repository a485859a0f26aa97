// Package doclinks checks the repository's Markdown: every relative link
// points to a file that exists, and every #anchor to a heading of the file
// it names, as GitHub renders them. A newcomer follows these links first.
package doclinks

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// root is the repository root, from this package's directory.
const root = "../.."

// linkRE finds inline Markdown links and images: [text](target) with an
// optional "title".
var linkRE = regexp.MustCompile(`\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)

// markdownFiles returns the Markdown files of the repository that are
// tracked documentation: the README, docs/ and the chart's README.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "charts/mlscale/README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md found (%v)", err)
	}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		files = append(files, rel)
	}
	return files
}

// prose returns the lines of a Markdown document that are not in fenced
// code blocks, with inline code spans blanked, so that a link shown as
// code is not checked.
func prose(doc string) []string {
	var out []string
	fenced := false
	codeSpan := regexp.MustCompile("`[^`]*`")
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			out = append(out, "")
			continue
		}
		if fenced {
			out = append(out, "")
			continue
		}
		out = append(out, codeSpan.ReplaceAllString(line, "``"))
	}
	return out
}

// anchors returns the anchors GitHub gives the headings of doc: the
// heading's text without its Markdown (code marks, links, emphasis),
// lower-cased, with everything but letters, digits, spaces, hyphens and
// underscores dropped and spaces turned into hyphens; a repeated anchor
// gets -1, -2, ... after it.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	linkText := regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		text = linkText.ReplaceAllString(text, "$1")
		text = strings.NewReplacer("`", "", "**", "", "*", "").Replace(text)
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			seen[a]++
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			seen[a] = 1
		}
		out[a] = true
	}
	return out
}

// TestMarkdownLinks fails on a relative link to a file that is not there,
// or to an anchor that no heading of its file has.
func TestMarkdownLinks(t *testing.T) {
	docs := map[string]string{}
	read := func(rel string) (string, bool) {
		if d, ok := docs[rel]; ok {
			return d, true
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return "", false
		}
		docs[rel] = string(b)
		return docs[rel], true
	}
	checked := 0
	for _, file := range markdownFiles(t) {
		doc, ok := read(file)
		if !ok {
			t.Errorf("%s: not found", file)
			continue
		}
		for n, line := range prose(doc) {
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				path, anchor, _ := strings.Cut(target, "#")
				rel := file
				if path != "" {
					rel = filepath.Clean(filepath.Join(filepath.Dir(file), path))
					if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
						t.Errorf("%s:%d: link to %s: %s is not in the repository", file, n+1, target, rel)
						continue
					}
				}
				if anchor == "" || !strings.HasSuffix(rel, ".md") {
					continue
				}
				if d, ok := read(rel); !ok || !anchors(d)[anchor] {
					t.Errorf("%s:%d: link to %s: %s has no heading whose anchor is #%s", file, n+1, target, rel, anchor)
				}
			}
		}
	}
	t.Logf("%d relative links checked", checked)
	if checked < 50 {
		t.Errorf("only %d relative links checked; is the pattern broken?", checked)
	}
}

// TestAnchors pins the anchor rules on headings the docs use.
func TestAnchors(t *testing.T) {
	doc := "# mlscale\n## Offline: `mlscale backtest`\n### `mlscale.io/predictor-state`\n## Floors calibrated to a target\n## Floors calibrated to a target\n```\n# not a heading\n```\n### The floor policy's error band\n"
	got := anchors(doc)
	for _, want := range []string{"mlscale", "offline-mlscale-backtest", "mlscaleiopredictor-state", "floors-calibrated-to-a-target", "floors-calibrated-to-a-target-1", "the-floor-policys-error-band"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code block made an anchor")
	}
}
