# The meshctl image the cluster's controller runs (`meshctl install --image`): one static
# binary on a base with no shell and no libc, run as a non-root user.
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

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /meshctl /meshctl
# distroless's `nonroot`, as the Deployment's securityContext expects.
USER 65532:65532
ENTRYPOINT ["/meshctl"]
