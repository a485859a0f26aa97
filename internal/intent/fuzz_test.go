package intent

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// fuzzAnnotations builds an annotations map from fuzz input: lines of
// KEY=VALUE; a KEY without "/" is taken as an mlscale.io key suffix, and the
// escape "\n" in a value stands for a newline.
func fuzzAnnotations(data string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(data, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if !strings.Contains(k, "/") {
			k = Prefix + k
		}
		m[k] = strings.ReplaceAll(v, `\n`, "\n")
	}
	return m
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"autoscale=true",
		"autoscale=true\nmax-replicas=abc",
		"autoscale=true\nmin-replicas=5\nmax-replicas=3",
		"autoscale=true\nscale-to-zero=true\nmin-replicas=2",
		"autoscale=true\nscale-to-zero=false\nmin-replicas=0",
		"autoscale=true\npredictive=true",
		"autoscale=true\npredictive=true\ndemand-query=sum(x)\ncapacity-per-replica=2.5\nlookahead=15m\nbusiness-hours=Fri-Mon 08:00-18:00 Europe/Berlin",
		"autoscale=true\nrabbitmq-queue=tasks\nrabbitmq-host=amqp://guest:guest@rabbitmq:5672/vh\nrabbitmq-auth=rmq\nqueue-target=10",
		"autoscale=true\nprometheus-query=sum(vllm:num_requests_waiting)\nprometheus-target=5\nprometheus-server=http://u:p@prom:9090",
		"autoscale=true\ncpu-target=80\nmemory-target=101\ngpu-target=0.5\ncooldown=5 minutes\npolling-interval=1500ms\nscale-down-stabilization=2h",
		"autoscale=true\nactivation-target=-0\nprofile=vllm\npredicted-floor=3\nmax-replica=2",
		"autoscale=yes\nmax-replicas=x\nprofile=llm",
		"max-replicas=3",
		"autoscale=true\nexample.com/x=1\nrendered-hash=abc",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		ann := fuzzAnnotations(data)
		in, warns, err := Parse(ann)

		if in.Enabled != (ann[KeyAutoscale] == "true") {
			t.Fatalf("Enabled = %v with %s=%q", in.Enabled, KeyAutoscale, ann[KeyAutoscale])
		}
		for _, w := range warns {
			if !strings.Contains(w, Prefix) {
				t.Fatalf("warning %q names no mlscale.io key", w)
			}
		}
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty intent.Errors", err, err)
			}
			msg := err.Error()
			for _, e := range es {
				if !strings.HasPrefix(e.Key, Prefix) {
					t.Fatalf("FieldError key %q lacks the %s prefix", e.Key, Prefix)
				}
				if _, set := ann[e.Key]; !isKnownKey(e.Key) && !set {
					t.Fatalf("FieldError key %q is neither a contract key nor an annotation of the object", e.Key)
				}
				if _, set := ann[e.Key]; !set && e.Key != KeyDemandQuery && e.Key != KeyCapacityPerReplica {
					t.Fatalf("error about %s, which is not set: %v", e.Key, e)
				}
				if e.Problem == "" {
					t.Fatalf("FieldError %+v has no problem", e)
				}
				if !strings.HasPrefix(e.Error(), shownKey(e.Key)+": ") || !strings.Contains(msg, e.Error()) {
					t.Fatalf("message %q does not carry %q", msg, e.Error())
				}
				if len(e.Error()) > 2*MaxShownValue+2000 {
					t.Fatalf("message of %d bytes", len(e.Error()))
				}
			}
			if len(es) > 1 && !strings.HasPrefix(msg, fmt.Sprintf("%d problems: ", len(es))) {
				t.Fatalf("message %q does not count its %d problems", msg, len(es))
			}
			return
		}

		// A parse that succeeded keeps every bound.
		if in.MinReplicas != nil && (*in.MinReplicas < 0 || *in.MinReplicas > MaxReplicasLimit) {
			t.Fatalf("min %d out of bounds", *in.MinReplicas)
		}
		if in.MaxReplicas != nil && (*in.MaxReplicas < 1 || *in.MaxReplicas > MaxReplicasLimit) {
			t.Fatalf("max %d out of bounds", *in.MaxReplicas)
		}
		if in.MinReplicas != nil && in.MaxReplicas != nil && *in.MinReplicas > *in.MaxReplicas {
			t.Fatalf("min %d > max %d accepted", *in.MinReplicas, *in.MaxReplicas)
		}
		if in.ScaleToZero != nil && in.MinReplicas != nil && *in.ScaleToZero != (*in.MinReplicas == 0) {
			t.Fatalf("scale-to-zero %v with min %d accepted", *in.ScaleToZero, *in.MinReplicas)
		}
		for _, p := range []*int32{in.CPUTarget, in.MemoryTarget, in.GPUTarget} {
			if p != nil && (*p < 1 || *p > 100) {
				t.Fatalf("percent target %d accepted", *p)
			}
		}
		for _, d := range []*time.Duration{in.Cooldown, in.PollingInterval, in.ScaleDownWindow, in.Lookahead} {
			if d != nil && (*d < 0 || *d > MaxDuration || *d%time.Second != 0) {
				t.Fatalf("duration %v accepted", *d)
			}
		}
		if d := in.ScaleDownWindow; d != nil && *d > MaxScaleDownWindow {
			t.Fatalf("scale-down window %v accepted", *d)
		}
		for _, f := range []*float64{in.ActivationTarget, in.CapacityPerReplica, in.Prometheus.Target} {
			if f != nil && (math.IsNaN(*f) || math.IsInf(*f, 0) || *f < 0 || math.Signbit(*f)) {
				t.Fatalf("number %v accepted", *f)
			}
		}
		if in.Prometheus.Target != nil && *in.Prometheus.Target <= 0 {
			t.Fatalf("prometheus target %v accepted", *in.Prometheus.Target)
		}
		if in.QueueTarget != nil && (*in.QueueTarget < 1 || *in.QueueTarget > math.MaxInt32) {
			t.Fatalf("queue target %d accepted", *in.QueueTarget)
		}
		if in.Predictive && (in.DemandQuery == "" || in.CapacityPerReplica == nil) {
			t.Fatal("predictive accepted without its inputs")
		}
		if in.Profile != "" && !isProfile(in.Profile) {
			t.Fatalf("profile %q accepted", in.Profile)
		}
		if h := in.RabbitMQ.Host; h != "" {
			if strings.Contains(h, "@") {
				t.Fatalf("rabbitmq host with credentials accepted: %q", h)
			}
			if _, err := ParseRabbitHost(h); err != nil {
				t.Fatalf("accepted rabbitmq host %q does not parse again: %v", h, err)
			}
		}
		if in.BusinessHours != nil && in.BusinessHours.Location == nil {
			t.Fatal("business hours without a location")
		}
	})
}

