package intent

import (
	"strings"
)

// Names users write for mlscale's keys, normalized (see normalizeKey): KEDA's
// and the HPA's field names and common longer forms.
var keyAliases = map[string]string{
	"cooldownperiod":             KeyCooldown,
	"minreplicacount":            KeyMinReplicas,
	"maxreplicacount":            KeyMaxReplicas,
	"idlereplicacount":           KeyScaleToZero,
	"scaletozero":                KeyScaleToZero,
	"activationthreshold":        KeyActivationTarget,
	"activationvalue":            KeyActivationTarget,
	"stabilizationwindowseconds": KeyScaleDownWindow,
	"stabilizationwindow":        KeyScaleDownWindow,
	"scaledownwindow":            KeyScaleDownWindow,
	"queuename":                  KeyRabbitMQQueue,
	"queue":                      KeyRabbitMQQueue,
	"queuelength":                KeyQueueTarget,
	"query":                      KeyPrometheusQuery,
	"serveraddress":              KeyPrometheusServer,
	"threshold":                  KeyPrometheusTarget,
	"enabled":                    KeyAutoscale,
	"enable":                     KeyAutoscale,
	"minreplica":                 KeyMinReplicas,
	"maxreplica":                 KeyMaxReplicas,
	"rollout":                    KeyRolloutStrategy,
	"transferhpaownership":       KeyAdoptHPA,
}

// normalizeKey drops the prefix, case and the separators users vary:
// "mlscale.io/Cooldown_Period" becomes "cooldownperiod".
func normalizeKey(k string) string {
	k = strings.ToLower(strings.TrimPrefix(k, Prefix))
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r == ' ' {
			return -1
		}
		return r
	}, k)
}

// closest returns the key of candidates a user most likely meant by s, or
// "": the same key written with other separators or case
// ("auto-scale", "maxReplicas"), a KEDA or HPA field name
// ("cooldownPeriod", "minReplicaCount"), a known key with something added
// ("cooldown-period", "max-replicas-count"), or one at a small edit
// distance ("max-replica", "scale-to-zer0").
func closest(s string, candidates []string) string {
	n := normalizeKey(s)
	if n == "" {
		return ""
	}
	for _, c := range candidates {
		if normalizeKey(c) == n {
			return c
		}
	}
	if k, ok := keyAliases[n]; ok {
		return k
	}
	best := ""
	for _, c := range candidates {
		if cn := normalizeKey(c); len(cn) >= 5 && (strings.HasPrefix(n, cn) || strings.HasSuffix(n, cn)) && len(cn) > len(normalizeKey(best)) {
			best = c
		}
	}
	if best != "" {
		return best
	}
	bestD := 4
	for _, c := range candidates {
		cn := normalizeKey(c)
		if abs(len(n)-len(cn)) >= bestD {
			continue // the distance is at least the difference in length
		}
		if d := editDistance(n, cn); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
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
