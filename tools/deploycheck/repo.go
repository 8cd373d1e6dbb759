package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Paths of the checked artifacts, relative to the repository root.
const (
	kubeDir     = "deploy/kubernetes"
	composeFile = "docker-compose.yml"
	dockerfile  = "Dockerfile"
	unitPath    = "deploy/systemd/fluxo@.service"
	sinkUnit    = "deploy/systemd/fluxo-sink@.service"
)

// Result is what checkRepository found and how much it looked at.
type Result struct {
	// Problems are every finding, sorted by file.
	Problems []Problem
	// Kube counts the Kubernetes objects, workloads and fluxo containers.
	Kube kubeSummary
	// Compose counts the compose services.
	Compose composeSummary
	// Stages is the number of Dockerfile stages.
	Stages int
	// Configs is the number of standalone fluxo configs loaded.
	Configs int
}

// Summary is one line saying what was checked.
func (r Result) Summary() string {
	return fmt.Sprintf("deploycheck: %d problem(s); %d Kubernetes objects (%d workloads, %d fluxo containers), %d compose services (%d fluxo), %d Dockerfile stages, %d example configs, systemd units",
		len(r.Problems), r.Kube.Objects, r.Kube.Workloads, r.Kube.FluxoPods, r.Compose.Services, r.Compose.FluxoServices, r.Stages, r.Configs)
}

// checkRepository runs every check on the repository at root.
func checkRepository(ctx context.Context, root string) Result {
	f := &findings{}
	var r Result
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	r.Kube = checkKube(f, filepath.Join(root, kubeDir), kubeDir)
	r.Compose = checkCompose(ctx, f, root, composeFile)
	r.Stages = checkDockerfile(f, root, dockerfile)
	checkUnit(f, root, unitPath, "stream")
	checkUnit(f, root, sinkUnit, "sink")
	r.Configs = checkExampleConfigs(f, root)
	sort.SliceStable(f.problems, func(i, j int) bool { return f.problems[i].File < f.problems[j].File })
	r.Problems = f.problems
	return r
}

// checkExampleConfigs loads every fluxo config under deploy/examples and
// deploy/systemd with fluxo's config package, with a placeholder for every
// ${VAR} (their environment is the user's); compose and the manifests check
// their own configs with their real environment.
func checkExampleConfigs(f *findings, root string) int {
	n := 0
	for _, dir := range []string{"deploy/examples", "deploy/systemd"} {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
		for _, p := range files {
			rel := filepath.ToSlash(filepath.Join(dir, filepath.Base(p)))
			data, err := os.ReadFile(p)
			if err != nil {
				f.add(rel, "", "%v", err)
				continue
			}
			n++
			if _, err := loadFluxoConfig(rel, data, "stream", placeholderEnv); err != nil {
				f.add(rel, "", "fluxo stream would reject it: %v", err)
			}
		}
	}
	return n
}
