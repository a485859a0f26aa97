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
// "[fd00::1]:5672" or "amqp://rabbitmq.ns.svc:5672/vhost" (amqps for TLS).
// It refuses credentials in the value, and its errors never repeat the
// value, so that a password typed into it cannot leak into a message.
func ParseRabbitHost(v string) (RabbitHost, error) {
	if v == "" || strings.TrimSpace(v) != v {
		return RabbitHost{}, errors.New("empty or padded with spaces")
	}
	h := RabbitHost{Scheme: "amqp"}
	hostport := v
	if _, _, ok := splitScheme(v); ok {
		u, err := url.Parse(v)
		switch {
		case err != nil && hasUserinfo(v):
			return RabbitHost{}, errInlineCredentials
		case err != nil:
			return RabbitHost{}, errors.New("not a valid URL")
		case u.User != nil:
			return RabbitHost{}, errInlineCredentials
		case u.Scheme != "amqp" && u.Scheme != "amqps":
			return RabbitHost{}, errors.New("scheme is not amqp or amqps")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			return RabbitHost{}, errors.New("has a query or fragment")
		}
		h.Scheme = u.Scheme
		hostport = u.Host
		h.VHost = strings.TrimPrefix(u.Path, "/")
	} else if strings.ContainsAny(v, "@/?#") {
		if strings.Contains(v, "@") {
			return RabbitHost{}, errInlineCredentials
		}
		return RabbitHost{}, errors.New("has a path without a scheme; use amqp://HOST/VHOST")
	}
	host := hostport
	switch {
	case strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]"):
		// A bracketed IPv6 address without a port.
		host = hostport[1 : len(hostport)-1]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return RabbitHost{}, errors.New("bad IPv6 address")
		}
	case strings.Contains(hostport, ":"):
		hs, ps, err := net.SplitHostPort(hostport)
		if err != nil {
			return RabbitHost{}, errors.New("bad host:port")
		}
		port, err := strconv.Atoi(ps)
		if err != nil || port < 1 || port > 65535 || strings.Trim(ps, "0123456789") != "" {
			return RabbitHost{}, errors.New("port is not a number from 1 to 65535")
		}
		host, h.Port = hs, port
	}
	if net.ParseIP(host) == nil && !isHostName(host) {
		return RabbitHost{}, errors.New("host is not an IP address, a Service name or a lower-case DNS name")
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

// splitScheme splits "scheme://rest" when the scheme is a valid URL scheme
// (a letter, then letters, digits, "+", "-" or "."), so that a value like
// "user:pass@http://host" is not mistaken for a URL with scheme
// "user:pass@http".
func splitScheme(v string) (scheme, rest string, ok bool) {
	scheme, rest, found := strings.Cut(v, "://")
	if !found || scheme == "" {
		return "", v, false
	}
	for i, r := range scheme {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || ((r < '0' || r > '9') && r != '+' && r != '-' && r != '.')) {
			return "", v, false
		}
	}
	return scheme, rest, true
}

// isHostName reports whether h is a Service name (a DNS-1035 label: at most
// 63 characters, starting with a letter), which is expanded to the Service's
// cluster DNS name, or a DNS name with dots whose every label has at most 63
// characters.
func isHostName(h string) bool {
	if !strings.Contains(h, ".") {
		return len(validation.IsDNS1035Label(h)) == 0
	}
	if !isDNSSubdomain(h) {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if len(validation.IsDNS1123Label(label)) > 0 {
			return false
		}
	}
	return true
}

func isDNSSubdomain(v string) bool {
	return len(validation.IsDNS1123Subdomain(v)) == 0
}
