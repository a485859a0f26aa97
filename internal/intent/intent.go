package intent

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	promparser "github.com/prometheus/prometheus/promql/parser"
	"k8s.io/utils/lru"
	"k8s.io/utils/ptr"
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

// ScaledJob rollout strategies, as KEDA names them.
const (
	// RolloutGradual leaves running Jobs alone when the ScaledJob changes:
	// they finish under the old template (mlscale's default).
	RolloutGradual = "gradual"
	// RolloutImmediate is KEDA's default: a change of the ScaledJob
	// terminates its running Jobs.
	RolloutImmediate = "immediate"
)

// Limits on numeric annotations.
const (
	// MaxReplicasLimit is the largest replica count any annotation accepts.
	MaxReplicasLimit = 10000
	// MaxDuration is the longest duration any annotation accepts.
	MaxDuration = 24 * time.Hour
	// MaxScaleDownWindow is the Kubernetes limit on an HPA's scale-down
	// stabilisation window (stabilizationWindowSeconds <= 3600).
	MaxScaleDownWindow = time.Hour
)

// PredictorKeys are the predictor's inputs: they only take effect when
// mlscale.io/predictive is "true".
var PredictorKeys = []string{KeyDemandQuery, KeyCapacityPerReplica, KeyLookahead, KeyTargetUnder, KeyFloorDownDelay, KeyFloorDownInterval}

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

	// MinReplicas and MaxReplicas are the replica bounds.
	MinReplicas *int32
	MaxReplicas *int32
	// ScaleToZero is mlscale.io/scale-to-zero.
	ScaleToZero *bool
	// ActivationTarget is the activation threshold of the queue and query
	// triggers: the value above which a workload at zero wakes up.
	ActivationTarget *float64
	// Cooldown is how long after the last activity a workload scales to zero.
	Cooldown *time.Duration
	// PollingInterval is how often KEDA reads the triggers.
	PollingInterval *time.Duration
	// ScaleDownWindow is the HPA scale-down stabilisation window.
	ScaleDownWindow *time.Duration

	// QueueTarget is the queue length one replica should handle.
	QueueTarget *int64
	RabbitMQ    RabbitMQ
	Prometheus  Prometheus

	// CPUTarget, MemoryTarget and GPUTarget are utilisation targets in percent.
	CPUTarget    *int32
	MemoryTarget *int32
	GPUTarget    *int32

	// WakeQuery is a PromQL expression on a metric that exists while the
	// workload has no pods (a gateway's or router's), which wakes it from
	// zero.
	WakeQuery string
	// SkipWakeCheck lets a workload scale to zero although no trigger
	// mlscale knows of can wake it (the user knows the metric outlives
	// the pods).
	SkipWakeCheck bool
	// RolloutStrategy is the ScaledJob's rollout strategy on a change:
	// RolloutGradual or RolloutImmediate; empty means RolloutGradual.
	RolloutStrategy string
	// AdoptHPA names an existing HPA that KEDA takes over.
	AdoptHPA string

	// Predictive turns on the predictor for this workload.
	Predictive bool
	// DemandQuery is the PromQL expression of the workload's demand.
	DemandQuery string
	// CapacityPerReplica is the demand one replica serves.
	CapacityPerReplica *float64
	// Lookahead is how far ahead the predictor forecasts.
	Lookahead *time.Duration
	// TargetUnder is the share of steps (0.02 for "2%") in which demand
	// may exceed the predicted floor's capacity.
	TargetUnder *float64
	// FloorDownDelay and FloorDownInterval tune how this workload's
	// predicted floor falls, in the place of the predictor's --down-delay
	// and --down-interval: how long the forecast stays below the band
	// before the floor falls, and the time per step of a fall (0: at once,
	// no spacing).
	FloorDownDelay, FloorDownInterval *time.Duration
	// BusinessHours is a weekly calendar of busy hours: with scale-to-zero,
	// the hours in which MinReplicas are held (a cron trigger); for the
	// predictor, hours it expects load in.
	BusinessHours *BusinessHours

	// PredictedFloor is written by the predictor; the renderer folds it into
	// minReplicaCount within [min, max].
	PredictedFloor *int32
}

