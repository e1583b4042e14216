{{/* The chart's name, or nameOverride. */}}
{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-weir unless the release name already contains it, or fullnameOverride. */}}
{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "weir.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "weir.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: weir
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "weir.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "weir.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* "true" when the controller must hold the leader Lease: asked for, or more than one replica. */}}
{{- define "weir.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) -}}true{{- end -}}
{{- end -}}

{{/*
The rules the controller needs, read from controller/: informers list and watch Batches,
JobTemplates, Jobs and Pods; the Batch reconciler re-reads Batches and Jobs live, creates and
deletes Jobs, patches Batch finalizers, writes Batch status and deletes finished Batches
(ttlSecondsAfterFinished); the event recorder creates and patches core/v1 Events. JobFlows get
the same access as Batches for the JobFlow controller. Pods are only read: weir deletes Jobs
(propagation Background) and the garbage collector deletes their pods. No wildcard, no Secrets.
*/}}
{{- define "weir.rules" -}}
- apiGroups: ["weir.dev"]
  resources: ["batches", "jobflows"]
  verbs: ["get", "list", "watch", "update", "patch", "delete"]
- apiGroups: ["weir.dev"]
  resources: ["batches/status", "jobflows/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["weir.dev"]
  resources: ["batches/finalizers", "jobflows/finalizers"]
  verbs: ["update"]
- apiGroups: ["weir.dev"]
  resources: ["jobtemplates"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["weir.dev"]
  resources: ["jobtemplates/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  # patch: to remove weir.dev/final-state once a pod's end is recorded.
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/*
The apiVersion of the cleanup-finalizer MutatingAdmissionPolicy, or "" for
none: admissionPolicy.apiVersion if set, else what the cluster serves
(admissionregistration.k8s.io/v1, GA in Kubernetes 1.36; else v1beta1, whose
fields are the same for what the policy uses, where the cluster enables it).
Helm knows what the cluster serves on install and upgrade; `helm template`
knows only what --api-versions says (group/version/Kind entries).
*/}}
{{- define "weir.admissionPolicyAPIVersion" -}}
{{- if .Values.admissionPolicy.enabled -}}
{{- if .Values.admissionPolicy.apiVersion -}}
{{- .Values.admissionPolicy.apiVersion -}}
{{- else if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy" -}}
admissionregistration.k8s.io/v1
{{- else if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy" -}}
admissionregistration.k8s.io/v1beta1
{{- end -}}
{{- end -}}
{{- end -}}
