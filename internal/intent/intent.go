package intent

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Profile names a set of defaults for a kind of ML workload.
type Profile string

// The profiles of the v1 contract.
const (
	ProfileGeneric      Profile = "generic"
	ProfileCeleryWorker Profile = "celery-worker"
	ProfileVLLM         Profile = "vllm"
	ProfileTrainingJob  Profile = "training-job"
)

// Profiles lists every profile in documentation order.
var Profiles = []Profile{ProfileGeneric, ProfileCeleryWorker, ProfileVLLM, ProfileTrainingJob}

// Limits on numeric annotations.
const (
	MaxReplicasLimit = 10000
	MaxDuration      = 24 * time.Hour
)

// RabbitMQ is the queue trigger written by the rabbitmq-* annotations.
type RabbitMQ struct {
	// Queue is the queue name (mlscale.io/rabbitmq-queue).
	Queue string
	// Host is the host as written (mlscale.io/rabbitmq-host), not yet
	// expanded to a cluster DNS name; empty means the profile default.
	Host string
	// Auth names the TriggerAuthentication holding the credentials.
	Auth string
}

// Prometheus is the query trigger written by the prometheus-* annotations.
type Prometheus struct {
	// Query is the PromQL expression.
	Query string
	// Server is the Prometheus base URL; empty means the cluster default.
	Server string
	// Target is the per-replica target value; nil means the profile default.
	Target *float64
}

// Intent is the typed form of a workload's mlscale.io annotations. Pointer
// fields are nil when the annotation is absent, so that the renderer can
// apply the profile's default.
type Intent struct {
	// Enabled is true when mlscale.io/autoscale is "true".
	Enabled bool
	// Profile is the profile; empty means "choose by workload kind".
	Profile Profile

	MinReplicas      *int32
	MaxReplicas      *int32
	ScaleToZero      *bool
	ActivationTarget *float64
	Cooldown         *time.Duration
	PollingInterval  *time.Duration
	ScaleDownWindow  *time.Duration

	// QueueTarget is the queue length one replica should handle.
	QueueTarget *int64
	RabbitMQ    RabbitMQ
	Prometheus  Prometheus

	CPUTarget    *int32
	MemoryTarget *int32
	GPUTarget    *int32

	Predictive         bool
	DemandQuery        string
	CapacityPerReplica *float64
	Lookahead          *time.Duration
	BusinessHours      *BusinessHours

	// PredictedFloor is written by the predictor; the renderer folds it into
	// minReplicaCount within [min, max].
	PredictedFloor *int32
}

// Enabled reports whether the annotations opt the workload in.
func Enabled(annotations map[string]string) bool {
	return annotations[KeyAutoscale] == "true"
}

// Parse reads the mlscale.io annotations. It returns the intent, warnings for
// harmless oddities (unknown keys), and an Errors value listing every bad
// annotation. A workload without mlscale.io/autoscale gets Enabled=false and
// no errors; other mlscale.io keys on it are reported as a warning.
func Parse(annotations map[string]string) (Intent, []string, error) {
	p := parser{ann: annotations}
	in := p.parse()
	return in, p.warnings, p.errs.Err()
}

type parser struct {
	ann      map[string]string
	errs     Errors
	warnings []string
}

