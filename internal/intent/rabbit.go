package intent

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

var errInlineCredentials = errors.New("credentials inline")

// RabbitHost is a parsed mlscale.io/rabbitmq-host value.
type RabbitHost struct {
	// Scheme is "amqp" or "amqps".
	Scheme string
	// Host is a service name, a DNS name or an IP.
	Host string
	// Port is the port, 0 when not given.
	Port int
	// VHost is the virtual host path without the leading slash; empty is "/".
	VHost string
}

// ParseRabbitHost parses "rabbitmq", "rabbitmq:5672", "rabbitmq.ns",
// "amqp://rabbitmq.ns.svc:5672/vhost". It refuses credentials in the value.
func ParseRabbitHost(v string) (RabbitHost, error) {
	if v == "" || strings.TrimSpace(v) != v {
		return RabbitHost{}, errors.New("empty or padded")
	}
	h := RabbitHost{Scheme: "amqp"}
	hostport := v
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		if err != nil {
			return RabbitHost{}, err
		}
		if u.User != nil {
			return RabbitHost{}, errInlineCredentials
		}
		if u.Scheme != "amqp" && u.Scheme != "amqps" {
			return RabbitHost{}, errors.New("scheme")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return RabbitHost{}, errors.New("query")
		}
		h.Scheme = u.Scheme
		hostport = u.Host
		h.VHost = strings.TrimPrefix(u.Path, "/")
	} else if strings.ContainsAny(v, "@/?#") {
		if strings.Contains(v, "@") {
			return RabbitHost{}, errInlineCredentials
		}
		return RabbitHost{}, errors.New("path")
	}
	host := hostport
	if strings.Contains(hostport, ":") {
		hs, ps, err := net.SplitHostPort(hostport)
		if err != nil {
			return RabbitHost{}, err
		}
		port, err := strconv.Atoi(ps)
		if err != nil || port < 1 || port > 65535 {
			return RabbitHost{}, errors.New("port")
		}
		host, h.Port = hs, port
	}
	if net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(host)) > 0 {
		return RabbitHost{}, errors.New("host")
	}
	h.Host = host
	return h, nil
}

// IsShort reports whether the host is a bare service name (no dots), which
// is expanded to the workload namespace's cluster DNS name.
func (h RabbitHost) IsShort() bool {
	return net.ParseIP(h.Host) == nil && !strings.Contains(h.Host, ".")
}

// URL returns the AMQP URL with a short host expanded to
// NAME.NAMESPACE.svc.CLUSTERDOMAIN and the default port filled in.
func (h RabbitHost) URL(namespace, clusterDomain string) string {
	host := h.Host
	if h.IsShort() {
		host = host + "." + namespace + ".svc." + clusterDomain
	}
	port := h.Port
	if port == 0 {
		port = 5672
		if h.Scheme == "amqps" {
			port = 5671
		}
	}
	u := url.URL{Scheme: h.Scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + h.VHost}
	return u.String()
}

func isDNSSubdomain(v string) bool {
	return len(validation.IsDNS1123Subdomain(v)) == 0
}

// closest returns the candidate nearest to s by edit distance, or "" when
// none is close enough to be a plausible typo.
func closest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
