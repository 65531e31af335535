{{/* The driver's image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "azurelustre-csi.driverImage" -}}
{{ .Values.image.driver.repository }}:{{ .Values.image.driver.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The kubelet plugin folder of the driver: its socket, and its Lustre mounts under mounts/. */}}
{{- define "azurelustre-csi.pluginDir" -}}
{{ .Values.kubeletDir }}/plugins/{{ .Values.driverName }}
{{- end -}}
