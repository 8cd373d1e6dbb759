package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDockerfileRejects breaks the real Dockerfile one way at a time.
func TestDockerfileRejects(t *testing.T) {
	cases := []struct {
		name string
		m    mutation
		want string
	}{
		{"unknown instruction", mutation{dockerfile, "WORKDIR /src", "WORKDIRR /src"}, "unknown instruction: WORKDIRR"},
		{"lint: casing", mutation{dockerfile, "golang:1.26.8-bookworm AS build", "golang:1.26.8-bookworm as build"}, "FromAsCasing"},
		{"shell-form entrypoint", mutation{dockerfile, `ENTRYPOINT ["/usr/local/bin/fluxo"]`, "ENTRYPOINT /usr/local/bin/fluxo"}, `ENTRYPOINT must be ["/usr/local/bin/fluxo"]`},
		{"unpinned build image", mutation{dockerfile, "golang:1.26.8-bookworm", "golang"}, `image "golang" has no tag`},
		{"variable base image", mutation{dockerfile, "FROM gcr.io/distroless", "ARG BASE=gcr.io/distroless/static-debian12:nonroot\nFROM $BASE\n#"}, "use a literal base image"},
		{"cgo enabled", mutation{dockerfile, "RUN CGO_ENABLED=0 GOOS", "RUN GOOS"}, "CGO_ENABLED=0"},
		{"not distroless", mutation{dockerfile, "gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab", "debian:12.8-slim"}, "should be gcr.io/distroless/static"},
		{"root user", mutation{dockerfile, "USER 65532:65532", "USER root"}, `USER "root": use a numeric non-root uid:gid`},
		{"named user", mutation{dockerfile, "USER 65532:65532", "USER nonroot:nonroot"}, `USER "nonroot:nonroot"`},
		{"workdir", mutation{dockerfile, "WORKDIR /var/lib/fluxo", "WORKDIR /data"}, `WORKDIR "/data"`},
		{"state dir not owned", mutation{dockerfile, "COPY --from=build --chown=65532:65532 /out/state", "COPY --from=build /out/state"}, "no COPY --chown=<USER> creates /var/lib/fluxo"},
		{"default command", mutation{dockerfile, `CMD ["stream", "-c", "/etc/fluxo/fluxo.yaml"]`, `CMD ["stream"]`}, "CMD must be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyFromRepo(t, dockerfile, ".dockerignore")
			tc.m.apply(t, root)
			f := &findings{}
			checkDockerfile(f, root, dockerfile)
			wantProblem(t, f.problems, tc.want)
		})
	}
}

// TestDockerfileSingleStage wants a multi-stage build.
func TestDockerfileSingleStage(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, dockerfile), []byte("FROM gcr.io/distroless/static-debian12:nonroot\nCOPY fluxo /usr/local/bin/fluxo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &findings{}
	checkDockerfile(f, root, dockerfile)
	wantProblem(t, f.problems, "want a multi-stage build")
}

// TestDockerignoreKeepsPackages checks .dockerignore variants against the
// real module: excluding a Go package breaks the image build.
func TestDockerignoreKeepsPackages(t *testing.T) {
	root := repoRoot(t)
	real, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, ignore, want string
	}{
		{"real file", string(real), ""},
		{"lake packages", "bin/\ninternal/lake/\n", "excludes internal/lake/bronze/"},
		{"go.sum", "*.sum\n", "excludes go.sum"},
		{"cmd", "cmd\n", "excludes cmd/fluxo/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &findings{}
			checkDockerignore(f, root, []byte(tc.ignore))
			if tc.want == "" {
				wantNone(t, f.problems)
				return
			}
			wantProblem(t, f.problems, tc.want)
		})
	}
}
