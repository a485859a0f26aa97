package native

import (
	"iter"
	"net/url"
	"strings"
)

// This file is the Go form of mlscale's Rego builtins mlscale.parse_url
// and mlscale.keda_pairs (internal/policy/builtins.go: ParseURL and
// KEDAPairs, which internal/policy cannot share with this package). The
// functions are pure and must give what the builtins give, field for
// field.

// parsedURL is mlscale.parse_url(s): s read by Go's net/url as KEDA's HTTP
// clients read it.
type parsedURL struct {
	// ok is false when s is not an absolute URL with a host; the other
	// fields are then empty.
	ok bool
	// scheme is the lower-case scheme; host is u.Host; hostname is
	// u.Hostname() in lower case without a trailing dot; port is u.Port().
	scheme, host, hostname, port string
	// user reports user information in the URL (sent as Basic auth, with
	// or without a password); username is its user name; password reports
	// a password.
	user     bool
	username string
	password bool
	// rawQuery is u.RawQuery; query decodes it as the builtin's "query".
	rawQuery string
}

// parseURL is mlscale.parse_url (ParseURL): s, trimmed of spaces, parsed
// by net/url; ok only for an absolute URL with a host.
func parseURL(s string) parsedURL {
	s = strings.TrimSpace(s)
	// An absolute URL with a host starts with "scheme://" (net/url reads
	// an authority only after "//"): without "://" it cannot be one.
	if !strings.Contains(s, "://") {
		return parsedURL{}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return parsedURL{}
	}
	_, password := u.User.Password()
	return parsedURL{
		ok:       true,
		scheme:   strings.ToLower(u.Scheme),
		host:     u.Host,
		hostname: strings.TrimSuffix(strings.ToLower(u.Hostname()), "."),
		port:     u.Port(),
		user:     u.User != nil,
		username: u.User.Username(),
		password: password,
		rawQuery: u.RawQuery,
	}
}

// query is mlscale.parse_url's "query": the URL's query parameters by name
// (url.URL.Query, parameters net/url cannot decode left out); nil when the
// URL has no query.
func (u parsedURL) query() url.Values {
	if u.rawQuery == "" {
		return nil
	}
	v, _ := url.ParseQuery(u.rawQuery)
	return v
}

// kedaPairs is mlscale.keda_pairs (KEDAPairs): a KEDA key-value list
// ("k1=v1,k2=v2") split on ",", then at the first "=", both sides trimmed
// of spaces, in order; an element without "=" gives [element, ""], a
// blank list none.
func kedaPairs(s string) iter.Seq2[string, string] {
	return func(yield func(k, v string) bool) {
		if strings.TrimSpace(s) == "" {
			return
		}
		list := s
		for {
			elem, rest, more := strings.Cut(list, ",")
			k, v, _ := strings.Cut(elem, "=")
			if !yield(strings.TrimSpace(k), strings.TrimSpace(v)) || !more {
				return
			}
			list = rest
		}
	}
}
