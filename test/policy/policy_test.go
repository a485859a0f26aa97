package policy_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/kubetest"
)

// TestConflictingHPARejected: hpa_scaledobject_conflict's samples through
// the real API server. An HPA on a workload that a ScaledObject scales is
// refused with the policy's message; KEDA's own HPA for the ScaledObject
// (owned by it, as KEDA makes it) is admitted; a second HPA on the
// KEDA-scaled target is refused too.
func TestConflictingHPARejected(t *testing.T) {
	env(t)
	ns := namespace(t, "conflict")
	// The ScaledObject web-so is created; the HPA web-hpa after it is not.
	denied := sample(t, "hpa_scaledobject_conflict", "denied", "hpa-on-scaled-workload.yaml")
	_, _, err := kubectl(t, denied, "apply", "-n", ns, "-f", "-")
	if err == nil {
		t.Fatal("the conflicting HPA was admitted")
	}
	mustKubectl(t, "", "get", "scaledobject", "-n", ns, "web-so")
	for _, want := range []string{"denied the request", "hpa_scaledobject_conflict", "ScaledObject conflict/web-so", "keda-hpa-web-so", "delete this HPA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("denial does not say %q: %v", want, err)
		}
	}
	if out, _, err := kubectl(t, "", "get", "hpa", "-n", ns, "web-hpa"); err == nil {
		t.Errorf("the denied HPA exists: %s", out)
	}

	// KEDA's HPA: named keda-hpa-<ScaledObject>, controlled by it (the
	// sample's ScaledObject is the one just created, its owner the live
	// one's uid).
	uid, _ := mustKubectl(t, "", "get", "scaledobject", "-n", ns, "web-so", "-o", "jsonpath={.metadata.uid}")
	owned := strings.Replace(sample(t, "hpa_scaledobject_conflict", "allowed", "keda-own-hpa.yaml"), "00000000-0000-0000-0000-000000000001", uid, 1)
	mustKubectl(t, owned, "apply", "-n", ns, "-f", "-")

	// Another HPA on the same target is still refused: now two policies.
	_, _, err = kubectl(t, denied, "create", "--dry-run=server", "-n", ns, "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "hpa_duplicate_target") || !strings.Contains(err.Error(), "hpa_scaledobject_conflict") {
		t.Errorf("a second HPA on the KEDA-scaled target: want hpa_duplicate_target and hpa_scaledobject_conflict, got %v", err)
	}

	// The real denial is counted once; the dry run is not.
	m, err := metrics()
	if err != nil {
		t.Fatal(err)
	}
	counted := `mlscale_policy_admission_violations_total{action="deny",kind="HorizontalPodAutoscaler",namespace="` + ns + `",policy="hpa_scaledobject_conflict"} 1`
	if !strings.Contains(m, counted+"\n") {
		t.Errorf("metrics lack %s", counted)
	}
	if dup := `policy="hpa_duplicate_target"`; strings.Contains(m, `mlscale_policy_admission_violations_total{action="deny",kind="HorizontalPodAutoscaler",namespace="`+ns+`",`+dup) {
		t.Errorf("the dry run's %s violation was counted", dup)
	}
}

// TestWarnMode: trigger_endpoints is configured to warn: its denied sample,
// a ScaledObject that calls an endpoint off the allowlist, is admitted with
// the policy's message as a warning kubectl prints.
func TestWarnMode(t *testing.T) {
	env(t)
	ns := namespace(t, "warn")
	_, stderr := mustKubectl(t, sample(t, "trigger_endpoints", "denied", "off-list-prometheus.yaml"), "apply", "-n", ns, "-f", "-")
	if !strings.Contains(stderr, "Warning: trigger_endpoints:") || !strings.Contains(stderr, "evil.example.com") {
		t.Errorf("kubectl printed no trigger_endpoints warning: %q", stderr)
	}
	mustKubectl(t, "", "get", "scaledobject", "-n", ns, "off-list")

	// A deny policy still denies a new ScaledObject: inline credentials.
	bad := sample(t, "trigger_credentials", "denied", "password-in-url.yaml")
	if _, _, err := kubectl(t, bad, "apply", "-n", ns, "-f", "-"); err == nil || !strings.Contains(err.Error(), "trigger_credentials") {
		t.Errorf("a ScaledObject with inline credentials: want a trigger_credentials denial, got %v", err)
	}
}

