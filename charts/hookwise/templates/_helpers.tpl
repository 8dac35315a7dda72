{{- define "hookwise.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hookwise.fullname" -}}
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

{{- define "hookwise.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookwise.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hookwise.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "hookwise.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hookwise.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hookwise.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hookwise.intakeSecretName" -}}
{{- default (printf "%s-intake" (include "hookwise.fullname" .)) .Values.intake.existingSecret }}
{{- end }}

{{/* The leader Lease; the chart creates it, so the controller needs no create on leases. */}}
{{- define "hookwise.leaseName" -}}
{{- include "hookwise.fullname" . }}
{{- end }}

{{/* What the controller does in each watched namespace (or cluster-wide): see docs/kubernetes.md, "Permissions". */}}
{{- define "hookwise.watchRules" -}}
- apiGroups: [hookwise.dev]
  resources: [webhooks, automations, eventsources]
  verbs: [list, watch]
- apiGroups: [hookwise.dev]
  resources: [webhooks/status, automations/status, eventsources/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# Whether another hookwise controller, named in an object's status.controller, still holds its Lease.
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get]
{{- end }}

{{- define "hookwise.checks" -}}
{{- if gt (int .Values.replicaCount) 1 }}
{{- if not .Values.leaderElection.enabled }}
{{- fail "replicaCount > 1 needs leaderElection.enabled: replicas without a Lease would deliver every event more than once" }}
{{- end }}
{{- if not .Values.persistence.enabled }}
{{- fail "replicaCount > 1 needs persistence.enabled with a volume every replica can mount: a standby takes over the leader's queue" }}
{{- end }}
{{- if and (not .Values.persistence.existingClaim) (not (has "ReadWriteMany" .Values.persistence.accessModes)) }}
{{- fail "replicaCount > 1 needs persistence.accessModes [ReadWriteMany] (or an existingClaim every replica can mount): a standby takes over the leader's queue" }}
{{- end }}
{{- end }}
{{- if .Values.podDisruptionBudget.enabled }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- $min := ne (kindOf $pdb.minAvailable) "invalid" }}
{{- $max := ne (kindOf $pdb.maxUnavailable) "invalid" }}
{{- if eq $min $max }}
{{- fail "podDisruptionBudget: set exactly one of minAvailable and maxUnavailable (the other null)" }}
{{- end }}
{{- /* Only the leader is ever Ready: a budget that wants one pod healthy never lets it go. */}}
{{- $replicas := int .Values.replicaCount }}
{{- $healthy := 0 }}
{{- if $min }}
{{- $healthy = include "hookwise.pdbCount" (list $pdb.minAvailable $replicas) | int }}
{{- else }}
{{- $healthy = sub $replicas (include "hookwise.pdbCount" (list $pdb.maxUnavailable $replicas) | int) }}
{{- end }}
{{- if gt (int $healthy) 0 }}
{{- fail (printf "podDisruptionBudget keeps %d pod(s) available, but only the leader replica is ever Ready, so the leader could never be evicted and draining its node would hang: set maxUnavailable to replicaCount (%d) or more, or minAvailable to 0" (int $healthy) $replicas) }}
{{- end }}
{{- end }}
{{- if .Values.retry.maxBackoff }}
{{- if gt (include "hookwise.seconds" .Values.retry.maxBackoff | float64) 86400.0 }}
{{- fail (printf "retry.maxBackoff %s is over 24h, the bound of a Webhook's spec.retry.maxBackoffSeconds" .Values.retry.maxBackoff) }}
{{- end }}
{{- end }}
{{- if and (not .Values.intake.existingSecret) (ne .Values.intake.existingSecretKey "token") }}
{{- fail "intake.existingSecretKey only applies with intake.existingSecret: the Secret the chart generates keeps its token under the key token" }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.egress.apiServer.cidrs) }}
{{- fail "networkPolicy.enabled needs networkPolicy.egress.apiServer.cidrs: the API server's addresses (kubectl get endpoints kubernetes -n default)" }}
{{- end }}
{{- end }}

{{/* A PodDisruptionBudget count (an integer or "N%", rounded up as Kubernetes does) of (list value replicas). */}}
{{- define "hookwise.pdbCount" -}}
{{- $v := index . 0 }}{{- $n := index . 1 }}
{{- if kindIs "string" $v }}
{{- div (add (mul (trimSuffix "%" $v | int) $n) 99) 100 }}
{{- else }}
{{- int $v }}
{{- end }}
{{- end }}

{{/* Seconds in a duration value that values.schema.json accepted, e.g. 1.5h or 500ms. */}}
{{- define "hookwise.seconds" -}}
{{- $unit := regexFind "(ms|s|m|h)$" . }}
{{- $number := trimSuffix $unit . | float64 }}
{{- mulf $number (get (dict "ms" 0.001 "s" 1 "m" 60 "h" 3600) $unit) }}
{{- end }}

{{/* PromQL label matchers of this install's series: what the chart's ServiceMonitor gives them, unless prometheusRule.selector says otherwise. */}}
{{- define "hookwise.metricsSelector" -}}
{{- .Values.prometheusRule.selector | default (printf "job=%q, namespace=%q" (include "hookwise.fullname" .) .Release.Namespace) }}
{{- end }}
