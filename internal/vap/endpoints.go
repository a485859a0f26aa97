package vap

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/policies"
)

// This file is the part of trigger_endpoints that CEL can read exactly:
// the hosts of the metadata values whose host the Rego derives with
// regular expressions and string operations (host_of, and url_host where
// Go's net/url and that reading agree), matched against the allowlist's
// globs translated into one regular expression. A value the CEL cannot
// read as the Rego does gives no host here (the webhook still checks
// it): a URL whose authority has user information, an IPv6 literal,
// escapes or characters other than letters, digits, "-", "_" and "."; a
// host outside ASCII; the Azure names and connection strings, Elastic
// Cloud IDs, gRPC dns: and passthrough: targets, and MySQL or MongoDB
// fields that move the host.

// endpointTable is what the CEL reads of policies/trigger_endpoints: its
// rows (endpoint_rows), generic keys and the types without endpoints.
type endpointTable struct {
	rows            []endpointRow
	urlKeys         []string
	listKeys        []string
	noEndpointTypes []string
	placeholder     string
}

// endpointRow is a row of endpoint_rows.
type endpointRow struct {
	Type   string   `json:"type"`
	Fields []string `json:"fields"`
	How    string   `json:"how"`
	Format string   `json:"format"`
}

var (
	tableOnce sync.Once
	table     endpointTable
	tableErr  error
)

// endpoints returns the table of the built-in trigger_endpoints policy,
// read from its Rego once.
func endpoints() (endpointTable, error) {
	tableOnce.Do(func() { table, tableErr = readEndpointTable() })
	return table, tableErr
}

func readEndpointTable() (endpointTable, error) {
	const file = "trigger_endpoints/policy.rego"
	src, err := policies.FS.ReadFile(file)
	if err != nil {
		return endpointTable{}, err
	}
	m, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return endpointTable{}, err
	}
	consts := map[string]any{}
	for _, r := range m.Rules {
		if r.Head.Value == nil || len(r.Head.Args) > 0 || !ast.IsConstant(r.Head.Value.Value) {
			continue
		}
		v, err := ast.JSON(r.Head.Value.Value)
		if err != nil {
			return endpointTable{}, err
		}
		consts[r.Head.Ref().String()] = v
	}
	var t endpointTable
	strs := func(name string) ([]string, error) {
		l, ok := consts[name].([]any)
		if !ok {
			return nil, fmt.Errorf("%s: no constant %s", file, name)
		}
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s: %s holds %v, not a string", file, name, x)
			}
			out = append(out, s)
		}
		slices.Sort(out)
		return out, nil
	}
	if t.urlKeys, err = strs("url_keys"); err != nil {
		return t, err
	}
	if t.listKeys, err = strs("list_keys"); err != nil {
		return t, err
	}
	if t.noEndpointTypes, err = strs("no_endpoint_types"); err != nil {
		return t, err
	}
	var ok bool
	if t.placeholder, ok = consts["template_placeholder"].(string); !ok {
		return t, fmt.Errorf("%s: no constant template_placeholder", file)
	}
	rows, ok := consts["endpoint_rows"].([]any)
	if !ok {
		return t, fmt.Errorf("%s: no constant endpoint_rows", file)
	}
	for _, x := range rows {
		o, _ := x.(map[string]any)
		row := endpointRow{Type: str(o["type"]), How: str(o["how"]), Format: str(o["format"])}
		fields, _ := o["fields"].([]any)
		for _, f := range fields {
			row.Fields = append(row.Fields, str(f))
		}
		if row.Type == "" || row.How == "" {
			return t, fmt.Errorf("%s: endpoint_rows: a row without type or how: %v", file, x)
		}
		t.rows = append(t.rows, row)
	}
	return t, nil
}

func str(x any) string {
	s, _ := x.(string)
	return s
}

// knownTypes are known_types: the rows' types and the types without
// endpoints, sorted.
func (t endpointTable) knownTypes() []string {
	set := map[string]bool{}
	for _, r := range t.rows {
		set[r.Type] = true
	}
	for _, ty := range t.noEndpointTypes {
		set[ty] = true
	}
	out := make([]string, 0, len(set))
	for ty := range set {
		out = append(out, ty)
	}
	slices.Sort(out)
	return out
}

