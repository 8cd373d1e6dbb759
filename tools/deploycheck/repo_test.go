package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRepositoryArtifactsPass checks the real artifacts: no problem, and
// every part really looked at something.
func TestRepositoryArtifactsPass(t *testing.T) {
	res := checkRepository(context.Background(), repoRoot(t))
	wantNone(t, res.Problems)
	if res.Kube.FluxoPods < 3 || res.Kube.Workloads < 3 || res.Compose.FluxoServices < 3 || res.Compose.Services < 9 || res.Stages < 2 || res.Configs < 2 {
		t.Errorf("checked too little: %s", res.Summary())
	}
}

// TestRunExitStatus runs the command as make deploy-check does.
func TestRunExitStatus(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-root", repoRoot(t)}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d on the real repository:\n%s%s", code, out.String(), errOut.String())
	}
	root := copyFromRepo(t, "deploy", "docker-compose.yml", "Dockerfile", ".dockerignore")
	mutation{"docker-compose.yml", "image: mysql:8.4.3", "image: mysql"}.apply(t, root)
	out.Reset()
	if code := run([]string{"-root", root}, &out, &errOut); code != 1 || !strings.Contains(out.String(), `image "mysql" has no tag`) {
		t.Fatalf("exit %d with an unpinned image, output:\n%s", code, out.String())
	}
}
