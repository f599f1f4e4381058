{{/*
Converts a single-unit duration ("10ms", "0.2s", "25s", "1.5m"; Go or proto JSON syntax, which
the schema restricts to one number and one unit) into microseconds, as a float string. Used by the
cross-field rules in _validate.tpl, which compare budgets expressed in different units.
*/}}
{{- define "aap-extproc.durationMicros" -}}
{{- $d := toString . -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $d -}}
{{- $unit := trimPrefix $num $d -}}
{{- $scale := dict "ns" 0.001 "us" 1.0 "µs" 1.0 "ms" 1000.0 "s" 1000000.0 "m" 60000000.0 "h" 3600000000.0 -}}
{{- if not (and $num (hasKey $scale $unit)) -}}
{{- fail (printf "%q is not a duration: use a number and one unit among ns, us, ms, s, m, h (for example 10ms)" $d) -}}
{{- end -}}
{{- mulf (float64 $num) (get $scale $unit) -}}
{{- end }}
