{{/*
The chart-generated CA and certificate for tls.source=selfSigned, as a dict {ca, crt, key} of PEM
strings. An existing Secret from a previous install is reused (lookup), so the certificate is
stable across upgrades; without one (first install, or `helm template`) a new CA and certificate
are generated. The result is cached on the root context so that secret.yaml and envoyfilter.yaml
(which inlines the CA when envoyFilter.cluster.verifyCertificate is on) see the same one.
*/}}
{{- define "aap-extproc.selfSignedTls" -}}
{{- if not (hasKey $ "aapExtprocSelfSignedTls") }}
{{- $name := include "aap-extproc.tlsSecretName" $ }}
{{- $existing := lookup "v1" "Secret" $.Release.Namespace $name }}
{{- $data := dig "data" dict $existing }}
{{- if and (hasKey $data "tls.crt") (hasKey $data "tls.key") (hasKey $data "ca.crt") }}
{{- $_ := set $ "aapExtprocSelfSignedTls" (dict "ca" (b64dec (get $data "ca.crt")) "crt" (b64dec (get $data "tls.crt")) "key" (b64dec (get $data "tls.key"))) }}
{{- else }}
{{- $days := int $.Values.tls.selfSignedValidityDays }}
{{- $ca := genCA (printf "%s-ca" (include "aap-extproc.fullname" $)) $days }}
{{- $svc := include "aap-extproc.fullname" $ }}
{{- $ns := $.Release.Namespace }}
{{- $sans := list "localhost" $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (include "aap-extproc.serviceFQDN" $) }}
{{- $sans = append $sans $.Values.envoyFilter.cluster.sni | uniq }}
{{- $cert := genSignedCert "localhost" nil $sans $days $ca }}
{{- $_ := set $ "aapExtprocSelfSignedTls" (dict "ca" $ca.Cert "crt" $cert.Cert "key" $cert.Key) }}
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
