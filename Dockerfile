# The meshctl image (`meshctl install --image`): the cluster's controller runs it, and so
# does the init container injected into every mesh Pod (`meshctl capture`), which needs
# iptables. A glibc binary on Debian 12's slim base, run as a non-root user unless a Pod says
# otherwise. The `envoy` stage puts Envoy on the same base, as Istio's proxy user.
#
#   docker build -t REGISTRY/meshctl:TAG .
#   docker build --target envoy -t REGISTRY/envoy:TAG .
#
# CI has no container daemon: scripts/images builds both images from this file without one,
# from a binary built outside it. It reads the base, the packages, where COPY puts the binary,
# USER and ENTRYPOINT from the stages below `build`, and refuses what it does not understand
# there; tests/images.rs checks the images it makes against this file.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Only what the build reads: the benches are declared in Cargo.toml, demo/ is embedded.
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY demo demo
# Debug info out, symbols kept for backtraces, as scripts/images does.
RUN cargo build --release --locked --bin meshctl \
 && objcopy --strip-debug target/release/meshctl /meshctl

# What both images run on. iptables is for `meshctl capture`; Envoy's image has it too, so the
# two share this layer.
FROM debian:12-slim AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*

# Envoy as the gateway and the sidecars run it (`command: ["envoy"]`), as the user that
# `meshctl capture` exempts from redirection.
FROM base AS envoy
COPY --from=docker.io/envoyproxy/envoy:v1.40.0 /usr/local/bin/envoy /usr/local/bin/envoy
USER 1337:1337
ENTRYPOINT ["/usr/local/bin/envoy"]

# Last, so that a plain `docker build` makes this one.
FROM base
COPY --from=build /meshctl /usr/local/bin/meshctl
# As the Deployment's securityContext expects; the capture init container runs as root.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/meshctl"]
