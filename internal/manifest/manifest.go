// Package manifest is mlscale's one reader of Kubernetes manifests, used by
// `mlscale render`, `mlscale policy eval` and the demo: files, directories
// and standard input; YAML documents separated by "---" and JSON objects one
// after another, as kubectl reads them; Lists expanded into their items.
// Every document keeps its position (file, document, line, item) for
// messages, and a document that cannot be read is reported without stopping
// the others. Documents are read as the API server reads them with
// fieldValidation=Strict (kubectl's default): field names case-sensitive,
// duplicate and unknown fields errors, kinds case-sensitive (see
// checkObject).
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// StdinName is how standard input (`-f -`) is named in messages.
const StdinName = "<stdin>"

// Exts are the file name extensions read from a directory.
var Exts = []string{".yaml", ".yml", ".json"}

// Source is one file (or standard input) given with -f.
type Source struct {
	// Name is the path as the user wrote it, or StdinName.
	Name string
	Data []byte
}

// ReadSources reads the files, directories and "-" (standard input) named by
// the -f flags, in order. A directory contributes its .yaml, .yml and .json
// files in lexical order; with recursive, those of its subdirectories too.
// A path that cannot be read gives an error, and the others are still read.
func ReadSources(paths []string, recursive bool, stdin io.Reader) ([]Source, []error) {
	var (
		out  []Source
		errs []error
	)
	for _, p := range paths {
		if p == "-" {
			if stdin == nil {
				errs = append(errs, fmt.Errorf("reading %s: no standard input", StdinName))
				continue
			}
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading %s: %w", StdinName, err))
				continue
			}
			out = append(out, Source{Name: StdinName, Data: data})
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", p, err))
			continue
		}
		files := []string{p}
		if info.IsDir() {
			if files, err = dirFiles(p, recursive); err != nil {
				errs = append(errs, err)
				continue
			}
			if len(files) == 0 {
				errs = append(errs, fmt.Errorf("reading %s: the directory has no %s files", p, strings.Join(Exts, ", ")))
				continue
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading %s: %w", f, err))
				continue
			}
			out = append(out, Source{Name: f, Data: data})
		}
	}
	return out, errs
}

// dirFiles lists the manifest files in dir, sorted.
func dirFiles(dir string, recursive bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains(Exts, strings.ToLower(filepath.Ext(path))) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", dir, err)
	}
	return files, nil
}

// Document is one YAML document of a source, as JSON.
type Document struct {
	// Source names the file.
	Source string
	// Index counts the non-empty documents of the source from 1.
	Index int
	// Line is the line of the source on which the document starts.
	Line int
	// Item is the position in a List's items from 1, or 0.
	Item int
	// JSON is the document converted to JSON.
	JSON []byte
	// APIVersion and Kind are the document's type.
	APIVersion, Kind string
	// Err is set, and the rest but the position is empty, when the document
	// is not valid YAML or not a Kubernetes object.
	Err error
}

// Where names the document in messages: "FILE: document N (line L)".
func (d Document) Where() string {
	s := fmt.Sprintf("%s: document %d (line %d)", d.Source, d.Index, d.Line)
	if d.Item > 0 {
		s += fmt.Sprintf(", item %d", d.Item)
	}
	return s
}

// GVK is the document's group, version and kind.
func (d Document) GVK() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(d.APIVersion, d.Kind)
}

// chunk is the raw text of one YAML document.
type chunk struct {
	line int
	text []byte
}

