package main

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// pod is a pod template being checked, with what its volumes may refer to.
type pod struct {
	set    *kubeSet
	s      scope
	meta   *metav1.ObjectMeta
	spec   *corev1.PodSpec
	claims map[string]bool // StatefulSet volumeClaimTemplates by name
}

// volume returns the pod volume named name, or nil (a claim template
// returns a PVC-backed stand-in).
func (p pod) volume(name string) *corev1.Volume {
	for i := range p.spec.Volumes {
		if p.spec.Volumes[i].Name == name {
			return &p.spec.Volumes[i]
		}
	}
	if p.claims[name] {
		return &corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}
	}
	return nil
}

// check runs the checks every pod template gets.
func (p pod) check() {
	if len(p.spec.Containers) == 0 {
		p.s.errorf("spec.containers: at least one container is required")
	}
	if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
		p.s.errorf("automountServiceAccountToken must be false: nothing here talks to the Kubernetes API")
	}
	if n := p.spec.ServiceAccountName; n != "" && n != "default" && p.set.accounts[n] == nil {
		p.s.errorf("serviceAccountName %q: no such ServiceAccount in the manifests", n)
	}
	p.checkVolumes()
	names := map[string]bool{}
	ports := map[string]bool{}
	for i := range p.spec.InitContainers {
		p.checkContainer(&p.spec.InitContainers[i], names, ports)
	}
	for i := range p.spec.Containers {
		p.checkContainer(&p.spec.Containers[i], names, ports)
	}
}

// allowedVolume reports whether v's source is one the restricted Pod
// Security Standard allows, and that exactly one source is set.
func allowedVolume(v *corev1.Volume) error {
	src := v.VolumeSource
	set := 0
	allowed := []bool{src.ConfigMap != nil, src.Secret != nil, src.EmptyDir != nil,
		src.PersistentVolumeClaim != nil, src.Projected != nil, src.DownwardAPI != nil,
		src.CSI != nil, src.Ephemeral != nil}
	for _, ok := range allowed {
		if ok {
			set++
		}
	}
	if src.HostPath != nil {
		return fmt.Errorf("hostPath volumes are not allowed (restricted Pod Security Standard)")
	}
	if set != 1 {
		return fmt.Errorf("needs exactly one of configMap, secret, emptyDir, persistentVolumeClaim, projected, downwardAPI, csi, ephemeral")
	}
	return nil
}

