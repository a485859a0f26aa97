# syntax=docker/dockerfile:1
# The mlscale image: one binary for `mlscale webhook`, `mlscale predictor` and
# `mlscale collector`. Built with cgo (go-nvml loads libnvidia-ml at run time,
# which the NVIDIA container runtime mounts into the collector's pods), so the
# run-time base is distroless with glibc; it has no shell. test/helm checks
# this file's structure (docker cannot run where the tests run).
#
#   docker build --build-arg VERSION=0.1.0 -t ghcr.io/mlscale/mlscale:0.1.0 .

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that source changes reuse the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY webhook/ webhook/
COPY predictor/ predictor/
COPY collector/ collector/
COPY policies/ policies/
ARG VERSION=dev
RUN CGO_ENABLED=1 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/mlscale/mlscale/internal/cli.version=${VERSION}" \
      -o /out/mlscale ./cmd/mlscale

# glibc (Debian 12, the builder's) and CA certificates, no shell, user 65532.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/mlscale /usr/local/bin/mlscale
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/mlscale"]
