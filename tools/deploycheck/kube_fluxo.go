package main

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fluxo-cdc/fluxo/internal/config"
)

// fluxoEntrypoint is the fluxo image's ENTRYPOINT.
const fluxoEntrypoint = "/usr/local/bin/fluxo"

// minGracePeriod is the least terminationGracePeriodSeconds for a stream:
// on SIGTERM fluxo flushes Kafka and saves its checkpoint.
const minGracePeriod = 60

// isFluxoImage reports whether image is a fluxo image.
func isFluxoImage(image string) bool {
	r := imageRepository(image)
	return r == "fluxo" || strings.HasSuffix(r, "/fluxo")
}

// fluxoArgs returns the fluxo arguments c runs, with the image's entrypoint
// and default arguments applied as Kubernetes does.
func fluxoArgs(c *corev1.Container) ([]string, error) {
	if len(c.Command) > 0 {
		if c.Command[0] != fluxoEntrypoint && c.Command[0] != "fluxo" {
			return nil, fmt.Errorf("command %v replaces the image's entrypoint %s: give fluxo's arguments in args", c.Command, fluxoEntrypoint)
		}
		return append(append([]string{}, c.Command[1:]...), c.Args...), nil
	}
	if len(c.Args) == 0 {
		return imageDefaultArgs(), nil
	}
	return c.Args, nil
}

// mountFor returns c's mount holding file p (the longest mountPath that
// contains it), or nil.
func mountFor(c *corev1.Container, p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		mp := path.Clean(m.MountPath)
		if (p == mp || strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/")) && (best == nil || len(mp) > len(path.Clean(best.MountPath))) {
			best = m
		}
	}
	return best
}

// fileContent returns the content of file (an absolute path) in c's
// filesystem when it comes from a ConfigMap or Secret volume, and a name
// for it ("ConfigMap fluxo-shop key fluxo.yaml").
func (p pod) fileContent(c *corev1.Container, file string) (string, []byte, error) {
	m := mountFor(c, file)
	if m == nil {
		return "", nil, fmt.Errorf("no volume is mounted at %s", path.Dir(file))
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(file, path.Clean(m.MountPath)), "/")
	if m.SubPath != "" {
		if rel != "" {
			return "", nil, fmt.Errorf("mount %s uses subPath %q, which is a single file", m.Name, m.SubPath)
		}
		rel = m.SubPath
	}
	v := p.volume(m.Name)
	switch {
	case v == nil:
		return "", nil, fmt.Errorf("mount %s has no volume", m.Name)
	case v.ConfigMap != nil:
		cm := p.set.configMaps[v.ConfigMap.Name]
		key := itemKey(v.ConfigMap.Items, rel)
		if cm == nil || !hasConfigKey(cm, key) {
			return "", nil, fmt.Errorf("ConfigMap %s has no key %q", v.ConfigMap.Name, key)
		}
		return "ConfigMap " + cm.Name + " key " + key, []byte(cm.Data[key]), nil
	case v.Secret != nil:
		sec := p.set.secrets[v.Secret.SecretName]
		key := itemKey(v.Secret.Items, rel)
		if sec == nil || !hasSecretKey(sec, key) {
			return "", nil, fmt.Errorf("Secret %s has no key %q", v.Secret.SecretName, key)
		}
		data := sec.Data[key]
		if s, ok := sec.StringData[key]; ok {
			data = []byte(s)
		}
		return "Secret " + sec.Name + " key " + key, data, nil
	}
	return "", nil, fmt.Errorf("volume %s is not a ConfigMap or Secret", m.Name)
}

// itemKey maps a file name inside a ConfigMap or Secret volume to its key.
func itemKey(items []corev1.KeyToPath, rel string) string {
	if len(items) == 0 {
		return rel
	}
	for _, it := range items {
		if path.Clean(it.Path) == rel {
			return it.Key
		}
	}
	return rel
}

