//! The Kubernetes backend. So far: what `meshctl install` puts on a cluster and the calls that
//! put it there, and the controller's registry of what runs there (reflectors over Services,
//! EndpointSlices and Pods); the store on the API and injection follow (issue 10).
//!
//! ```text
//!   cli/cluster.rs ──Settings──▶ install::objects (pure: the manifests, in apply order)
//!         │                              │
//!         └──────────▶ client::Cluster ◀─┘  server-side apply, get, list, delete on the API
//!
//!   controller ──Registry──▶ registry::KubeRegistry ──watch──▶ the API
//!                                   └── registry::view (pure: objects ─▶ services, proxies)
//! ```

pub mod ca;
pub mod client;
pub mod install;
pub mod ports;
pub mod registry;
