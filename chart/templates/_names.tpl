{{/*
Chart name, overridable with nameOverride. Truncated to 63 characters (the DNS label limit).
*/}}
{{- define "aap-extproc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of every object: fullnameOverride, or <release>-<chart> (just the release name when it
already contains the chart name), truncated to 63 characters.
*/}}
{{- define "aap-extproc.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "aap-extproc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: name and instance only, because a Deployment's selector is immutable.
*/}}
{{- define "aap-extproc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aap-extproc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object: the recommended app.kubernetes.io set plus commonLabels.
*/}}
{{- define "aap-extproc.labels" -}}
helm.sh/chart: {{ include "aap-extproc.chart" . }}
{{ include "aap-extproc.selectorLabels" . }}
app.kubernetes.io/version: {{ include "aap-extproc.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: waf
app.kubernetes.io/part-of: aap-extproc
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
*/}}
{{- define "aap-extproc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aap-extproc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image tag: image.tag, or the chart's appVersion.
*/}}
{{- define "aap-extproc.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/*
Image reference: repository@digest when a digest is set, repository:tag otherwise.
*/}}
{{- define "aap-extproc.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "aap-extproc.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret that holds the gRPC certificate (tls.crt, tls.key): the user's existing
Secret, or <fullname>-tls for the self-signed and cert-manager sources.
*/}}
{{- define "aap-extproc.tlsSecretName" -}}
{{- if eq .Values.tls.source "existingSecret" }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "aap-extproc.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Cluster-local FQDN of the processor Service: the address Envoy's cluster resolves.
*/}}
{{- define "aap-extproc.serviceFQDN" -}}
{{- printf "%s.%s.svc.cluster.local" (include "aap-extproc.fullname" .) .Release.Namespace }}
{{- end }}

{{/*
Name of the Envoy cluster the EnvoyFilter adds. Derived from the release and namespace so that
two releases can coexist on one gateway, and never shaped like Istio's own outbound|port||host
names, which it would collide with.
*/}}
{{- define "aap-extproc.extprocClusterName" -}}
{{- printf "%s_%s_ext_proc_grpc" .Release.Namespace (include "aap-extproc.fullname" .) | replace "-" "_" }}
{{- end }}

{{/*
Name of the ext_proc HTTP filter. Unique per release: Envoy refuses two filters with one name in
a chain, and Istio would merge them.
*/}}
{{- define "aap-extproc.extprocFilterName" -}}
{{- printf "envoy.filters.http.ext_proc.%s.%s" .Release.Namespace (include "aap-extproc.fullname" .) }}
{{- end }}

{{/*
Namespace of the EnvoyFilter: envoyFilter.namespace, or istio-system in gateway mode, or the
release namespace in sidecar mode.
*/}}
{{- define "aap-extproc.envoyFilterNamespace" -}}
{{- if .Values.envoyFilter.namespace }}
{{- .Values.envoyFilter.namespace }}
{{- else if eq .Values.envoyFilter.mode "gateway" }}
{{- "istio-system" }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Labels of the pods the EnvoyFilter patches (its workloadSelector), as YAML.
*/}}
{{- define "aap-extproc.workloadSelector" -}}
{{- if eq .Values.envoyFilter.mode "sidecar" }}
{{- toYaml .Values.envoyFilter.sidecar.selector }}
{{- else if .Values.envoyFilter.gateway.gatewayName }}
gateway.networking.k8s.io/gateway-name: {{ .Values.envoyFilter.gateway.gatewayName | quote }}
{{- else }}
{{- toYaml .Values.envoyFilter.gateway.selector }}
{{- end }}
{{- end }}

{{/*
"true" when something is told to scrape the processor's metrics, else empty.
*/}}
{{- define "aap-extproc.metricsEnabled" -}}
{{- if or .Values.metrics.podAnnotations.enabled .Values.metrics.serviceMonitor.enabled }}true{{ end }}
{{- end }}
