package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// numericUser matches a numeric, non-root USER uid:gid.
func numericUser() *regexp.Regexp { return regexp.MustCompile(`^[1-9][0-9]*(:[0-9]+)?$`) }

// checkDockerfile parses the Dockerfile rel under root with BuildKit's own
// parser and linter (the rules of `docker build --check` that run at parse
// time) and checks the image fluxo's other artifacts rely on: multi-stage,
// pinned bases, a static CGO_ENABLED=0 build, distroless, a numeric
// non-root USER, the entrypoint, default command and working directory.
// It returns the number of stages.
func checkDockerfile(f *findings, root, rel string) int {
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		f.add(rel, "", "%v", err)
		return 0
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		f.add(rel, "", "parse: %v", err)
		return 0
	}
	for _, w := range res.Warnings {
		f.add(rel, lineOf(w.Location), "%s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		f.add(rel, lineOfRanges(loc), "%s: %s", rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		f.add(rel, "", "%v", err)
		return 0
	}
	if len(stages) < 2 {
		f.add(rel, "", "want a multi-stage build (a build stage and a runtime stage), got %d stage(s)", len(stages))
		return len(stages)
	}
	names := map[string]bool{}
	for _, st := range stages {
		s := scope{f: f, file: rel, where: "stage " + stageName(st)}
		if !names[strings.ToLower(st.BaseName)] {
			if strings.Contains(st.BaseName, "$") {
				s.errorf("FROM %s: use a literal base image so that it stays pinned", st.BaseName)
			} else if err := checkPinned(st.BaseName); err != nil {
				s.errorf("FROM: %v", err)
			}
		}
		names[strings.ToLower(st.Name)] = st.Name != ""
	}
	checkBuildStages(scope{f: f, file: rel}, stages[:len(stages)-1])
	checkRuntimeStage(scope{f: f, file: rel, where: "stage " + stageName(stages[len(stages)-1])}, stages[len(stages)-1])
	if data, err := os.ReadFile(filepath.Join(root, ".dockerignore")); err != nil {
		f.add(".dockerignore", "", "%v", err)
	} else {
		checkDockerignore(f, root, data)
	}
	return len(stages)
}

func stageName(st instructions.Stage) string {
	if st.Name != "" {
		return st.Name
	}
	return st.BaseName
}

func lineOf(r *parser.Range) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("line %d", r.Start.Line)
}

func lineOfRanges(rs []parser.Range) string {
	if len(rs) == 0 {
		return ""
	}
	return lineOf(&rs[0])
}

// checkBuildStages wants fluxo built with CGO_ENABLED=0.
func checkBuildStages(s scope, stages []instructions.Stage) {
	for _, st := range stages {
		for _, cmd := range st.Commands {
			switch c := cmd.(type) {
			case *instructions.RunCommand:
				line := strings.Join(c.CmdLine, " ")
				if strings.Contains(line, "go build") && strings.Contains(line, "CGO_ENABLED=0") {
					return
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if kv.Key == "CGO_ENABLED" && kv.Value == "0" {
						return
					}
				}
			}
		}
	}
	s.errorf("no build stage runs go build with CGO_ENABLED=0: the runtime image has no C library")
}

// checkRuntimeStage checks the image the other artifacts run.
func checkRuntimeStage(s scope, st instructions.Stage) {
	if !strings.Contains(st.BaseName, "distroless/static") {
		s.errorf("FROM %s: the runtime stage should be gcr.io/distroless/static (no shell, no libc needed)", st.BaseName)
	}
	var user, workdir string
	var entrypoint, cmdArgs *instructions.ShellDependantCmdLine
	chowned := false
	for _, cmd := range st.Commands {
		switch c := cmd.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.WorkdirCommand:
			workdir = c.Path
		case *instructions.EntrypointCommand:
			entrypoint = &c.ShellDependantCmdLine
		case *instructions.CmdCommand:
			cmdArgs = &c.ShellDependantCmdLine
		case *instructions.CopyCommand:
			chowned = chowned || (c.DestPath == imageWorkdir && c.Chown != "")
		}
	}
	if !numericUser().MatchString(user) {
		s.errorf("USER %q: use a numeric non-root uid:gid (65532:65532) so that Kubernetes' runAsNonRoot can verify it", user)
	}
	if workdir != imageWorkdir {
		s.errorf("WORKDIR %q: the manifests and configs expect %s", workdir, imageWorkdir)
	}
	if !chowned {
		s.errorf("no COPY --chown=<USER> creates %s: a volume mounted there would not be writable by the non-root user", imageWorkdir)
	}
	if entrypoint == nil || entrypoint.PrependShell || !slices.Equal(entrypoint.CmdLine, []string{fluxoEntrypoint}) {
		s.errorf("ENTRYPOINT must be [%q] (exec form: the image has no shell)", fluxoEntrypoint)
	}
	if cmdArgs == nil || cmdArgs.PrependShell || !slices.Equal(cmdArgs.CmdLine, imageDefaultArgs()) {
		s.errorf("CMD must be %q in exec form (the manifests rely on it)", imageDefaultArgs())
	}
}

// checkDockerignore wants the .dockerignore data to keep go.mod, go.sum and
// every package of the module that cmd/fluxo imports in the build context.
func checkDockerignore(f *findings, root string, data []byte) {
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		f.add(".dockerignore", "", "%v", err)
		return
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		f.add(".dockerignore", "", "%v", err)
		return
	}
	files, err := goPackageFiles(root)
	if err != nil {
		f.add(".dockerignore", "", "%v", err)
		return
	}
	for _, p := range append([]string{"go.mod", "go.sum"}, files...) {
		if ignored, err := pm.MatchesOrParentMatches(p); err != nil || ignored {
			f.add(".dockerignore", "", "excludes %s, which go build ./cmd/fluxo may need", p)
		}
	}
}

// goPackageFiles returns one .go file of every package of the module at
// root that `go build ./cmd/fluxo` compiles (go list -deps), or nothing when
// root holds no Go module.
func goPackageFiles(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, nil
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}/{{index .GoFiles 0}}{{end}}", "./cmd/fluxo")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps ./cmd/fluxo: %w", err)
	}
	var files []string
	for _, line := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(root, line); err == nil && !strings.HasPrefix(rel, "..") {
			files = append(files, filepath.ToSlash(rel))
		}
	}
	return files, nil
}
