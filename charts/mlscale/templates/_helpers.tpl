{{/* The chart name. */}}
{{- define "mlscale.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: the release name, prefixed to the chart name unless it contains it. */}}
{{- define "mlscale.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "mlscale.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mlscale.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- with .Values.commonLabels }}
{{- range $k, $_ := . }}
{{- if has $k (list "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/component") }}
{{- fail (printf "commonLabels: %s is a label the chart sets (its selectors match app.kubernetes.io/name, instance and component); choose another key" $k) }}
{{- end }}
{{- end }}
{{ include "mlscale.labelMap" (list "commonLabels" .) }}
{{- end }}
{{- end }}

{{/*
A map of labels (or a nodeSelector, which names labels) as stringMap writes
it, after checking each key and value as the API server would, so that a bad
one fails the render naming the value, not the install naming an object:
pass (list "commonLabels" .Values.commonLabels).
*/}}
{{- define "mlscale.labelMap" -}}
{{- $field := index . 0 }}
{{- $name := "^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$" }}
{{- $prefix := "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" }}
{{- range $k, $v := index . 1 }}
{{- $parts := splitList "/" $k }}
{{- $last := last $parts }}
{{- if or (gt (len $parts) 2) (gt (len $last) 63) (not (regexMatch $name $last)) (and (eq (len $parts) 2) (or (gt (len (first $parts)) 253) (not (regexMatch $prefix (first $parts))))) }}
{{- fail (printf "%s: %q is not a label key; a key is a name of at most 63 letters, digits, \"-\", \"_\" and \".\", starting and ending with a letter or digit, optionally after a DNS subdomain prefix and \"/\" (example.com/team)" $field $k) }}
{{- end }}
{{- $s := toString $v }}
{{- if or (gt (len $s) 63) (and $s (not (regexMatch $name $s))) }}
{{- fail (printf "%s.%s: %q is not a label value; a value is empty or at most 63 letters, digits, \"-\", \"_\" and \".\", starting and ending with a letter or digit" $field $k $s) }}
{{- end }}
{{- end }}
{{- include "mlscale.stringMap" (index . 1) }}
{{- end }}

{{/*
A map of strings (labels, annotations, a nodeSelector) with every value
quoted: `--set nodeSelector.gpu=true` or `--set commonLabels.tier=1` give
the strings "true" and "1" that Kubernetes wants, not a boolean or a number
it refuses.
*/}}
{{- define "mlscale.stringMap" -}}
{{- $lines := list }}
{{- range $k, $v := . }}
{{- $lines = append $lines (printf "%s: %s" $k (toString $v | quote)) }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}

{{/* Selector labels of one component: pass (list $ "webhook"). */}}
{{- define "mlscale.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlscale.name" (index . 0) | quote }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name | quote }}
app.kubernetes.io/component: {{ index . 1 | quote }}
{{- end }}

{{/*
Extra environment variables (a list of EnvVar objects) with every value a
string: `--set extraEnv[0].value=1` gives the number 1, which Kubernetes
refuses in an EnvVar.
*/}}
{{- define "mlscale.extraEnv" -}}
{{- $out := list }}
{{- range . }}
{{- $e := deepCopy . }}
{{- if hasKey $e "value" }}
{{- $_ := set $e "value" (toString $e.value) }}
{{- end }}
{{- $out = append $out $e }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
Extra pod labels (stringMap), refusing the selector's keys, which would make
the pods' labels a duplicate-key map: pass (list $ "webhook" .podLabels "webhook.podLabels").
*/}}
{{- define "mlscale.podLabels" -}}
{{- $selector := include "mlscale.selectorLabels" (list (index . 0) (index . 1)) | fromYaml }}
{{- range $k, $_ := index . 2 }}
{{- if hasKey $selector $k }}
{{- fail (printf "%s: %s is a selector label the chart sets; choose another key" (index $ 3) $k) }}
{{- end }}
{{- end }}
{{- include "mlscale.labelMap" (list (index . 3) (index . 2)) }}
{{- end }}