func (p *parser) parse() Intent {
	var in Intent
	switch v, ok := p.ann[KeyAutoscale]; {
	case !ok:
		if p.hasAny() {
			p.warnings = append(p.warnings, fmt.Sprintf("mlscale.io annotations are ignored because %s is not set to \"true\"", KeyAutoscale))
		}
		return in
	case v == "true":
		in.Enabled = true
	case v == "false":
		return in
	default:
		p.errs.Add(KeyAutoscale, v, "is not a boolean", `"true" or "false"`)
		return in
	}
	p.unknownKeys()

	if v, ok := p.ann[KeyProfile]; ok {
		if slices.Contains(Profiles, Profile(v)) {
			in.Profile = Profile(v)
		} else {
			p.errs.Add(KeyProfile, v, "is not a known profile", quoteList(Profiles))
		}
	}
	in.MinReplicas = p.int32(KeyMinReplicas, 0, MaxReplicasLimit)
	in.MaxReplicas = p.int32(KeyMaxReplicas, 1, MaxReplicasLimit)
	if in.MinReplicas != nil && in.MaxReplicas != nil && *in.MinReplicas > *in.MaxReplicas {
		p.errs.Add(KeyMinReplicas, p.ann[KeyMinReplicas],
			fmt.Sprintf("is greater than %s (%d)", KeyMaxReplicas, *in.MaxReplicas),
			"a value at most the maximum")
	}
	in.ScaleToZero = p.bool(KeyScaleToZero)
	if in.ScaleToZero != nil && in.MinReplicas != nil {
		switch {
		case *in.ScaleToZero && *in.MinReplicas > 0:
			p.errs.Add(KeyScaleToZero, "true", fmt.Sprintf("contradicts %s: %q", KeyMinReplicas, p.ann[KeyMinReplicas]),
				fmt.Sprintf("remove %s or set it to \"0\"", KeyMinReplicas))
		case !*in.ScaleToZero && *in.MinReplicas == 0:
			p.errs.Add(KeyScaleToZero, "false", fmt.Sprintf("contradicts %s: \"0\"", KeyMinReplicas),
				fmt.Sprintf("set %s to 1 or more, or %s to \"true\"", KeyMinReplicas, KeyScaleToZero))
		}
	}
	in.ActivationTarget = p.float(KeyActivationTarget, 0, false)
	in.Cooldown = p.duration(KeyCooldown, 0)
	in.PollingInterval = p.duration(KeyPollingInterval, time.Second)
	in.ScaleDownWindow = p.duration(KeyScaleDownWindow, 0)
	if d := in.ScaleDownWindow; d != nil && *d > time.Hour {
		p.errs.Add(KeyScaleDownWindow, p.ann[KeyScaleDownWindow], "is longer than the Kubernetes limit of 1h", "a duration from 0s to 1h")
		in.ScaleDownWindow = nil
	}

	in.RabbitMQ.Queue = p.name(KeyRabbitMQQueue, 255)
	in.RabbitMQ.Host = p.rabbitHost()
	in.RabbitMQ.Auth = p.dnsName(KeyRabbitMQAuth)
	in.QueueTarget = p.int64(KeyQueueTarget, 1, math.MaxInt32)

	in.Prometheus.Query = p.query(KeyPrometheusQuery)
	in.Prometheus.Server = p.serverURL(KeyPrometheusServer)
	in.Prometheus.Target = p.float(KeyPrometheusTarget, 0, true)

	in.CPUTarget = p.int32(KeyCPUTarget, 1, 100)
	in.MemoryTarget = p.int32(KeyMemoryTarget, 1, 100)
	in.GPUTarget = p.int32(KeyGPUTarget, 1, 100)

	if b := p.bool(KeyPredictive); b != nil {
		in.Predictive = *b
	}
	in.DemandQuery = p.query(KeyDemandQuery)
	in.CapacityPerReplica = p.float(KeyCapacityPerReplica, 0, true)
	in.Lookahead = p.duration(KeyLookahead, time.Minute)
	if v, ok := p.ann[KeyBusinessHours]; ok {
		bh, err := ParseBusinessHours(v)
		if err != nil {
			p.errs.Add(KeyBusinessHours, v, err.Error(), BusinessHoursSyntax)
		} else {
			in.BusinessHours = &bh
		}
	}
	if in.Predictive {
		if in.DemandQuery == "" && !p.has(KeyDemandQuery) {
			p.errs.Add(KeyDemandQuery, "", "is required when "+KeyPredictive+" is \"true\"", "a PromQL expression giving the workload's demand")
		}
		if in.CapacityPerReplica == nil && !p.has(KeyCapacityPerReplica) {
			p.errs.Add(KeyCapacityPerReplica, "", "is required when "+KeyPredictive+" is \"true\"", "the demand one replica serves, a number above 0")
		}
	}
	in.PredictedFloor = p.int32(KeyPredictedFloor, 0, MaxReplicasLimit)
	return in
}

func (p *parser) has(key string) bool { _, ok := p.ann[key]; return ok }

func (p *parser) hasAny() bool {
	for k := range p.ann {
		if strings.HasPrefix(k, Prefix) && !slices.Contains(SystemKeys, k) {
			return true
		}
	}
	return false
}

// unknownKeys warns about mlscale.io keys that are not in the contract,
// suggesting the closest known key.
func (p *parser) unknownKeys() {
	keys := make([]string, 0, len(p.ann))
	for k := range p.ann {
		if strings.HasPrefix(k, Prefix) && !slices.Contains(UserKeys, k) && !slices.Contains(SystemKeys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		msg := fmt.Sprintf("unknown annotation %s is ignored", k)
		if s := closest(k, UserKeys); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		p.warnings = append(p.warnings, msg)
	}
}

func (p *parser) int64(key string, lo, hi int64) *int64 {
	v, ok := p.ann[key]
	if !ok {
		return nil
	}
	allowed := fmt.Sprintf("a whole number from %d to %d", lo, hi)
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			p.errs.Add(key, v, "is out of range", allowed)
		} else {
			p.errs.Add(key, v, "is not a whole number", allowed)
		}
		return nil
	}
	if n < lo || n > hi {
		p.errs.Add(key, v, "is out of range", allowed)
		return nil
	}
	return &n
}

