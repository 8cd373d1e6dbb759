package main

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fluxo-cdc/fluxo/internal/config"
)

// composeSummary counts what checkCompose looked at.
type composeSummary struct {
	Services      int
	FluxoServices int
}

// loadCompose loads the compose file rel under root as docker compose does
// (compose-spec schema validation, interpolation, normalisation and the
// consistency checks), with every profile enabled and an empty
// environment, so that the result does not depend on the caller's shell.
func loadCompose(ctx context.Context, root, rel string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, rel)},
		cli.WithWorkingDirectory(root),
		cli.WithProfiles([]string{"*"}),
		cli.WithEnv(nil),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// checkCompose validates the compose file rel under root.
func checkCompose(ctx context.Context, f *findings, root, rel string) composeSummary {
	project, err := loadCompose(ctx, root, rel)
	if err != nil {
		f.add(rel, "", "compose: %v", err)
		return composeSummary{}
	}
	c := composeCheck{f: f, root: root, file: rel, project: project}
	sum := composeSummary{Services: len(project.Services)}
	published := map[string]string{}
	for _, name := range sortedKeys(project.Services) {
		svc := project.Services[name]
		s := scope{f: f, file: rel, where: "service " + name}
		c.checkService(s, svc)
		if c.isFluxo(svc) {
			sum.FluxoServices++
			c.checkFluxo(s, svc)
		}
		for _, p := range svc.Ports {
			key := p.HostIP + ":" + p.Published + "/" + p.Protocol
			if other, dup := published[key]; dup && p.Published != "" {
				s.errorf("host port %s is also published by service %s", p.Published, other)
			}
			published[key] = name
		}
	}
	return sum
}

// composeCheck holds what the service checks share.
type composeCheck struct {
	f       *findings
	root    string
	file    string
	project *types.Project
}

// hostPath maps a bind-mount source (absolute after loading) to a path
// relative to the repository, for messages.
func (c composeCheck) hostPath(src string) string {
	if r, err := filepath.Rel(c.root, src); err == nil {
		return filepath.ToSlash(r)
	}
	return src
}

// checkService runs the checks every service gets.
func (c composeCheck) checkService(s scope, svc types.ServiceConfig) {
	if svc.Image == "" && svc.Build == nil {
		s.errorf("needs an image or a build")
	}
	if svc.Image != "" {
		if err := checkPinned(svc.Image); err != nil {
			s.errorf("%v", err)
		}
	}
	if b := svc.Build; b != nil {
		dockerfile := b.Dockerfile
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		if _, err := os.Stat(filepath.Join(b.Context, dockerfile)); err != nil {
			s.errorf("build: %s/%s does not exist", c.hostPath(b.Context), dockerfile)
		}
	}
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind {
			if _, err := os.Stat(v.Source); err != nil {
				s.errorf("volume %s: the bind-mounted %s does not exist", v.Target, c.hostPath(v.Source))
			}
		}
	}
	for _, dep := range sortedKeys(svc.DependsOn) {
		cond := svc.DependsOn[dep].Condition
		target, ok := c.project.Services[dep]
		if ok && cond == types.ServiceConditionHealthy && (target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0) {
			s.errorf("depends_on %s: condition service_healthy, but %s has no healthcheck", dep, dep)
		}
	}
	if hc := svc.HealthCheck; hc != nil && len(hc.Test) > 0 && !slices.Contains([]string{"CMD", "CMD-SHELL", "NONE"}, hc.Test[0]) {
		s.errorf("healthcheck.test must start with CMD, CMD-SHELL or NONE")
	}
}

// isFluxo reports whether svc runs the fluxo image: by name, or built from
// the repository's own Dockerfile.
func (c composeCheck) isFluxo(svc types.ServiceConfig) bool {
	if svc.Build != nil {
		return filepath.Clean(svc.Build.Context) == filepath.Clean(c.root)
	}
	return isFluxoImage(svc.Image)
}

// environment returns svc's environment; a variable without a value (taken
// from the shell that runs compose) counts as unset.
func environment(svc types.ServiceConfig) map[string]string {
	env := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	return env
}

