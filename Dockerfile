# syntax=docker/dockerfile:1
# The mlscale image: one binary for `mlscale webhook`, `mlscale predictor` and
# `mlscale collector`. Built with cgo (go-nvml loads libnvidia-ml at run time,
# which the NVIDIA container runtime mounts into the collector's pods), so the
# run-time base is distroless with glibc; it has no shell. test/helm checks
# this file's structure (docker cannot run where the tests run).
#
# Multi-arch: the builder runs on the build machine's platform and
# cross-compiles for the target's (TARGETARCH, set by buildx), with Debian's
# cross C compiler for cgo, so no stage runs under emulation; the run-time
# base is the target's.
#
#   docker build --build-arg VERSION=0.1.0 -t ghcr.io/mlscale/mlscale:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=0.1.0 -t ghcr.io/mlscale/mlscale:0.1.0 .

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
# Set by buildx for each platform; a plain `docker build` leaves them empty
# and builds for the build machine.
ARG TARGETOS
ARG TARGETARCH
# The C cross compiler for cgo when the target's architecture is not the
# build machine's (Debian 12's, so the binary's glibc matches the run-time
# base's).
RUN set -eu; \
    build=$(dpkg --print-architecture); target=${TARGETARCH:-$build}; \
    if [ "$target" != "$build" ]; then \
      case "$target" in \
        amd64) pkgs="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;; \
        arm64) pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;; \
        *) echo "unsupported TARGETARCH $target (amd64, arm64)" >&2; exit 1 ;; \
      esac; \
      apt-get update -qq; \
      apt-get install -y -qq --no-install-recommends $pkgs; \
      rm -rf /var/lib/apt/lists/*; \
    fi
# go-nvml's headers mark some NVML calls deprecated; as in the Makefile,
# gcc's warnings about them are silenced.
ENV CGO_CFLAGS="-O2 -g -Wno-deprecated-declarations"
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
RUN set -eu; \
    build=$(dpkg --print-architecture); target=${TARGETARCH:-$build}; \
    case "$target" in \
      "$build") cc=gcc ;; \
      amd64) cc=x86_64-linux-gnu-gcc ;; \
      arm64) cc=aarch64-linux-gnu-gcc ;; \
    esac; \
    CC=$cc CGO_ENABLED=1 GOOS=${TARGETOS:-linux} GOARCH=$target go build -trimpath \
      -ldflags "-s -w -X github.com/mlscale/mlscale/internal/cli.version=${VERSION}" \
      -o /out/mlscale ./cmd/mlscale

# glibc (Debian 12, the builder's) and CA certificates, no shell, user 65532.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/mlscale /usr/local/bin/mlscale
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/mlscale"]