// Enabled reports whether the annotations opt the workload in.
func Enabled(annotations map[string]string) bool {
	return annotations[KeyAutoscale] == "true"
}

// Parse reads the mlscale.io annotations. It returns the intent, warnings for
// harmless oddities (unknown keys, predictor inputs without the predictor),
// and an Errors value listing every bad annotation, in the order of
// UserKeys. A workload without mlscale.io/autoscale gets Enabled=false and no
// errors; other mlscale.io keys on it are reported as a warning. With
// mlscale.io/autoscale "false" the other keys are ignored silently. A bad
// mlscale.io/autoscale value is an error, and the other keys are still
// checked so that every problem is reported at once.
func Parse(annotations map[string]string) (Intent, []string, error) {
	return ParseWith(annotations, Options{})
}

// Options change how Parse judges annotations.
type Options struct {
	// AllowUnknownKeys reports mlscale.io/ keys that are not in the
	// contract as warnings instead of errors.
	AllowUnknownKeys bool
	// Job says that the annotations are a Job's: business hours, which a
	// ScaledJob has no use for, are refused as such rather than with the
	// advice to add scale-to-zero.
	Job bool
}

// ParseWith is Parse with options.
func ParseWith(annotations map[string]string, o Options) (Intent, []string, error) {
	p := parser{ann: annotations, opts: o}
	in := p.parse()
	return in, p.warnings, p.errs.Err()
}

type parser struct {
	ann      map[string]string
	opts     Options
	errs     Errors
	warnings []string
}

func (p *parser) parse() Intent {
	var in Intent
	switch v, ok := p.ann[KeyAutoscale]; {
	case !ok:
		if p.hasAny() {
			w := fmt.Sprintf("mlscale.io annotations are ignored because %s is not set to \"true\"", KeyAutoscale)
			if k := p.misspeltOptIn(); k != "" {
				w += fmt.Sprintf("; %s is not a key mlscale knows: did you mean %s?", k, KeyAutoscale)
			}
			p.warnings = append(p.warnings, w)
		}
		return in
	case v == "true":
		in.Enabled = true
	case v == "false":
		return in
	default:
		// Still parse the rest, so that every error is reported at once.
		if !p.empty(KeyAutoscale, v, `"true" or "false"`) {
			p.errs.Add(KeyAutoscale, v, "is not a boolean", `"true" or "false"`)
		}
	}
	p.unknownKeys()
	p.scaling(&in)
	p.triggers(&in)
	p.wakeAndRollout(&in)
	p.predictor(&in)
	p.businessHours(&in)
	in.PredictedFloor = p.int32(KeyPredictedFloor, 0, MaxReplicasLimit)
	return in
}

// wakeAndRollout parses the wake-from-zero, ScaledJob rollout and HPA
// adoption annotations.
func (p *parser) wakeAndRollout(in *Intent) {
	in.WakeQuery = p.query(KeyWakeQuery, false)
	in.SkipWakeCheck = ptr.Deref(p.bool(KeySkipWakeCheck), false)
	if v, ok := p.ann[KeyRolloutStrategy]; ok {
		allowed := fmt.Sprintf("%q (running Jobs finish under the old template; the default) or %q (KEDA's default: a change terminates running Jobs)", RolloutGradual, RolloutImmediate)
		switch {
		case p.empty(KeyRolloutStrategy, v, allowed):
		case v == RolloutGradual || v == RolloutImmediate:
			in.RolloutStrategy = v
		default:
			p.errs.Add(KeyRolloutStrategy, v, "is not a rollout strategy", allowed)
		}
	}
	// KEDA refuses an HPA name over 63 characters, though the API
	// server allows 253.
	in.AdoptHPA = p.dnsName(KeyAdoptHPA, "my-app-hpa", 63)
}

// BusinessHoursOnJobAllowed is the fix named where a Job has business
// hours.
const BusinessHoursOnJobAllowed = "remove it; a ScaledJob starts Jobs for queued work, not for hours"

// fixedOffsetZones are IANA zone names that read like a region's time but
// are a fixed offset all year (no daylight saving), with the zone a user
// most likely means.
var fixedOffsetZones = map[string]string{
	"EST": "America/New_York", "MST": "America/Denver",
}

