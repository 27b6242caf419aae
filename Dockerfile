# syntax=docker/dockerfile:1
# The Gantry gateway image: one static binary on a minimal, non-root base.
#
#   docker build -t gantry:dev .
#
# The same binary runs the example painter (see examples/stable-diffusion/Dockerfile), so
# replica pods whose command is [gantry, ...] find it on PATH.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags=-s -o /out/gantry ./cmd/gantry

# distroless/static: CA certificates, tzdata, /etc/passwd with "nonroot" (65532); no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gantry /usr/local/bin/gantry
USER 65532:65532
# 8000 HTTP ingress, 9000 gRPC ingress, 8265 REST API, dashboard and metrics.
EXPOSE 8000 9000 8265
ENTRYPOINT ["/usr/local/bin/gantry"]
CMD ["serve", "--backend", "kubernetes"]
