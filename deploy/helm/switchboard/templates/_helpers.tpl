{{/*
The five services, in start order. Every per-service template ranges over this list and reads
the service's values block under the same name (one name everywhere).
*/}}
{{- define "switchboard.services" -}}
["persistence", "chat", "notification", "metrics-collector", "gateway"]
{{- end -}}

{{- define "switchboard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "switchboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. Call with (dict "root" $ "name" <service or part>). */}}
{{- define "switchboard.labels" -}}
helm.sh/chart: {{ include "switchboard.chart" .root }}
{{ include "switchboard.selectorLabels" . }}
app.kubernetes.io/part-of: switchboard
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Object name of a service's workload, Service and policies: <fullname>-<service>. */}}
{{- define "switchboard.serviceName" -}}
{{- printf "%s-%s" (include "switchboard.fullname" .root) .name -}}
{{- end -}}

{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "switchboard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* <registry>/<service>:<tag>, unless the service's block names its own repository or tag. */}}
{{- define "switchboard.image" -}}
{{- $svc := index .root.Values .name -}}
{{- $repository := $svc.image.repository | default (printf "%s/%s" .root.Values.image.registry .name) -}}
{{- $tag := $svc.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/* Environment every service reads (switchboard_runtime.ServiceSettings). */}}
{{- define "switchboard.commonEnv" -}}
{{- $svc := index .root.Values .name -}}
- name: NATS_URL
  value: {{ .root.Values.nats.url | quote }}
- name: NATS_PING_INTERVAL_SECONDS
  value: {{ .root.Values.nats.pingIntervalSeconds | quote }}
- name: NATS_MAX_OUTSTANDING_PINGS
  value: {{ .root.Values.nats.maxOutstandingPings | quote }}
- name: NATS_RECONNECT_WAIT_SECONDS
  value: {{ .root.Values.nats.reconnectWaitSeconds | quote }}
- name: NATS_RECONNECT_JITTER_SECONDS
  value: {{ .root.Values.nats.reconnectJitterSeconds | quote }}
- name: NATS_CONNECT_TIMEOUT_SECONDS
  value: {{ .root.Values.nats.connectTimeoutSeconds | quote }}
- name: PUBLISH_DEADLINE_SECONDS
  value: {{ .root.Values.nats.publishDeadlineSeconds | quote }}
- name: HTTP_PORT
  value: {{ $svc.port | quote }}
- name: LOG_LEVEL
  value: {{ $svc.logLevel | default .root.Values.logLevel | quote }}
- name: INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: SHUTDOWN_TIMEOUT_SECONDS
  value: {{ $svc.drainSeconds | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .root.Values.tracing.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .root.Values.tracing.samplerArg | quote }}
{{- with .root.Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "switchboard.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.key }}
{{- end -}}

{{- define "switchboard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "switchboard.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Memory quantity (Ki/Mi/Gi/K/M/G or bytes) as bytes, for alert thresholds. */}}
{{- define "switchboard.bytes" -}}
{{- $q := toString . -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "K" 1000 "M" 1000000 "G" 1000000000 -}}
{{- $bytes := "" -}}
{{- range $suffix := list "Ki" "Mi" "Gi" "K" "M" "G" -}}
{{- if and (not $bytes) (hasSuffix $suffix $q) -}}
{{- $bytes = mul (trimSuffix $suffix $q | int64) (get $units $suffix) | toString -}}
{{- end -}}
{{- end -}}
{{- $bytes | default (int64 $q) -}}
{{- end -}}

{{/* CPU quantity ("500m" or "1") as cores, for alert thresholds. */}}
{{- define "switchboard.cores" -}}
{{- $q := toString . -}}
{{- if hasSuffix "m" $q -}}
{{- divf (trimSuffix "m" $q | float64) 1000 -}}
{{- else -}}
{{- $q | float64 -}}
{{- end -}}
{{- end -}}

{{/* Refuse to render a configuration that cannot work or is insecure by accident. */}}
{{- define "switchboard.validate" -}}
{{- if and .Values.auth.enabled (not .Values.auth.jwtSecret.existingSecret) (not .Values.auth.jwksUrl) -}}
{{- fail "auth.enabled is true but neither auth.jwtSecret.existingSecret nor auth.jwksUrl is set: name an existing Secret holding JWT_SECRET, or a JWKS URL (auth.enabled=false is for local development only)" -}}
{{- end -}}
{{- if not .Values.database.existingSecret -}}
{{- fail "database.existingSecret is empty: name an existing Secret whose key database.key holds the PostgreSQL DSN (DATABASE_URL)" -}}
{{- end -}}
{{- end -}}

{{/* What the cluster serves, from .Capabilities (helm install asks the API server; helm
template assumes a current Kubernetes unless given --kube-version / --api-versions). */}}
{{- define "switchboard.hpaApiVersion" -}}
{{- if .Capabilities.APIVersions.Has "autoscaling/v2" -}}
autoscaling/v2
{{- else -}}
autoscaling/v2beta2
{{- end -}}
{{- end -}}

{{- define "switchboard.pdbApiVersion" -}}
{{- if .Capabilities.APIVersions.Has "policy/v1" -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* Non-empty when the preStop sleep action exists (beta, on by default, from 1.30). */}}
{{- define "switchboard.preStopSleepAction" -}}
{{- if semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version -}}
true
{{- end -}}
{{- end -}}