// businessHours parses the business hours and checks that they mean
// something: with scale-to-zero, mlscale holds min-replicas in those hours
// and lets the workload sit at zero outside them; with the predictor, they
// are an input of the forecast.
func (p *parser) businessHours(in *Intent) {
	v, ok := p.ann[KeyBusinessHours]
	if !ok {
		return
	}
	bh, err := ParseBusinessHours(v)
	if err != nil {
		p.errs.Add(KeyBusinessHours, v, err.Error(), BusinessHoursSyntax)
		return
	}
	in.BusinessHours = &bh
	if local, fixed := fixedOffsetZones[bh.Location.String()]; fixed {
		p.warnings = append(p.warnings, fmt.Sprintf("%s: the zone %s is one offset all year, without daylight saving; if the hours follow a clock that changes for it, name the place instead, such as %s", KeyBusinessHours, bh.Location, local))
	}
	toZero := in.ScaleToZero != nil && *in.ScaleToZero
	switch {
	case p.opts.Job:
		p.errs.Add(KeyBusinessHours, v, "is not supported on a Job", BusinessHoursOnJobAllowed)
	case toZero && in.MinReplicas != nil && *in.MinReplicas == 0:
		p.errs.Add(KeyMinReplicas, "0", fmt.Sprintf("holds no replicas in the business hours of %s", KeyBusinessHours),
			"the replicas to keep in business hours, 1 or more (outside them the workload scales to zero)")
	case !toZero && p.has(KeyPredictive) && p.ann[KeyPredictive] != "true" && p.ann[KeyPredictive] != "false":
		// A bad mlscale.io/predictive value is reported already.
	case !toZero && !in.Predictive:
		p.errs.Add(KeyBusinessHours, v, fmt.Sprintf("is set without %s: \"true\" (or %s: \"true\")", KeyScaleToZero, KeyPredictive),
			fmt.Sprintf("add %s: \"true\" to hold %s replicas in these hours and scale to zero outside them, or %s: \"true\" to let the predictor expect load in them", KeyScaleToZero, KeyMinReplicas, KeyPredictive))
	}
}

// scaling parses the profile, the replica bounds, scale-to-zero and the
// timing annotations.
func (p *parser) scaling(in *Intent) {
	if v, ok := p.ann[KeyProfile]; ok && !p.empty(KeyProfile, v, quoteList(Profiles)) {
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
		case *in.ScaleToZero && *in.MinReplicas > 0 && !p.has(KeyBusinessHours):
			p.errs.Add(KeyScaleToZero, "true", fmt.Sprintf("contradicts %s: %q", KeyMinReplicas, shorten(p.ann[KeyMinReplicas])),
				fmt.Sprintf("remove %s or set it to \"0\", or add %s to hold %s replicas only in those hours", KeyMinReplicas, KeyBusinessHours, shorten(p.ann[KeyMinReplicas])))
		case !*in.ScaleToZero && *in.MinReplicas == 0:
			p.errs.Add(KeyScaleToZero, "false", fmt.Sprintf("contradicts %s: \"0\"", KeyMinReplicas),
				fmt.Sprintf("set %s to 1 or more, or %s to \"true\"", KeyMinReplicas, KeyScaleToZero))
		}
	}
	in.ActivationTarget = p.float(KeyActivationTarget, 0, false)
	in.Cooldown = p.durationUpTo(KeyCooldown, 0, MaxDuration)
	in.PollingInterval = p.durationUpTo(KeyPollingInterval, time.Second, MaxDuration)
	in.ScaleDownWindow = p.durationUpTo(KeyScaleDownWindow, 0, MaxScaleDownWindow)
}

// triggers parses the RabbitMQ, Prometheus and resource trigger annotations.
func (p *parser) triggers(in *Intent) {
	in.RabbitMQ.Queue = p.name(KeyRabbitMQQueue, 255)
	in.RabbitMQ.Host = p.rabbitHost()
	in.RabbitMQ.Auth = p.dnsName(KeyRabbitMQAuth, "rabbitmq-auth", 253)
	in.QueueTarget = p.int64(KeyQueueTarget, 1, math.MaxInt32)

	in.Prometheus.Query = p.query(KeyPrometheusQuery, false)
	in.Prometheus.Server = p.serverURL(KeyPrometheusServer)
	in.Prometheus.Target = p.float(KeyPrometheusTarget, 0, true)
	if t := in.Prometheus.Target; t != nil && *t < MinPrometheusTarget {
		p.errs.Add(KeyPrometheusTarget, p.ann[KeyPrometheusTarget], PrometheusTargetFloorProblem, PrometheusTargetFloorAllowed)
		in.Prometheus.Target = nil
	}

	in.CPUTarget = p.int32(KeyCPUTarget, 1, 100)
	in.MemoryTarget = p.int32(KeyMemoryTarget, 1, 100)
	in.GPUTarget = p.int32(KeyGPUTarget, 1, 100)
}

