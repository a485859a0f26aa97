package helm

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestGoMemLimit: every container with a memory limit gets GOMEMLIMIT from
// the downward API (its own limits.memory, in bytes) and
// MLSCALE_GOMEMLIMIT_PERCENT from goMemLimitPercent; none when the
// percentage is 0, the container has no memory limit, or its extraEnv sets
// GOMEMLIMIT.
func TestGoMemLimit(t *testing.T) {
	type want struct {
		fromLimit bool   // GOMEMLIMIT from limits.memory
		value     string // GOMEMLIMIT's literal value, when not from the limit
		percent   string // MLSCALE_GOMEMLIMIT_PERCENT
	}
	fromLimit := want{fromLimit: true, percent: "90"}
	tests := []struct {
		name string
		args []string
		want map[string]want // by container name
	}{
		{"defaults", nil, map[string]want{"webhook": fromLimit, "predictor": fromLimit, "collector": fromLimit}},
		{"another percentage", []string{"--set", "goMemLimitPercent=75"}, map[string]want{
			"webhook": {fromLimit: true, percent: "75"}, "predictor": {fromLimit: true, percent: "75"}, "collector": {fromLimit: true, percent: "75"},
		}},
		{"off", []string{"--set", "goMemLimitPercent=0"}, map[string]want{"webhook": {}, "predictor": {}, "collector": {}}},
		{"a container without a memory limit", []string{"--set", "webhook.resources.limits=null"}, map[string]want{
			"webhook": {}, "predictor": fromLimit, "collector": fromLimit,
		}},
		{"GOMEMLIMIT of extraEnv wins", []string{"--set", "webhook.extraEnv[0].name=GOMEMLIMIT", "--set", "webhook.extraEnv[0].value=300MiB"}, map[string]want{
			"webhook": {value: "300MiB"}, "predictor": fromLimit, "collector": fromLimit,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := template(t, append([]string{"--set", "collector.enabled=true"}, tt.args...)...)
			var containers []corev1.Container
			for _, u := range r.all("Deployment") {
				var d appsv1.Deployment
				into(t, u, &d)
				containers = append(containers, d.Spec.Template.Spec.Containers...)
			}
			for _, u := range r.all("DaemonSet") {
				var ds appsv1.DaemonSet
				into(t, u, &ds)
				containers = append(containers, ds.Spec.Template.Spec.Containers...)
			}
			if len(containers) != len(tt.want) {
				t.Fatalf("%d containers, want %d", len(containers), len(tt.want))
			}
			for _, c := range containers {
				w, ok := tt.want[c.Name]
				if !ok {
					t.Fatalf("unexpected container %s", c.Name)
				}
				var got want
				n := 0
				for _, e := range c.Env {
					switch e.Name {
					case "GOMEMLIMIT":
						n++
						if f := e.ValueFrom; f != nil && f.ResourceFieldRef != nil {
							ref := f.ResourceFieldRef
							got.fromLimit = ref.Resource == "limits.memory" && ref.ContainerName == c.Name && (ref.Divisor.IsZero() || ref.Divisor.Value() == 1)
						} else {
							got.value = e.Value
						}
					case "MLSCALE_GOMEMLIMIT_PERCENT":
						got.percent = e.Value
					}
				}
				if n > 1 {
					t.Errorf("container %s: GOMEMLIMIT set %d times", c.Name, n)
				}
				if got != w {
					t.Errorf("container %s: %+v, want %+v", c.Name, got, w)
				}
			}
		})
	}
}
