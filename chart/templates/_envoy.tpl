{{/*
Istio patch context of both patches: GATEWAY or SIDECAR_INBOUND. Never ANY, which would also
patch the outbound side and, mesh-wide, the processor's own proxy.
*/}}
{{- define "aap-extproc.patchContext" -}}
{{- if eq .Values.envoyFilter.mode "sidecar" }}SIDECAR_INBOUND{{ else }}GATEWAY{{ end }}
{{- end }}

{{/*
Where the ext_proc filter goes: beforeRouter (INSERT_BEFORE the router) or first (INSERT_FIRST).
Both work without a filter that Istio may leave out, and both keep the router last, which Envoy
requires. AUTHN, AUTHZ and STATS come from earlier chart versions, which rendered ADD with that
filterClass: Istio ignores filterClass there and appends the filter after the router, so Envoy
rejected the listener. Each maps to the placement closest to its meaning: AUTHZ (after Istio's
authorization filters) and STATS (next to its stats filter) to beforeRouter, AUTHN (ahead of
authorization) to first.
*/}}
{{- define "aap-extproc.placement" -}}
{{- $placement := .Values.envoyFilter.placement }}
{{- if has $placement (list "AUTHZ" "STATS") }}beforeRouter
{{- else if eq $placement "AUTHN" }}first
{{- else }}{{ $placement }}
{{- end }}
{{- end }}

{{/*
The ext_proc HTTP filter (the HTTP_FILTER patch value). Field by field it reproduces Datadog's
reference manifests; docs/envoy-filter.md gives each field's meaning.
*/}}
{{- define "aap-extproc.extProcFilter" -}}
name: {{ include "aap-extproc.extprocFilterName" . }}
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
  grpc_service:
    envoy_grpc:
      cluster_name: {{ include "aap-extproc.extprocClusterName" . }}
    # Tells the processor which proxy integration it serves (component detection).
    # grpc_service.timeout is deliberately absent: it would bound the whole stream.
    initial_metadata:
      - key: x-datadog-{{ .Values.envoyFilter.integration }}-integration
        value: "1"
  failure_mode_allow: {{ .Values.envoyFilter.failOpen }}
  processing_mode:
    request_header_mode: SEND
    response_header_mode: SEND
  {{- if gt (int64 .Values.body.limitBytes) 0 }}
  # Lets the processor ask for the bodies it can parse (DD_APPSEC_BODY_PARSING_SIZE_LIMIT > 0).
  allow_mode_override: true
  {{- end }}
  message_timeout: {{ .Values.envoyFilter.messageTimeout | quote }}
  {{- with .Values.envoyFilter.requestAttributes }}
  request_attributes:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.observabilityMode.enabled }}
  # Matches DD_SERVICE_EXTENSION_OBSERVABILITY_MODE=true on the processor.
  observability_mode: true
  deferred_close_timeout: {{ .Values.observabilityMode.deferredCloseTimeout | quote }}
  {{- end }}
{{- end }}

{{/*
The Envoy cluster for the processor (the CLUSTER patch value): the Service's cluster-local FQDN
over HTTP/2, with TLS unless tls.enabled is off.
*/}}
{{- define "aap-extproc.extProcCluster" -}}
{{- $name := include "aap-extproc.extprocClusterName" . -}}
{{- $cb := .Values.envoyFilter.cluster.circuitBreakers -}}
name: {{ $name }}
type: STRICT_DNS
lb_policy: ROUND_ROBIN
{{- with .Values.envoyFilter.cluster.connectTimeout }}
connect_timeout: {{ . | quote }}
{{- end }}
# Beyond this many streams on a connection Envoy opens another: each connection is served by one
# processor worker, so more connections spread the load over all of them.
http2_protocol_options:
  max_concurrent_streams: {{ .Values.envoyFilter.cluster.maxStreamsPerConnection | int64 }}
# One gRPC stream per HTTP request: Envoy's default of 1024 requests would cap a busy gateway.
circuit_breakers:
  thresholds:
    - priority: DEFAULT
      max_connections: {{ $cb.maxConnections }}
      max_pending_requests: {{ $cb.maxPendingRequests }}
      max_requests: {{ $cb.maxRequests }}
      max_retries: {{ $cb.maxRetries }}
{{- if .Values.tls.enabled }}
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: {{ .Values.envoyFilter.cluster.sni | quote }}
    {{- if or .Values.envoyFilter.cluster.verifyCertificate .Values.tls.clientAuth.enabled }}
    common_tls_context:
      {{- if .Values.tls.clientAuth.enabled }}
      # Mutual TLS: the client certificate comes from istiod over SDS (ADS), read from this
      # Secret in the proxy's namespace, and follows its rotation without a new EnvoyFilter.
      tls_certificate_sds_secret_configs:
        - name: {{ printf "kubernetes://%s" (include "aap-extproc.clientTlsSecretName" .) | quote }}
          sds_config:
            ads: {}
            resource_api_version: V3
      {{- end }}
      {{- if .Values.envoyFilter.cluster.verifyCertificate }}
      validation_context:
        trusted_ca:
          inline_string: {{ include "aap-extproc.caBundle" . | quote }}
        match_typed_subject_alt_names:
          - san_type: DNS
            matcher:
              exact: {{ .Values.envoyFilter.cluster.sni | quote }}
      {{- end }}
    {{- end }}
{{- end }}
load_assignment:
  cluster_name: {{ $name }}
  endpoints:
    - lb_endpoints:
        - endpoint:
            address:
              socket_address:
                address: {{ include "aap-extproc.serviceFQDN" . }}
                port_value: {{ .Values.service.port }}
{{- end }}
