package intent

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func p32(v int32) *int32                { return &v }
func p64(v int64) *int64                { return &v }
func pf(v float64) *float64             { return &v }
func pb(v bool) *bool                   { return &v }
func pd(v time.Duration) *time.Duration { return &v }
func on(kv ...string) map[string]string { return ann(append([]string{KeyAutoscale, "true"}, kv...)...) }
func ann(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// fieldErrors returns the FieldErrors in err, failing when err is not Errors.
func fieldErrors(t *testing.T, err error) Errors {
	t.Helper()
	if err == nil {
		return nil
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T (%v), want intent.Errors", err, err)
	}
	return es
}

func messages(es Errors) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func TestParseValid(t *testing.T) {
	enabled := func(f func(*Intent)) Intent {
		in := Intent{Enabled: true}
		if f != nil {
			f(&in)
		}
		return in
	}
	tests := []struct {
		name string
		ann  map[string]string
		want Intent
	}{
		{"opt-in only", on(), enabled(nil)},
		{"no annotations", nil, Intent{}},
		{"opted out", ann(KeyAutoscale, "false", KeyMaxReplicas, "abc"), Intent{}},
		{"profile generic", on(KeyProfile, "generic"), enabled(func(in *Intent) { in.Profile = ProfileGeneric })},
		{"profile celery-worker", on(KeyProfile, "celery-worker"), enabled(func(in *Intent) { in.Profile = ProfileCeleryWorker })},
		{"profile vllm", on(KeyProfile, "vllm"), enabled(func(in *Intent) { in.Profile = ProfileVLLM })},
		{"profile training-job", on(KeyProfile, "training-job"), enabled(func(in *Intent) { in.Profile = ProfileTrainingJob })},
		{"min and max", on(KeyMinReplicas, "2", KeyMaxReplicas, "8"), enabled(func(in *Intent) { in.MinReplicas, in.MaxReplicas = p32(2), p32(8) })},
		{"min equals max", on(KeyMinReplicas, "3", KeyMaxReplicas, "3"), enabled(func(in *Intent) { in.MinReplicas, in.MaxReplicas = p32(3), p32(3) })},
		{"min zero", on(KeyMinReplicas, "0"), enabled(func(in *Intent) { in.MinReplicas = p32(0) })},
		{"max at limit", on(KeyMaxReplicas, "10000"), enabled(func(in *Intent) { in.MaxReplicas = p32(MaxReplicasLimit) })},
		{"number with spaces and sign", on(KeyMaxReplicas, " +7 "), enabled(func(in *Intent) { in.MaxReplicas = p32(7) })},
		{"scale-to-zero true", on(KeyScaleToZero, "true"), enabled(func(in *Intent) { in.ScaleToZero = pb(true) })},
		{"scale-to-zero false", on(KeyScaleToZero, "false"), enabled(func(in *Intent) { in.ScaleToZero = pb(false) })},
		{"scale-to-zero true with min 0", on(KeyScaleToZero, "true", KeyMinReplicas, "0"), enabled(func(in *Intent) { in.ScaleToZero, in.MinReplicas = pb(true), p32(0) })},
		{"scale-to-zero false with min 2", on(KeyScaleToZero, "false", KeyMinReplicas, "2"), enabled(func(in *Intent) { in.ScaleToZero, in.MinReplicas = pb(false), p32(2) })},
		{"activation target zero", on(KeyActivationTarget, "0"), enabled(func(in *Intent) { in.ActivationTarget = pf(0) })},
		{"activation target fraction", on(KeyActivationTarget, "0.5"), enabled(func(in *Intent) { in.ActivationTarget = pf(0.5) })},
		{"activation target exponent", on(KeyActivationTarget, "1e2"), enabled(func(in *Intent) { in.ActivationTarget = pf(100) })},
		{"cooldown minutes", on(KeyCooldown, "5m"), enabled(func(in *Intent) { in.Cooldown = pd(5 * time.Minute) })},
		{"cooldown zero", on(KeyCooldown, "0s"), enabled(func(in *Intent) { in.Cooldown = pd(0) })},
		{"cooldown 24h", on(KeyCooldown, "24h"), enabled(func(in *Intent) { in.Cooldown = pd(24 * time.Hour) })},
		{"cooldown compound", on(KeyCooldown, "1h30m"), enabled(func(in *Intent) { in.Cooldown = pd(90 * time.Minute) })},
		{"polling 1s", on(KeyPollingInterval, "1s"), enabled(func(in *Intent) { in.PollingInterval = pd(time.Second) })},
		{"polling 30s", on(KeyPollingInterval, "30s"), enabled(func(in *Intent) { in.PollingInterval = pd(30 * time.Second) })},
		{"scale-down window 1h", on(KeyScaleDownWindow, "1h"), enabled(func(in *Intent) { in.ScaleDownWindow = pd(time.Hour) })},
		{"scale-down window 0s", on(KeyScaleDownWindow, "0s"), enabled(func(in *Intent) { in.ScaleDownWindow = pd(0) })},
		{"rabbitmq trigger", on(KeyRabbitMQQueue, "tasks", KeyRabbitMQHost, "rabbitmq", KeyRabbitMQAuth, "rabbitmq-auth", KeyQueueTarget, "20"),
			enabled(func(in *Intent) {
				in.RabbitMQ = RabbitMQ{Queue: "tasks", Host: "rabbitmq", Auth: "rabbitmq-auth"}
				in.QueueTarget = p64(20)
			})},
		{"rabbitmq queue with dots and unicode", on(KeyRabbitMQQueue, "celery.high-prio.ü"), enabled(func(in *Intent) { in.RabbitMQ.Queue = "celery.high-prio.ü" })},
		{"rabbitmq host is kept as written", on(KeyRabbitMQHost, "amqps://mq.infra.svc:5671/prod"), enabled(func(in *Intent) { in.RabbitMQ.Host = "amqps://mq.infra.svc:5671/prod" })},
		{"queue target max", on(KeyQueueTarget, "2147483647"), enabled(func(in *Intent) { in.QueueTarget = p64(2147483647) })},
		{"prometheus trigger", on(KeyPrometheusQuery, `sum(vllm:num_requests_waiting{namespace="ml"})`, KeyPrometheusTarget, "2.5", KeyPrometheusServer, "http://prom.monitoring.svc:9090"),
			enabled(func(in *Intent) {
				in.Prometheus = Prometheus{Query: `sum(vllm:num_requests_waiting{namespace="ml"})`, Target: pf(2.5), Server: "http://prom.monitoring.svc:9090"}
			})},
		{"prometheus https server with path", on(KeyPrometheusServer, "https://thanos.example.com/prometheus"), enabled(func(in *Intent) { in.Prometheus.Server = "https://thanos.example.com/prometheus" })},
		{"resource targets", on(KeyCPUTarget, "70", KeyMemoryTarget, "1", KeyGPUTarget, "100"),
			enabled(func(in *Intent) { in.CPUTarget, in.MemoryTarget, in.GPUTarget = p32(70), p32(1), p32(100) })},
		{"predictive", on(KeyPredictive, "true", KeyDemandQuery, "sum(rate(requests_total[5m]))", KeyCapacityPerReplica, "12.5", KeyLookahead, "15m"),
			enabled(func(in *Intent) {
				in.Predictive, in.DemandQuery, in.CapacityPerReplica, in.Lookahead = true, "sum(rate(requests_total[5m]))", pf(12.5), pd(15*time.Minute)
			})},
		// The predictor's range query reads a scalar as one series.
		{"predictive on a scalar", on(KeyPredictive, "true", KeyDemandQuery, "scalar(sum(x))", KeyCapacityPerReplica, "1"),
			enabled(func(in *Intent) {
				in.Predictive, in.DemandQuery, in.CapacityPerReplica = true, "scalar(sum(x))", pf(1)
			})},
		{"predictive with a target", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyTargetUnder, " 5% "),
			enabled(func(in *Intent) {
				in.Predictive, in.DemandQuery, in.CapacityPerReplica, in.TargetUnder = true, "q", pf(1), pf(0.05)
			})},
		{"predictive with floor fall timing", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyFloorDownDelay, "0s", KeyFloorDownInterval, "2m"),
			enabled(func(in *Intent) {
				in.Predictive, in.DemandQuery, in.CapacityPerReplica, in.FloorDownDelay, in.FloorDownInterval = true, "q", pf(1), pd(0), pd(2*time.Minute)
			})},
		{"predictive false", on(KeyPredictive, "false"), enabled(nil)},
		{"predicted floor", on(KeyPredictedFloor, "3"), enabled(func(in *Intent) { in.PredictedFloor = p32(3) })},
		{"predicted floor zero", on(KeyPredictedFloor, "0"), enabled(func(in *Intent) { in.PredictedFloor = p32(0) })},
		{"rendered hash is not an error", on(KeyRenderedHash, "0123abcd"), enabled(nil)},
		{"the predictor's state is not an error", on(KeyPredictorState, `{"v":1}`), enabled(nil)},
		{"a retired key an earlier build wrote is not an error", on(KeyBaselineScores, `{"v":1}`), enabled(nil)},
		{"foreign annotations are ignored", on("example.com/max-replicas", "abc", "kubectl.kubernetes.io/last-applied-configuration", "{}"), enabled(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, warns, err := Parse(tc.ann)
			if err != nil {
				t.Fatalf("Parse: unexpected error: %v", err)
			}
			if len(warns) != 0 {
				t.Errorf("unexpected warnings: %q", warns)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse =\n  %+v\nwant\n  %+v", got, tc.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	const (
		replicas  = "a whole number from 1 to 10000"
		replicas0 = "a whole number from 0 to 10000"
		boolean   = `"true" or "false"`
		percent   = "a whole number from 1 to 100"
		dur0      = `a duration in whole seconds from 0s to 24h, such as "30s" or "5m"`
		dur1s     = `a duration in whole seconds from 1s to 24h, such as "30s" or "5m"`
		dur1m     = `a duration in whole seconds from 1m to 24h, such as "5m" or "15m"`
		dur1h     = `a duration in whole seconds from 0s to 1h, such as "30s" or "5m"`
		above0    = "a number above 0"
		atLeast0  = "a number of at least 0"
		host      = `a service name ("rabbitmq"), host:port, or an amqp:// URL without credentials; credentials go in the TriggerAuthentication named by mlscale.io/rabbitmq-auth`
		server    = `an http or https URL without credentials, such as "http://prometheus.monitoring.svc:9090"`
		objName   = `a lower-case RFC 1123 name such as "rabbitmq-auth", at most 253 characters`
		queueName = "1 to 255 bytes of printable UTF-8 without spaces"
	)
	tests := []struct {
		name string
		ann  map[string]string
		want []string
	}{
		{"autoscale not a boolean", ann(KeyAutoscale, "yes"),
			[]string{`mlscale.io/autoscale: "yes" is not a boolean; allowed: "true" or "false"`}},
		{"autoscale is case-sensitive", ann(KeyAutoscale, "True"),
			[]string{`mlscale.io/autoscale: "True" is not a boolean; allowed: "true" or "false"`}},
		{"bad autoscale still reports the rest", ann(KeyAutoscale, "1", KeyMaxReplicas, "x"),
			[]string{`mlscale.io/autoscale: "1" is not a boolean; allowed: "true" or "false"`,
				`mlscale.io/max-replicas: "x" is not a whole number; allowed: ` + replicas}},
		{"unknown profile", on(KeyProfile, "llm"),
			[]string{`mlscale.io/profile: "llm" is not a known profile; allowed: "generic", "celery-worker", "vllm", "training-job"`}},
		{"profile is case-sensitive", on(KeyProfile, "VLLM"),
			[]string{`mlscale.io/profile: "VLLM" is not a known profile; allowed: "generic", "celery-worker", "vllm", "training-job"`}},
		{"profile empty", on(KeyProfile, ""),
			[]string{`mlscale.io/profile: is empty; allowed: "generic", "celery-worker", "vllm", "training-job"`}},
		{"autoscale empty still reports the rest", ann(KeyAutoscale, "", KeyMaxReplicas, "x"),
			[]string{`mlscale.io/autoscale: is empty; allowed: "true" or "false"`,
				`mlscale.io/max-replicas: "x" is not a whole number; allowed: ` + replicas}},
		{"scale-to-zero empty", on(KeyScaleToZero, ""),
			[]string{`mlscale.io/scale-to-zero: is empty; allowed: ` + boolean}},
		{"predictive empty", on(KeyPredictive, " "),
			[]string{`mlscale.io/predictive: " " is empty; allowed: ` + boolean}},
		{"max not a number", on(KeyMaxReplicas, "abc"),
			[]string{`mlscale.io/max-replicas: "abc" is not a whole number; allowed: ` + replicas}},
		{"max a fraction", on(KeyMaxReplicas, "2.5"),
			[]string{`mlscale.io/max-replicas: "2.5" is not a whole number; allowed: ` + replicas}},
		{"max zero", on(KeyMaxReplicas, "0"),
			[]string{`mlscale.io/max-replicas: "0" is out of range; allowed: ` + replicas}},
		{"max above limit", on(KeyMaxReplicas, "10001"),
			[]string{`mlscale.io/max-replicas: "10001" is out of range; allowed: ` + replicas}},
		{"max overflows int64", on(KeyMaxReplicas, "99999999999999999999"),
			[]string{`mlscale.io/max-replicas: "99999999999999999999" is out of range; allowed: ` + replicas}},
		{"max empty", on(KeyMaxReplicas, ""),
			[]string{`mlscale.io/max-replicas: is empty; allowed: ` + replicas}},
		{"min negative", on(KeyMinReplicas, "-1"),
			[]string{`mlscale.io/min-replicas: "-1" is out of range; allowed: ` + replicas0}},
		{"min not a number", on(KeyMinReplicas, "one"),
			[]string{`mlscale.io/min-replicas: "one" is not a whole number; allowed: ` + replicas0}},
		{"scale-to-zero not a boolean", on(KeyScaleToZero, "yes"),
			[]string{`mlscale.io/scale-to-zero: "yes" is not a boolean; allowed: ` + boolean}},
		{"activation target negative", on(KeyActivationTarget, "-1"),
			[]string{`mlscale.io/activation-target: "-1" is out of range; allowed: ` + atLeast0}},
		{"activation target not a number", on(KeyActivationTarget, "lots"),
			[]string{`mlscale.io/activation-target: "lots" is not a number; allowed: ` + atLeast0}},
		{"activation target NaN", on(KeyActivationTarget, "NaN"),
			[]string{`mlscale.io/activation-target: "NaN" is not a number; allowed: ` + atLeast0}},
		{"activation target Inf", on(KeyActivationTarget, "+Inf"),
			[]string{`mlscale.io/activation-target: "+Inf" is not a number; allowed: ` + atLeast0}},
		{"activation target hex float", on(KeyActivationTarget, "0x1p3"),
			[]string{`mlscale.io/activation-target: "0x1p3" is not a number; allowed: ` + atLeast0}},
		{"activation target overflow", on(KeyActivationTarget, "1e999"),
			[]string{`mlscale.io/activation-target: "1e999" is out of range; allowed: ` + atLeast0}},
		{"cooldown without unit", on(KeyCooldown, "300"),
			[]string{`mlscale.io/cooldown: "300" is not a duration; allowed: ` + dur0}},
		{"cooldown in words", on(KeyCooldown, "5 minutes"),
			[]string{`mlscale.io/cooldown: "5 minutes" is not a duration; allowed: ` + dur0}},
		{"cooldown negative", on(KeyCooldown, "-5m"),
			[]string{`mlscale.io/cooldown: "-5m" is out of range; allowed: ` + dur0}},
		{"cooldown over a day", on(KeyCooldown, "25h"),
			[]string{`mlscale.io/cooldown: "25h" is out of range; allowed: ` + dur0}},
		{"cooldown days unit", on(KeyCooldown, "1d"),
			[]string{`mlscale.io/cooldown: "1d" is not a duration; allowed: ` + dur0}},
		{"cooldown overflow", on(KeyCooldown, "9999999999h"),
			[]string{`mlscale.io/cooldown: "9999999999h" is not a duration; allowed: ` + dur0}},
		{"cooldown empty", on(KeyCooldown, " "),
			[]string{`mlscale.io/cooldown: " " is empty; allowed: ` + dur0}},
		{"polling interval fraction of a second", on(KeyPollingInterval, "1500ms"),
			[]string{`mlscale.io/polling-interval: "1500ms" is not a whole number of seconds; allowed: ` + dur1s}},
		{"polling interval zero", on(KeyPollingInterval, "0s"),
			[]string{`mlscale.io/polling-interval: "0s" is out of range; allowed: ` + dur1s}},
		{"scale-down window over the Kubernetes limit", on(KeyScaleDownWindow, "2h"),
			[]string{`mlscale.io/scale-down-stabilization: "2h" is out of range; allowed: ` + dur1h}},
		{"scale-down window over a day", on(KeyScaleDownWindow, "48h"),
			[]string{`mlscale.io/scale-down-stabilization: "48h" is out of range; allowed: ` + dur1h}},
		{"rabbitmq queue with space", on(KeyRabbitMQQueue, "my queue"),
			[]string{`mlscale.io/rabbitmq-queue: "my queue" is not a valid name; allowed: ` + queueName}},
		{"rabbitmq queue with control character", on(KeyRabbitMQQueue, "q\x00"),
			[]string{`mlscale.io/rabbitmq-queue: "q\x00" is not a valid name; allowed: ` + queueName}},
		{"rabbitmq queue invalid UTF-8", on(KeyRabbitMQQueue, "q\xff"),
			[]string{`mlscale.io/rabbitmq-queue: "q\xff" is not a valid name; allowed: ` + queueName}},
		{"rabbitmq queue with line separator", on(KeyRabbitMQQueue, "q\u2028"),
			[]string{`mlscale.io/rabbitmq-queue: "q\u2028" is not a valid name; allowed: ` + queueName}},
		{"rabbitmq queue too long", on(KeyRabbitMQQueue, strings.Repeat("q", 256)),
			[]string{`mlscale.io/rabbitmq-queue: "` + strings.Repeat("q", MaxShownValue) + `..." is not a valid name; allowed: ` + queueName}},
		{"rabbitmq queue empty", on(KeyRabbitMQQueue, ""),
			[]string{`mlscale.io/rabbitmq-queue: is empty; allowed: ` + queueName}},
		{"rabbitmq host with underscore", on(KeyRabbitMQHost, "rabbit_mq"),
			[]string{`mlscale.io/rabbitmq-host: "rabbit_mq" is not a valid host: host is not an IP address, a Service name or a lower-case DNS name; allowed: ` + host}},
		{"rabbitmq host upper case", on(KeyRabbitMQHost, "RabbitMQ"),
			[]string{`mlscale.io/rabbitmq-host: "RabbitMQ" is not a valid host: host is not an IP address, a Service name or a lower-case DNS name; allowed: ` + host}},
		{"rabbitmq host port out of range", on(KeyRabbitMQHost, "rabbitmq:99999"),
			[]string{`mlscale.io/rabbitmq-host: "rabbitmq:99999" is not a valid host: port is not a number from 1 to 65535; allowed: ` + host}},
		{"rabbitmq host with a query string", on(KeyRabbitMQHost, "amqp://rabbitmq/vh?heartbeat=10"),
			[]string{`mlscale.io/rabbitmq-host: "amqp://rabbitmq/vh?REDACTED" is not a valid host: has a query or fragment; allowed: ` + host}},
		{"rabbitmq host bad port", on(KeyRabbitMQHost, "rabbitmq:amqp"),
			[]string{`mlscale.io/rabbitmq-host: "rabbitmq:amqp" is not a valid host: port is not a number from 1 to 65535; allowed: ` + host}},
		{"rabbitmq host http scheme", on(KeyRabbitMQHost, "http://rabbitmq:15672"),
			[]string{`mlscale.io/rabbitmq-host: "http://rabbitmq:15672" is not a valid host: scheme is not amqp or amqps; allowed: ` + host}},
		{"rabbitmq host path without scheme", on(KeyRabbitMQHost, "rabbitmq/vhost"),
			[]string{`mlscale.io/rabbitmq-host: "rabbitmq/vhost" is not a valid host: has a path without a scheme; use amqp://HOST/VHOST; allowed: ` + host}},
		{"rabbitmq auth not a name", on(KeyRabbitMQAuth, "Rabbit Auth"),
			[]string{`mlscale.io/rabbitmq-auth: "Rabbit Auth" is not a valid object name; allowed: ` + objName}},
		{"queue target zero", on(KeyQueueTarget, "0"),
			[]string{`mlscale.io/queue-target: "0" is out of range; allowed: a whole number from 1 to 2147483647`}},
		{"queue target too big", on(KeyQueueTarget, "2147483648"),
			[]string{`mlscale.io/queue-target: "2147483648" is out of range; allowed: a whole number from 1 to 2147483647`}},
		{"prometheus query blank", on(KeyPrometheusQuery, "  "),
			[]string{`mlscale.io/prometheus-query: "  " is empty; allowed: a PromQL expression`}},
		// KEDA and the predictor ask for a value over time: these fail
		// every query, at run time only.
		{"prometheus query a range vector", on(KeyPrometheusQuery, `demand{w="x"}[5m]`),
			[]string{`mlscale.io/prometheus-query: "demand{w=\"x\"}[5m]" gives a range vector, which Prometheus cannot evaluate as a value over time; allowed: a PromQL expression giving an instant vector (a range vector needs a function around it, such as rate(x[5m]) or max_over_time(x[5m]))`}},
		{"prometheus query a subquery", on(KeyPrometheusQuery, `rate(x[5m])[1h:5m]`),
			[]string{`mlscale.io/prometheus-query: "rate(x[5m])[1h:5m]" gives a range vector, which Prometheus cannot evaluate as a value over time; allowed: a PromQL expression giving an instant vector (a range vector needs a function around it, such as rate(x[5m]) or max_over_time(x[5m]))`}},
		{"demand query a range vector", on(KeyDemandQuery, `x[5m]`),
			[]string{`mlscale.io/demand-query: "x[5m]" gives a range vector, which Prometheus cannot evaluate as a value over time; allowed: a PromQL expression giving an instant vector or a scalar (a range vector needs a function around it, such as rate(x[5m]) or max_over_time(x[5m]))`}},
		// KEDA's prometheus trigger reads an instant vector's samples; a
		// scalar's result fails each poll.
		{"prometheus query a scalar", on(KeyPrometheusQuery, `scalar(sum(x))`),
			[]string{`mlscale.io/prometheus-query: "scalar(sum(x))" gives a scalar, which KEDA's prometheus trigger cannot read (it reads the samples of an instant vector); allowed: a PromQL expression giving an instant vector (wrap a scalar in vector(...), as in vector(scalar(x)))`}},
		{"wake query a number", on(KeyWakeQuery, `1`),
			[]string{`mlscale.io/wake-query: "1" gives a scalar, which KEDA's prometheus trigger cannot read (it reads the samples of an instant vector); allowed: a PromQL expression giving an instant vector (wrap a scalar in vector(...), as in vector(scalar(x)))`}},
		{"prometheus query a string", on(KeyPrometheusQuery, `"hello"`),
			[]string{`mlscale.io/prometheus-query: "\"hello\"" gives a string, which Prometheus cannot evaluate as a value over time; allowed: a PromQL expression giving an instant vector (a range vector needs a function around it, such as rate(x[5m]) or max_over_time(x[5m]))`}},
		{"prometheus target zero", on(KeyPrometheusTarget, "0"),
			[]string{`mlscale.io/prometheus-target: "0" is out of range; allowed: ` + above0}},
		{"prometheus target minus zero", on(KeyPrometheusTarget, "-0"),
			[]string{`mlscale.io/prometheus-target: "-0" is out of range; allowed: ` + above0}},
		{"prometheus target not a number", on(KeyPrometheusTarget, "ten"),
			[]string{`mlscale.io/prometheus-target: "ten" is not a number; allowed: ` + above0}},
		{"prometheus server without scheme", on(KeyPrometheusServer, "prometheus:9090"),
			[]string{`mlscale.io/prometheus-server: "prometheus:9090" is not an http(s) URL; allowed: ` + server}},
		{"prometheus server without host", on(KeyPrometheusServer, "http://"),
			[]string{`mlscale.io/prometheus-server: "http://" is not an http(s) URL; allowed: ` + server}},
		// KEDA's HPA target is in thousandths: 0.0004 would be 0.
		{"prometheus target under a thousandth", on(KeyPrometheusTarget, "0.0004"),
			[]string{`mlscale.io/prometheus-target: "0.0004" ` + PrometheusTargetFloorProblem + `; allowed: ` + PrometheusTargetFloorAllowed}},
		{"prometheus target 1e-7", on(KeyPrometheusTarget, "1e-7"),
			[]string{`mlscale.io/prometheus-target: "1e-7" ` + PrometheusTargetFloorProblem + `; allowed: ` + PrometheusTargetFloorAllowed}},
		// KEDA appends /api/v1/query?query=... to the address.
		{"prometheus server with an empty host", on(KeyPrometheusServer, "http://:9090"),
			[]string{`mlscale.io/prometheus-server: "http://:9090" has no host; allowed: ` + server}},
		{"prometheus server with a query", on(KeyPrometheusServer, "http://prom:9090?timeout=5s"),
			[]string{`mlscale.io/prometheus-server: "http://prom:9090?timeout=5s" has a query or fragment, which KEDA's request would carry into the path (it appends /api/v1/query?query=...); allowed: ` + server}},
		{"prometheus server with a fragment", on(KeyPrometheusServer, "http://prom:9090#x"),
			[]string{`mlscale.io/prometheus-server: "http://prom:9090#x" has a query or fragment, which KEDA's request would carry into the path (it appends /api/v1/query?query=...); allowed: ` + server}},
		{"prometheus server with a trailing space", on(KeyPrometheusServer, "http://prom:9090/ "),
			[]string{`mlscale.io/prometheus-server: "http://prom:9090/ " has white space; allowed: ` + server}},
		{"prometheus server with a port out of range", on(KeyPrometheusServer, "http://prom:99999"),
			[]string{`mlscale.io/prometheus-server: "http://prom:99999" has port 99999, outside 1-65535; allowed: ` + server}},
		{"cpu target zero", on(KeyCPUTarget, "0"),
			[]string{`mlscale.io/cpu-target: "0" is out of range; allowed: ` + percent}},
		{"cpu target with percent sign", on(KeyCPUTarget, "80%"),
			[]string{`mlscale.io/cpu-target: "80%" is not a whole number; allowed: ` + percent}},
		{"memory target over 100", on(KeyMemoryTarget, "101"),
			[]string{`mlscale.io/memory-target: "101" is out of range; allowed: ` + percent}},
		{"gpu target fraction", on(KeyGPUTarget, "0.8"),
			[]string{`mlscale.io/gpu-target: "0.8" is not a whole number; allowed: ` + percent}},
		{"predictive not a boolean", on(KeyPredictive, "on"),
			[]string{`mlscale.io/predictive: "on" is not a boolean; allowed: ` + boolean}},
		{"capacity per replica zero", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "0"),
			[]string{`mlscale.io/capacity-per-replica: "0" is out of range; allowed: ` + above0}},
		{"lookahead under a minute", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyLookahead, "30s"),
			[]string{`mlscale.io/lookahead: "30s" is out of range; allowed: ` + dur1m}},
		{"floor down delay negative", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyFloorDownDelay, "-1m"),
			[]string{`mlscale.io/floor-down-delay: "-1m" is out of range; allowed: ` + dur0}},
		{"floor down delay without a unit", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyFloorDownDelay, "10"),
			[]string{`mlscale.io/floor-down-delay: "10" is not a duration; allowed: ` + dur0}},
		{"floor down interval over a day", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyFloorDownInterval, "25h"),
			[]string{`mlscale.io/floor-down-interval: "25h" is out of range; allowed: ` + dur0}},
		{"floor down interval in milliseconds", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyFloorDownInterval, "1500ms"),
			[]string{`mlscale.io/floor-down-interval: "1500ms" is not a whole number of seconds; allowed: ` + dur0}},
		{"target under without the percent sign", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyTargetUnder, "2"),
			[]string{`mlscale.io/target-under: "2" is not a percentage (it needs the % sign); allowed: ` + TargetUnderAllowed}},
		{"target under zero", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyTargetUnder, "0%"),
			[]string{`mlscale.io/target-under: "0%" is out of range; allowed: ` + TargetUnderAllowed}},
		{"target under above half", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyTargetUnder, "60%"),
			[]string{`mlscale.io/target-under: "60%" is out of range; allowed: ` + TargetUnderAllowed}},
		{"target under not a number", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyTargetUnder, "lots%"),
			[]string{`mlscale.io/target-under: "lots%" is not a percentage; allowed: ` + TargetUnderAllowed}},
		{"business hours bad day", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "1", KeyBusinessHours, "Mo-Fr 08:00-18:00"),
			[]string{`mlscale.io/business-hours: "Mo-Fr 08:00-18:00" has an unknown day in "Mo-Fr" (use Mon, Tue, Wed, Thu, Fri, Sat, Sun); allowed: ` + BusinessHoursSyntax}},
		{"predicted floor negative", on(KeyPredictedFloor, "-2"),
			[]string{`mlscale.io/predicted-floor: "-2" is out of range; allowed: ` + replicas0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(tc.ann)
			if err == nil {
				t.Fatal("Parse: want an error, got none")
			}
			got := messages(fieldErrors(t, err))
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n  got  %q\n  want %q", got, tc.want)
			}
		})
	}
}