// splitYAML splits a YAML stream at its "---" separator lines. Chunks that
// hold nothing but blank lines and comments are dropped.
func splitYAML(data []byte) []chunk {
	var (
		chunks []chunk
		cur    bytes.Buffer
		start  = 1
	)
	flush := func() {
		if !blankYAML(cur.Bytes()) {
			chunks = append(chunks, chunk{line: start, text: bytes.Clone(cur.Bytes())})
		}
		cur.Reset()
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, line := range lines {
		if rest, ok := separator(line); ok {
			flush()
			start = i + 2
			if len(rest) > 0 { // "--- {...}": the document starts on this line
				start = i + 1
				cur.Write(rest)
			}
			continue
		}
		cur.Write(line)
	}
	flush()
	return chunks
}

// separator reports whether line is a YAML document separator ("---",
// optionally followed by a comment or by content) and returns the content.
func separator(line []byte) ([]byte, bool) {
	if !bytes.HasPrefix(line, []byte("---")) {
		return nil, false
	}
	rest := line[3:]
	trimmed := bytes.TrimSpace(rest)
	switch {
	case len(trimmed) == 0 || trimmed[0] == '#':
		return nil, true
	case rest[0] == ' ' || rest[0] == '\t':
		return append(bytes.TrimLeft(rest, " \t"), '\n'), true
	}
	return nil, false // e.g. "----" or "---foo": not a separator
}

// blankYAML reports whether text has nothing but whitespace and comments.
func blankYAML(text []byte) bool {
	for line := range bytes.Lines(text) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// yamlLine finds the line number in the YAML library's messages.
var yamlLine = regexp.MustCompile(`\byaml: line (\d+):`)

// Documents parses every document of a source, in order. A document that is
// not valid YAML or not a Kubernetes object has Err set to an error naming
// the file, the document and its line. A List (kind: List, or any kind
// ending in List with items) is expanded into its items. JSON objects one
// after another (`jq -c` output, one per line) are one document each, as
// kubectl reads them.
func Documents(src Source) []Document {
	var docs []Document
	index := 0
	for _, c := range splitYAML(src.Data) {
		if t := bytes.TrimSpace(c.text); len(t) > 0 && t[0] == '{' {
			jsonDocs, ok := jsonStream(src.Name, c, &index)
			if ok {
				for _, d := range jsonDocs {
					if d.Err == nil {
						docs = append(docs, objects(d)...)
					} else {
						docs = append(docs, d)
					}
				}
				continue
			}
		}
		index++
		d := Document{Source: src.Name, Index: index, Line: c.line}
		js, err := yaml.YAMLToJSONStrict(c.text)
		if err != nil {
			if dup := yamlDuplicates(c.text, c.line); dup != nil {
				d.Err = fmt.Errorf("%s%s: %w", d.Where(), yamlObjectName(c.text), dup)
				docs = append(docs, d)
				continue
			}
			// Make the library's line relative to the source, not the document.
			msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
				n, _ := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
				return fmt.Sprintf("yaml: line %d:", c.line+n-1)
			})
			d.Err = fmt.Errorf("%s: invalid YAML: %s", d.Where(), msg)
			docs = append(docs, d)
			continue
		}
		d.JSON = js
		docs = append(docs, objects(d)...)
	}
	return docs
}

// jsonStream reads a chunk that starts with "{" as a stream of JSON values,
// one document each, numbered on from *index. It reports false, and reads
// nothing, when the chunk holds a single value or is not JSON at all (YAML
// flow style, say), which the YAML path then handles.
func jsonStream(name string, c chunk, index *int) ([]Document, bool) {
	dec := json.NewDecoder(bytes.NewReader(c.text))
	var (
		raws    []json.RawMessage
		offsets []int64
	)
	for {
		start := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(raws) < 1 {
				return nil, false
			}
			// A broken value after good ones: report it where it starts.
			raws, offsets = append(raws, nil), append(offsets, start)
			break
		}
		raws, offsets = append(raws, raw), append(offsets, start)
	}
	if len(raws) < 2 {
		return nil, false
	}
	docs := make([]Document, 0, len(raws))
	for k, raw := range raws {
		*index++
		// The value starts after any whitespace that follows the offset.
		at := offsets[k]
		for at < int64(len(c.text)) && (c.text[at] == ' ' || c.text[at] == '\t' || c.text[at] == '\n' || c.text[at] == '\r') {
			at++
		}
		d := Document{Source: name, Index: *index, Line: c.line + bytes.Count(c.text[:at], []byte("\n"))}
		if raw == nil {
			d.Err = fmt.Errorf("%s: invalid JSON after %d objects", d.Where(), k)
		} else {
			d.JSON = raw
		}
		docs = append(docs, d)
	}
	return docs, true
}

// objects checks that d is a Kubernetes object, read as the API server
// reads it (see checkObject), and expands a List.
func objects(d Document) []Document {
	h, err := readHead(d.JSON)
	if err != nil {
		return []Document{d.failed(fmt.Errorf("%s: %w", d.Where(), err))}
	}
	if h.kind == "" || h.apiVersion == "" {
		return []Document{d.failed(fmt.Errorf("%s: not a Kubernetes object: apiVersion or kind is missing", d.Where()))}
	}
	d.APIVersion, d.Kind = h.apiVersion, h.kind
	if d.Item > 0 || !strings.HasSuffix(h.kind, "List") || !h.hasItems {
		if err := checkObject(d, h); err != nil {
			return []Document{d.failed(fmt.Errorf("%s (%s): %w", d.Where(), objectName(h.kind, h), err))}
		}
		return []Document{d}
	}
	var out []Document
	for j, raw := range h.items {
		item := d
		item.Item, item.JSON = j+1, raw
		out = append(out, objects(item)...)
	}
	return out
}

// failed returns the document's position with the error.
func (d Document) failed(err error) Document {
	return Document{Source: d.Source, Index: d.Index, Line: d.Line, Item: d.Item, Err: err}
}
