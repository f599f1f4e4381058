{{/*
Cross-field rules that values.schema.json cannot express. Included once, from deployment.yaml.
Each rule fails with a sentence that names the values involved and says what to change.
*/}}
{{- define "aap-extproc.validate" -}}
{{- include "aap-extproc.validate.envoyFilter" . }}
{{- include "aap-extproc.validate.body" . }}
{{- include "aap-extproc.validate.timeouts" . }}
{{- include "aap-extproc.validate.tls" . }}
{{- include "aap-extproc.validate.workload" . }}
{{- include "aap-extproc.validate.failSafe" . }}
{{- end }}

{{/*
Never fail open silently (docs/fail-safe-settings.md): values the processor would refuse at
startup fail here, at install time, instead of as a crash loop.
*/}}
{{- define "aap-extproc.validate.failSafe" -}}
{{- if lt (include "aap-extproc.durationMicros" .Values.appsec.wafTimeout | float64) 1.0 }}
{{- fail (printf "appsec.wafTimeout (%s) must be at least 1us: with no time budget no WAF run could finish and every request would pass uninspected. The default is 10ms." .Values.appsec.wafTimeout) }}
{{- end }}
{{- if and (gt (int64 .Values.body.limitBytes) 0) (lt (int64 .Values.body.memoryLimitBytes) (int64 .Values.body.limitBytes)) }}
{{- fail (printf "body.memoryLimitBytes (%d) must be at least body.limitBytes (%d): a smaller budget would cut every large body short. Raise body.memoryLimitBytes (and resources.limits.memory with it)." (int64 .Values.body.memoryLimitBytes) (int64 .Values.body.limitBytes)) }}
{{- end }}
{{- if and .Values.networkPolicy.enabled .Values.networkPolicy.healthFrom (include "aap-extproc.metricsEnabled" .) (not .Values.metrics.scrapeFrom) }}
{{- fail "metrics are enabled (metrics.podAnnotations or metrics.serviceMonitor) but networkPolicy.healthFrom restricts the health port: set metrics.scrapeFrom to the Prometheus pods (NetworkPolicy peers) so they may scrape /metrics." }}
{{- end }}
{{- end }}

{{/*
EnvoyFilter targeting: never let a filter fall back to "every workload in the namespace".
*/}}
{{- define "aap-extproc.validate.envoyFilter" -}}
{{- $ef := .Values.envoyFilter }}
{{- if and $ef.enabled (eq $ef.mode "sidecar") }}
{{- if not $ef.sidecar.selector }}
{{- fail "envoyFilter.sidecar.selector is required when envoyFilter.mode=sidecar: without it the filter would apply to every workload in the namespace. Set it to your application's pod labels, for example --set envoyFilter.sidecar.selector.app=shop." }}
{{- end }}
{{- if not $ef.namespace }}
{{- fail (printf "envoyFilter.namespace is required when envoyFilter.mode=sidecar: an EnvoyFilter reaches only the pods of its own namespace, so it must be the namespace of the pods envoyFilter.sidecar.selector names, for example --set envoyFilter.namespace=shop (use --set envoyFilter.namespace=%s if the application runs in the release namespace)." .Release.Namespace) }}
{{- end }}
{{- if eq $ef.namespace "istio-system" }}
{{- fail "envoyFilter.namespace=istio-system with envoyFilter.mode=sidecar: istio-system is Istio's root namespace, where a filter applies to the matching pods of every namespace. Set envoyFilter.namespace to the namespace of the application's pods." }}
{{- end }}
{{- end }}
{{- if and $ef.enabled (eq $ef.mode "gateway") (not $ef.gateway.gatewayName) (not $ef.gateway.selector) }}
{{- fail "envoyFilter.gateway.selector is empty and envoyFilter.gateway.gatewayName is not set: the filter would apply to every gateway in its namespace (mesh-wide in istio-system). Set one of them, for example --set envoyFilter.gateway.gatewayName=my-gateway." }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (not $ef.enabled) (not .Values.networkPolicy.grpcFrom) }}
{{- fail "networkPolicy.enabled needs to know who may reach the gRPC port: set networkPolicy.grpcFrom, or enable envoyFilter so the policy can use its workload selector." }}
{{- end }}
{{- end }}

{{/*
Body buffers: the shared budget must leave the container room for the workers' heaps and libddwaf
(the OOM killer does not drain streams). That one body fits in the budget is checked above.
*/}}
{{- define "aap-extproc.validate.body" -}}
{{- $budget := int64 .Values.body.memoryLimitBytes }}
{{- $memory := dig "limits" "memory" "" (.Values.resources | default dict) }}
{{- if $memory }}
{{- $containerBytes := include "aap-extproc.quantityBytes" $memory | float64 }}
{{- if and (gt $containerBytes 0.0) (gt (mulf $budget 2.0) $containerBytes) }}
{{- fail (printf "body.memoryLimitBytes (%d) is more than half of resources.limits.memory (%v): bodies held for analysis plus the workers' heaps and libddwaf would reach the container's limit and the pod would be OOM-killed mid-request. Raise resources.limits.memory to at least twice body.memoryLimitBytes, or lower body.memoryLimitBytes." $budget $memory) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Bytes in a Kubernetes memory quantity (`512Mi`, `1G`, `536870912`), as a number; 0 when it is not
one (values.schema.json reports that).
*/}}
{{- define "aap-extproc.quantityBytes" -}}
{{- $q := toString . }}
{{- $units := dict "" 1.0 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $unit := trimPrefix $number $q }}
{{- if and $number (hasKey $units $unit) }}
{{- mulf (float64 $number) (get $units $unit) }}
{{- else }}0{{ end }}
{{- end }}

