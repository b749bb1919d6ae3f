//! `meshctl.io/v1alpha1`: meshctl's own kinds. `Canary` describes a stepped rollout with health
//! gates; `CertificateRotation` asks for the mesh's certificates (and root) to be replaced;
//! `Workload` is a service instance in the local mesh (a process with a sidecar), which is also
//! what makes up the service registry there.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;

/// A progressive rollout of one service from its stable subset to a canary subset.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "meshctl.io",
    version = "v1alpha1",
    kind = "Canary",
    doc = "meshctl Canary: a stepped rollout of a service with health gates",
    namespaced,
    status = "CanaryStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Weight","type":"integer","jsonPath":".status.weight"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CanarySpec {
    /// The service being rolled out, as a short or fully qualified host.
    pub service: String,
    /// The subset that serves traffic now (with `api: Gateway`, the Service).
    pub stable: String,
    /// The subset being rolled out (with `api: Gateway`, the Service).
    pub canary: String,
    /// Which routes the rollout moves the weights of.
    #[serde(default, skip_serializing_if = "RouteApi::is_istio")]
    pub api: RouteApi,
    /// Canary weights in percent, rising, ending at 100.
    #[serde(default = "default_steps")]
    #[schemars(length(min = 1), inner(range(min = 1, max = 100)))]
    pub steps: Vec<u32>,
    /// How long each step lasts at least before its gates are checked.
    #[serde(default = "default_interval")]
    pub interval: Duration,
    #[serde(default)]
    pub gates: Gates,
    /// How many failed gate evaluations roll the canary back.
    #[serde(default = "default_failure_threshold")]
    #[schemars(range(min = 1))]
    pub failure_threshold: u32,
    /// Fail the rollout when a step has had no usable traffic for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline: Option<Duration>,
    /// Hold the rollout where it is (`meshctl canary pause`/`resume`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// A person's decision that overrides the gates (`meshctl canary promote`/`abort`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<ManualDecision>,
}

/// Which API a route is written in, and a rollout moves weights in.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RouteApi {
    /// Istio's: a VirtualService's weights between subsets of the service (a DestinationRule's).
    #[default]
    Istio,
    /// The Gateway API's: the weights of two Services (`stable`, `canary`) in the HTTPRoutes
    /// attached to the service, as Flagger's Gateway API provider moves them.
    Gateway,
}

impl RouteApi {
    fn is_istio(&self) -> bool {
        *self == RouteApi::Istio
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ManualDecision {
    /// All traffic to the canary now.
    Promote,
    /// All traffic back to stable now.
    Abort,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    /// Lowest acceptable share of non-5xx responses from the canary, in percent.
    #[serde(default = "default_min_success_rate")]
    #[schemars(range(min = 0, max = 100))]
    pub min_success_rate: f64,
    /// Highest acceptable 99th-percentile latency of the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99: Option<Duration>,
    /// Fewer requests than this in a window is no evidence: the step holds.
    #[serde(default = "default_min_requests")]
    #[schemars(range(min = 1))]
    pub min_requests: u32,
    /// Also roll back as soon as a sequential test shows the canary's error rate is clearly
    /// worse than allowed, without waiting for the end of the step.
    #[serde(default = "default_sequential_test")]
    pub sequential_test: bool,
}

impl Default for Gates {
    fn default() -> Self {
        Gates {
            min_success_rate: default_min_success_rate(),
            max_p99: None,
            min_requests: default_min_requests(),
            sequential_test: default_sequential_test(),
        }
    }
}

fn default_steps() -> Vec<u32> {
    vec![10, 50, 100]
}

fn default_interval() -> Duration {
    Duration(std::time::Duration::from_secs(30))
}

fn default_failure_threshold() -> u32 {
    1
}

fn default_min_success_rate() -> f64 {
    99.0
}

fn default_min_requests() -> u32 {
    20
}

fn default_sequential_test() -> bool {
    true
}

/// Written by the controller only.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<CanaryPhase>,
    /// Index into `spec.steps` of the current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// The canary's current weight in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// RFC 3339 times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the current evaluation period began (RFC 3339): a step's start, or a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<String>,
    /// Failed gate evaluations so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluations: Vec<Evaluation>,
    /// The `metadata.generation` this status answers: a change to the spec (`canary pause`,
    /// `resume`, `abort`, an edit) has been seen once this reaches its generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Kubernetes-style conditions, for `kubectl wait --for=condition=Promoted`: `Promoted` is
    /// `True` once every proxy sends the canary all traffic, `False` once every proxy runs a
    /// rollback or failure, and `Unknown` until then; its reason is the phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The type of a Canary's one condition.
pub const PROMOTED: &str = "Promoted";

/// A request to replace the mesh's certificates: every workload certificate is reissued, and
/// with `root`, the root is replaced first. The controller carries it out, one stage at a time,
/// each taken only once every proxy runs the one before, and records the stage in the status.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "meshctl.io",
    version = "v1alpha1",
    kind = "CertificateRotation",
    doc = "meshctl CertificateRotation: the mesh's certificates, and with root its root, replaced without dropping a request",
    namespaced,
    status = "RotationStatus",
    printcolumn = r#"{"name":"Root","type":"boolean","jsonPath":".spec.root"}"#,
    printcolumn = r#"{"name":"Stage","type":"string","jsonPath":".status.stage"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRotationSpec {
    /// Replace the root as well: the new root is trusted everywhere before it signs, and the
    /// old one is dropped once no proxy holds a certificate from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
}

/// Written by the controller only.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<RotationStage>,
    /// The root being replaced, and the one replacing it (with `spec.root`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_root: Option<String>,
    /// With `Reissuing`: certificates issued before this moment, in milliseconds since the
    /// Unix epoch, are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reissue_before_unix_ms: Option<u64>,
    /// What the stage waits for, or why the rotation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the stage began (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// Where a rotation stands. With a new root: `Trusting` (the new root is trusted beside the
/// old, which still signs), `Signing` (the new root signs, and every certificate is reissued
/// from it; the old is still trusted), `Completed` (the old root is dropped). Without:
/// `Reissuing`, then `Completed`. `Failed` says why in the message.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RotationStage {
    Trusting,
    Signing,
    Reissuing,
    Completed,
    Failed,
}

