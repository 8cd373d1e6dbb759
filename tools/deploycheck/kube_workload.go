package main

import (
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// kubeSummary counts what checkKube looked at.
type kubeSummary struct {
	Objects    int
	Workloads  int
	FluxoPods  int
	Containers int
}

// checkKube validates the manifest directory dir (rel in messages).
func checkKube(f *findings, dir, rel string) kubeSummary {
	set := loadKube(f, dir, rel)
	sum := kubeSummary{Objects: len(set.objects)}
	used := map[string]bool{}
	var pods []pod
	for _, o := range set.objects {
		s := scope{f: f, file: o.File, where: o.ref()}
		switch obj := o.Obj.(type) {
		case *appsv1.Deployment:
			pods = append(pods, checkDeployment(set, s, obj))
		case *appsv1.StatefulSet:
			pods = append(pods, checkStatefulSet(set, s, obj))
		case *batchv1.Job:
			pods = append(pods, checkJob(set, s, obj))
		case *corev1.ConfigMap:
			checkDataKeys(s, sortedKeys(obj.Data))
		case *corev1.Secret:
			checkDataKeys(s, append(sortedKeys(obj.Data), sortedKeys(obj.StringData)...))
		case *corev1.PersistentVolumeClaim:
			checkClaim(s, obj.Spec)
		}
	}
	for _, p := range pods {
		sum.Workloads++
		sum.Containers += len(p.spec.Containers)
		p.check()
		for i := range p.spec.Containers {
			c := &p.spec.Containers[i]
			if isFluxoImage(c.Image) {
				sum.FluxoPods++
				p.checkFluxo(c, fluxoCommandFor(p.s.where))
			}
		}
		markUsed(p, used)
	}
	for _, o := range set.objects {
		s := scope{f: f, file: o.File, where: o.ref()}
		switch obj := o.Obj.(type) {
		case *corev1.Service:
			checkService(s, obj, pods)
		case *corev1.ConfigMap, *corev1.Secret, *corev1.PersistentVolumeClaim:
			if !used[o.ref()] {
				s.errorf("not used by any workload of %s", filepath.ToSlash(rel))
			}
		}
	}
	return sum
}

// fluxoCommandFor is the fluxo commands a workload kind may run: streams
// and sinks are long-running (Deployment; a StatefulSet for a stream), a
// full load runs to completion.
func fluxoCommandFor(where string) []string {
	switch kindOf(where) {
	case "Job":
		return []string{"fullload"}
	case "Deployment":
		return []string{"stream", "sink"}
	case "StatefulSet":
		return []string{"stream"}
	}
	return nil
}

// fluxoCommandOf returns the command of the pod's fluxo container ("" when
// it runs none).
func fluxoCommandOf(spec *corev1.PodSpec) string {
	for _, c := range spec.Containers {
		if isFluxoImage(c.Image) {
			args := c.Args
			if len(args) == 0 {
				args = imageDefaultArgs()
			}
			return args[0]
		}
	}
	return ""
}

// kindOf returns Kind of a "Kind/name" reference.
func kindOf(ref string) string {
	kind, _, _ := strings.Cut(ref, "/")
	return kind
}

// markUsed records the ConfigMaps, Secrets and claims p refers to.
func markUsed(p pod, used map[string]bool) {
	for _, v := range p.spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			used["ConfigMap/"+v.ConfigMap.Name] = true
		case v.Secret != nil:
			used["Secret/"+v.Secret.SecretName] = true
		case v.PersistentVolumeClaim != nil:
			used["PersistentVolumeClaim/"+v.PersistentVolumeClaim.ClaimName] = true
		}
	}
	for _, c := range append(append([]corev1.Container{}, p.spec.InitContainers...), p.spec.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				used["Secret/"+e.ValueFrom.SecretKeyRef.Name] = true
			}
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				used["ConfigMap/"+e.ValueFrom.ConfigMapKeyRef.Name] = true
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				used["Secret/"+e.SecretRef.Name] = true
			}
			if e.ConfigMapRef != nil {
				used["ConfigMap/"+e.ConfigMapRef.Name] = true
			}
		}
	}
}

// checkSelector wants a selector that matches the pod template's labels.
func checkSelector(s scope, sel *metav1.LabelSelector, tmpl *metav1.ObjectMeta) {
	checkLabels(s, "spec.template.metadata.labels", tmpl.Labels)
	if sel == nil {
		s.errorf("spec.selector is required")
		return
	}
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		s.errorf("spec.selector: %v", err)
		return
	}
	if ls.Empty() || !ls.Matches(labels.Set(tmpl.Labels)) {
		s.errorf("spec.selector %s does not match the pod template's labels %v", ls, tmpl.Labels)
	}
}

