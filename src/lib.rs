//! meshctl: a service mesh in one binary. See `DESIGN.md` in the team's shared notes for the
//! layers; each module's doc says where it sits.
#![forbid(unsafe_code)]

pub mod api;
pub mod canary;
pub mod cli;
pub mod controller;
pub mod dashboard;
pub mod demo_app;
pub mod generate;
pub mod grpc;
pub mod http;
pub mod ingress;
pub mod kube;
pub mod mesh;
pub mod metrics;
pub mod observe;
pub mod pki;
pub mod policy;
pub mod publish;
pub mod runtime;
pub mod store;
pub mod translate;
pub mod xds;