// predictor parses the predictor's inputs, which apply only with
// mlscale.io/predictive "true".
func (p *parser) predictor(in *Intent) {
	predictive := p.bool(KeyPredictive)
	in.Predictive = ptr.Deref(predictive, false)
	in.DemandQuery = p.query(KeyDemandQuery, true)
	in.CapacityPerReplica = p.float(KeyCapacityPerReplica, 0, true)
	in.Lookahead = p.durationUpTo(KeyLookahead, time.Minute, MaxDuration)
	in.TargetUnder = p.targetUnder(KeyTargetUnder)
	in.FloorDownDelay = p.durationUpTo(KeyFloorDownDelay, 0, MaxDuration)
	in.FloorDownInterval = p.durationUpTo(KeyFloorDownInterval, 0, MaxDuration)
	if in.Predictive {
		if in.DemandQuery == "" && !p.has(KeyDemandQuery) {
			p.errs.Add(KeyDemandQuery, "", "is required when "+KeyPredictive+" is \"true\"", "a PromQL expression giving the workload's demand")
		}
		if in.CapacityPerReplica == nil && !p.has(KeyCapacityPerReplica) {
			p.errs.Add(KeyCapacityPerReplica, "", "is required when "+KeyPredictive+" is \"true\"", "the demand one replica serves, a number above 0")
		}
	} else if predictive != nil || !p.has(KeyPredictive) {
		// Not when the value was bad: that is an error already.
		for _, k := range PredictorKeys {
			if p.has(k) {
				p.warnings = append(p.warnings, fmt.Sprintf("%s is ignored because %s is not \"true\"", k, KeyPredictive))
			}
		}
	}
}

// targetUnder parses a percentage in (0%, 50%], such as "2%", into a
// share of steps.
func (p *parser) targetUnder(key string) *float64 {
	v, ok := p.ann[key]
	if !ok || p.empty(key, v, TargetUnderAllowed) {
		return nil
	}
	f, err := ParseTargetUnder(v)
	if err != nil {
		p.errs.Add(key, v, err.Error(), TargetUnderAllowed)
		return nil
	}
	return &f
}

func (p *parser) has(key string) bool { _, ok := p.ann[key]; return ok }

func (p *parser) hasAny() bool {
	for k := range p.ann {
		if strings.HasPrefix(k, Prefix) && !slices.Contains(SystemKeys, k) && !slices.Contains(RetiredKeys, k) {
			return true
		}
	}
	return false
}

