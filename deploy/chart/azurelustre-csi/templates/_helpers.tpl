{{/* The driver's image: repository:tag, the tag defaulting to the chart's appVersion, then @digest if given. */}}
{{- define "azurelustre-csi.driverImage" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end -}}

{{/* The kubelet plugin folder of the driver: its socket, and its Lustre mounts under mounts/. */}}
{{- define "azurelustre-csi.pluginDir" -}}
{{ .Values.kubeletDir }}/plugins/{{ .Values.driverName }}
{{- end -}}
