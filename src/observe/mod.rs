//! Observing the mesh: the traces the proxies report, collected in the controller.
//!
//! ```text
//!   proxies ──Zipkin JSON──▶ collector (controller) ──▶ TraceStore (bounded)
//!                                   ▲
//!   meshctl trace ──Mesh::traces────┘  local: the controller's collector port; a cluster:
//!                                      each replica's status port through pods/proxy
//! ```

pub mod collector;
pub mod trace;