// runsFluxo reports whether a pod spec has a fluxo container.
func runsFluxo(spec *corev1.PodSpec) bool {
	for _, c := range spec.Containers {
		if isFluxoImage(c.Image) {
			return true
		}
	}
	return false
}

func checkDeployment(set *kubeSet, s scope, d *appsv1.Deployment) pod {
	checkSelector(s, d.Spec.Selector, &d.Spec.Template.ObjectMeta)
	// A sink scales out (one consumer group) and survives a rolling update;
	// a stream does neither.
	if runsFluxo(&d.Spec.Template.Spec) && fluxoCommandOf(&d.Spec.Template.Spec) == "sink" {
		if d.Spec.Replicas != nil && *d.Spec.Replicas < 1 {
			s.errorf("spec.replicas: at least 1 sink")
		}
	} else if runsFluxo(&d.Spec.Template.Spec) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			s.errorf("spec.replicas must be 1: one fluxo reads a source (one slot, one server_id, one checkpoint)")
		}
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			s.errorf("spec.strategy.type must be Recreate: a rolling update runs the old and the new fluxo at once")
		}
	}
	return pod{set: set, s: s, meta: &d.Spec.Template.ObjectMeta, spec: &d.Spec.Template.Spec}
}

func checkStatefulSet(set *kubeSet, s scope, st *appsv1.StatefulSet) pod {
	checkSelector(s, st.Spec.Selector, &st.Spec.Template.ObjectMeta)
	if svc := set.services[st.Spec.ServiceName]; svc == nil {
		s.errorf("spec.serviceName %q: no such Service in the manifests", st.Spec.ServiceName)
	} else if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		s.errorf("spec.serviceName %q: the governing Service should be headless (clusterIP: None)", st.Spec.ServiceName)
	}
	if runsFluxo(&st.Spec.Template.Spec) && (st.Spec.Replicas == nil || *st.Spec.Replicas != 1) {
		s.errorf("spec.replicas must be 1: every replica's fluxo would stream under the same name, slot and topics")
	}
	claims := map[string]bool{}
	for _, t := range st.Spec.VolumeClaimTemplates {
		ts := s.in("volumeClaimTemplate " + t.Name)
		if errs := validation.IsDNS1123Label(t.Name); len(errs) > 0 || claims[t.Name] {
			ts.errorf("name must be a unique DNS label")
		}
		claims[t.Name] = true
		checkClaim(ts, t.Spec)
	}
	return pod{set: set, s: s, meta: &st.Spec.Template.ObjectMeta, spec: &st.Spec.Template.Spec, claims: claims}
}

func checkJob(set *kubeSet, s scope, j *batchv1.Job) pod {
	if j.Spec.Selector != nil {
		s.errorf("spec.selector: leave it to the Job controller")
	}
	checkLabels(s, "spec.template.metadata.labels", j.Spec.Template.Labels)
	if j.Spec.BackoffLimit == nil {
		s.errorf("spec.backoffLimit: set it, so that retries are bounded on purpose")
	}
	rp := j.Spec.Template.Spec.RestartPolicy
	if rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
		s.errorf("spec.template.spec.restartPolicy must be Never or OnFailure, got %q", rp)
	}
	return pod{set: set, s: s, meta: &j.Spec.Template.ObjectMeta, spec: &j.Spec.Template.Spec}
}

// checkClaim wants access modes and a storage request.
func checkClaim(s scope, spec corev1.PersistentVolumeClaimSpec) {
	if len(spec.AccessModes) == 0 {
		s.errorf("spec.accessModes is required")
	}
	if _, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		s.errorf("spec.resources.requests.storage is required")
	}
}

// checkDataKeys reports ConfigMap or Secret keys the API server rejects.
func checkDataKeys(s scope, keys []string) {
	for _, k := range keys {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			s.errorf("key %q: %v", k, errs)
		}
	}
}

// checkService wants the selector to match a workload's pods and every
// targetPort to be a port of them.
func checkService(s scope, svc *corev1.Service, pods []pod) {
	if len(svc.Spec.Selector) == 0 {
		s.errorf("spec.selector is required")
		return
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var matched []pod
	for _, p := range pods {
		if sel.Matches(labels.Set(p.meta.Labels)) {
			matched = append(matched, p)
		}
	}
	if len(matched) == 0 {
		s.errorf("spec.selector %s matches no pod template", sel)
		return
	}
	for _, port := range svc.Spec.Ports {
		target := port.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(port.Port)
		}
		if !servesPort(matched, target) {
			s.errorf("port %s: targetPort %s is not a container port of the selected pods", port.Name, target.String())
		}
	}
}

func servesPort(pods []pod, target intstr.IntOrString) bool {
	for _, p := range pods {
		for i := range p.spec.Containers {
			if _, err := containerPort(&p.spec.Containers[i], target); err == nil {
				return true
			}
		}
	}
	return false
}
