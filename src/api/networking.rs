//! `networking.istio.io/v1`: VirtualService, DestinationRule, ServiceEntry and Gateway, with
//! Istio's field names and shapes. Only the fields meshctl enforces are modelled; the rest of Istio's API is named in
//! [`super::UNSUPPORTED`] so that using it gets a "not supported by meshctl" finding instead of
//! being dropped.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;

/// Routing rules for the traffic addressed to a set of hosts.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "VirtualService",
    doc = "Istio VirtualService: routing rules for the traffic addressed to a set of hosts",
    namespaced,
    shortname = "vs"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServiceSpec {
    /// The destination hosts to which traffic is being sent: short names resolve in the
    /// VirtualService's namespace.
    pub hosts: Vec<String>,
    /// Gateways and sidecars that apply these routes; `mesh` (the default) means every sidecar.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// HTTP route rules, tried in order: the first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRoute>,
    /// Route rules for connections to the hosts' TCP ports, tried in order: the first match
    /// wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<TcpRoute>,
    /// Route rules for TLS connections the application owns (ports that carry TLS), by the
    /// name the client asks for (SNI), tried in order: the first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsRoute>,
    /// Namespaces to which this VirtualService is exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

impl VirtualServiceSpec {
    /// Whether its routes apply to the mesh's sidecars: `gateways` is empty or names `mesh`.
    pub fn in_mesh(&self) -> bool {
        self.gateways.is_empty() || self.gateways.iter().any(|g| g == "mesh")
    }

    /// The Gateways it binds to, each with its place in `gateways` and as (namespace, name): a
    /// bare name is in `namespace`, the VirtualService's own.
    pub fn bound_gateways<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = (usize, (&'a str, &'a str))> {
        let named = self.gateways.iter().enumerate().filter(|(_, g)| *g != "mesh");
        named.map(move |(i, g)| (i, g.split_once('/').unwrap_or((namespace, g.as_str()))))
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conditions, any of which selects this rule; no conditions match every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    /// Where matched requests go, split by weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<HttpRouteDestination>,
    /// Timeout for the whole request; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<HttpRetry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<HttpFaultInjection>,
    /// Also send a copy of each request here; responses to the copy are discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Destination>,
    /// Share of requests mirrored (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_percentage: Option<Percent>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpMatchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<StringMatch>,
    /// Header names must be lowercase.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, StringMatch>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query_params: BTreeMap<String, StringMatch>,
    /// Headers that must be absent (or not match).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub without_headers: BTreeMap<String, StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_uri_case: Option<bool>,
    /// The service port the request was sent to; any when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
}

/// Exactly one of `exact`, `prefix` or `regex` (RE2 syntax).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StringMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpRoute {
    /// Conditions, any of which selects this rule; no conditions match every connection.
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "match")]
    pub matches: Vec<L4MatchAttributes>,
    /// Where matched connections go, split by weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<HttpRouteDestination>,
}