impl RotationStage {
    pub fn is_finished(self) -> bool {
        matches!(self, RotationStage::Completed | RotationStage::Failed)
    }
}

/// A condition as Kubernetes objects report them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    #[serde(default)]
    pub message: String,
    /// When `status` last changed (RFC 3339).
    pub last_transition_time: String,
    pub observed_generation: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CanaryPhase {
    Pending,
    Progressing,
    Paused,
    Promoted,
    RolledBack,
    Failed,
}

impl CanaryPhase {
    /// The `Promoted` condition's status once the proxies run this phase's weights.
    pub fn promoted(self) -> &'static str {
        match self {
            CanaryPhase::Promoted => "True",
            CanaryPhase::RolledBack | CanaryPhase::Failed => "False",
            CanaryPhase::Pending | CanaryPhase::Progressing | CanaryPhase::Paused => "Unknown",
        }
    }

    /// Whether the rollout is over: only a new one moves traffic again.
    pub fn is_finished(self) -> bool {
        matches!(self, CanaryPhase::Promoted | CanaryPhase::RolledBack | CanaryPhase::Failed)
    }
}

/// One check of the gates, with the figures it was decided on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub time: String,
    pub step: u32,
    pub weight: u32,
    pub canary: WindowFigures,
    pub stable: WindowFigures,
    pub verdict: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowFigures {
    pub requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

/// A service instance in the local mesh: a command run with a sidecar beside each replica.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "meshctl.io",
    version = "v1alpha1",
    kind = "Workload",
    doc = "meshctl Workload: a service instance in the local mesh",
    namespaced,
    printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.service"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".spec.replicas"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// The service this workload serves (a DNS label, like a Kubernetes Service name).
    pub service: String,
    /// Labels that DestinationRule subsets select on; `version` names the subset.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The identity of the workload's certificate; the service name by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default = "default_replicas")]
    #[schemars(range(max = 64))]
    pub replicas: u32,
    /// The program and its arguments; it must listen on `$PORT` (its first port), and on
    /// `$PORT_NAME` for each named port (`PORT_GRPC` for a port named `grpc`).
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// The service's ports, each as callers address it (`http://profile:8080`) with what it
    /// carries; one HTTP port 80 by default.
    #[serde(default = "default_ports")]
    #[schemars(length(min = 1))]
    pub ports: Vec<WorkloadPort>,
}

/// A port of a Workload's service. Its protocol is chosen as for a Kubernetes Service port:
/// `appProtocol`, else the name (`http`, `grpc-api`, `tcp-db`), else TCP.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadPort {
    /// A DNS label; the application finds this port in `$PORT_NAME`.
    pub name: String,
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

impl WorkloadPort {
    pub fn protocol(&self) -> super::Protocol {
        super::Protocol::select(self.app_protocol.as_deref(), Some(&self.name))
    }

    /// The environment variable the application finds this port in: `PORT_GRPC_API` for
    /// `grpc-api`.
    pub fn variable(&self) -> String {
        let suffix: String =
            self.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
        format!("PORT_{suffix}")
    }
}

fn default_replicas() -> u32 {
    1
}

fn default_ports() -> Vec<WorkloadPort> {
    vec![WorkloadPort { name: "http".into(), port: 80, app_protocol: None }]
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}