// containerEnv returns c's environment as the container sees it, with the
// values of the manifests' Secrets and ConfigMaps.
func (p pod) containerEnv(c *corev1.Container) map[string]string {
	env := map[string]string{"HOSTNAME": "pod-name"} // the kubelet sets it to the pod's name
	for _, from := range c.EnvFrom {
		if r := from.SecretRef; r != nil && p.set.secrets[r.Name] != nil {
			sec := p.set.secrets[r.Name]
			for k, v := range sec.Data {
				env[from.Prefix+k] = string(v)
			}
			for k, v := range sec.StringData {
				env[from.Prefix+k] = v
			}
		}
		if r := from.ConfigMapRef; r != nil && p.set.configMaps[r.Name] != nil {
			for k, v := range p.set.configMaps[r.Name].Data {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			if v, err := p.set.secretValue(e.ValueFrom.SecretKeyRef); err == nil {
				env[e.Name] = v
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if v, err := p.set.configValue(e.ValueFrom.ConfigMapKeyRef); err == nil {
				env[e.Name] = v
			}
		default: // fieldRef, resourceFieldRef: known only at run time
			env[e.Name] = "runtime-value"
		}
	}
	return env
}

// onlyFluxo reports whether every container of the pod runs fluxo.
func (p pod) onlyFluxo() bool {
	for _, c := range p.spec.Containers {
		if !isFluxoImage(c.Image) {
			return false
		}
	}
	return true
}

// checkFluxo checks a container of the fluxo image: its command line, its
// config as fluxo's own config package loads it with the container's
// environment, and what that config needs from the pod. want is the command
// the workload kind calls for ("" for any).
func (p pod) checkFluxo(c *corev1.Container, want []string) {
	s := p.s.in("container " + c.Name)
	args, err := fluxoArgs(c)
	if err != nil {
		s.errorf("%v", err)
		return
	}
	run, err := parseFluxoArgs(args)
	if err != nil {
		s.errorf("args: %v", err)
	}
	if len(want) > 0 && !slices.Contains(want, run.Command) {
		s.errorf("runs fluxo %s; this workload should run fluxo %s", run.Command, strings.Join(want, " or "))
	}
	if cs := c.SecurityContext; cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		s.errorf("securityContext.readOnlyRootFilesystem must be true: fluxo writes only its checkpoint (and bronze files) to volumes")
	}
	workdir := c.WorkingDir
	if workdir == "" {
		workdir = imageWorkdir
	}
	cfg, ok := p.loadConfig(s, c, run, workdir)
	if !ok {
		return
	}
	p.checkLoopback(s, c, endpoints(cfg, run.Command))
	switch run.Command {
	case "sink":
		port, err := servedPort(cfg)
		if err != nil {
			s.errorf("%v", err)
		}
		p.checkStream(s, c, port)
	case "stream":
		port, err := servedPort(cfg)
		if err != nil {
			s.errorf("%v", err)
		}
		p.checkStream(s, c, port)
		if cfg.Checkpoint.Store == "file" {
			file := absIn(workdir, cfg.Checkpoint.Path)
			p.checkWritable(s, c, "checkpoint.path "+file, path.Dir(file))
		}
	case "fullload":
		p.checkFullload(s, c, run, cfg.Bronze.URL)
	}
}

// loadConfig loads the config file run names from the container's
// ConfigMap or Secret volume, with fluxo's config package and the
// container's environment.
func (p pod) loadConfig(s scope, c *corev1.Container, run fluxoRun, workdir string) (*config.Config, bool) {
	if run.Config == "" {
		return nil, false
	}
	name, data, err := p.fileContent(c, absIn(workdir, run.Config))
	if err != nil {
		s.errorf("-c %s: %v", run.Config, err)
		return nil, false
	}
	cfg, err := loadFluxoConfig(name, data, run.Command, mapEnv(p.containerEnv(c)))
	if err != nil {
		s.errorf("fluxo %s would reject its config: %v", run.Command, err)
		return nil, false
	}
	return cfg, true
}

// checkLoopback wants a loopback server (a sidecar's database) to be a port
// of another container of the pod.
func (p pod) checkLoopback(s scope, self *corev1.Container, eps []endpoint) {
	for _, e := range eps {
		if !isLoopback(e.Host) {
			continue
		}
		found := false
		for _, c := range p.spec.Containers {
			for _, port := range c.Ports {
				found = found || (c.Name != self.Name && int(port.ContainerPort) == e.Port)
			}
		}
		if !found {
			s.errorf("%s points at %s:%d, but no other container of the pod declares containerPort %d", e.Key, e.Host, e.Port, e.Port)
		}
	}
}

// checkStream checks what `fluxo stream` needs from its pod: the metrics
// port, probes on /healthz and /readyz, scrape annotations and time to stop.
// port is http.listen's port (0 when unusable).
func (p pod) checkStream(s scope, c *corev1.Container, port int) {
	if port == 0 {
		return
	}
	metrics, err := containerPort(c, intstr.FromString("metrics"))
	switch {
	case err != nil:
		s.errorf("declare fluxo's HTTP port: ports: [{name: metrics, containerPort: %d}]", port)
	case int(metrics) != port:
		s.errorf("port metrics is %d, but http.listen serves %d", metrics, port)
	}
	expectHTTPProbe(s, c, "livenessProbe", c.LivenessProbe, "/healthz", port)
	switch {
	case c.ReadinessProbe != nil:
		expectHTTPProbe(s, c, "readinessProbe", c.ReadinessProbe, "/readyz", port)
	case p.onlyFluxo():
		s.errorf("readinessProbe: missing; a fluxo-only pod is ready when /readyz on port %d says so", port)
	}
	if c.StartupProbe != nil {
		expectHTTPProbe(s, c, "startupProbe", c.StartupProbe, "/healthz", port)
	}
	a := p.meta.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(port) {
		s.errorf("pod annotations: want prometheus.io/scrape: \"true\" and prometheus.io/port: \"%d\" (got %q, %q)", port, a["prometheus.io/scrape"], a["prometheus.io/port"])
	}
	if mp, ok := a["prometheus.io/path"]; ok && mp != "/metrics" {
		s.errorf("pod annotation prometheus.io/path is %q; fluxo serves /metrics", mp)
	}
	if g := p.spec.TerminationGracePeriodSeconds; g == nil || *g < minGracePeriod {
		s.errorf("terminationGracePeriodSeconds must be at least %d: on SIGTERM fluxo flushes Kafka and saves its checkpoint", minGracePeriod)
	}
}

// expectHTTPProbe wants pr to be an HTTP GET of want on fluxo's port.
func expectHTTPProbe(s scope, c *corev1.Container, name string, pr *corev1.Probe, want string, port int) {
	switch {
	case pr == nil:
		s.errorf("%s: missing; fluxo serves %s on port %d", name, want, port)
	case pr.HTTPGet == nil:
		s.errorf("%s: use httpGet on %s", name, want)
	case pr.HTTPGet.Path != want:
		s.errorf("%s.httpGet.path is %q; fluxo serves this at %s", name, pr.HTTPGet.Path, want)
	case pr.HTTPGet.Scheme != "" && pr.HTTPGet.Scheme != corev1.URISchemeHTTP:
		s.errorf("%s.httpGet.scheme is %s; fluxo serves plain HTTP", name, pr.HTTPGet.Scheme)
	default:
		if got, err := containerPort(c, pr.HTTPGet.Port); err == nil && int(got) != port {
			s.errorf("%s probes port %d, but http.listen serves %d", name, got, port)
		}
	}
}

// checkFullload checks a `fluxo fullload` container and its bronze.url.
func (p pod) checkFullload(s scope, c *corev1.Container, run fluxoRun, bronzeURL string) {
	if run.RunID == "" {
		s.errorf("fluxo fullload needs a fixed --run-id, so that a retried pod resumes the run instead of starting a new one")
	}
	for _, pr := range probes(c) {
		s.errorf("%s: fluxo fullload serves no HTTP endpoint", pr.name)
	}
	u, err := url.Parse(bronzeURL)
	switch {
	case err != nil || u.Scheme != "file":
	case u.Host != "" && u.Host != "localhost":
		s.errorf("bronze.url %s: fluxo's bronze store opens absolute file URLs only (file:///path)", bronzeURL)
	default:
		p.checkWritable(s, c, "bronze.url "+bronzeURL, path.Clean(u.Path))
	}
}

// checkWritable wants dir, where what names writes, to be on a writable
// PersistentVolumeClaim mount.
func (p pod) checkWritable(s scope, c *corev1.Container, what, dir string) {
	m := mountFor(c, dir)
	if m == nil {
		s.errorf("%s: nothing is mounted at %s and the root filesystem is read-only: mount a PersistentVolumeClaim there", what, dir)
		return
	}
	if m.ReadOnly {
		s.errorf("%s: volume %s is mounted read-only", what, m.Name)
	}
	if v := p.volume(m.Name); v != nil && v.PersistentVolumeClaim == nil {
		s.errorf("%s: volume %s does not outlive the pod: use a PersistentVolumeClaim", what, m.Name)
	}
}
