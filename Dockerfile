# fluxo as a small static image: a CGO_ENABLED=0 binary on distroless
# static, running as the non-root uid/gid 65532.
#
#   docker build -t ghcr.io/fluxo-cdc/fluxo:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg COMMIT=$(git rev-parse --short HEAD) .
#
# Base images are pinned: the Go toolchain by exact version, distroless by
# digest (nonroot as of 2026-08; refresh with
# `crane digest gcr.io/distroless/static-debian12:nonroot`).
# tools/deploycheck parses this file (`make deploy-check`).

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/fluxo ./cmd/fluxo \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab AS runtime
COPY --from=build /out/fluxo /usr/local/bin/fluxo
# The checkpoint directory, owned by the runtime user so that a volume
# mounted there (Docker initialises new volumes from the image) is writable.
COPY --from=build --chown=65532:65532 /out/state /var/lib/fluxo
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /var/lib/fluxo
# /metrics, /healthz and /readyz when the config sets http.listen: ":9187".
EXPOSE 9187
ENTRYPOINT ["/usr/local/bin/fluxo"]
CMD ["stream", "-c", "/etc/fluxo/fluxo.yaml"]