// misspeltOptIn returns the mlscale.io key that most likely means to be
// the opt-in, mlscale.io/autoscale, misspelt ("autoscal", "auto-scale",
// "Autoscale"), or "".
func (p *parser) misspeltOptIn() string {
	keys := make([]string, 0, len(p.ann))
	for k := range p.ann {
		if strings.HasPrefix(k, Prefix) && k != KeyAutoscale && closest(k, []string{KeyAutoscale}) == KeyAutoscale {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// unknownKeys refuses mlscale.io keys that are not in the contract, naming
// the key the user most likely meant; with Options.AllowUnknownKeys they are
// warnings.
func (p *parser) unknownKeys() {
	keys := make([]string, 0, len(p.ann))
	for k := range p.ann {
		if strings.HasPrefix(k, Prefix) && !slices.Contains(UserKeys, k) && !slices.Contains(SystemKeys, k) && !slices.Contains(RetiredKeys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := closest(k, UserKeys)
		if p.opts.AllowUnknownKeys {
			msg := fmt.Sprintf("unknown annotation %s is ignored", shownKey(k))
			if s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			}
			p.warnings = append(p.warnings, msg)
			continue
		}
		problem, allowed := "is not an annotation mlscale knows", "the keys listed in docs/annotations.md; rename or remove it"
		if s != "" {
			problem = fmt.Sprintf("is not an annotation mlscale knows (did you mean %s?)", s)
			allowed = fmt.Sprintf("%s, or another key listed in docs/annotations.md; rename or remove it", s)
		}
		p.errs.Add(k, p.ann[k], problem, allowed)
	}
}

// empty reports an annotation written with no value (or only spaces), which
// gets its own message: an empty quoted value reads poorly.
func (p *parser) empty(key, v, allowed string) bool {
	if strings.TrimSpace(v) != "" {
		return false
	}
	p.errs.Add(key, v, "is empty", allowed)
	return true
}

func (p *parser) int64(key string, lo, hi int64) *int64 {
	v, ok := p.ann[key]
	if !ok {
		return nil
	}
	allowed := fmt.Sprintf("a whole number from %d to %d", lo, hi)
	if p.empty(key, v, allowed) {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
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

// MinPrometheusTarget is the smallest mlscale.io/prometheus-target: KEDA
// passes the target to the HPA as a quantity in thousandths.
const MinPrometheusTarget = 0.001

// The refusal of a mlscale.io/prometheus-target under MinPrometheusTarget.
const (
	PrometheusTargetFloorProblem = "is under 0.001: KEDA gives the HPA its target in thousandths, so it would be 0, which the HPA refuses"
	PrometheusTargetFloorAllowed = "a number of at least 0.001 (scale the query instead, e.g. multiply it by 1000)"
)

func (p *parser) float(key string, lo float64, exclusive bool) *float64 {
	v, ok := p.ann[key]
	if !ok {
		return nil
	}
	allowed := fmt.Sprintf("a number of at least %g", lo)
	if exclusive {
		allowed = fmt.Sprintf("a number above %g", lo)
	}
	if p.empty(key, v, allowed) {
		return nil
	}
	s := strings.TrimSpace(v)
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case !isDecimal(s) || (err != nil && !errors.Is(err, strconv.ErrRange)):
		p.errs.Add(key, v, "is not a number", allowed)
		return nil
	case math.IsInf(f, 0):
		p.errs.Add(key, v, "is out of range", allowed)
		return nil
	}
	if f < lo || (exclusive && f == lo) {
		p.errs.Add(key, v, "is out of range", allowed)
		return nil
	}
	f += 0 // -0 becomes 0, so that KEDA never sees "-0"
	return &f
}

// isDecimal reports whether s is a plain decimal number such as "5", "0.5"
// or "1e3": ParseFloat also takes hex floats and "Inf", which KEDA and
// users would not recognise.
func isDecimal(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.' && r != 'e' && r != 'E' && r != '+' && r != '-'
	}) < 0
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
	if !p.empty(key, v, `"true" or "false"`) {
		p.errs.Add(key, v, "is not a boolean", `"true" or "false"`)
	}
	return nil
}

// durationUpTo accepts a Go duration in whole seconds within [lo, hi].
func (p *parser) durationUpTo(key string, lo, hi time.Duration) *time.Duration {
	v, ok := p.ann[key]
	if !ok {
		return nil
	}
	allowed := fmt.Sprintf("a duration in whole seconds from %s to %s, such as %s", fmtDuration(lo), fmtDuration(hi), durationExamples(lo, hi))
	if p.empty(key, v, allowed) {
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	switch {
	case err != nil:
		p.errs.Add(key, v, "is not a duration", allowed)
		return nil
	case d < lo || d > hi:
		p.errs.Add(key, v, "is out of range", allowed)
		return nil
	case d%time.Second != 0:
		p.errs.Add(key, v, "is not a whole number of seconds", allowed)
		return nil
	}
	return &d
}

// durationExamples names two durations in [lo, hi] for error messages,
// e.g. `"30s" or "5m"`.
func durationExamples(lo, hi time.Duration) string {
	var ex []string
	for _, d := range []time.Duration{30 * time.Second, 5 * time.Minute, 15 * time.Minute, time.Hour} {
		if d >= lo && d <= hi && len(ex) < 2 {
			ex = append(ex, strconv.Quote(fmtDuration(d)))
		}
	}
	return strings.Join(ex, " or ")
}

// name accepts a non-empty string of printable characters without spaces.
func (p *parser) name(key string, maxLen int) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	allowed := fmt.Sprintf("1 to %d bytes of printable UTF-8 without spaces", maxLen)
	if p.empty(key, v, allowed) {
		return ""
	}
	if len(v) > maxLen || !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }) >= 0 {
		p.errs.Add(key, v, "is not a valid name", allowed)
		return ""
	}
	return v
}

