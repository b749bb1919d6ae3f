//! The Kubernetes backend. So far: what `meshctl install` puts on a cluster and the calls that
//! put it there; the store on the API, the reflectors and injection follow (issue 10).
//!
//! ```text
//!   cli/cluster.rs ──Settings──▶ install::objects (pure: the manifests, in apply order)
//!         │                              │
//!         └──────────▶ client::Cluster ◀─┘  server-side apply, get, list, delete on the API
//! ```

pub mod ca;
pub mod client;
pub mod install;
pub mod store;