{{/*
The ServiceAccount of the webhook pods: the chart's (serviceAccount.create)
or one that exists, which serviceAccount.name must then name.
*/}}
{{- define "mlscale.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlscale.fullname" .) .Values.serviceAccount.name }}
{{- else if .Values.serviceAccount.name }}
{{- .Values.serviceAccount.name }}
{{- else }}
{{- fail "serviceAccount.name: required when serviceAccount.create is false (name the existing ServiceAccount the webhook pods run as)" }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest when image.digest is set, else repository:tag. */}}
{{- define "mlscale.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Replicas of the webhook Deployment: webhook.replicas (deprecated) when set, else replicaCount. */}}
{{- define "mlscale.replicas" -}}
{{- if kindIs "invalid" .Values.webhook.replicas }}{{ .Values.replicaCount }}{{ else }}{{ .Values.webhook.replicas }}{{ end }}
{{- end }}

{{/*
The Secret with the webhook's serving certificate: the one cert-manager
writes for the chart's Certificate, or tls.existingSecret without
cert-manager. Fails on a combination the chart cannot serve.
*/}}
{{- define "mlscale.servingSecret" -}}
{{- if .Values.certManager.enabled }}
{{- if or .Values.tls.existingSecret .Values.tls.caBundle }}
{{- fail "tls.existingSecret and tls.caBundle are for your own certificate: set certManager.enabled=false to use them, or leave them empty to have cert-manager issue the certificate" }}
{{- end }}
{{- include "mlscale.servingCert" . }}
{{- else }}
{{- if not .Values.tls.existingSecret }}
{{- fail "tls.existingSecret: required when certManager.enabled is false (the name of a kubernetes.io/tls Secret in the release's namespace with the webhook's serving certificate)" }}
{{- end }}
{{- .Values.tls.existingSecret }}
{{- end }}
{{- end }}

{{/* The caBundle of the webhook configurations without cert-manager (tls.caBundle, checked). */}}
{{- define "mlscale.caBundle" -}}
{{- $_ := include "mlscale.servingSecret" . }}
{{- $b := .Values.tls.caBundle | nospace }}
{{- if not $b }}
{{- fail "tls.caBundle: required when certManager.enabled is false (the PEM CA that signed tls.existingSecret's certificate, base64-encoded: base64 -w0 ca.crt)" }}
{{- end }}
{{- if not (contains "-----BEGIN CERTIFICATE-----" (b64dec $b)) }}
{{- fail "tls.caBundle: not a base64-encoded PEM certificate (encode the CA file itself, base64 -w0 ca.crt)" }}
{{- end }}
{{- if contains "PRIVATE KEY-----" (b64dec $b) }}
{{- fail "tls.caBundle: holds a private key, which would be written into the webhook configurations that every user who can list them reads; give the CA certificate alone (base64 -w0 ca.crt)" }}
{{- end }}
{{- $b }}
{{- end }}

{{/*
The fullname and a suffix within 63 characters, a Service's limit (a DNS
label): the fullname is shortened, never the suffix, so that two names with
different suffixes stay different however long the fullname. Pass
(list $ "collector").
*/}}
{{- define "mlscale.suffixed" -}}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "mlscale.fullname" (index . 0) | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/* Name of the collector's Service, DaemonSet and ServiceAccount. */}}
{{- define "mlscale.collector" -}}
{{- include "mlscale.suffixed" (list . "collector") }}
{{- end }}

{{/* Names of the webhook Service, Deployment and PodDisruptionBudget, the
serving Certificate and its Secret. */}}
{{- define "mlscale.webhookService" -}}
{{- include "mlscale.suffixed" (list . "webhook") }}
{{- end }}
{{- define "mlscale.servingCert" -}}
{{- include "mlscale.suffixed" (list . "serving-cert") }}
{{- end }}

{{/*
The documents of a generated file under files/generated (controller-gen's
output, copied from config/ by `make chart-docs`), as a list of objects.
*/}}
{{- define "mlscale.generated" -}}
{{- $docs := list }}
{{- range $doc := regexSplit "(?m)^---\\s*$" (.Files.Get (printf "files/generated/%s" .file)) -1 }}
{{- $o := fromYaml $doc }}
{{- if $o.kind }}
{{- $docs = append $docs $o }}
{{- end }}
{{- end }}
{{- toYaml (dict "items" $docs) }}
{{- end }}