// checkFluxo checks a fluxo service: its command line, its config (loaded
// with fluxo's config package and the service's environment), and that the
// servers the config names are services it waits for.
func (c composeCheck) checkFluxo(s scope, svc types.ServiceConfig) {
	if len(svc.Entrypoint) > 0 {
		s.errorf("entrypoint replaces the image's %s", fluxoEntrypoint)
	}
	if hc := svc.HealthCheck; hc != nil && !hc.Disable {
		s.errorf("healthcheck: the fluxo image is distroless (no shell, no curl); use depends_on conditions and /readyz from outside")
	}
	if !svc.ReadOnly || !slices.Contains(svc.CapDrop, "ALL") {
		s.errorf("run fluxo with read_only: true and cap_drop: [ALL]")
	}
	args := []string(svc.Command)
	if len(args) == 0 {
		args = imageDefaultArgs()
	}
	run, err := parseFluxoArgs(args)
	if err != nil {
		s.errorf("command: %v", err)
	}
	cfg, ok := c.loadConfig(s, svc, run)
	if !ok {
		return
	}
	for _, e := range endpoints(cfg, run.Command) {
		c.checkEndpoint(s, svc, e)
	}
	env := environment(svc)
	switch run.Command {
	case "stream":
		port, err := servedPort(cfg)
		if err != nil {
			s.errorf("%v", err)
		}
		c.checkStream(s, svc, port, absIn(imageWorkdir, cfg.Checkpoint.Path))
	case "fullload":
		if run.RunID == "" {
			s.errorf("fluxo fullload needs a fixed --run-id, so that running the service again resumes the run")
		}
	case "sink":
		port, err := servedPort(cfg)
		if err != nil {
			s.errorf("%v", err)
		}
		c.checkPorts(s, svc, port)
	}
	if (run.Command == "fullload" || run.Command == "sink") && strings.HasPrefix(cfg.Bronze.URL, "s3:") &&
		(env["AWS_ACCESS_KEY_ID"] == "" || env["AWS_SECRET_ACCESS_KEY"] == "") {
		s.errorf("bronze.url is s3://: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
}

// loadConfig loads the config file run names from the file bind-mounted
// there, with fluxo's config package and the service's environment.
func (c composeCheck) loadConfig(s scope, svc types.ServiceConfig, run fluxoRun) (*config.Config, bool) {
	if run.Config == "" {
		return nil, false
	}
	cfgPath := absIn(imageWorkdir, run.Config)
	src := ""
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && path.Clean(v.Target) == cfgPath {
			src = v.Source
		}
	}
	if src == "" {
		s.errorf("-c %s: no file is bind-mounted there", run.Config)
		return nil, false
	}
	data, err := os.ReadFile(src)
	if err != nil {
		s.errorf("-c %s: %v", run.Config, err)
		return nil, false
	}
	cfg, err := loadFluxoConfig(c.hostPath(src), data, run.Command, mapEnv(environment(svc)))
	if err != nil {
		s.errorf("fluxo %s would reject its config: %v", run.Command, err)
		return nil, false
	}
	return cfg, true
}

// checkEndpoint wants a server of the config to be a service of the file
// that svc starts after (healthy, when it has a healthcheck).
func (c composeCheck) checkEndpoint(s scope, svc types.ServiceConfig, e endpoint) {
	target := ""
	for name, other := range c.project.Services {
		if name == e.Host || other.Hostname == e.Host || other.ContainerName == e.Host || hasAlias(other, e.Host) {
			target = name
		}
	}
	if target == "" {
		s.errorf("%s names host %s, which is not a service of %s", e.Key, e.Host, c.file)
		return
	}
	dep, ok := svc.DependsOn[target]
	switch {
	case !ok:
		s.errorf("%s names %s: add it to depends_on so that fluxo starts after it", e.Key, target)
	case c.project.Services[target].HealthCheck != nil && dep.Condition != types.ServiceConditionHealthy:
		s.errorf("depends_on %s: use condition service_healthy (it has a healthcheck)", target)
	}
}

func hasAlias(svc types.ServiceConfig, host string) bool {
	for _, n := range svc.Networks {
		if n != nil && slices.Contains(n.Aliases, host) {
			return true
		}
	}
	return false
}

// checkPorts wants the service's published ports to reach http.listen's
// port (0: unknown).
func (c composeCheck) checkPorts(s scope, svc types.ServiceConfig, port int) {
	for _, p := range svc.Ports {
		if port != 0 && int(p.Target) != port {
			s.errorf("ports: %s:%d, but http.listen serves %d", p.Published, p.Target, port)
		}
	}
}

// checkStream checks what `fluxo stream` needs from its service: the
// published metrics port and a writable volume for the checkpoint.
func (c composeCheck) checkStream(s scope, svc types.ServiceConfig, port int, checkpoint string) {
	c.checkPorts(s, svc, port)
	dir := path.Dir(checkpoint)
	var best *types.ServiceVolumeConfig
	for i := range svc.Volumes {
		v := &svc.Volumes[i]
		t := path.Clean(v.Target)
		if (dir == t || strings.HasPrefix(dir, t+"/")) && (best == nil || len(t) > len(best.Target)) {
			best = v
		}
	}
	switch {
	case best == nil:
		s.errorf("checkpoint.path %s: no volume is mounted at %s, so the checkpoint would be lost with the container", checkpoint, dir)
	case best.ReadOnly:
		s.errorf("checkpoint.path %s: volume at %s is read-only", checkpoint, best.Target)
	case best.Type == types.VolumeTypeTmpfs:
		s.errorf("checkpoint.path %s: %s is a tmpfs", checkpoint, best.Target)
	}
}