// userPolicy is a ConfigMap with a user policy that requires a team label
// on HPAs in namespace ns, and its test; extra is appended to the policy.
func userPolicy(name, ns, extra, test string) string {
	indent := func(s string) string { return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") }
	policy := fmt.Sprintf(`package mlscale.policies.team_label

violation contains msg if {
	input.kind == "HorizontalPodAutoscaler"
	input.namespace == %q
	not input.object.metadata.labels.team
	msg := sprintf("team_label: %%s/%%s has no team label; add metadata.labels.team", [input.namespace, input.object.metadata.name])
}
%s`, ns, extra)
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  namespace: %s
  labels:
    mlscale.io/policy: "true"
data:
  team_label.rego: |
%s
  team_label_test.rego: |
%s
`, name, policyNamespace, indent(policy), indent(test))
}

const goodTest = `package mlscale.policies.team_label_test

import data.mlscale.policies.team_label

test_denied if {
	count(team_label.violation) == 1 with input as {"kind": "HorizontalPodAutoscaler", "namespace": "userpol", "object": {"metadata": {"name": "x"}}}
}

test_allowed if {
	count(team_label.violation) == 0 with input as {"kind": "HorizontalPodAutoscaler", "namespace": "userpol", "object": {"metadata": {"name": "x", "labels": {"team": "a"}}}}
}`

// failingTest expects no violation where the policy reports one.
const failingTest = `package mlscale.policies.team_label_test

import data.mlscale.policies.team_label

test_wrong if {
	count(team_label.violation) == 0 with input as {"kind": "HorizontalPodAutoscaler", "namespace": "userpol", "object": {"metadata": {"name": "x"}}}
}`

// TestUserPolicy: a policy from a labelled ConfigMap takes effect without a
// restart; a broken version (syntax error) is reported by an Event on the
// ConfigMap and the load error metric, and leaves the previous version and
// the built-ins in force; a ConfigMap whose tests fail is never activated.
func TestUserPolicy(t *testing.T) {
	env(t)
	ns := namespace(t, "userpol")
	unlabelled := hpa(ns, "nolabel", "Deployment", "api")
	if _, _, err := kubectl(t, unlabelled, "create", "--dry-run=server", "-f", "-"); err != nil {
		t.Fatalf("before the user policy, an HPA without a team label is admitted: %v", err)
	}
	mustKubectl(t, userPolicy("team-label", ns, "", goodTest), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _, _ = kubectl(t, "", "delete", "configmap", "-n", policyNamespace, "team-label", "--ignore-not-found")
	})

	denied := func() error {
		_, _, err := kubectl(t, unlabelled, "create", "--dry-run=server", "-f", "-")
		switch {
		case err == nil:
			return errors.New("admitted")
		case !strings.Contains(err.Error(), "team_label: userpol/nolabel has no team label"):
			return fmt.Errorf("denied, but not by team_label: %w", err)
		}
		return nil
	}
	kubetest.Eventually(t, 30*time.Second, "the user policy denies", denied)
	kubetest.Eventually(t, 30*time.Second, "a PolicyLoaded Event on the ConfigMap", eventOn(t, policyNamespace, "team-label", "PolicyLoaded", "team_label"))
	labelled := strings.Replace(unlabelled, "metadata:\n", "metadata:\n  labels:\n    team: search\n", 1)
	mustKubectl(t, labelled, "create", "--dry-run=server", "-f", "-")

	// A syntax error: reported; the previous version keeps denying.
	mustKubectl(t, userPolicy("team-label", ns, "violation contains msg if {", goodTest), "apply", "-f", "-")
	kubetest.Eventually(t, 30*time.Second, "a PolicyRejected Event on the ConfigMap", eventOn(t, policyNamespace, "team-label", "PolicyRejected", "previous version"))
	kubetest.Eventually(t, 30*time.Second, "mlscale_policy_load_errors is 1", metricIs(`mlscale_policy_load_errors{configmap="team-label",namespace="mlscale-system"}`, "1"))
	if err := denied(); err != nil {
		t.Errorf("after a broken update, the previous good version must still deny: %v", err)
	}
	// The built-ins are unaffected: a ScaledObject on api makes the HPA
	// conflict.
	mustKubectl(t, sample(t, "trigger_endpoints", "allowed", "allowed-prometheus.yaml"), "apply", "-n", ns, "-f", "-")
	if _, _, err := kubectl(t, labelled, "create", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(err.Error(), "hpa_scaledobject_conflict") {
		t.Errorf("with a broken user policy, the built-in policies must still deny: %v", err)
	}

	// A second ConfigMap whose test fails is never active.
	other := strings.ReplaceAll(userPolicy("failing", "nowhere", "", failingTest), "team_label", "team_label2")
	other = strings.ReplaceAll(other, `input.namespace == "nowhere"`, `input.namespace == "userpol"`)
	mustKubectl(t, other, "apply", "-f", "-")
	t.Cleanup(func() {
		_, _, _ = kubectl(t, "", "delete", "configmap", "-n", policyNamespace, "failing", "--ignore-not-found")
	})
	kubetest.Eventually(t, 30*time.Second, "a PolicyRejected Event naming the failed test", eventOn(t, policyNamespace, "failing", "PolicyRejected", "test_wrong"))
	if _, _, err := kubectl(t, hpa(ns, "other", "Deployment", "other"), "create", "--dry-run=server", "-f", "-"); err == nil || strings.Contains(err.Error(), "team_label2") {
		t.Errorf("a user policy whose tests fail must not be active: %v", err)
	}

	// Fixing the broken ConfigMap clears the error metric.
	mustKubectl(t, userPolicy("team-label", ns, "", goodTest), "apply", "-f", "-")
	kubetest.Eventually(t, 30*time.Second, "mlscale_policy_load_errors back to 0", metricIs(`mlscale_policy_load_errors{configmap="team-label",namespace="mlscale-system"}`, "0"))

	// Deleting the ConfigMap removes the policy, without a restart.
	mustKubectl(t, "", "delete", "configmap", "-n", policyNamespace, "team-label")
	kubetest.Eventually(t, 30*time.Second, "the user policy is gone", func() error {
		_, _, err := kubectl(t, hpa(ns, "nolabel2", "Deployment", "api2"), "create", "--dry-run=server", "-f", "-")
		return err
	})
}

// TestAudit: the two HPAs on one Deployment, made while mlscale was down,
// are found by the audit loop: mlscale_policy_violations counts them and
// each gets a PolicyViolation Event; once fixed, the series disappears.
func TestAudit(t *testing.T) {
	env(t)
	series := `mlscale_policy_violations{kind="HorizontalPodAutoscaler",namespace="audit",policy="hpa_duplicate_target"}`
	kubetest.Eventually(t, 30*time.Second, "the audit metric shows the pre-existing violation", metricIs(series, "2"))
	kubetest.Eventually(t, 30*time.Second, "a PolicyViolation Event on the HPA", eventOn(t, auditNamespace, "first", "PolicyViolation", "hpa_duplicate_target"))
	mustKubectl(t, "", "delete", "hpa", "-n", auditNamespace, "second")
	kubetest.Eventually(t, 30*time.Second, "the fixed violation leaves the metric", func() error {
		m, err := metrics()
		if err != nil {
			return err
		}
		if strings.Contains(m, series) {
			return fmt.Errorf("%s still exported", series)
		}
		if !strings.Contains(m, `mlscale_policy_audit_rounds_total{result="ok"}`) {
			return errors.New("no successful audit round counted")
		}
		return nil
	})
}

// eventOn returns a condition: an Event with the reason on the named
// object, whose message contains want.
func eventOn(t *testing.T, ns, name, reason, want string) func() error {
	return func() error {
		out, _, err := kubectl(t, "", "get", "events", "-n", ns,
			"--field-selector", "involvedObject.name="+name+",reason="+reason, "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
		if err != nil {
			return err
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("no %s Event on %s/%s saying %q; events: %q", reason, ns, name, want, out)
		}
		return nil
	}
}

// metricIs returns a condition: the metrics page has the series with the
// value.
func metricIs(series, value string) func() error {
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + ` (\S+)$`)
	return func() error {
		m, err := metrics()
		if err != nil {
			return err
		}
		got := re.FindStringSubmatch(m)
		if got == nil {
			return fmt.Errorf("%s not exported", series)
		}
		if got[1] != value {
			return fmt.Errorf("%s is %s, want %s", series, got[1], value)
		}
		return nil
	}
}

// TestOptInOnForeignHPA: scaledobject_foreign_hpa's sample through the real
// API server: opting a workload in to mlscale while a foreign HPA scales it
// is refused by the validating webhook, through the ScaledObject mlscale
// would render for it.
func TestOptInOnForeignHPA(t *testing.T) {
	env(t)
	ns := namespace(t, "optin")
	deploy := hpaThenRefusedDeployment(t, ns, "opt-in-on-hpa-workload.yaml",
		"scaledobject_foreign_hpa", "mlscale.io/autoscale opt-in", "HorizontalPodAutoscaler optin/legacy")
	// Without the opt-in the same Deployment is none of mlscale's business.
	plain := strings.Replace(strings.Replace(deploy, `    mlscale.io/autoscale: "true"`+"\n", "", 1), `    mlscale.io/cpu-target: "60"`+"\n", "", 1)
	plain = strings.Replace(plain, "  annotations:\n", "", 1)
	if plain == deploy || strings.Contains(plain, "mlscale.io/") {
		t.Fatalf("could not strip the opt-in from the sample:\n%s", plain)
	}
	mustKubectl(t, plain, "apply", "--dry-run=server", "-n", ns, "-f", "-")
}

// TestAdoptHPAOfAnotherWorkload: mlscale.io/adopt-hpa naming an HPA that
// scales another Deployment is refused through the real API server (KEDA
// would point that HPA at this workload and the other would lose its
// autoscaler); naming none is admitted.
func TestAdoptHPAOfAnotherWorkload(t *testing.T) {
	env(t)
	ns := namespace(t, "adopt")
	deploy := hpaThenRefusedDeployment(t, ns, "adopt-hpa-of-another-workload.yaml",
		"scaledobject_foreign_hpa", "would take over HorizontalPodAutoscaler adopt/reports-hpa, which scales Deployment adopt/reports, not Deployment adopt/api", "mlscale.io/adopt-hpa")
	without := strings.Replace(deploy, "    mlscale.io/adopt-hpa: reports-hpa\n", "", 1)
	if without == deploy {
		t.Fatal("could not strip mlscale.io/adopt-hpa from the sample")
	}
	mustKubectl(t, without, "apply", "--dry-run=server", "-n", ns, "-f", "-")
}

// hpaThenRefusedDeployment applies the HPA of scaledobject_foreign_hpa's
// denied sample file in ns, wants a server-side dry run of its Deployment
// refused with each of wants in the message, and returns the Deployment.
func hpaThenRefusedDeployment(t *testing.T, ns, file string, wants ...string) string {
	t.Helper()
	docs := strings.Split(sample(t, "scaledobject_foreign_hpa", "denied", file), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%s has %d documents, want the HPA and the Deployment", file, len(docs))
	}
	hpaDoc, deploy := docs[0], docs[1]
	mustKubectl(t, hpaDoc, "apply", "-n", ns, "-f", "-")
	_, _, err := kubectl(t, deploy, "apply", "--dry-run=server", "-n", ns, "-f", "-")
	if err == nil {
		t.Fatalf("the Deployment of %s was admitted", file)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("denial does not say %q: %v", want, err)
		}
	}
	return deploy
}