// dnsName accepts a Kubernetes object name (RFC 1123 subdomain).
// dnsName parses the name of an object (a lower-case RFC 1123 subdomain)
// of at most maxLen characters; example is a name of that kind.
func (p *parser) dnsName(key, example string, maxLen int) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	allowed := fmt.Sprintf("a lower-case RFC 1123 name such as %q, at most %d characters", example, maxLen)
	if p.empty(key, v, allowed) {
		return ""
	}
	if !isDNSSubdomain(v) {
		p.errs.Add(key, v, "is not a valid object name", allowed)
		return ""
	}
	if len(v) > maxLen {
		p.errs.Add(key, v, fmt.Sprintf("is %d characters long", len(v)), allowed)
		return ""
	}
	return v
}

func (p *parser) query(key string, scalarOK bool) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	allowed := "a PromQL expression"
	if p.empty(key, v, allowed) {
		return ""
	}
	if len(v) > MaxQueryLength {
		p.errs.Add(key, v, "is too long", fmt.Sprintf("a PromQL expression of at most %d bytes", MaxQueryLength))
		return ""
	}
	if err := CheckPromQL(v); err != nil {
		p.errs.Add(key, v, "is not valid PromQL ("+err.Error()+")", allowed)
		return ""
	}
	// KEDA and the predictor evaluate it as a number per time: a range
	// vector or a string fails every query, at run time only. KEDA's
	// prometheus trigger reads an instant vector's samples only: a
	// scalar's result fails each of its polls (the predictor's range
	// query reads a scalar as one series).
	if expr, _ := ParsePromQL(v); expr != nil {
		switch t := expr.Type(); {
		case t == promparser.ValueTypeVector, t == promparser.ValueTypeScalar && scalarOK:
		case t == promparser.ValueTypeScalar:
			p.errs.Add(key, v, "gives a scalar, which KEDA's prometheus trigger cannot read (it reads the samples of an instant vector)",
				"a PromQL expression giving an instant vector (wrap a scalar in vector(...), as in vector(scalar(x)))")
			return ""
		default:
			what := string(t)
			if t == promparser.ValueTypeMatrix {
				what = "range vector"
			}
			giving := "an instant vector"
			if scalarOK {
				giving += " or a scalar"
			}
			p.errs.Add(key, v, "gives a "+what+", which Prometheus cannot evaluate as a value over time",
				"a PromQL expression giving "+giving+" (a range vector needs a function around it, such as rate(x[5m]) or max_over_time(x[5m]))")
			return ""
		}
	}
	return v
}

// MaxQueryLength is the longest PromQL expression an annotation accepts.
const MaxQueryLength = 8192

// promQL is Prometheus' own PromQL parser, with the features a Prometheus
// server has without feature flags.
var promQL = promparser.NewParser(promparser.Options{})

// parsedQueries caches ParsePromQL's results by query text: admission reads
// one workload's queries several times (the annotation check, the wake
// check, the series each trigger reads), and the same queries come back with
// every update of the workload. At most parsedQueriesSize entries.
var parsedQueries = lru.New(parsedQueriesSize)

// parsedQueriesSize bounds parsedQueries: with queries of at most
// MaxQueryLength bytes, a few megabytes at worst.
const parsedQueriesSize = 512

// parsedQuery is one entry of parsedQueries.
type parsedQuery struct {
	expr promparser.Expr
	err  error
}

// ParsePromQL parses a PromQL expression as the Prometheus server KEDA sends
// it to will. Results are cached: the expression returned is shared and must
// not be modified (promparser.Inspect and String only read it).
func ParsePromQL(q string) (promparser.Expr, error) {
	if v, ok := parsedQueries.Get(q); ok {
		p := v.(parsedQuery)
		return p.expr, p.err
	}
	expr, err := promQL.ParseExpr(q)
	parsedQueries.Add(q, parsedQuery{expr: expr, err: err})
	return expr, err
}