// TestParseCrossField covers rules between keys.
func TestParseCrossField(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want []string
	}{
		{"min above max", on(KeyMinReplicas, "5", KeyMaxReplicas, "3"),
			[]string{`mlscale.io/min-replicas: "5" is greater than mlscale.io/max-replicas (3); allowed: a value at most the maximum`}},
		{"scale-to-zero true with min 2", on(KeyScaleToZero, "true", KeyMinReplicas, "2"),
			[]string{`mlscale.io/scale-to-zero: "true" contradicts mlscale.io/min-replicas: "2"; allowed: remove mlscale.io/min-replicas or set it to "0", or add mlscale.io/business-hours to hold 2 replicas only in those hours`}},
		{"scale-to-zero false with min 0", on(KeyScaleToZero, "false", KeyMinReplicas, "0"),
			[]string{`mlscale.io/scale-to-zero: "false" contradicts mlscale.io/min-replicas: "0"; allowed: set mlscale.io/min-replicas to 1 or more, or mlscale.io/scale-to-zero to "true"`}},
		{"predictive without inputs", on(KeyPredictive, "true"),
			[]string{
				`mlscale.io/demand-query: is required when mlscale.io/predictive is "true"; allowed: a PromQL expression giving the workload's demand`,
				`mlscale.io/capacity-per-replica: is required when mlscale.io/predictive is "true"; allowed: the demand one replica serves, a number above 0`,
			}},
		{"predictive without capacity", on(KeyPredictive, "true", KeyDemandQuery, "sum(rate(x[1m]))"),
			[]string{`mlscale.io/capacity-per-replica: is required when mlscale.io/predictive is "true"; allowed: the demand one replica serves, a number above 0`}},
		{"predictive with a bad capacity reports it once", on(KeyPredictive, "true", KeyDemandQuery, "q", KeyCapacityPerReplica, "x"),
			[]string{`mlscale.io/capacity-per-replica: "x" is not a number; allowed: a number above 0`}},
		{"predictive with an empty query reports it once", on(KeyPredictive, "true", KeyDemandQuery, "", KeyCapacityPerReplica, "1"),
			[]string{`mlscale.io/demand-query: is empty; allowed: a PromQL expression`}},
		{"bad min with max skips the comparison", on(KeyMinReplicas, "x", KeyMaxReplicas, "3"),
			[]string{`mlscale.io/min-replicas: "x" is not a whole number; allowed: a whole number from 0 to 10000`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(tc.ann)
			got := messages(fieldErrors(t, err))
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n  got  %q\n  want %q", got, tc.want)
			}
		})
	}
}

