//! The Kubernetes backend: what `meshctl install` puts on a cluster and the calls that put it
//! there; the store on the API; the controller's registry of what runs there (reflectors over
//! Services, EndpointSlices and Pods); `check --pre`'s questions to a cluster before install;
//! sidecar injection (pure) and the webhook that serves it; the capture rules it sets up.
//!
//! ```text
//!   cli/cluster.rs ──Settings──▶ install::objects (pure: the manifests, in apply order)
//!         │                              │
//!         └──────────▶ client::Cluster ◀─┘  server-side apply, get, list, delete on the API
//!
//!   controller ──Store──▶ store::KubeStore ──apply, status──▶ the API
//!                                   └── index::Index ──list once, then watch, kind by kind──▶ the API
//!   controller ──Registry──▶ registry::KubeRegistry ──watch──▶ the API
//!                                   └── registry::view (pure: objects ─▶ services, proxies)
//! ```

pub mod admission;
pub mod ca;
pub mod capture;
pub mod client;
pub mod controller;
pub mod demo;
pub mod gateways;
pub mod identity;
pub mod index;
pub mod inject;
pub mod install;
pub mod lease;
pub mod pod;
pub mod ports;
pub mod precheck;
pub mod registry;
pub mod roots;
pub mod store;
pub mod watch;
pub mod webhook;
