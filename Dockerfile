# syntax=docker/dockerfile:1
# A small static image of fluxo, running as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/fluxo ./cmd/fluxo

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fluxo /usr/local/bin/fluxo
USER nonroot:nonroot
WORKDIR /var/lib/fluxo
ENTRYPOINT ["/usr/local/bin/fluxo"]
CMD ["stream", "-c", "/etc/fluxo/fluxo.yaml"]