// formattedHows are the ways of reading a row whose format the CEL applies.
var formattedHows = []string{"url", "url_list", "url_hostport"}

// rowsLiteral is a CEL map from trigger type to its rows, each
// [how, prefix, suffix, field0, field1, field2] (the format split at its
// %s; absent fields empty), and rowFields the map from type to every
// field its rows read.
func (t endpointTable) rowsLiteral() (rows, rowFields string, err error) {
	byType := map[string][]string{}
	fields := map[string][]string{}
	var types []string
	for _, r := range t.rows {
		if _, ok := byType[r.Type]; !ok {
			types = append(types, r.Type)
			byType[r.Type] = nil
		}
		var prefix, suffix string
		if slices.Contains(formattedHows, r.How) && r.Format != "" {
			var ok bool
			prefix, suffix, ok = strings.Cut(r.Format, "%s")
			if !ok || strings.Contains(suffix, "%") || strings.Contains(prefix, "%") {
				return "", "", fmt.Errorf("trigger_endpoints: row %s %v: format %q is not one %%s", r.Type, r.Fields, r.Format)
			}
		}
		if len(r.Fields) > 3 {
			return "", "", fmt.Errorf("trigger_endpoints: row %s has %d fields; the CEL reads at most 3", r.Type, len(r.Fields))
		}
		f := append(slices.Clone(r.Fields), "", "", "")[:3]
		byType[r.Type] = append(byType[r.Type], list(append([]string{r.How, prefix, suffix}, f...)))
		for _, x := range r.Fields {
			if !slices.Contains(fields[r.Type], x) {
				fields[r.Type] = append(fields[r.Type], x)
			}
		}
	}
	slices.Sort(types)
	var rs, fs []string
	for _, ty := range types {
		rs = append(rs, quote(ty)+": ["+strings.Join(byType[ty], ", ")+"]")
		fs = append(fs, quote(ty)+": "+list(fields[ty]))
	}
	return "{" + strings.Join(rs, ", ") + "}", "{" + strings.Join(fs, ", ") + "}", nil
}

// EndpointPatternSyntax is what an allowedEndpoints pattern may hold for
// the API server's policies: the glob syntax that the Helm chart's
// template translates into the same regular expression as globRegexp
// (sprig's regexQuoteMeta and replace). The chart's render fails, and
// Generate refuses the configuration, for any other pattern.
const EndpointPatternSyntax = `letters, digits, "-", "_", "." and the globs "*" (one DNS label), "**" (any part of a host) and "?" (one character); list each alternative of "{a,b}" or "[...]" as its own pattern`

// endpointPatternRE is the syntax of EndpointPatternSyntax.
var endpointPatternRE = regexp.MustCompile(`^[a-zA-Z0-9._*?-]+$`)

// noHostRE matches no host: the allowlist's expression when it is empty.
const noHostRE = `^[^\s\S]$`

// globRegexp translates the allowlist's glob patterns, as Rego's
// glob.match reads them with "." as the only separator (gobwas/glob's
// syntax), into one RE2 expression that matches the whole of a host that
// one of them matches. Only the syntax of EndpointPatternSyntax is
// translated, exactly as charts/mlscale/templates/
// validatingadmissionpolicies.yaml translates it: the pattern lower-cased
// (as the Rego lower-cases it), its metacharacters quoted, then "**", "*"
// and "?" (quoted) replaced in that order.
func globRegexp(patterns []string) (string, error) {
	if len(patterns) == 0 {
		return noHostRE, nil
	}
	alts := make([]string, len(patterns))
	for i, p := range patterns {
		if !endpointPatternRE.MatchString(p) {
			return "", fmt.Errorf("allowedEndpoints[%d] %q cannot be enforced by the API server's ValidatingAdmissionPolicies; allowed: %s", i, p, EndpointPatternSyntax)
		}
		r := regexp.QuoteMeta(strings.ToLower(p))
		r = strings.ReplaceAll(r, `\*\*`, `(?s:.*)`)
		r = strings.ReplaceAll(r, `\*`, `[^.]*`)
		alts[i] = strings.ReplaceAll(r, `\?`, `[^.]`)
	}
	re := "^(?:" + strings.Join(alts, "|") + ")$"
	if _, err := regexp.Compile(re); err != nil {
		return "", err
	}
	return re, nil
}

