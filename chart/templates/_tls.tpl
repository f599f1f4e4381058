{{/*
The chart-generated CA and certificate for tls.source=selfSigned, as a dict {ca, crt, key} of PEM
strings, plus {clientCrt, clientKey} (Envoy's client certificate) with tls.clientAuth.enabled. An existing Secret from a previous install is reused (lookup), so the certificate is
stable across upgrades; without one (first install, or `helm template`) a new CA and certificate
are generated. The result is cached on the root context so that secret.yaml and envoyfilter.yaml
(which inlines the CA when envoyFilter.cluster.verifyCertificate is on) see the same one.
*/}}
{{- define "aap-extproc.selfSignedTls" -}}
{{- if not (hasKey $ "aapExtprocSelfSignedTls") }}
{{- $name := include "aap-extproc.tlsSecretName" $ }}
{{- $existing := lookup "v1" "Secret" $.Release.Namespace $name }}
{{- $data := dig "data" dict $existing }}
{{- $mutual := $.Values.tls.clientAuth.enabled }}
{{- $client := dict }}
{{- if $mutual }}
{{- $clientSecret := lookup "v1" "Secret" (include "aap-extproc.envoyFilterNamespace" $) (include "aap-extproc.clientTlsSecretName" $) }}
{{- $client = dig "data" dict $clientSecret }}
{{- end }}
{{- /* The CA's key is not kept, so a missing client certificate means a new CA for both. */}}
{{- $reuse := and (hasKey $data "tls.crt") (hasKey $data "tls.key") (hasKey $data "ca.crt") (or (not $mutual) (and (hasKey $client "tls.crt") (hasKey $client "tls.key"))) }}
{{- if $reuse }}
{{- $tls := dict "ca" (b64dec (get $data "ca.crt")) "crt" (b64dec (get $data "tls.crt")) "key" (b64dec (get $data "tls.key")) }}
{{- if $mutual }}
{{- $_ := set $tls "clientCrt" (b64dec (get $client "tls.crt")) }}
{{- $_ := set $tls "clientKey" (b64dec (get $client "tls.key")) }}
{{- end }}
{{- $_ := set $ "aapExtprocSelfSignedTls" $tls }}
{{- else }}
{{- $days := int $.Values.tls.selfSignedValidityDays }}
{{- $ca := genCA (printf "%s-ca" (include "aap-extproc.fullname" $)) $days }}
{{- $svc := include "aap-extproc.fullname" $ }}
{{- $ns := $.Release.Namespace }}
{{- $sans := list "localhost" $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (include "aap-extproc.serviceFQDN" $) }}
{{- $sans = append $sans $.Values.envoyFilter.cluster.sni | uniq }}
{{- $cert := genSignedCert "localhost" nil $sans $days $ca }}
{{- $tls := dict "ca" $ca.Cert "crt" $cert.Cert "key" $cert.Key }}
{{- if $mutual }}
{{- /* Sprig's signed certificates carry both the server and the client auth usages. */}}
{{- $clientCert := genSignedCert (printf "%s-envoy" $svc) nil nil $days $ca }}
{{- $_ := set $tls "clientCrt" $clientCert.Cert }}
{{- $_ := set $tls "clientKey" $clientCert.Key }}
{{- end }}
{{- $_ := set $ "aapExtprocSelfSignedTls" $tls }}
{{- end }}
{{- end }}
{{- toJson (get $ "aapExtprocSelfSignedTls") }}
{{- end }}

{{/*
PEM bundle of the CA Envoy trusts when envoyFilter.cluster.verifyCertificate is on: the generated
CA in selfSigned mode, tls.caBundle otherwise.
*/}}
{{- define "aap-extproc.caBundle" -}}
{{- if eq .Values.tls.source "selfSigned" }}
{{- (include "aap-extproc.selfSignedTls" . | fromJson).ca }}
{{- else }}
{{- .Values.tls.caBundle }}
{{- end }}
{{- end }}

{{/*
Name of the Secret with Envoy's client certificate (mutual TLS), in the EnvoyFilter's namespace.
*/}}
{{- define "aap-extproc.clientTlsSecretName" -}}
{{- .Values.tls.clientAuth.secretName | default (printf "%s-client" (include "aap-extproc.fullname" .)) }}
{{- end }}

{{/*
Whether the chart makes Envoy's client certificate: mutual TLS on, and no Secret named by the user
with tls.source=existingSecret.
*/}}
{{- define "aap-extproc.rendersClientTls" -}}
{{- if and .Values.tls.enabled .Values.tls.clientAuth.enabled (ne .Values.tls.source "existingSecret") }}true{{ end }}
{{- end }}
