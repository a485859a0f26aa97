package policy

import (
	"net/url"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
)

// Built-in functions mlscale adds to Rego, for the built-in policies and
// user policies alike. They parse trigger metadata the way KEDA parses it,
// so that a policy sees what KEDA will use rather than matching text:
//
//	mlscale.parse_url(s) -> {"ok": bool, "scheme": s, "host": s,
//	    "hostname": s, "port": s, "user": bool, "username": s,
//	    "password": bool, "query": {name: [values]}}
//
// is s read by Go's net/url as KEDA's HTTP clients read it: ok is false
// when s is not an absolute URL with a host; user is true when the URL
// carries user information (Go sends it as Basic auth, with or without a
// password); hostname is lower-case, without a trailing dot.
//
//	mlscale.keda_pairs(s) -> [[key, value], ...]
//
// splits a KEDA key-value list ("k1=v1,k2=v2": customHeaders,
// queryParameters) as KEDA's typed configuration does: on ",", then on "=",
// both sides trimmed of spaces. An element without "=" gives [element, ""];
// with more than one "=" it is split at the first (KEDA refuses such a
// trigger; the policy still sees the key).
const (
	BuiltinParseURL  = "mlscale.parse_url"
	BuiltinKEDAPairs = "mlscale.keda_pairs"
)

func init() {
	rego.RegisterBuiltin1(&rego.Function{
		Name:        BuiltinParseURL,
		Description: "Parses a URL as Go's net/url does (KEDA's HTTP clients).",
		Decl:        types.NewFunction(types.Args(types.S), types.NewObject(nil, types.NewDynamicProperty(types.S, types.A))),
	}, func(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
		s, err := ast.JSON(a.Value)
		if err != nil {
			return nil, err
		}
		str, _ := s.(string)
		return ast.NewTerm(ast.MustInterfaceToValue(ParseURL(str))), nil
	})
	rego.RegisterBuiltin1(&rego.Function{
		Name:        BuiltinKEDAPairs,
		Description: "Splits a KEDA key-value list (k1=v1,k2=v2) as KEDA does, trimmed.",
		Decl:        types.NewFunction(types.Args(types.S), types.NewArray(nil, types.NewArray(nil, types.S))),
	}, func(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
		s, err := ast.JSON(a.Value)
		if err != nil {
			return nil, err
		}
		str, _ := s.(string)
		pairs := KEDAPairs(str)
		out := make([]any, len(pairs))
		for i, p := range pairs {
			out[i] = []any{p[0], p[1]}
		}
		return ast.NewTerm(ast.MustInterfaceToValue(out)), nil
	})
}

// ParseURL is mlscale.parse_url.
func ParseURL(s string) map[string]any {
	out := map[string]any{"ok": false}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return out
	}
	query := map[string]any{}
	for k, vs := range u.Query() {
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		query[k] = list
	}
	_, password := u.User.Password()
	return map[string]any{
		"ok":       true,
		"scheme":   strings.ToLower(u.Scheme),
		"host":     u.Host,
		"hostname": strings.TrimSuffix(strings.ToLower(u.Hostname()), "."),
		"port":     u.Port(),
		"user":     u.User != nil,
		"username": u.User.Username(),
		"password": password,
		"query":    query,
	}
}

// KEDAPairs is mlscale.keda_pairs.
func KEDAPairs(s string) [][2]string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out [][2]string
	for _, elem := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(elem, "=")
		out = append(out, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	return out
}