func isKnownKey(k string) bool {
	for _, u := range UserKeys {
		if u == k {
			return true
		}
	}
	return false
}

func isProfile(p Profile) bool {
	for _, q := range Profiles {
		if p == q {
			return true
		}
	}
	return false
}

func FuzzParseRabbitHost(f *testing.F) {
	for _, s := range []string{
		"rabbitmq", "rabbitmq:5672", "rabbitmq.infra", "rabbitmq.infra.svc.cluster.local:5672",
		"10.0.0.7", "[fd00::7]:5672", "[fd00::7]", "amqp://rabbitmq/vh", "amqps://mq.example.com",
		"amqp://rabbitmq/%2F", "amqp://guest:guest@rabbitmq", "guest:guest@rabbitmq", "amqp://u:p%zz@h",
		"amqp://rabbitmq/?x=1", "http://rabbitmq", "rabbitmq:0", "",
	} {
		f.Add(s, "hunter22")
	}
	f.Fuzz(func(t *testing.T, v, secret string) {
		h, err := ParseRabbitHost(v)
		if err == nil {
			if h.Scheme != "amqp" && h.Scheme != "amqps" {
				t.Fatalf("scheme %q", h.Scheme)
			}
			if h.Host == "" || h.Port < 0 || h.Port > 65535 {
				t.Fatalf("host %q port %d", h.Host, h.Port)
			}
			if strings.Contains(v, "@") && !strings.Contains(h.VHost, "@") {
				t.Fatalf("%q accepted with an @ outside the vhost", v)
			}
			u := h.URL("ns", "cluster.local")
			if !strings.HasPrefix(u, h.Scheme+"://") {
				t.Fatalf("URL %q", u)
			}
			if h.IsShort() && !strings.Contains(u, "."+"ns.svc.cluster.local:") {
				t.Fatalf("short host %q not expanded: %q", h.Host, u)
			}
			// The URL parses back to the same host, port and vhost.
			again, err := ParseRabbitHost(u)
			if err != nil {
				t.Fatalf("URL %q of %q does not parse: %v", u, v, err)
			}
			if again.VHost != h.VHost || again.Scheme != h.Scheme || again.Port == 0 {
				t.Fatalf("round trip %q -> %q: %+v vs %+v", v, u, h, again)
			}
		} else if len(v) > 60 && strings.Contains(err.Error(), v) { // longer than any fixed message
			t.Fatalf("error %q repeats the value", err)
		}

		// A password written into the value never reaches the message.
		// Short secrets are found in any message by chance; long ones add no
		// coverage and make the fuzzer's minimisation slow.
		if len(secret) < 6 || len(secret) > 64 || strings.ContainsAny(secret, "@/?#") {
			return
		}
		for _, key := range []string{KeyRabbitMQHost, KeyPrometheusServer} {
			for _, val := range []string{"amqp://user:" + secret + "@" + v, "user:" + secret + "@" + v, "http://user:" + secret + "@" + v} {
				if strings.Contains(strings.Replace(val, secret, "", 1), secret) {
					continue // the secret also appears elsewhere in the value
				}
				_, _, perr := Parse(map[string]string{KeyAutoscale: "true", key: val})
				if perr == nil {
					t.Fatalf("%s: %q accepted", key, val)
				}
				// The secret may occur in the message's fixed text; compare
				// with the message for a value without it.
				masked := strings.Replace(val, secret, strings.Repeat("\x01", len(secret)), 1)
				_, _, merr := Parse(map[string]string{KeyAutoscale: "true", key: masked})
				if merr != nil && strings.Count(perr.Error(), secret) > strings.Count(merr.Error(), secret) {
					t.Fatalf("password leaks: %v", perr)
				}
			}
		}
	})
}

