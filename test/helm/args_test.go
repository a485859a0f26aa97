package helm

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/mlscale/mlscale/internal/cli"
)

// TestContainerArgs runs the real `mlscale` command line with the
// arguments of every container the chart renders (all components on), plus
// --help: cobra parses every flag before it prints the help, so an unknown
// flag or a bad value type fails here rather than in a crash-looping pod.
// $(VAR) references are replaced by a value of the right shape.
func TestContainerArgs(t *testing.T) {
	r := template(t, "--set", "collector.enabled=true", "--set", "defaults.gpuBudget=8", "--set", "webhook.debug=true")
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	sample := map[string]string{"MLSCALE_GPU_BUDGET": "8", "POD_NAMESPACE": releaseNamespace, "NODE_NAME": "gpu-node-1", "MLSCALE_UNKNOWN_ANNOTATIONS": "deny", "MLSCALE_CLUSTER_DOMAIN": "cluster.local"}
	checked := 0
	for _, kind := range []string{"Deployment", "DaemonSet"} {
		for _, u := range r.all(kind) {
			var spec appsv1.DeploymentSpec
			if kind == "Deployment" {
				var d appsv1.Deployment
				into(t, u, &d)
				spec = d.Spec
			} else {
				var ds appsv1.DaemonSet
				into(t, u, &ds)
				spec.Template = ds.Spec.Template
			}
			for _, c := range spec.Template.Spec.Containers {
				args := make([]string, 0, len(c.Args)+1)
				for _, a := range c.Args {
					args = append(args, ref.ReplaceAllStringFunc(a, func(m string) string {
						if v, ok := sample[m[2:len(m)-1]]; ok {
							return v
						}
						return "http://prometheus.monitoring.svc:9090"
					}))
				}
				var out, errOut bytes.Buffer
				code := cli.Run(context.Background(), append(args, "--help"), cli.Streams{In: &bytes.Buffer{}, Out: &out, Err: &errOut})
				if code != cli.ExitOK {
					t.Errorf("%s %s container %s: mlscale %v exits %d:\n%s", kind, u.GetName(), c.Name, args, code, errOut.String())
				}
				checked++
			}
		}
	}
	if checked != 3 {
		t.Errorf("checked %d containers, want webhook, predictor and collector", checked)
	}
}
