{{/* The chart's name. */}}
{{- define "peregrine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, used for every object's name. */}}
{{- define "peregrine.fullname" -}}
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

{{- define "peregrine.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: what the DaemonSet, the Service and the NetworkPolicy select on. */}}
{{- define "peregrine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "peregrine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "peregrine.labels" -}}
helm.sh/chart: {{ include "peregrine.chart" . }}
{{ include "peregrine.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: peregrine
{{- end }}

{{- define "peregrine.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "peregrine.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "peregrine.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString (default .Chart.AppVersion .Values.image.tag)) }}
{{- end }}

{{/* The web server's port (/healthz, /metrics). */}}
{{- define "peregrine.webPort" -}}
{{- $ws := default dict .Values.falco.webserver }}
{{- int (default 8765 (index $ws "listen_port")) }}
{{- end }}

{{/* http or https, as the agent's web server serves one or the other. */}}
{{- define "peregrine.webScheme" -}}
{{- $ws := default dict .Values.falco.webserver }}
{{- if index $ws "ssl_enabled" }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* The container runtimes' sockets that are enabled: a list of {name, socket, api}. */}}
{{- define "peregrine.runtimeSockets" -}}
{{- $out := list }}
{{- range $name := list "containerd" "crio" "docker" "podman" }}
{{- $rt := index $.Values.containerRuntimes $name }}
{{- if and $rt $rt.enabled }}
{{- if not (has $rt.api (list "cri" "docker")) }}
{{- fail (printf "containerRuntimes.%s.api must be cri or docker, not %v" $name $rt.api) }}
{{- end }}
{{- $out = append $out (dict "name" $name "socket" $rt.socket "api" $rt.api) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* The rules files of the rules ConfigMap: file name -> text. */}}
{{- define "peregrine.rulesFiles" -}}
{{- $files := dict }}
{{- if .Values.defaultRules.enabled }}
{{- $_ := set $files "default_rules.yaml" (.Files.Get "files/default_rules.yaml") }}
{{- end }}
{{- range $name, $text := .Values.customRules }}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+\\.ya?ml$" $name) }}
{{- fail (printf "customRules: %q must be a file name ending in .yaml or .yml (letters, digits, '-', '_', '.')" $name) }}
{{- end }}
{{- $_ := set $files $name $text }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
The agent's configuration: .Values.falco, plus what the chart decides (engine, containers,
outputs, and the webserver and metrics switches the probes and the ServiceMonitor need).
*/}}
{{- define "peregrine.config" -}}
{{- $cfg := deepCopy (default dict .Values.falco) }}
{{- /* engine, from driver */}}
{{- $engine := deepCopy (default dict (index $cfg "engine")) }}
{{- if not .Values.driver.enabled }}
{{- $_ := set $engine "kind" "nodriver" }}
{{- else if has .Values.driver.kind (list "modern_ebpf" "modern-bpf" "auto") }}
{{- $_ := set $engine "kind" "modern_ebpf" }}
{{- $m := default dict .Values.driver.modernEbpf }}
{{- $mod := dict "buf_size_preset" (int (default 4 $m.bufSizePreset)) "cpus_for_each_buffer" (int (default 0 $m.cpusForEachBuffer)) "drop_failed_exit" (default false $m.dropFailedExit) }}
{{- $_ := set $engine "modern_ebpf" (mergeOverwrite $mod (default dict (index $engine "modern_ebpf"))) }}
{{- else }}
{{- fail (printf "driver.kind %q: Peregrine has modern_ebpf probes only (no kernel module, no legacy eBPF probe)" .Values.driver.kind) }}
{{- end }}
{{- $_ := set $cfg "engine" $engine }}
{{- /* containers: the mounted runtime sockets, unless the user lists their own. Host
paths: the agent finds them under HOST_ROOT (/host), where the DaemonSet mounts them. */}}
{{- $cri := list }}
{{- $docker := list }}
{{- range (include "peregrine.runtimeSockets" . | fromJsonArray) }}
{{- if eq .api "cri" }}
{{- $cri = append $cri .socket }}
{{- else }}
{{- $docker = append $docker .socket }}
{{- end }}
{{- end }}
{{- $containers := dict "cri_sockets" $cri "docker_sockets" $docker }}
{{- $_ := set $cfg "containers" (mergeOverwrite $containers (deepCopy (default dict (index $cfg "containers")))) }}
{{- /* the web server and metrics, for the probes and the ServiceMonitor */}}
{{- $ws := deepCopy (default dict (index $cfg "webserver")) }}
{{- if or .Values.healthChecks.enabled .Values.serviceMonitor.create }}
{{- $_ := set $ws "enabled" true }}
{{- $addr := toString (default "" (index $ws "listen_address")) }}
{{- if or (eq $addr "") (hasPrefix "127." $addr) (eq $addr "::1") (eq $addr "localhost") }}
{{- $_ := set $ws "listen_address" "0.0.0.0" }}
{{- end }}
{{- end }}
{{- if .Values.serviceMonitor.create }}
{{- $_ := set $ws "prometheus_metrics_enabled" true }}
{{- $metrics := deepCopy (default dict (index $cfg "metrics")) }}
{{- $_ := set $metrics "enabled" true }}
{{- $_ := set $cfg "metrics" $metrics }}
{{- end }}
{{- if $ws }}
{{- $_ := set $cfg "webserver" $ws }}
{{- end }}
{{- /* outputs: falcosidekick's keys */}}
{{- $outputs := deepCopy (default dict .Values.outputs) }}
{{- $slack := deepCopy (default dict (index $outputs "slack")) }}
{{- $secret := default dict (index $slack "webhookurlSecret") }}
{{- $_ := unset $slack "webhookurlSecret" }}
{{- if $secret.name }}
{{- $_ := set $slack "webhookurl" "${SLACK_WEBHOOK_URL}" }}
{{- end }}
{{- if hasKey $outputs "slack" }}
{{- $_ := set $outputs "slack" $slack }}
{{- end }}
{{- $_ := set $cfg "outputs" (mergeOverwrite $outputs (deepCopy (default dict (index $cfg "outputs")))) }}
{{- toYaml $cfg }}
{{- end }}