func FuzzParseBusinessHours(f *testing.F) {
	for _, s := range []string{
		"Mon-Fri 08:00-18:00", "Fri-Mon 06:00-22:00 Europe/Berlin", "Mon,Wed,Fri 09:00-17:00 America/New_York",
		"Sun-Sat 00:00-24:00", "Mon 8:00-9:00", "Mon-Fri 18:00-08:00", "Mon +1:00-02:00", "Tue 00:00-00:01 Local",
	} {
		f.Add(s, int64(1774800000))
	}
	f.Fuzz(func(t *testing.T, v string, unix int64) {
		b, err := ParseBusinessHours(v)
		if err != nil {
			return
		}
		if b.Location == nil {
			t.Fatal("nil location")
		}
		if b.Start < 0 || b.End > 24*time.Hour || b.End <= b.Start || b.Start%time.Minute != 0 || b.End%time.Minute != 0 {
			t.Fatalf("%q: start %v end %v", v, b.Start, b.End)
		}
		working := false
		for _, d := range b.Days {
			working = working || d
		}
		if !working {
			t.Fatalf("%q: no working day", v)
		}
		at := time.Unix(unix%(1<<34), 0)
		lt := at.In(b.Location)
		off := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second
		want := b.Days[lt.Weekday()] && off >= b.Start && off < b.End
		if got := b.Contains(at); got != want {
			t.Fatalf("%q.Contains(%v) = %v, want %v", v, at, got, want)
		}
		// Parsing is deterministic.
		again, err := ParseBusinessHours(v)
		if err != nil || again.Days != b.Days || again.Start != b.Start || again.End != b.End || again.Location.String() != b.Location.String() {
			t.Fatalf("second parse of %q differs: %+v, %v", v, again, err)
		}
	})
}