{{/* A webhook's namespaceSelector: pass (dict "Values" "Release" "optIn" bool). */}}
{{- define "mlscale.namespaceSelector" -}}
{{- $ns := .Values.namespaceSelector }}
{{- $exclude := concat (list "kube-system" .Release.Namespace) $ns.excludeNamespaces | uniq }}
{{- range $ns.namespaces }}
{{- if eq . $.Release.Namespace }}
{{- fail (printf "namespaceSelector.namespaces: %s is the release's own namespace, which the webhooks and policies never check; list the namespaces of the workloads to check" .) }}
{{- else if eq . "kube-system" }}
{{- fail "namespaceSelector.namespaces: kube-system is never checked (the webhooks and policies always leave it out); list the namespaces of the workloads to check" }}
{{- else if has . $ns.excludeNamespaces }}
{{- fail (printf "namespaceSelector.namespaces: %s is also in namespaceSelector.excludeNamespaces; list it in one or the other" .) }}
{{- end }}
{{- end }}
matchExpressions:
  {{- if and .optIn $ns.optInLabel }}
  - key: {{ $ns.optInLabel | quote }}
    operator: In
    values: ["true"]
  {{- end }}
  {{- with $ns.namespaces }}
  - key: kubernetes.io/metadata.name
    operator: In
    values: {{ toJson . }}
  {{- end }}
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ toJson $exclude }}
{{- end }}

{{/* The cert-manager.io/inject-ca-from annotation value. */}}
{{- define "mlscale.injectCAFrom" -}}
{{- printf "%s/%s" .Release.Namespace (include "mlscale.servingCert" .) }}
{{- end }}

{{/*
Whether a Prometheus Operator object is rendered: "true" or "false" as
.enabled says, or for "auto" whether the cluster serves the kind.
Called with (list .enabled "monitoring.coreos.com/v1/KIND" $).
*/}}
{{- define "mlscale.monitoringEnabled" -}}
{{- $enabled := index . 0 }}{{- $api := index . 1 }}{{- $root := index . 2 }}
{{- if kindIs "bool" $enabled }}{{ $enabled }}
{{- else if eq (toString $enabled) "auto" }}{{ $root.Capabilities.APIVersions.Has $api }}
{{- else }}{{ fail (printf "metrics enabled must be true, false or \"auto\", not %v" $enabled) }}
{{- end }}
{{- end }}

{{/*
mlscale.goMemLimit renders the env entries that bound a container's Go heap
by its memory limit: GOMEMLIMIT from the downward API (limits.memory, in
bytes; the API offers no fraction) and MLSCALE_GOMEMLIMIT_PERCENT, with which
the mlscale binary lowers the runtime's limit to goMemLimitPercent percent of
it at start. Nothing when goMemLimitPercent is 0, when the container has no
memory limit (the downward API would give the node's memory) or when its
extraEnv sets GOMEMLIMIT itself. Arguments: a list of the root context, the
container's name, its resources and its extraEnv.
*/}}
{{- define "mlscale.goMemLimit" -}}
{{- $root := index . 0 }}
{{- $container := index . 1 }}
{{- $resources := index . 2 | default dict }}
{{- $own := false }}
{{- range (index . 3) }}
{{- if eq (toString .name) "GOMEMLIMIT" }}
{{- $own = true }}
{{- end }}
{{- end }}
{{- $pct := int $root.Values.goMemLimitPercent }}
{{- if and (gt $pct 0) (dig "limits" "memory" "" $resources) (not $own) }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      containerName: {{ $container }}
      resource: limits.memory
- name: MLSCALE_GOMEMLIMIT_PERCENT
  value: {{ $pct | quote }}
{{- end }}
{{- end }}

{{/*
A Go duration (the schema's pattern: 1h30m, 2160h, 0.5s) in seconds, as a
float.
*/}}
{{- define "mlscale.durationSeconds" -}}
{{- $total := 0.0 }}
{{- $units := dict "ns" 0.000000001 "us" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h)" (toString .) -1 }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" . }}
{{- $total = addf $total (mulf (float64 $num) (get $units (trimPrefix $num .))) }}
{{- end }}
{{- $total }}
{{- end }}