func TestParseReportsAllErrorsTogether(t *testing.T) {
	_, _, err := Parse(on(
		KeyMaxReplicas, "abc",
		KeyCooldown, "5 minutes",
		KeyGPUTarget, "200",
		KeyProfile, "llm",
		KeyRabbitMQHost, "amqp://guest:guest@rabbitmq",
	))
	es := fieldErrors(t, err)
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	// Contract order, not map order, so that the message is stable.
	want := []string{KeyProfile, KeyMaxReplicas, KeyCooldown, KeyRabbitMQHost, KeyGPUTarget}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys with errors = %q, want %q", keys, want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "5 problems: mlscale.io/profile: \"llm\" is not a known profile; allowed: ") {
		t.Errorf("message does not start with the count and the first problem: %s", msg)
	}
	for _, e := range es {
		if !strings.Contains(msg, e.Error()) {
			t.Errorf("message %q lacks %q", msg, e.Error())
		}
	}
	if strings.Contains(msg, "guest:guest") {
		t.Errorf("message leaks the credentials: %s", msg)
	}
	// The same input gives the same message every time.
	for range 20 {
		_, _, again := Parse(on(KeyMaxReplicas, "abc", KeyCooldown, "5 minutes", KeyGPUTarget, "200", KeyProfile, "llm", KeyRabbitMQHost, "amqp://guest:guest@rabbitmq"))
		if again.Error() != msg {
			t.Fatalf("message changed between runs:\n%s\n%s", msg, again.Error())
		}
	}
}