{{/*
Time budgets: the WAF must finish before Envoy stops waiting, and the pod must outlive the drain.
*/}}
{{- define "aap-extproc.validate.timeouts" -}}
{{- if and .Values.envoyFilter.enabled (not .Values.observabilityMode.enabled) }}
{{- $waf := include "aap-extproc.durationMicros" .Values.appsec.wafTimeout | float64 }}
{{- $msg := include "aap-extproc.durationMicros" .Values.envoyFilter.messageTimeout | float64 }}
{{- if ge $waf $msg }}
{{- fail (printf "appsec.wafTimeout (%s) must be below envoyFilter.messageTimeout (%s): Envoy would stop waiting for the processor before the WAF finishes. Lower appsec.wafTimeout or raise envoyFilter.messageTimeout." .Values.appsec.wafTimeout .Values.envoyFilter.messageTimeout) }}
{{- end }}
{{- end }}
{{- $drain := include "aap-extproc.durationMicros" .Values.processor.drainTimeout | float64 }}
{{- $grace := mulf .Values.terminationGracePeriodSeconds 1000000.0 }}
{{- if ge $drain $grace }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be above processor.drainTimeout (%s): Kubernetes would kill the processor before in-flight streams finish draining. Raise terminationGracePeriodSeconds or lower processor.drainTimeout." .Values.terminationGracePeriodSeconds .Values.processor.drainTimeout) }}
{{- end }}
{{- end }}

{{/*
TLS: each certificate source needs its input, and certificate verification needs a CA.
*/}}
{{- define "aap-extproc.validate.tls" -}}
{{- $tls := .Values.tls }}
{{- if $tls.enabled }}
{{- if and (eq $tls.source "existingSecret") (not $tls.existingSecret) }}
{{- fail "tls.existingSecret is required when tls.source=existingSecret: name a kubernetes.io/tls Secret (keys tls.crt and tls.key) in the release namespace, or pick tls.source=selfSigned." }}
{{- end }}
{{- if and (eq $tls.source "certManager") (not $tls.certManager.issuerRef.name) }}
{{- fail "tls.certManager.issuerRef.name is required when tls.source=certManager: name the Issuer or ClusterIssuer that signs the processor's certificate." }}
{{- end }}
{{- if and .Values.envoyFilter.cluster.verifyCertificate (ne $tls.source "selfSigned") (not $tls.caBundle) }}
{{- fail "tls.caBundle is required when envoyFilter.cluster.verifyCertificate=true and tls.source is not selfSigned: Envoy needs the PEM of the CA that signs the processor's certificate. Set tls.caBundle, or turn verification off." }}
{{- end }}
{{- if and $tls.clientAuth.enabled (eq $tls.source "existingSecret") (not $tls.clientAuth.secretName) }}
{{- fail "tls.clientAuth.secretName is required when tls.clientAuth.enabled=true and tls.source=existingSecret: name the kubernetes.io/tls Secret with Envoy's client certificate, in the EnvoyFilter's namespace (signed by the CA in the ca.crt of tls.existingSecret)." }}
{{- end }}
{{- else if $tls.clientAuth.enabled }}
{{- fail "tls.clientAuth.enabled=true needs tls.enabled=true: client certificates are checked during the TLS handshake." }}
{{- else if .Values.envoyFilter.cluster.verifyCertificate }}
{{- fail "envoyFilter.cluster.verifyCertificate=true needs tls.enabled=true: there is no certificate to verify on a plaintext connection." }}
{{- end }}
{{- end }}

{{/*
Workload: distinct ports, a usable Agent address, no variable set twice, a sane autoscaler range.
*/}}
{{- define "aap-extproc.validate.workload" -}}
{{- if eq (int .Values.processor.grpcPort) (int .Values.processor.healthPort) }}
{{- fail (printf "processor.grpcPort and processor.healthPort are both %v: the gRPC and health servers need different ports." .Values.processor.grpcPort) }}
{{- end }}
{{- if and (eq .Values.datadog.agent.hostSource "host") (not .Values.datadog.agent.host) }}
{{- fail "datadog.agent.host is required when datadog.agent.hostSource=host: set the Agent's address, for example datadog-agent.datadog.svc.cluster.local, or use hostSource=nodeIP." }}
{{- end }}
{{- $seen := list }}
{{- $duplicates := list }}
{{- range (include "aap-extproc.env" . | fromYamlArray) }}
{{- if has .name $seen }}
{{- $duplicates = append $duplicates .name }}
{{- end }}
{{- $seen = append $seen .name }}
{{- end }}
{{- if $duplicates }}
{{- fail (printf "processor.extraEnv sets %s, which the chart already sets (or which appears twice): Kubernetes keeps only one value, so use the chart's own value for it (see the README's values table) or drop the duplicate from processor.extraEnv." (join ", " (uniq $duplicates))) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%v) must not exceed autoscaling.maxReplicas (%v)." .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) }}
{{- end }}
{{- end }}