// checkVolumes checks volume names and that what they refer to exists.
func (p pod) checkVolumes() {
	seen := map[string]bool{}
	for i := range p.spec.Volumes {
		v := &p.spec.Volumes[i]
		s := p.s.in("volume " + v.Name)
		if errs := validation.IsDNS1123Label(v.Name); len(errs) > 0 {
			s.errorf("name: %s", strings.Join(errs, "; "))
		}
		if seen[v.Name] || p.claims[v.Name] {
			s.errorf("defined twice")
		}
		seen[v.Name] = true
		if err := allowedVolume(v); err != nil {
			s.errorf("%v", err)
			continue
		}
		switch {
		case v.ConfigMap != nil:
			cm := p.set.configMaps[v.ConfigMap.Name]
			if cm == nil {
				optionalMissing(s, v.ConfigMap.Optional, "ConfigMap", v.ConfigMap.Name)
				continue
			}
			checkItems(s, "ConfigMap "+cm.Name, v.ConfigMap.Items, v.ConfigMap.Optional, func(k string) bool { return hasConfigKey(cm, k) })
		case v.Secret != nil:
			sec := p.set.secrets[v.Secret.SecretName]
			if sec == nil {
				optionalMissing(s, v.Secret.Optional, "Secret", v.Secret.SecretName)
				continue
			}
			checkItems(s, "Secret "+sec.Name, v.Secret.Items, v.Secret.Optional, func(k string) bool { return hasSecretKey(sec, k) })
		case v.PersistentVolumeClaim != nil:
			if p.set.claims[v.PersistentVolumeClaim.ClaimName] == nil {
				s.errorf("persistentVolumeClaim %q: no such PersistentVolumeClaim in the manifests", v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
}

func optionalMissing(s scope, optional *bool, kind, name string) {
	if optional == nil || !*optional {
		s.errorf("%s %q: no such %s in the manifests", kind, name, kind)
	}
}

func checkItems(s scope, what string, items []corev1.KeyToPath, optional *bool, has func(string) bool) {
	for _, it := range items {
		if !has(it.Key) && (optional == nil || !*optional) {
			s.errorf("items: %s has no key %q", what, it.Key)
		}
	}
}

func hasConfigKey(cm *corev1.ConfigMap, k string) bool {
	_, a := cm.Data[k]
	_, b := cm.BinaryData[k]
	return a || b
}

func hasSecretKey(sec *corev1.Secret, k string) bool {
	_, a := sec.StringData[k]
	_, b := sec.Data[k]
	return a || b
}

// checkContainer runs the checks of one container; names and ports collect
// container names and port names across the pod.
func (p pod) checkContainer(c *corev1.Container, names, ports map[string]bool) {
	s := p.s.in("container " + c.Name)
	if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
		s.errorf("name: %s", strings.Join(errs, "; "))
	}
	if names[c.Name] {
		s.errorf("name used by two containers")
	}
	names[c.Name] = true
	if c.Image == "" {
		s.errorf("has no image")
	} else if err := checkPinned(c.Image); err != nil {
		s.errorf("%v", err)
	}
	if !slices.Contains([]corev1.PullPolicy{"", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}, c.ImagePullPolicy) {
		s.errorf("imagePullPolicy %q: use Always, IfNotPresent or Never", c.ImagePullPolicy)
	}
	for _, port := range c.Ports {
		checkPort(s, port, ports)
	}
	p.checkEnv(s, c)
	p.checkMounts(s, c)
	for _, pr := range probes(c) {
		checkProbe(s.in(pr.name), c, pr.probe)
	}
	checkResources(s, c.Resources)
	p.checkSecurity(s, c)
}

func checkPort(s scope, port corev1.ContainerPort, seen map[string]bool) {
	if port.ContainerPort < 1 || port.ContainerPort > 65535 {
		s.errorf("containerPort %d is not a port number", port.ContainerPort)
	}
	if port.Name == "" {
		return
	}
	if errs := validation.IsValidPortName(port.Name); len(errs) > 0 {
		s.errorf("port name %q: %s", port.Name, strings.Join(errs, "; "))
	}
	if seen[port.Name] {
		s.errorf("port name %q is used twice in the pod", port.Name)
	}
	seen[port.Name] = true
}

// checkEnv checks variable names and that secretKeyRef, configMapKeyRef,
// secretRef and configMapRef point at existing objects and keys.
func (p pod) checkEnv(s scope, c *corev1.Container) {
	seen := map[string]bool{}
	for _, e := range c.Env {
		if errs := validation.IsEnvVarName(e.Name); len(errs) > 0 {
			s.errorf("env %q: %s", e.Name, strings.Join(errs, "; "))
		}
		if seen[e.Name] {
			s.errorf("env %q is set twice", e.Name)
		}
		seen[e.Name] = true
		if e.ValueFrom == nil {
			continue
		}
		if e.Value != "" {
			s.errorf("env %q has both value and valueFrom", e.Name)
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			if _, err := p.set.secretValue(r); err != nil && (r.Optional == nil || !*r.Optional) {
				s.errorf("env %q: %v", e.Name, err)
			}
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			if _, err := p.set.configValue(r); err != nil && (r.Optional == nil || !*r.Optional) {
				s.errorf("env %q: %v", e.Name, err)
			}
		}
	}
	for _, from := range c.EnvFrom {
		if r := from.SecretRef; r != nil && p.set.secrets[r.Name] == nil && (r.Optional == nil || !*r.Optional) {
			s.errorf("envFrom: no Secret %q in the manifests", r.Name)
		}
		if r := from.ConfigMapRef; r != nil && p.set.configMaps[r.Name] == nil && (r.Optional == nil || !*r.Optional) {
			s.errorf("envFrom: no ConfigMap %q in the manifests", r.Name)
		}
	}
}

// secretValue returns the value a secretKeyRef resolves to.
func (set *kubeSet) secretValue(r *corev1.SecretKeySelector) (string, error) {
	sec := set.secrets[r.Name]
	if sec == nil {
		return "", fmt.Errorf("no Secret %q in the manifests", r.Name)
	}
	if v, ok := sec.StringData[r.Key]; ok {
		return v, nil
	}
	if v, ok := sec.Data[r.Key]; ok {
		return string(v), nil
	}
	return "", fmt.Errorf("Secret %q has no key %q", r.Name, r.Key)
}

// configValue returns the value a configMapKeyRef resolves to.
func (set *kubeSet) configValue(r *corev1.ConfigMapKeySelector) (string, error) {
	cm := set.configMaps[r.Name]
	if cm == nil {
		return "", fmt.Errorf("no ConfigMap %q in the manifests", r.Name)
	}
	if v, ok := cm.Data[r.Key]; ok {
		return v, nil
	}
	return "", fmt.Errorf("ConfigMap %q has no key %q", r.Name, r.Key)
}

// checkMounts checks that every mount names a volume of the pod, once.
func (p pod) checkMounts(s scope, c *corev1.Container) {
	paths := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if p.volume(m.Name) == nil {
			s.errorf("volumeMount %q: no such volume in the pod", m.Name)
		}
		if !path.IsAbs(m.MountPath) {
			s.errorf("volumeMount %q: mountPath %q must be absolute", m.Name, m.MountPath)
		}
		if paths[path.Clean(m.MountPath)] {
			s.errorf("volumeMount %q: %s is mounted twice", m.Name, m.MountPath)
		}
		paths[path.Clean(m.MountPath)] = true
	}
}

// checkProbe checks that a probe has one handler and that an HTTP or TCP
// probe targets a port the container declares.
func checkProbe(s scope, c *corev1.Container, pr *corev1.Probe) {
	h := pr.ProbeHandler
	n := 0
	for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.GRPC != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		s.errorf("needs exactly one of exec, httpGet, tcpSocket, grpc")
		return
	}
	switch {
	case h.Exec != nil && len(h.Exec.Command) == 0:
		s.errorf("exec.command is empty")
	case h.HTTPGet != nil:
		if !strings.HasPrefix(h.HTTPGet.Path, "/") {
			s.errorf("httpGet.path %q must start with /", h.HTTPGet.Path)
		}
		if _, err := containerPort(c, h.HTTPGet.Port); err != nil {
			s.errorf("httpGet.port: %v", err)
		}
	case h.TCPSocket != nil:
		if _, err := containerPort(c, h.TCPSocket.Port); err != nil {
			s.errorf("tcpSocket.port: %v", err)
		}
	}
}

// containerPort resolves a probe or service port against c's ports.
func containerPort(c *corev1.Container, port intstr.IntOrString) (int32, error) {
	for _, p := range c.Ports {
		if port.Type == intstr.String && p.Name == port.StrVal || port.Type == intstr.Int && p.ContainerPort == port.IntVal {
			return p.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("%s is not a port of container %s", port.String(), c.Name)
}

// checkResources wants CPU and memory requests and a memory limit at least
// as large as the request.
func checkResources(s scope, r corev1.ResourceRequirements) {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := r.Requests[name]; !ok {
			s.errorf("resources.requests.%s is not set", name)
		}
	}
	if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
		s.errorf("resources.limits.memory is not set")
	}
	for name, l := range r.Limits {
		if req, ok := r.Requests[name]; ok && req.Cmp(l) > 0 {
			s.errorf("resources.requests.%s %s is above its limit %s", name, req.String(), l.String())
		}
	}
}

// checkSecurity applies the restricted Pod Security Standard to c, with
// the pod's securityContext as the default.
func (p pod) checkSecurity(s scope, c *corev1.Container) {
	ps := p.spec.SecurityContext
	if ps == nil {
		ps = &corev1.PodSecurityContext{}
	}
	cs := c.SecurityContext
	if cs == nil {
		cs = &corev1.SecurityContext{}
	}
	nonRoot := firstBool(cs.RunAsNonRoot, ps.RunAsNonRoot)
	if nonRoot == nil || !*nonRoot {
		s.errorf("securityContext.runAsNonRoot must be true (container or pod)")
	}
	if u := firstInt(cs.RunAsUser, ps.RunAsUser); u != nil && *u == 0 {
		s.errorf("securityContext.runAsUser must not be 0")
	}
	if cs.Privileged != nil && *cs.Privileged {
		s.errorf("securityContext.privileged must not be true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		s.errorf("securityContext.allowPrivilegeEscalation must be false")
	}
	if cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") {
		s.errorf("securityContext.capabilities.drop must contain ALL")
	} else if add := cs.Capabilities.Add; len(add) > 0 && !(len(add) == 1 && add[0] == "NET_BIND_SERVICE") {
		s.errorf("securityContext.capabilities.add %v: only NET_BIND_SERVICE is allowed", add)
	}
	sp := cs.SeccompProfile
	if sp == nil {
		sp = ps.SeccompProfile
	}
	if sp == nil || (sp.Type != corev1.SeccompProfileTypeRuntimeDefault && sp.Type != corev1.SeccompProfileTypeLocalhost) {
		s.errorf("seccompProfile.type must be RuntimeDefault (container or pod)")
	}
}

func firstBool(vals ...*bool) *bool {
	for _, v := range vals {
		if v != nil {
			return v
		}
	}
	return nil
}

func firstInt(vals ...*int64) *int64 {
	for _, v := range vals {
		if v != nil {
			return v
		}
	}
	return nil
}

// namedProbe is one of a container's probes.
type namedProbe struct {
	name  string
	probe *corev1.Probe
}

// probes returns c's probes that are set, in a fixed order.
func probes(c *corev1.Container) []namedProbe {
	var out []namedProbe
	for _, p := range []namedProbe{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if p.probe != nil {
			out = append(out, p)
		}
	}
	return out
}
