{{/*
The processor's environment, one entry per setting the image documents. Values that drive both
Envoy and the processor (body limit, observability mode) are read from the same keys as in
envoyfilter.yaml, so the two sides cannot disagree.
*/}}
{{- define "aap-extproc.env" -}}
- name: DD_SERVICE_EXTENSION_HOST
  value: "0.0.0.0"
- name: DD_SERVICE_EXTENSION_PORT
  value: {{ .Values.processor.grpcPort | quote }}
- name: DD_SERVICE_EXTENSION_HEALTHCHECK_PORT
  value: {{ .Values.processor.healthPort | quote }}
- name: DD_SERVICE_EXTENSION_TLS
  value: {{ .Values.tls.enabled | quote }}
{{- if .Values.tls.enabled }}
- name: DD_SERVICE_EXTENSION_TLS_CERT_FILE
  value: /etc/aap-extproc/tls/tls.crt
- name: DD_SERVICE_EXTENSION_TLS_KEY_FILE
  value: /etc/aap-extproc/tls/tls.key
{{- if .Values.tls.clientAuth.enabled }}
- name: DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE
  value: /etc/aap-extproc/tls/ca.crt
{{- end }}
{{- end }}
- name: DD_SERVICE_EXTENSION_OBSERVABILITY_MODE
  value: {{ .Values.observabilityMode.enabled | quote }}
- name: DD_SERVICE_EXTENSION_DRAIN_TIMEOUT
  value: {{ .Values.processor.drainTimeout | quote }}
- name: DD_SERVICE_EXTENSION_LOG_LEVEL
  value: {{ .Values.processor.logLevel | quote }}
- name: DD_SERVICE_EXTENSION_MAX_CONCURRENT_STREAMS
  value: {{ .Values.processor.maxConcurrentStreams | int64 | quote }}
- name: DD_SERVICE_EXTENSION_WORKERS
  value: {{ .Values.processor.workers | toString | quote }}
- name: DD_APPSEC_ENABLED
  value: {{ .Values.appsec.enabled | quote }}
- name: DD_APPSEC_BODY_PARSING_SIZE_LIMIT
  value: {{ .Values.body.limitBytes | int64 | quote }}
- name: DD_SERVICE_EXTENSION_RESPONSE_BODY_MODE
  value: {{ .Values.body.responseMode | quote }}
- name: DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT
  value: {{ .Values.body.memoryLimitBytes | int64 | quote }}
- name: DD_APPSEC_WAF_TIMEOUT
  value: {{ .Values.appsec.wafTimeout | quote }}
{{- with .Values.appsec.rules }}
- name: DD_APPSEC_RULES
  value: {{ . | quote }}
{{- end }}
{{- with .Values.appsec.clientIpHeader }}
- name: DD_TRACE_CLIENT_IP_HEADER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.appsec.blockedTemplate.json }}
- name: DD_APPSEC_HTTP_BLOCKED_TEMPLATE_JSON
  value: {{ . | quote }}
{{- end }}
{{- with .Values.appsec.blockedTemplate.html }}
- name: DD_APPSEC_HTTP_BLOCKED_TEMPLATE_HTML
  value: {{ . | quote }}
{{- end }}
- name: DD_APM_TRACING_ENABLED
  value: {{ .Values.datadog.apmTracingEnabled | quote }}
- name: DD_REMOTE_CONFIGURATION_ENABLED
  value: {{ .Values.datadog.remoteConfiguration.enabled | quote }}
- name: DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS
  value: {{ .Values.datadog.remoteConfiguration.pollIntervalSeconds | toString | quote }}
- name: DD_SERVICE
  value: {{ .Values.datadog.service | quote }}
{{- with .Values.datadog.env }}
- name: DD_ENV
  value: {{ . | quote }}
{{- end }}
{{- with .Values.datadog.version }}
- name: DD_VERSION
  value: {{ . | quote }}
{{- end }}
{{- if eq .Values.datadog.agent.hostSource "nodeIP" }}
- name: DD_AGENT_HOST
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
{{- else if eq .Values.datadog.agent.hostSource "host" }}
- name: DD_AGENT_HOST
  value: {{ .Values.datadog.agent.host | quote }}
{{- end }}
{{- if ne .Values.datadog.agent.hostSource "admissionController" }}
- name: DD_TRACE_AGENT_PORT
  value: {{ .Values.datadog.agent.port | quote }}
{{- end }}
{{- with .Values.processor.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