func TestErrorsFormat(t *testing.T) {
	one := FieldError{Key: KeyMaxReplicas, Value: "abc", Problem: "is not a whole number", Allowed: "a whole number from 1 to 10000"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"field error", one, `mlscale.io/max-replicas: "abc" is not a whole number; allowed: a whole number from 1 to 10000`},
		{"no value", FieldError{Key: KeyDemandQuery, Problem: "is required"}, `mlscale.io/demand-query: is required`},
		{"quotes and newlines are escaped", FieldError{Key: KeyProfile, Value: "a\"b\nc", Problem: "is bad"}, `mlscale.io/profile: "a\"b\nc" is bad`},
		{"long value is cut on a rune boundary", FieldError{Key: KeyProfile, Value: strings.Repeat("a", MaxShownValue-1) + "é" + "tail", Problem: "is bad"},
			`mlscale.io/profile: "` + strings.Repeat("a", MaxShownValue-1) + `..." is bad`},
		{"one of errors", Errors{one}, one.Error()},
		{"two errors", Errors{one, {Key: KeyCooldown, Value: "x", Problem: "is not a duration"}},
			`2 problems: mlscale.io/max-replicas: "abc" is not a whole number; allowed: a whole number from 1 to 10000; mlscale.io/cooldown: "x" is not a duration`},
		{"no errors", Errors{}, "no errors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() =\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
	if (Errors{}).Err() != nil {
		t.Error("empty Errors.Err() is not nil")
	}
	var es Errors
	es.Add(KeyCPUTarget, "x", "is bad", "y")
	if err := es.Err(); err == nil || err.Error() != `mlscale.io/cpu-target: "x" is bad; allowed: y` {
		t.Errorf("Add/Err gave %v", err)
	}
}

func TestParseWarnings(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want []string
	}{
		{"typo gets a suggestion", on("mlscale.io/max-replica", "3"),
			[]string{"unknown annotation mlscale.io/max-replica is ignored; did you mean mlscale.io/max-replicas?"}},
		{"transposed letters", on("mlscale.io/cooldwon", "5m"),
			[]string{"unknown annotation mlscale.io/cooldwon is ignored; did you mean mlscale.io/cooldown?"}},
		{"wrong case", on("mlscale.io/GPU-Target", "80"),
			[]string{"unknown annotation mlscale.io/GPU-Target is ignored; did you mean mlscale.io/gpu-target?"}},
		{"nothing close", on("mlscale.io/team-owner", "ml-platform"),
			[]string{"unknown annotation mlscale.io/team-owner is ignored"}},
		{"several unknown keys sorted", on("mlscale.io/zzz-unknown-thing", "1", "mlscale.io/min-replica", "1"),
			[]string{
				"unknown annotation mlscale.io/min-replica is ignored; did you mean mlscale.io/min-replicas?",
				"unknown annotation mlscale.io/zzz-unknown-thing is ignored",
			}},
		{"keys without the opt-in", ann(KeyMaxReplicas, "3"),
			[]string{`mlscale.io annotations are ignored because mlscale.io/autoscale is not set to "true"`}},
		{"a misspelt opt-in is named", ann("mlscale.io/autoscal", "true", KeyMaxReplicas, "3"),
			[]string{`mlscale.io annotations are ignored because mlscale.io/autoscale is not set to "true"; mlscale.io/autoscal is not a key mlscale knows: did you mean mlscale.io/autoscale?`}},
		{"the opt-in in another case and with a hyphen", ann("mlscale.io/Auto-Scale", "true"),
			[]string{`mlscale.io annotations are ignored because mlscale.io/autoscale is not set to "true"; mlscale.io/Auto-Scale is not a key mlscale knows: did you mean mlscale.io/autoscale?`}},
		{"system key alone without the opt-in", ann(KeyRenderedHash, "abc"), nil},
		{"retired key alone without the opt-in", ann(KeyBaselineScores, "{}"), nil},
		{"opted out explicitly", ann(KeyAutoscale, "false", KeyMaxReplicas, "3"), nil},
		{"predictor input without predictive", on(KeyDemandQuery, "sum(x)", KeyLookahead, "10m"),
			[]string{
				`mlscale.io/demand-query is ignored because mlscale.io/predictive is not "true"`,
				`mlscale.io/lookahead is ignored because mlscale.io/predictive is not "true"`,
			}},
		{"floor fall timing without predictive", on(KeyFloorDownDelay, "0s", KeyFloorDownInterval, "0s"),
			[]string{
				`mlscale.io/floor-down-delay is ignored because mlscale.io/predictive is not "true"`,
				`mlscale.io/floor-down-interval is ignored because mlscale.io/predictive is not "true"`,
			}},
		{"predictor input with predictive false", on(KeyPredictive, "false", KeyLookahead, "10m"),
			[]string{`mlscale.io/lookahead is ignored because mlscale.io/predictive is not "true"`}},
		{"foreign prefixes are not ours", on("mlscale.dev/max-replicas", "3", "app.mlscale.io/x", "1"), nil},
		// EST is UTC-05:00 all year; New York's clock changes.
		{"a fixed-offset zone that reads like a region's", on(KeyScaleToZero, "true", KeyBusinessHours, "Mon-Fri 08:00-18:00 EST"),
			[]string{"mlscale.io/business-hours: the zone EST is one offset all year, without daylight saving; if the hours follow a clock that changes for it, name the place instead, such as America/New_York"}},
		{"a place", on(KeyScaleToZero, "true", KeyBusinessHours, "Mon-Fri 08:00-18:00 America/New_York"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Unknown keys are warnings with the opt-out (and errors by
			// default: TestParseUnknownKeysDenied).
			_, warns, err := ParseWith(tc.ann, Options{AllowUnknownKeys: true})
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(warns, tc.want) {
				t.Errorf("warnings:\n  got  %q\n  want %q", warns, tc.want)
			}
		})
	}
}

// TestParseUnknownKeysDenied: by default an unknown mlscale.io/ key is an
// error that names the key the user most likely meant, also when it
// differs by more than a letter or two.
func TestParseUnknownKeysDenied(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		{"mlscale.io/max-replica", `mlscale.io/max-replica: "x" is not an annotation mlscale knows (did you mean mlscale.io/max-replicas?); allowed: mlscale.io/max-replicas, or another key listed in docs/annotations.md; rename or remove it`},
		{"mlscale.io/cooldown-period", "(did you mean mlscale.io/cooldown?)"},
		{"mlscale.io/auto-scale", "(did you mean mlscale.io/autoscale?)"},
		{"mlscale.io/cooldownPeriod", "(did you mean mlscale.io/cooldown?)"},
		{"mlscale.io/minReplicaCount", "(did you mean mlscale.io/min-replicas?)"},
		{"mlscale.io/maxReplicas", "(did you mean mlscale.io/max-replicas?)"},
		{"mlscale.io/scale_to_zero", "(did you mean mlscale.io/scale-to-zero?)"},
		{"mlscale.io/polling-interval-seconds", "(did you mean mlscale.io/polling-interval?)"},
		{"mlscale.io/gpu-target-percent", "(did you mean mlscale.io/gpu-target?)"},
		{"mlscale.io/queue", "(did you mean mlscale.io/rabbitmq-queue?)"},
		{"mlscale.io/team-owner", `mlscale.io/team-owner: "x" is not an annotation mlscale knows; allowed: the keys listed in docs/annotations.md; rename or remove it`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, _, err := Parse(on(tt.key, "x"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestParseBadPredictiveGivesNoIgnoredWarnings(t *testing.T) {
	_, warns, err := Parse(on(KeyPredictive, "yes", KeyDemandQuery, "sum(x)"))
	if err == nil || !strings.Contains(err.Error(), `mlscale.io/predictive: "yes" is not a boolean`) {
		t.Fatalf("err = %v", err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings = %q, want none (the error says it all)", warns)
	}
}

func TestParseRejectsInlineCredentials(t *testing.T) {
	const secret = "s3cr3tP4ss"
	tests := []struct {
		name, key, value, wantValue string
	}{
		{"amqp URL", KeyRabbitMQHost, "amqp://admin:" + secret + "@rabbitmq:5672/", "amqp://REDACTED@rabbitmq:5672/"},
		{"amqps URL", KeyRabbitMQHost, "amqps://admin:" + secret + "@mq.example.com", "amqps://REDACTED@mq.example.com"},
		{"user only", KeyRabbitMQHost, "amqp://" + secret + "@rabbitmq", "amqp://REDACTED@rabbitmq"},
		{"no scheme", KeyRabbitMQHost, "admin:" + secret + "@rabbitmq", "REDACTED@rabbitmq"},
		{"no scheme with port", KeyRabbitMQHost, "guest:" + secret + "@rabbitmq:5672", "REDACTED@rabbitmq:5672"},
		{"password that breaks URL parsing", KeyRabbitMQHost, "amqp://admin:" + secret + "%zz@rabbitmq", "amqp://REDACTED@rabbitmq"},
		{"password with a slash", KeyRabbitMQHost, "amqp://admin:" + secret + "/x@rabbitmq", "amqp://REDACTED@rabbitmq"},
		{"password with a hash", KeyRabbitMQHost, "amqp://admin:" + secret + "#x@rabbitmq", "amqp://REDACTED@rabbitmq"},
		{"prometheus basic auth", KeyPrometheusServer, "http://admin:" + secret + "@prometheus:9090", "http://REDACTED@prometheus:9090"},
		{"prometheus password with a space", KeyPrometheusServer, "https://admin:" + secret + " x@prometheus:9090", "https://REDACTED@prometheus:9090"},
		{"prometheus credentials before the scheme", KeyPrometheusServer, "admin:" + secret + "@http://prometheus:9090", "REDACTED@http://prometheus:9090"},
		{"rabbitmq credentials before the scheme", KeyRabbitMQHost, "admin:" + secret + "@amqp://rabbitmq", "REDACTED@amqp://rabbitmq"},
		{"prometheus non-http scheme with credentials", KeyPrometheusServer, "ftp://admin:" + secret + "@prometheus", "ftp://REDACTED@prometheus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(on(tc.key, tc.value))
			es := fieldErrors(t, err)
			if len(es) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			e := es[0]
			if e.Key != tc.key || e.Problem != "has credentials inline" {
				t.Errorf("error = %+v, want key %s with problem \"has credentials inline\"", e, tc.key)
			}
			if e.Value != tc.wantValue {
				t.Errorf("shown value = %q, want %q", e.Value, tc.wantValue)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(e.Value, secret) {
				t.Errorf("the password leaks into the error: %v", err)
			}
			if !strings.Contains(e.Allowed, "TriggerAuthentication") {
				t.Errorf("allowed %q does not point to a TriggerAuthentication", e.Allowed)
			}
		})
	}
	// A query string may carry a password too; the value is refused and
	// the query is not repeated.
	_, _, err := Parse(on(KeyRabbitMQHost, "amqp://rabbitmq/?password="+secret))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("query string: err = %v", err)
	}
}

func TestEnabled(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "false": false, "": false, "True": false, "1": false} {
		if got := Enabled(ann(KeyAutoscale, v)); got != want {
			t.Errorf("Enabled(%q) = %v, want %v", v, got, want)
		}
	}
	if Enabled(nil) {
		t.Error("Enabled(nil) = true")
	}
}

func TestFmtDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0: "0s", time.Second: "1s", 10 * time.Second: "10s", 30 * time.Second: "30s", time.Minute: "1m",
		10 * time.Minute: "10m", 90 * time.Second: "1m30s", time.Hour: "1h", 24 * time.Hour: "24h",
		time.Hour + 10*time.Second: "1h10s", -time.Minute: "-1m",
	}
	for d, want := range tests {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestActivationTargetMinusZeroIsZero(t *testing.T) {
	in, _, err := Parse(on(KeyActivationTarget, "-0"))
	if err != nil {
		t.Fatal(err)
	}
	if in.ActivationTarget == nil || *in.ActivationTarget != 0 || math.Signbit(*in.ActivationTarget) {
		t.Errorf("activation target = %v, want +0 (KEDA would get \"-0\")", in.ActivationTarget)
	}
}

func TestCheckPrometheusServer(t *testing.T) {
	const secret = "s3cr3t"
	tests := []struct {
		in, problem string // problem "" means valid
	}{
		{"http://prometheus-operated.monitoring.svc:9090", ""},
		{"https://prom.example.com/prometheus", ""},
		{"ftp://prom", "is not an http(s) URL"},
		{"prom:9090", "is not an http(s) URL"},
		{"http://", "is not an http(s) URL"},
		{"", "is not an http(s) URL"},
		{"http://admin:" + secret + "@prom:9090", "has credentials inline"},
		{"admin:" + secret + "@http://prom:9090", "has credentials inline"},
	}
	for _, tc := range tests {
		err := CheckPrometheusServer(tc.in)
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("CheckPrometheusServer(%q) = %v, want nil", tc.in, err)
		case tc.problem != "" && (err == nil || err.Error() != tc.problem):
			t.Errorf("CheckPrometheusServer(%q) = %v, want %q", tc.in, err, tc.problem)
		case err != nil && tc.in != "" && strings.Contains(err.Error(), tc.in):
			t.Errorf("CheckPrometheusServer(%q) repeats the value: %v", tc.in, err)
		}
	}
}

// TestUnknownKeyShownShortAndQuoted: a long key, or one with control
// characters, is quoted and cut in the message (found by FuzzParse: a 3 KB
// key made a 3 KB message).
func TestUnknownKeyShownShortAndQuoted(t *testing.T) {
	long := Prefix + strings.Repeat("x", 3000)
	_, _, err := Parse(map[string]string{KeyAutoscale: "true", long: "1", Prefix + "a\x0eb": "2"})
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	msg := err.Error()
	if len(msg) > 2000 || strings.Contains(msg, "\x0e") {
		t.Fatalf("message of %d bytes, control characters kept: %q", len(msg), msg)
	}
	for _, want := range []string{`"mlscale.io/xxxxxxxx`, `..."`, `"mlscale.io/a\x0eb"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %s: %s", want, msg)
		}
	}
}

// TestParsePromQLCached: a query parsed once is not parsed again (the same
// tree comes back), errors are kept as well, and the cache stays bounded.
func TestParsePromQLCached(t *testing.T) {
	a, err := ParsePromQL(`sum(rate(gateway_requests_total{service="llm"}[2m]))`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParsePromQL(`sum(rate(gateway_requests_total{service="llm"}[2m]))`)
	if a != b {
		t.Error("the same query was parsed twice")
	}
	if _, err := ParsePromQL("sum(("); err == nil {
		t.Fatal("bad PromQL parsed")
	}
	if _, err := ParsePromQL("sum(("); err == nil {
		t.Fatal("bad PromQL parsed from the cache")
	}
	for i := range 2 * parsedQueriesSize {
		if _, err := ParsePromQL(fmt.Sprintf("up{job=%q}", strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := parsedQueries.Len(); n > parsedQueriesSize {
		t.Errorf("%d cached queries, at most %d", n, parsedQueriesSize)
	}
}