// CheckPromQL reports a PromQL expression that does not parse, as
// "unclosed left parenthesis at character 16".
func CheckPromQL(q string) error {
	_, err := ParsePromQL(q)
	if err == nil {
		return nil
	}
	msg := strings.SplitN(err.Error(), "\n", 2)[0]
	pos, rest, ok := strings.Cut(msg, ": parse error: ")
	if !ok {
		return errors.New(msg)
	}
	return fmt.Errorf("%s at character %s", rest, strings.TrimPrefix(pos, "1:"))
}

// PrometheusServerAllowed says which Prometheus server URLs are accepted, in
// the words of an error's "allowed" part.
const PrometheusServerAllowed = "an http or https URL without credentials, such as \"http://prometheus.monitoring.svc:9090\""

// CheckPrometheusServer checks a Prometheus base URL: http or https, with a
// host and without a user or password. Its error is the problem in the words
// of a FieldError ("has credentials inline", "is not an http(s) URL") and
// never repeats the value, so that a password typed into it cannot leak.
func CheckPrometheusServer(v string) error {
	u, err := url.Parse(v)
	valid := err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	switch {
	case (err == nil && u.User != nil) || (!valid && hasUserinfo(v)):
		return fmt.Errorf("has %w", errInlineCredentials)
	case !valid:
		return errors.New("is not an http(s) URL")
	case u.Hostname() == "":
		return errors.New("has no host")
	case strings.ContainsFunc(v, unicode.IsSpace):
		return errors.New("has white space")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		// KEDA appends /api/v1/query?... to the address.
		return errors.New("has a query or fragment, which KEDA's request would carry into the path (it appends /api/v1/query?query=...)")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("has port %s, outside 1-65535", port)
		}
	}
	return nil
}

func (p *parser) serverURL(key string) string {
	v, ok := p.ann[key]
	if !ok {
		return ""
	}
	if p.empty(key, v, PrometheusServerAllowed) {
		return ""
	}
	if err := CheckPrometheusServer(v); err != nil {
		if errors.Is(err, errInlineCredentials) {
			p.errs.Add(key, redact(v), err.Error(), "credentials only through a TriggerAuthentication")
		} else {
			p.errs.Add(key, v, err.Error(), PrometheusServerAllowed)
		}
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
	if p.empty(KeyRabbitMQHost, v, allowed) {
		return ""
	}
	if _, err := ParseRabbitHost(v); err != nil {
		if errors.Is(err, errInlineCredentials) {
			p.errs.Add(KeyRabbitMQHost, redact(v), "has credentials inline", allowed)
		} else {
			// A value that failed to parse may still hold a password; the
			// reason is ParseRabbitHost's own words, which quote nothing.
			p.errs.Add(KeyRabbitMQHost, redact(v), "is not a valid host: "+err.Error(), allowed)
		}
		return ""
	}
	return v
}

// hasUserinfo reports whether a URL-like value has an "@" in what could be
// its authority, i.e. a user name or password before the host.
func hasUserinfo(v string) bool {
	_, rest, _ := splitScheme(v)
	return strings.Contains(rest, "@")
}

// redact hides what might be credentials in a URL-like value before it is
// shown in an error: everything from the start of the authority to the last
// "@" (a password may hold "/", "#" or "?" unescaped, so the authority's end
// cannot be trusted), and the query, which may carry a password parameter.
// A value without either comes back unchanged.
func redact(v string) string {
	scheme, rest, found := splitScheme(v)
	prefix := ""
	if found {
		prefix = scheme + "://"
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "REDACTED" + rest[at:]
	}
	if q := strings.Index(rest, "?"); q >= 0 {
		rest = rest[:q+1] + "REDACTED"
	}
	return prefix + rest
}

func quoteList[T ~string](xs []T) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(string(x))
	}
	return strings.Join(q, ", ")
}

// fmtDuration writes d the way a user would: "0s", "30s", "5m", "1h30m",
// "24h", without the zero units that time.Duration.String adds.
func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, d%time.Minute
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		b.WriteString(s.String())
	}
	return b.String()
}
