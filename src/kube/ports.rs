//! The ports of a meshctl proxy in a Pod: Istio's well-known ones (DESIGN.md, "Kubernetes
//! mode"), so users' habits and tooling carry over. One place for the registry, which tells
//! the translator where each sidecar listens, and for injection, which sets them up.
//! The admin and statistics ports are install's, as the ingress gateway's bootstrap uses them.

pub use super::install::{ADMIN_PORT, STATS_PORT};

/// A sidecar's inbound listener on the Pod's IP: the mesh address of the Pod's workload.
pub const INBOUND_PORT: u16 = 15006;
/// A sidecar's outbound listener on the Pod's loopback: the application's `HTTP_PROXY`.
pub const OUTBOUND_PORT: u16 = 15001;
