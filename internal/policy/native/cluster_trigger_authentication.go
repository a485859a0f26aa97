package native

import (
	"strconv"

	"github.com/gobwas/glob"
)

// This file is the Go form of policies/cluster_trigger_authentication: a
// trigger may reference a ClusterTriggerAuthentication only from the
// namespaces data.config.clusterTriggerAuthentications allows.

func init() {
	register("cluster_trigger_authentication", compileClusterTriggerAuthentication)
}

// kindClusterTriggerAuthentication is the authenticationRef kind the
// policy checks.
const kindClusterTriggerAuthentication = "ClusterTriggerAuthentication"

// compileClusterTriggerAuthentication returns the Go form of
// cluster_trigger_authentication for cfg, with the namespace patterns of
// grants compiled once. Rego's glob.match(pattern, [], ns) is gobwas/glob
// with "." as the separator (OPA reads an empty delimiter list as ["."]);
// a pattern that does not compile is an error there, which leaves the
// expression undefined: it allows nothing, and is left out here.
func compileClusterTriggerAuthentication(cfg Config) Func {
	grants := make(map[string][]*glob.Pattern, len(cfg.ClusterTriggerAuthentications))
	for name, patterns := range cfg.ClusterTriggerAuthentications {
		gs := make([]*glob.Pattern, 0, len(patterns))
		for _, p := range patterns {
			if g, err := glob.Compile(p, '.'); err == nil {
				gs = append(gs, g)
			}
		}
		grants[name] = gs
	}
	return func(in *Input) []string { return clusterTriggerAuthentication(grants, in) }
}

// ctaAllowed is allowed(name): whether namespace ns may use the
// ClusterTriggerAuthentication name, by its own entry or "*"'s.
func ctaAllowed(grants map[string][]*glob.Pattern, name, ns string) bool {
	for _, key := range [2]string{name, "*"} {
		for _, g := range grants[key] {
			if g.Match(ns) {
				return true
			}
		}
	}
	return false
}

// clusterTriggerAuthentication is cluster_trigger_authentication's
// violation rule: one message per trigger whose authenticationRef is a
// ClusterTriggerAuthentication the request's namespace may not use.
func clusterTriggerAuthentication(grants map[string][]*glob.Pattern, in *Input) []string {
	var out []string
	for _, e := range in.triggers() {
		ref := e.t.AuthenticationRef
		if ref == nil || ref.Kind != kindClusterTriggerAuthentication || ctaAllowed(grants, ref.Name, in.Namespace) {
			continue
		}
		// lib.subject and lib.object_key(e.owner) are undefined for an
		// object without a name: no message.
		subject, ok := in.subject()
		if !ok {
			return nil
		}
		ownerKey, ok := e.ownerKey()
		if !ok {
			continue
		}
		out = append(out, "cluster_trigger_authentication: "+subject+" uses ClusterTriggerAuthentication "+ref.Name+
			" in trigger "+e.ref()+" (type "+e.t.Type+") of "+ownerKey+", which namespace "+in.Namespace+
			" may not use; use a TriggerAuthentication of the namespace, or have the platform team add "+
			strconv.Quote(in.Namespace)+" to clusterTriggerAuthentications["+strconv.Quote(ref.Name)+"] in the policy configuration")
	}
	return out
}
