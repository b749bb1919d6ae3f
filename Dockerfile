# The meshctl image (`meshctl install --image`): the cluster's controller runs it, and so
# does the init container injected into every mesh Pod (`meshctl capture`), which needs
# iptables. One static binary, run as a non-root user unless a Pod says otherwise.
#
#   docker build -t REGISTRY/meshctl:TAG .
#
# Not built in this repository's CI, which has no container runtime (see the README).

FROM rust:1.95-alpine AS build
# musl is Alpine's libc, so the binary links statically; ring compiles C.
RUN apk add --no-cache musl-dev gcc
WORKDIR /src
# Only what the build reads: the benches are declared in Cargo.toml, demo/ is embedded.
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY demo demo
RUN cargo build --release --locked --bin meshctl \
 && strip target/release/meshctl \
 && cp target/release/meshctl /meshctl

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /meshctl /meshctl
# As the Deployment's securityContext expects; the capture init container runs as root.
USER 65532:65532
ENTRYPOINT ["/meshctl"]