// allowlistText is the CEL of the allowlist as the Rego's message prints
// it (%v of an array of strings: Go's %q of each, joined by ", "). The
// patterns of EndpointPatternSyntax need no escape.
const allowlistText = `'[' + variables.allowedEndpoints.map(p, '"' + p + '"').join(', ') + ']'`

// jsonLiteral is v in JSON, which CEL reads as a literal: what the chart's
// toJson writes for the same value.
func jsonLiteral(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// The regular expressions of trigger_endpoints' host_of and
// address_element, and the URL authority the CEL reads as Go's net/url
// does.
const (
	hostPrefixRE = `^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^/?#]*@)?`
	hostRE       = `^(?:\[[^\]]*\]|[^:/?#]*)`
	simpleAuthRE = `^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*\.?(:[0-9]*)?([/?#]|$)`
	simpleHostRE = `^[a-zA-Z0-9_.-]+$`
	asciiRE      = `^[\x00-\x7f]*$`
	addressRE1   = `^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9._-]*[a-zA-Z][a-zA-Z0-9._-]*|[0-9]{1,3}(\.[0-9]{1,3}){3}):[0-9]{1,5}(/.*)?$`
	addressRE2   = `^([a-zA-Z0-9_-]+\.)+[a-zA-Z][a-zA-Z0-9-]*\.?(/.*)?$`
	addressRE3   = `^[0-9]{1,3}(\.[0-9]{1,3}){3}$`
)

// lowerHost is lower(h) without one trailing dot, for an ASCII h; "" (no
// host the CEL can read) for any other.
func lowerHost(h string) string {
	return fmt.Sprintf(`[%s].map(h, !h.matches(r'%s') ? '' : [h.lowerAscii()].map(g, g.endsWith('.') ? g.substring(0, size(g) - 1) : g)[0])[0]`, h, asciiRE)
}

// hostOf is trigger_endpoints' host_of(x).
func hostOf(x string) string {
	return lowerHost(fmt.Sprintf(`[%s].map(a, a.substring(size(a.find(r'%s'))).find(r'%s'))[0]`, x, hostPrefixRE, hostRE))
}

// urlHost is trigger_endpoints' url_host(u) where net/url reads the same
// host as host_of (a URL without a scheme, or whose authority is a plain
// host name and port); "" for the others.
func urlHost(u string) string {
	return fmt.Sprintf(`[%s.trim()].map(w, w.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://') && !w.substring(w.indexOf('://') + 3).matches(r'%s') ? '' : %s)[0]`,
		u, simpleAuthRE, hostOf("w"))
}

// field is trigger_endpoints' field(md, k): the value trimmed, "" when
// absent.
func field(md, k string) string {
	return fmt.Sprintf(`(%[2]s in %[1]s ? string(%[1]s[%[2]s]).trim() : '')`, md, k)
}

// elements are the non-empty trimmed elements of a comma-separated list.
func elements(v string) string {
	return v + `.split(',').map(e, e.trim()).filter(e, e != '')`
}

// rowEndpoints are the [key, host] pairs of row r (see rowsLiteral) for
// metadata md, as derive(row, md) finds them where the CEL can read them.
func rowEndpoints(r, md, placeholder string) string {
	f0, f1, f2 := r+"[3]", r+"[4]", r+"[5]"
	fv := func(k string) string { return field(md, k) }
	formatted := func(v string) string { return r + "[1] + " + v + " + " + r + "[2]" }
	cases := []struct{ how, expr string }{
		{"url", fmt.Sprintf(`[%s].map(v, v == '' ? [] : [[%s, %s]])[0]`, fv(f0), f0, urlHost(formatted("v")))},
		{"url_list", fmt.Sprintf(`%s.map(e, [%s, %s])`, elements(fv(f0)), f0, urlHost(formatted("e")))},
		{"template", fmt.Sprintf(`[%s].map(v, v == '' ? [] : [[%s, %s]].filter(p, p[1] != %s))[0]`, fv(f0), f0, urlHost("v"), quote(placeholder))},
		{"address", fmt.Sprintf(`[%s].map(v, v == '' ? [] : [[%s, %s]])[0]`, fv(f0), f0, hostOf("v"))},
		{"address_list", fmt.Sprintf(`[%s, %s, %s].filter(k, k != '').map(k, %s.map(e, [k, %s])).flatten()`, f0, f1, f2, elements(fv("k")), hostOf("e"))},
		{"mssql", fmt.Sprintf(`[%s].map(v, v == '' ? [] : [[%s, %s]])[0]`, fv(f0), f0, hostOf(`v.split('\\')[0]`))},
		{"grpc", fmt.Sprintf(`[%s].map(v, v == '' ? [] : (v.matches(r'^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$') && [v.substring(0, v.indexOf(':')).lowerAscii()].exists(s, s in ['dns', 'passthrough', 'unix', 'unix-abstract', 'vsock'] || v.substring(v.indexOf(':') + 1).startsWith('//')) ? [] : [[%s, %s]]))[0]`,
			fv(f0), f0, hostOf("v"))},
		{"url_hostport", fmt.Sprintf(`[%s].map(h, h == '' ? [] : [[%s, %s]])[0]`, fv(f0), f0,
			urlHost(formatted(fmt.Sprintf(`(h.contains(':') ? '[' + h + ']:' : h + ':') + %s`, fv(f1)))))},
		{"mysql", fmt.Sprintf(`[%s].map(h, h.matches(r'%s') && %s.matches(r'^[0-9]*$') ? [['host', %s]] : [])[0]`,
			fv(quote("host")), simpleHostRE, fv(quote("port")), lowerHost("h"))},
		{"mongodb", fmt.Sprintf(`%s == 'connectionString' ? [%s].map(c, !c.matches(r'%s') ? [] : ['mongodb://', 'mongodb+srv://'].filter(p, c.startsWith(p)).map(p, [c.substring(size(p))].map(s, s.contains('@') ? s.substring(s.indexOf('@') + 1) : s)[0].find(r'^[^/?@]*')).map(a, %s.map(e, ['connectionString', %s])).flatten())[0] : [[%s, %s, %s]].map(f, f[1].matches(r'%s') && (f[0] == 'mongodb+srv' || f[2].matches(r'^[0-9]*$')) && f[0] in ['', 'mongodb', 'mongodb+srv'] ? [['host', %s]] : [])[0]`,
			f0, fv(quote("connectionString")), asciiRE, elements("a"), hostOf("e"),
			fv(quote("scheme")), fv(quote("host")), fv(quote("port")), simpleHostRE, lowerHost("f[1]"))},
	}
	expr := "[]"
	for i := len(cases) - 1; i >= 0; i-- {
		expr = fmt.Sprintf(`(%s[0] == %s ? (%s) : %s)`, r, quote(cases[i].how), cases[i].expr, expr)
	}
	return expr
}

// endpointsDefinition is trigger_endpoints with the allowlist of cfg.
func endpointsDefinition(cfg policy.Config) (definition, error) {
	t, err := endpoints()
	if err != nil {
		return definition{}, err
	}
	rows, rowFields, err := t.rowsLiteral()
	if err != nil {
		return definition{}, err
	}
	allowed, err := globRegexp(cfg.AllowedEndpoints)
	if err != nil {
		return definition{}, err
	}
	patterns := cfg.AllowedEndpoints
	if patterns == nil {
		patterns = []string{}
	}
	// The configuration is in JSON, as the chart's template writes it.
	patternsJSON, err := jsonLiteral(patterns)
	if err != nil {
		return definition{}, err
	}
	allowedJSON, err := jsonLiteral(allowed)
	if err != nil {
		return definition{}, err
	}
	vars := []admissionregistrationv1.Variable{
		// The configuration: the allowlist, as the message prints it and
		// as one regular expression.
		{Name: "allowedEndpoints", Expression: patternsJSON},
		{Name: "allowedEndpointsText", Expression: allowlistText},
		{Name: "allowedHosts", Expression: allowedJSON},
		// The policy's tables.
		{Name: "endpointRows", Expression: rows},
		{Name: "rowFields", Expression: rowFields},
		{Name: "knownTypes", Expression: list(t.knownTypes())},
		{Name: "violations", Expression: endpointViolations(t)},
	}
	return definition{
		name:  "trigger_endpoints",
		kinds: []string{KindScaledObject, KindScaledJob},
		// A security rule without params: fail closed, as
		// trigger_credentials.
		failurePolicy: admissionregistrationv1.Fail,
		partial:       true,
		variables:     vars,
		condition:     `size(variables.violations) > 0`,
		message:       `variables.violations.join('; ')`,
	}, nil
}

// endpointViolations are trigger_endpoints' messages that the CEL finds,
// sorted and without duplicates, as the engine's set of messages.
func endpointViolations(t endpointTable) string {
	urlKeys, listKeys := list(t.urlKeys), list(t.listKeys)
	generic := fmt.Sprintf(`md.transformList(k, v, (k in %[1]s || k in %[2]s) && !(k in variables.rowFields[?ty].orValue([])), k in %[1]s ? (string(v).trim() == '' ? [] : [[string(k), %[3]s]]) : %[4]s.map(e, [string(k), %[5]s])).flatten().filter(p, p[1] != %[6]s)`,
		urlKeys, listKeys, urlHost("string(v).trim()"), elements("string(v)"), hostOf("e"), quote(t.placeholder))
	rowPairs := fmt.Sprintf(`variables.endpointRows[?ty].orValue([]).map(r, %s).flatten()`, rowEndpoints("r", "md", t.placeholder))
	endpointMsg := `'trigger_endpoints: ' + ` + objectKey + ` + ' makes KEDA call ' + p[1] + ' (trigger ' + ` + triggerRef("i", "t") +
		` + ', type ' + ty + ', metadata.' + p[0] + ' of ' + ` + objectKey +
		` + '), which is not on the allowed endpoints ' + variables.allowedEndpointsText + '; use an allowed endpoint, or ask the cluster admins to add it to mlscale\'s policy configuration (allowedEndpoints)'`
	addressLike := fmt.Sprintf(`[string(v).trim()].exists(x, x.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://') || %s.exists(e, e.matches(r'^[a-zA-Z][a-zA-Z0-9+.-]*://') || e.matches(r'%s') || e.matches(r'%s') || e.matches(r'%s')))`,
		elements("x"), addressRE1, addressRE2, addressRE3)
	unknown := fmt.Sprintf(`(ty in variables.knownTypes ? [] : md.transformList(k, v, !k.endsWith('FromEnv') && string(v).trim() != '' && (k in %s || k in %s || %s), 'trigger_endpoints: ' + %s + ' has trigger ' + %s + ' of type "' + ty.replace('\\', '\\\\').replace('"', '\\"') + '", which the policy does not know, and its metadata.' + k + ' (of ' + %s + ') looks like an address: the policy cannot tell which host KEDA would build from it, so with allowed endpoints configured the trigger is denied; use a trigger type KEDA knows, or ask the cluster admins to update mlscale\'s trigger_endpoints policy'))`,
		urlKeys, listKeys, addressLike, objectKey, triggerRef("i", "t"), objectKey)
	perTrigger := fmt.Sprintf(`[has(t.metadata) ? t.metadata : {}].map(md, [has(t.type) ? t.type : ''].map(ty, (%s + %s).filter(p, p[1] != '' && !p[1].matches(variables.allowedHosts)).map(p, %s) + %s)[0])[0]`,
		rowPairs, generic, endpointMsg, unknown)
	return fmt.Sprintf(`size(variables.allowedEndpoints) == 0 ? [] : (has(object.spec.triggers) ? object.spec.triggers : []).transformList(i, t, %s).flatten().sort().distinct()`, perTrigger)
}