impl TcpRoute {
    /// Whether the rule takes connections to `port`.
    pub fn applies_to(&self, port: u16) -> bool {
        self.matches.is_empty() || self.matches.iter().any(|m| m.port.is_none_or(|p| p == u32::from(port)))
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsRoute {
    /// Conditions, any of which selects this rule.
    #[serde(rename = "match")]
    #[schemars(length(min = 1))]
    pub matches: Vec<TlsMatchAttributes>,
    /// Where matched connections go, split by weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<HttpRouteDestination>,
}

impl TlsRoute {
    /// The names this rule takes on `port`, or none when it does not apply to the port.
    pub fn sni_hosts(&self, port: u16) -> Vec<&str> {
        let applies = |m: &&TlsMatchAttributes| m.port.is_none_or(|p| p == u32::from(port));
        self.matches.iter().filter(applies).flat_map(|m| m.sni_hosts.iter().map(String::as_str)).collect()
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsMatchAttributes {
    /// The names (SNI) the client may ask for; each must be one of the VirtualService's hosts
    /// or fall under one of them.
    #[schemars(length(min = 1))]
    pub sni_hosts: Vec<String>,
    /// The service port the connection was made to; any when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct L4MatchAttributes {
    /// The service port the connection was made to; any when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
}

/// A destination with its share of the traffic (Istio's RouteDestination for `tcp` and `tls`,
/// HTTPRouteDestination without headers for `http`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteDestination {
    pub destination: Destination,
    /// Relative share of traffic, 0-100; the weights of a route must add up to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub weight: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// The service, as a short name (resolved in the rule's namespace) or a fully qualified one.
    pub host: String,
    /// A subset defined by the DestinationRule for this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortSelector {
    #[schemars(range(min = 1, max = 65535))]
    pub number: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRetry {
    /// Number of retries (not counting the first try).
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<Duration>,
    /// Comma-separated conditions, as Envoy's `x-envoy-retry-on` (`5xx`, `connect-failure`, ...)
    /// or HTTP status codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpFaultInjection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delay {
    pub fixed_delay: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Abort {
    #[schemars(range(min = 200, max = 599))]
    pub http_status: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

/// A percentage, 0.0-100.0.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
pub struct Percent {
    #[schemars(range(min = 0, max = 100))]
    pub value: f64,
}

/// Policies that apply to traffic for a host after routing: subsets, load balancing,
/// connection pools, outlier detection and TLS.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "DestinationRule",
    doc = "Istio DestinationRule: subsets and traffic policy for a host after routing",
    namespaced,
    shortname = "dr"
)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRuleSpec {
    /// The service these policies apply to: short names resolve in the rule's namespace.
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named groups of the service's instances, selected by labels (usually `version`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subset {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Overrides the rule's traffic policy for this subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrafficPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPoolSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTlsSettings>,
}

/// Either `simple` or `consistentHash`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<SimpleLb>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_hash: Option<ConsistentHashLb>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    Unspecified,
    Random,
    RoundRobin,
    LeastRequest,
    /// Istio's deprecated name for LEAST_REQUEST.
    LeastConn,
}

/// Exactly one hash key: a header, a cookie, the source IP or a query parameter.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsistentHashLb {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_header_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_cookie: Option<HttpCookie>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_source_ip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_query_parameter_name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpCookie {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionPoolSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSettings>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpSettings {
    /// Requests queued while waiting for a connection; overflow is answered 503 at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http1_max_pending_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_max_requests: Option<u32>,
    /// 1 disables keep-alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
}

/// Ejects instances that keep failing from the load-balancing pool (circuit breaking).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutlierDetection {
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_gateway_errors: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub max_ejection_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub min_health_percent: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientTlsSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ClientTlsMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
    /// For SIMPLE: a file on the proxy with the roots the server's certificate must chain to;
    /// the system's roots by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificates: Option<String>,
    /// For SIMPLE: do not check the server's certificate at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientTlsMode {
    Disable,
    Simple,
    Mutual,
    IstioMutual,
}

/// A service the registry does not know, added by hand: one outside the mesh (an API on the
/// internet, a database on a VM), or mesh workloads the registry cannot see.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "ServiceEntry",
    doc = "Istio ServiceEntry: a service the registry does not know, such as one outside the mesh",
    namespaced,
    shortname = "se"
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEntrySpec {
    /// The names callers address, fully qualified (`api.example.com`).
    #[schemars(length(min = 1))]
    pub hosts: Vec<String>,
    /// Virtual IP addresses of the service: captured connections to them on its ports are
    /// its traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[schemars(length(min = 1))]
    pub ports: Vec<EntryPort>,
    /// Whether the service is outside the mesh (no mTLS) or runs mesh sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// How the proxies find the service's instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// The instances, for STATIC (IP addresses) and DNS (names) resolution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<WorkloadEntry>,
    /// For MESH_INTERNAL: the identities the instances' sidecars present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

/// A port of a ServiceEntry (Istio's `ServicePort`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryPort {
    #[schemars(range(min = 1, max = 65535))]
    pub number: u32,
    /// `HTTP`, `HTTP2`, `GRPC`, `TCP`, `TLS`, `HTTPS`, ... as for a Kubernetes port's
    /// `appProtocol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    pub name: String,
    /// The port the instances listen on; `number` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: Option<u32>,
}

impl EntryPort {
    pub fn protocol(&self) -> super::Protocol {
        super::Protocol::select(self.protocol.as_deref(), Some(&self.name))
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Location {
    MeshExternal,
    MeshInternal,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    /// Connect where the caller addressed: the original destination of a captured connection,
    /// or the host the request names.
    None,
    /// The endpoints' IP addresses.
    Static,
    /// The endpoints' names (or the hosts), resolved by DNS; every address is used.
    Dns,
    /// As DNS, but only the first address of each name.
    DnsRoundRobin,
}

/// An instance of a ServiceEntry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadEntry {
    /// An IP address (STATIC) or a DNS name (DNS).
    pub address: String,
    /// Where this instance listens for each port, by the port's name; else the port's
    /// `targetPort` or number.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u32>,
    /// Labels that DestinationRule subsets select on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// For MESH_INTERNAL: the identity of the instance's sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

/// The label by which Istio's Gateways select an ingress gateway, which meshctl's carries too,
/// so that Istio's samples (`selector: {istio: ingressgateway}`) bind to it unchanged.
pub const INGRESS_GATEWAY_LABEL: (&str, &str) = ("istio", "ingressgateway");

/// A load balancer at the edge of the mesh: the ports, protocols and hosts the gateways its
/// selector picks serve. VirtualServices that name it in `gateways` route what it takes.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "Gateway",
    doc = "Istio Gateway: the ports, protocols and hosts an ingress gateway serves",
    namespaced,
    shortname = "gw"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// The gateway Pods (by their labels) that serve it; meshctl's ingress gateway carries
    /// `istio: ingressgateway`, as Istio's does.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    #[schemars(length(min = 1))]
    pub servers: Vec<Server>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    pub port: GatewayPort,
    /// The hosts it serves: `host`, `*.domain`, `*`, each optionally `namespace/` first (the
    /// namespaces whose VirtualServices may bind; `*/` or none: any).
    #[schemars(length(min = 1))]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayPort {
    #[schemars(range(min = 1, max = 65535))]
    pub number: u32,
    pub protocol: GatewayProtocol,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum GatewayProtocol {
    Http,
    Https,
    Http2,
    Grpc,
    GrpcWeb,
    Tcp,
    Tls,
    Mongo,
}

impl Server {
    /// Its hosts as (namespaces allowed to bind, host): `*` when no namespace is written.
    pub fn host_entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.hosts.iter().map(|entry| entry.split_once('/').unwrap_or(("*", entry.as_str())))
    }

    /// Whether it serves `host` (a VirtualService's host) to VirtualServices of `namespace`.
    pub fn serves(&self, host: &str, namespace: &str) -> bool {
        self.host_entries().any(|(allowed, pattern)| {
            let allowed = match allowed {
                "*" => true,
                "." => false,
                ns => ns == namespace,
            };
            allowed && (super::host_matches(pattern, host) || super::host_matches(host, pattern))
        })
    }
}

/// What the sidecars of a namespace, or of the workloads its selector picks there, see of the
/// mesh: the services their outbound traffic may go to. One in Istio's root namespace without a
/// selector applies to every namespace without one of its own.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "Sidecar",
    doc = "Istio Sidecar: the services the sidecars of a namespace or of some workloads see",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct SidecarSpec {
    /// The workloads of its namespace it applies to, by their labels; without one, every
    /// workload of the namespace that no Sidecar with a selector picks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<SidecarWorkloadSelector>,
    /// Where the workloads' outbound traffic may go; none leaves them every service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressListener>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SidecarWorkloadSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The services a sidecar's outbound traffic may go to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct EgressListener {
    /// `NAMESPACE/DNS_NAME` each: the services of NAMESPACE (`*` any, `.` the workload's own,
    /// `~` none) whose fully qualified name DNS_NAME matches (`*`, `*.example.com`, or one
    /// name).
    #[schemars(length(min = 1))]
    pub hosts: Vec<String>,
}

impl SidecarSpec {
    /// Whether it picks a workload of `labels` by its selector; one without a selector picks none
    /// this way, only as its namespace's default.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.workload_selector.as_ref().is_some_and(|s| !s.labels.is_empty() && super::has_labels(&s.labels, labels))
    }

    /// Whether it is its namespace's default: it has no selector, or one that selects nothing.
    pub fn is_default(&self) -> bool {
        self.workload_selector.as_ref().is_none_or(|s| s.labels.is_empty())
    }

    /// Whether it lets a workload of `namespace` see a service of `service_namespace` at
    /// `host` (fully qualified).
    pub fn admits(&self, namespace: &str, service_namespace: &str, host: &str) -> bool {
        self.egress.is_empty()
            || self.egress.iter().flat_map(|e| &e.hosts).filter_map(|h| h.split_once('/')).any(|(ns, name)| {
                let ns_matches = match ns {
                    "*" => true,
                    "." => service_namespace == namespace,
                    "~" => false,
                    ns => ns == service_namespace,
                };
                ns_matches && super::host_matches(name, host)
            })
    }
}

/// The namespaces whose proxies see an object, as its `exportTo` (or a Service's
/// `networking.istio.io/exportTo` annotation) says: every one (`*`, and Istio's default when it
/// says nothing), its own (`.`), none (`~`), or those it names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Exported {
    #[default]
    Everywhere,
    To(std::collections::BTreeSet<String>),
}

impl Exported {
    /// What `export_to` says of an object in `namespace`.
    pub fn new<S: AsRef<str>>(export_to: &[S], namespace: &str) -> Exported {
        let names = || export_to.iter().map(|n| n.as_ref().trim());
        if export_to.is_empty() || names().any(|n| n == "*") {
            return Exported::Everywhere;
        }
        let to = names().filter(|&n| n != "~").map(|n| if n == "." { namespace } else { n });
        Exported::To(to.map(str::to_string).collect())
    }

    /// Whether the proxies of `namespace` see it.
    pub fn to(&self, namespace: &str) -> bool {
        match self {
            Exported::Everywhere => true,
            Exported::To(namespaces) => namespaces.contains(namespace),
        }
    }
}