func (p *parser) int32(key string, lo, hi int32) *int32 {
	n := p.int64(key, int64(lo), int64(hi))
	if n == nil {
		return nil
	}
	v := int32(*n)
	return &v
}

func (p *parser) float(key string, lo float64, exclusive bool) *float64 {
	v, ok := p.ann[key]
	if !ok {
		return nil
	}
	allowed := fmt.Sprintf("a number of at least %g", lo)
	if exclusive {
		allowed = fmt.Sprintf("a number above %g", lo)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.errs.Add(key, v, "is not a number", allowed)
		return nil
	}
	if f < lo || (exclusive && f == lo) {
		p.errs.Add(key, v, "is out of range", allowed)
		return nil
	}
	return &f
}

func (p *parser) bool(key string) *bool {
	v, ok := p.ann[key]
	if !ok {
		return nil
	}
	switch v {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	p.errs.Add(key, v, "is not a boolean", `"true" or "false"`)
	return nil
}

func (p *parser) duration(key string, lo time.Duration) *time.Duration {
	v, ok := p.ann[key]
	if !ok {
		return nil
	}
	allowed := fmt.Sprintf("a duration in whole seconds from %s to %s, such as \"30s\" or \"5m\"", fmtDuration(lo), fmtDuration(MaxDuration))
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		p.errs.Add(key, v, "is not a duration", allowed)
		return nil
	}
	if d < lo || d > MaxDuration {
		p.errs.Add(key, v, "is out of range", allowed)
		return nil
	}
	if d%time.Second != 0 {
		p.errs.Add(key, v, "is not a whole number of seconds", allowed)
		return nil
	}
	return &d
}

// name accepts a non-empty printable string without whitespace.
func (p *parser) name(key string, maxLen int) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	allowed := fmt.Sprintf("1 to %d printable characters without spaces", maxLen)
	if v == "" || len(v) > maxLen || strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		p.errs.Add(key, v, "is not a valid name", allowed)
		return ""
	}
	return v
}

// dnsName accepts a Kubernetes object name (RFC 1123 subdomain).
func (p *parser) dnsName(key string) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	if !isDNSSubdomain(v) {
		p.errs.Add(key, v, "is not a valid object name", "a lower-case RFC 1123 name such as \"rabbitmq-auth\", at most 253 characters")
		return ""
	}
	return v
}

func (p *parser) query(key string) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	if strings.TrimSpace(v) == "" {
		p.errs.Add(key, v, "is empty", "a PromQL expression")
		return ""
	}
	return v
}

func (p *parser) serverURL(key string) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	allowed := "an http or https URL without credentials, such as \"http://prometheus.monitoring.svc:9090\""
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		p.errs.Add(key, v, "is not an http(s) URL", allowed)
		return ""
	case u.User != nil:
		p.errs.Add(key, redactURL(u), "has credentials inline", "credentials only through a TriggerAuthentication")
		return ""
	}
	return v
}

// rabbitHost accepts a short service name, host:port, a DNS name, or an amqp(s)
// URL; inline credentials are rejected.
func (p *parser) rabbitHost() string {
	v, ok := p.ann[KeyRabbitMQHost]
	if !ok {
		return ""
	}
	allowed := "a service name (\"rabbitmq\"), host:port, or an amqp:// URL without credentials; credentials go in the TriggerAuthentication named by " + KeyRabbitMQAuth
	if _, err := ParseRabbitHost(v); err != nil {
		if err == errInlineCredentials {
			u, _ := url.Parse(v)
			p.errs.Add(KeyRabbitMQHost, redactURL(u), "has credentials inline", allowed)
		} else {
			p.errs.Add(KeyRabbitMQHost, v, "is not a valid host", allowed)
		}
		return ""
	}
	return v
}

func redactURL(u *url.URL) string {
	if u == nil {
		return "<redacted>"
	}
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	return c.String()
}

func quoteList[T ~string](xs []T) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(string(x))
	}
	return strings.Join(q, ", ")
}

func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s
}
