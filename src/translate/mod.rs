//! Pure translation: a mesh snapshot and one proxy's identity in, that proxy's Envoy
//! resources out. Nothing here knows where the snapshot came from (local files or Kubernetes)
//! or how the resources travel (the xDS server), so both backends share it unchanged.
//!
//! ```text
//!   MeshSnapshot ──┬── routes:   VirtualService http rules → RouteConfiguration "outbound"
//!   + Proxy        ├── clusters: service × subset (DestinationRule) → Cluster (EDS)
//!                  ├── endpoints: instances with the subset's labels → ClusterLoadAssignment
//!                  └── listeners: sidecar inbound + outbound, or the gateway's one
//! ```
//!
//! Names are stable, so a resource that did not change between snapshots is byte-identical and
//! Envoy keeps it without a drain: clusters are `outbound|PORT|SUBSET|FQDN` (Istio's scheme),
//! the inbound cluster `inbound|PORT||`.

mod authz;
mod bootstrap;
mod capture;
mod choice;
mod cluster;
mod external;
mod ingress;
mod mesh_route;
mod pb;
mod resources;
mod route;
mod scope;
mod security;
mod trace;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::TrafficDirection;
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, Listener, filter};
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::extensions::filters::http::grpc_stats::v3::FilterConfig as GrpcStats;
use envoy_types::pb::envoy::extensions::filters::http::grpc_web::v3::GrpcWeb;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm;

use crate::api::Protocol;
use crate::api::networking::{DestinationRule, DestinationRuleSpec, Resolution, VirtualService};
use crate::api::security::{
    AuthorizationPolicy, AuthorizationPolicySpec, MtlsMode, PeerAuthentication, PeerAuthenticationSpec,
    RequestAuthentication, RequestAuthenticationSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use bootstrap::{
    ControlPlane, LATENCY_BUCKETS_MS, XDS_CLUSTER, bootstrap, envoy_args, static_cluster, static_http_listener,
};
pub use capture::INBOUND_SOURCE;
use choice::{COMMON, Class};
pub use external::{DnsName, Entry, Origin, OutboundPolicy};
pub use pb::any as pack;
pub use resources::{Encoded, Resources, Type};
use scope::{Scope, View};
pub use security::{CERTIFICATE_SECRET, ROOTS_SECRET};
pub use trace::{COLLECTOR_CLUSTER, SPANS_PATH, Tracing};

/// Everything the translator needs to know about the mesh at one moment. The policy is
/// borrowed from the objects it was read from: a change at a thousand services would otherwise
/// copy two thousand of them for each translation.
#[derive(Clone, Debug, Default)]
pub struct MeshSnapshot<'r> {
    pub services: Vec<Service>,
    pub virtual_services: Vec<&'r VirtualService>,
    pub destination_rules: Vec<&'r DestinationRule>,
    pub peer_authentications: Vec<&'r PeerAuthentication>,
    pub authorization_policies: Vec<&'r AuthorizationPolicy>,
    pub request_authentications: Vec<&'r RequestAuthentication>,
    pub tracing: Tracing,
    pub outbound_policy: OutboundPolicy,
    /// The Gateway API's routes attached to Services; a VirtualService for the same host wins.
    mesh_routes: mesh_route::MeshRoutes,
    /// Istio's Gateways, which VirtualServices bind to by `gateways`.
    gateways: Vec<&'r crate::api::networking::Gateway>,
    /// The Gateway API's objects, which the Gateways' proxies are built from.
    gateway_api: Vec<&'r crate::api::Resource>,
    reference_grants: Vec<&'r crate::api::gateway::ReferenceGrant>,
    /// What the sidecars of a namespace, or some of them, see of the mesh.
    sidecars: Vec<&'r crate::api::networking::Sidecar>,
    /// The namespaces' labels and the certificates the Gateway API's Gateways are judged with.
    pub environment: crate::ingress::Environment,
    /// The DestinationRule and VirtualService that the proxies of each class take for each
    /// fully qualified host, by position: found once per snapshot, since every proxy's
    /// translation asks for every service's.
    classes: choice::Classes,
    service_of: HashMap<String, usize>,
}

impl<'r> MeshSnapshot<'r> {
    /// The snapshot of the registry's `services` and the ServiceEntries' under the policies
    /// among `resources` (which have passed validation); other kinds are not the translator's
    /// business. Where an entry names a host the registry has, the registry's service wins.
    pub fn new(services: Vec<Service>, resources: impl IntoIterator<Item = &'r crate::api::Resource>) -> Self {
        use crate::api::Resource;
        let mut snapshot = MeshSnapshot { services, ..MeshSnapshot::default() };
        let mut mesh_routes = Vec::new();
        for resource in resources {
            match resource {
                Resource::HTTPRoute(route) => {
                    mesh_routes.push(&**route);
                    snapshot.gateway_api.push(resource);
                }
                Resource::ReferenceGrant(grant) => {
                    snapshot.reference_grants.push(grant);
                    snapshot.gateway_api.push(resource);
                }
                Resource::GatewayClass(_) | Resource::Gateway(_) => snapshot.gateway_api.push(resource),
                Resource::IstioGateway(gateway) => snapshot.gateways.push(gateway),
                Resource::Sidecar(sidecar) => snapshot.sidecars.push(sidecar),
                Resource::ServiceEntry(se) => snapshot.services.extend(external::services(se)),
                Resource::VirtualService(vs) => snapshot.virtual_services.push(vs),
                Resource::DestinationRule(dr) => snapshot.destination_rules.push(dr),
                Resource::PeerAuthentication(pa) => snapshot.peer_authentications.push(pa),
                Resource::AuthorizationPolicy(ap) => snapshot.authorization_policies.push(ap),
                Resource::RequestAuthentication(ra) => snapshot.request_authentications.push(ra),
                _ => {}
            }
        }
        snapshot.mesh_routes = mesh_route::MeshRoutes::new(mesh_routes);
        for (i, service) in snapshot.services.iter().enumerate() {
            snapshot.service_of.entry(service.host()).or_insert(i);
        }
        let claim = choice::Claim::new;
        let rules: Vec<choice::Claim> = snapshot
            .destination_rules
            .iter()
            .enumerate()
            .map(|(i, dr)| claim(&dr.metadata, &dr.spec.host, &dr.spec.export_to, i))
            .collect();
        // A VirtualService bound only to gateways routes nothing in the mesh.
        let in_mesh = snapshot.virtual_services.iter().enumerate().filter(|(_, vs)| vs.spec.in_mesh());
        let routes: Vec<choice::Claim> = in_mesh
            .flat_map(|(i, vs)| vs.spec.hosts.iter().map(move |h| (i, vs, h)))
            .map(|(i, vs, host)| claim(&vs.metadata, host, &vs.spec.export_to, i))
            .collect();
        snapshot.classes = choice::Classes::new(&routes, &rules);
        snapshot
    }

    /// The class of the proxies of `namespace`: which VirtualServices and DestinationRules
    /// they take.
    fn class(&self, namespace: &str) -> Class {
        self.classes.of(namespace)
    }

    /// The DestinationRule that `class` takes for a fully qualified host, if there is one.
    fn destination_rule(&self, class: Class, host: &str) -> Option<&DestinationRule> {
        self.classes.destination_rule(class, host).map(|i| self.destination_rules[i])
    }

    /// The service of a fully qualified host, if there is one.
    fn service(&self, host: &str) -> Option<&Service> {
        self.service_of.get(host).map(|&i| &self.services[i])
    }

    /// The VirtualServices exported to `proxy_namespace` and bound to an Istio Gateway that selects a
    /// gateway of `labels` there, each with its hosts that the Gateway's HTTP servers serve, in
    /// order.
    fn bound_virtual_services(
        &self,
        proxy_namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<(&VirtualService, Vec<String>)> {
        use crate::api::networking::GatewayProtocol;
        let selecting: Vec<&crate::api::networking::Gateway> = self
            .gateways
            .iter()
            .copied()
            .filter(|g| !g.spec.selector.is_empty() && crate::api::has_labels(&g.spec.selector, labels))
            .collect();
        let exported = |vs: &&VirtualService| {
            crate::api::networking::Exported::new(&vs.spec.export_to, namespace(&vs.metadata)).to(proxy_namespace)
        };
        self.virtual_services
            .iter()
            .copied()
            .filter(exported)
            .filter_map(|vs| {
                let ns = namespace(&vs.metadata);
                let bound = |g: &&crate::api::networking::Gateway| {
                    let this = (namespace(&g.metadata), g.metadata.name.as_deref().unwrap_or_default());
                    vs.spec.bound_gateways(ns).any(|(_, named)| named == this)
                };
                let servers: Vec<_> = selecting
                    .iter()
                    .filter(|g| bound(g))
                    .flat_map(|g| &g.spec.servers)
                    .filter(|s| s.port.protocol == GatewayProtocol::Http)
                    .collect();
                let hosts: Vec<String> =
                    vs.spec.hosts.iter().filter(|h| servers.iter().any(|s| s.serves(h, ns))).cloned().collect();
                (!hosts.is_empty()).then_some((vs, hosts))
            })
            .collect()
    }

    /// The VirtualService that routes a fully qualified host for `class`, if there is one.
    fn virtual_service(&self, class: Class, host: &str) -> Option<&VirtualService> {
        self.classes.virtual_service(class, host).map(|i| self.virtual_services[i])
    }
}

/// A service callers address by name, and the instances that serve it.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    /// The ports callers address (`http://profile:80`, `profile:5432`); never empty.
    pub ports: Vec<ServicePort>,
    /// The virtual addresses callers whose traffic is captured may use instead of a name (a
    /// Kubernetes Service's cluster IP, a ServiceEntry's addresses); the local mesh has none.
    pub addresses: Vec<IpAddr>,
    pub instances: Vec<Instance>,
    pub origin: Origin,
    /// The namespaces whose proxies see it.
    pub exported: crate::api::networking::Exported,
}

impl Service {
    pub fn host(&self) -> String {
        match &self.origin {
            Origin::Registry => crate::policy::service_host(&self.name, &self.namespace),
            Origin::Entry(entry) => entry.host.clone(),
        }
    }

    /// Whether its instances are outside the mesh, so never spoken to in mTLS unasked.
    fn is_external(&self) -> bool {
        matches!(&self.origin, Origin::Entry(e) if e.location == crate::api::networking::Location::MeshExternal)
    }

    pub fn port(&self, number: u16) -> Option<&ServicePort> {
        self.ports.iter().find(|p| p.number == number)
    }

    /// The port a request names no port for goes to (`http://profile/`): the first HTTP one.
    pub fn default_http_port(&self) -> Option<&ServicePort> {
        self.ports.iter().find(|p| p.protocol.is_http())
    }
}

/// A port of a service, and what it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    pub name: String,
    pub number: u16,
    pub protocol: Protocol,
}

/// One instance of a service: where its sidecar accepts mesh traffic, and its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub ip: IpAddr,
    /// Where at `ip` its sidecar takes each service port's traffic, by the service port's
    /// number; a port it does not serve is missing.
    pub ports: BTreeMap<u16, u16>,
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
}

impl Instance {
    /// The SPIFFE identity its sidecar presents.
    pub fn identity(&self, namespace: &str) -> String {
        crate::api::Identity::new(namespace, &self.service_account).uri()
    }

    /// Where it takes the traffic of service port `number`.
    pub fn address(&self, number: u16) -> Option<SocketAddr> {
        self.ports.get(&number).map(|&port| SocketAddr::new(self.ip, port))
    }
}

/// The proxy a configuration is for.
#[derive(Clone, Debug, PartialEq)]
pub enum Proxy {
    Sidecar(Sidecar),
    Gateway(Gateway),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sidecar {
    pub node_id: String,
    pub service: String,
    pub namespace: String,
    /// The service ports its application serves; empty for a client only.
    pub ports: Vec<InboundPort>,
    /// Where the application sends its outbound calls (its `HTTP_PROXY`), or with `capture`,
    /// where the Pod's outbound traffic is redirected.
    pub outbound: SocketAddr,
    /// The Pod's traffic is captured, and its inbound traffic redirected here: both listeners
    /// pick their filter chain by the original destination (`capture.rs`) instead of each
    /// port being addressed at a listener of its own.
    pub capture: Option<SocketAddr>,
    pub labels: BTreeMap<String, String>,
    pub credentials: Credentials,
}

/// A service port as one sidecar serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundPort {
    pub service_port: ServicePort,
    /// Where mesh traffic for it arrives: its listener's address, or with capture, the
    /// address callers send to (whose port the capture listener matches).
    pub listen: SocketAddr,
    /// Where the application serves it.
    pub app: SocketAddr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gateway {
    pub node_id: String,
    /// The Gateway API's Gateway (namespace, name) it serves, listening as its listeners say at
    /// `listen`'s address; none for install's ingress gateway, which listens at `listen` for
    /// Istio's Gateways.
    pub serves: Option<(String, String)>,
    /// Short host names resolve in this namespace.
    pub namespace: String,
    pub listen: SocketAddr,
    /// Its Pod's labels, which Istio Gateways' selectors pick it by.
    pub labels: BTreeMap<String, String>,
    pub credentials: Credentials,
}

/// What a proxy proves its identity with and whom it trusts, PEM-encoded; delivered by SDS.
/// Debug output leaves the key out.
#[derive(Clone, Default, PartialEq)]
pub struct Credentials {
    pub cert_chain: String,
    pub private_key: String,
    pub trust_bundle: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

impl Proxy {
    pub fn node_id(&self) -> &str {
        match self {
            Proxy::Sidecar(s) => &s.node_id,
            Proxy::Gateway(g) => &g.node_id,
        }
    }

    pub fn credentials(&self) -> &Credentials {
        match self {
            Proxy::Sidecar(s) => &s.credentials,
            Proxy::Gateway(g) => &g.credentials,
        }
    }

    /// This proxy with the credentials `credentials` gives its node id; `None` if it gives none
    /// (the proxy is not to be configured).
    pub fn credentialed(&self, credentials: &dyn Fn(&str) -> Option<Credentials>) -> Option<Proxy> {
        let given = credentials(self.node_id())?;
        let mut proxy = self.clone();
        match &mut proxy {
            Proxy::Sidecar(s) => s.credentials = given,
            Proxy::Gateway(g) => g.credentials = given,
        }
        Some(proxy)
    }
}

/// The route configuration every outbound listener (and the gateway's) loads over RDS.
pub const OUTBOUND_ROUTES: &str = "outbound";

/// A snapshot's translation. What every proxy shares — a cluster and its endpoints per service
/// and subset, each service's virtual hosts, and the outbound routes of each namespace made of
/// them — is built and encoded once; each proxy adds only its own listeners, inbound cluster
/// and secrets. In a mesh of a thousand services that shared part is thousands of resources,
/// the same for every proxy.
pub struct Translation<'a> {
    snapshot: &'a MeshSnapshot<'a>,
    /// For each class of proxies (`choice`), each service's part of what they share and its
    /// virtual hosts, in the snapshot's order.
    classes: Vec<ClassParts>,
    /// What a proxy that sees every service is sent of them.
    everything: Arc<View>,
    /// Whether any proxy sees less (`MeshSnapshot::is_scoped`).
    scoped: bool,
    /// What it builds once for many proxies, shared with the next translation.
    built: Arc<Mutex<Built>>,
    /// The Gateway API's Gateways meshctl serves, judged once for every gateway proxy.
    ingress: crate::ingress::Ingress<'a>,
}

/// Each service's part of what a class of proxies share, and its virtual hosts, by place.
struct ClassParts {
    parts: Vec<Arc<SharedPart>>,
    routes: Vec<Arc<route::ServiceRoutes>>,
}

/// What one service adds to the part the proxies that see it share: its clusters and their
/// endpoints, with what they were built from.
struct SharedPart {
    service: Service,
    rule: Option<DestinationRuleSpec>,
    /// Whether each instance accepts mTLS on each port, port by port.
    accepts_mtls: Vec<bool>,
    clusters: Vec<Arc<Encoded>>,
    endpoints: Vec<Arc<Encoded>>,
    /// Whether a cluster refers to the proxies' secrets.
    uses_secrets: bool,
    /// Its clusters of an entry resolved as the caller addressed (NONE), which a captured
    /// sidecar sends to the connection's original destination instead of the host the request
    /// names: the caller resolved the name itself, perhaps not as DNS would.
    as_addressed: Vec<String>,
}

impl SharedPart {
    fn build(service: &Service, rule: Option<&DestinationRule>, accepts_mtls: Vec<bool>) -> SharedPart {
        let forwarded = matches!(&service.origin, Origin::Entry(e) if e.resolution == Resolution::None);
        let mut part = SharedPart {
            service: service.clone(),
            rule: rule.map(|r| r.spec.clone()),
            accepts_mtls,
            clusters: Vec::new(),
            endpoints: Vec::new(),
            uses_secrets: false,
            as_addressed: Vec::new(),
        };
        for (p, port) in service.ports.iter().enumerate() {
            let accepts = &part.accepts_mtls[p * service.instances.len()..][..service.instances.len()];
            let accepts_mtls =
                |i: &Instance| service.instances.iter().position(|other| other == i).is_some_and(|at| accepts[at]);
            for (cluster, assignment) in cluster::outbound(service, port, rule, &accepts_mtls) {
                part.uses_secrets |= uses_secrets(&cluster);
                if forwarded {
                    part.as_addressed.push(cluster.name.clone());
                }
                if let Some(assignment) = assignment {
                    part.endpoints.push(Encoded::new(assignment.cluster_name.clone(), pack(&assignment)));
                }
                part.clusters.push(Encoded::new(cluster.name.clone(), pack(&cluster)));
            }
        }
        part
    }

    /// Whether it was built from these inputs.
    fn built_from(&self, service: &Service, rule: Option<&DestinationRule>, accepts_mtls: &[bool]) -> bool {
        self.service == *service && self.rule.as_ref() == rule.map(|r| &r.spec) && self.accepts_mtls == accepts_mtls
    }
}

/// What a sidecar has of its own, encoded: its inbound listeners and clusters, the listener and
/// cluster of its outbound calls when its traffic is not captured, the clusters that fetch its
/// JWT keys, and its secrets. Built from the sidecar and from the snapshot's security policies
/// and tracing alone (`OwnInputs`), so kept across translations while those stay the same: in
/// a mesh of 3,000 proxies, building them all again was a quarter of what a change cost.
struct OwnPart {
    clusters: Vec<Arc<Encoded>>,
    listeners: Vec<Arc<Encoded>>,
    /// Whether a listener refers to the proxy's secrets.
    listeners_use_secrets: bool,
    secrets: Vec<Arc<Encoded>>,
}

/// What every sidecar's own part is built from, besides the sidecar: the security policies
/// (each with where it is and its name, which its rules' names carry) and tracing.
#[derive(Default)]
struct OwnInputs {
    peer_authentications: Vec<(ObjectName, PeerAuthenticationSpec)>,
    authorization_policies: Vec<(ObjectName, AuthorizationPolicySpec)>,
    request_authentications: Vec<(ObjectName, RequestAuthenticationSpec)>,
    tracing: Tracing,
}

/// An object's namespace and name.
type ObjectName = (Option<String>, Option<String>);

impl OwnInputs {
    fn of(snapshot: &MeshSnapshot) -> OwnInputs {
        let name = |meta: &ObjectMeta| (meta.namespace.clone(), meta.name.clone());
        OwnInputs {
            peer_authentications: snapshot
                .peer_authentications
                .iter()
                .map(|o| (name(&o.metadata), o.spec.clone()))
                .collect(),
            authorization_policies: snapshot
                .authorization_policies
                .iter()
                .map(|o| (name(&o.metadata), o.spec.clone()))
                .collect(),
            request_authentications: snapshot
                .request_authentications
                .iter()
                .map(|o| (name(&o.metadata), o.spec.clone()))
                .collect(),
            tracing: snapshot.tracing,
        }
    }

    fn hold(&self, snapshot: &MeshSnapshot) -> bool {
        fn same<'a, S: PartialEq + 'a>(
            kept: &[(ObjectName, S)],
            now: impl ExactSizeIterator<Item = (&'a ObjectMeta, &'a S)>,
        ) -> bool {
            kept.len() == now.len()
                && kept
                    .iter()
                    .zip(now)
                    .all(|((name, spec), (meta, now))| name.0 == meta.namespace && name.1 == meta.name && spec == now)
        }
        same(&self.peer_authentications, snapshot.peer_authentications.iter().map(|o| (&o.metadata, &o.spec)))
            && same(
                &self.authorization_policies,
                snapshot.authorization_policies.iter().map(|o| (&o.metadata, &o.spec)),
            )
            && same(
                &self.request_authentications,
                snapshot.request_authentications.iter().map(|o| (&o.metadata, &o.spec)),
            )
            && self.tracing == snapshot.tracing
    }
}

impl OwnPart {
    fn build(snapshot: &MeshSnapshot, s: &Sidecar) -> OwnPart {
        let mut clusters = Vec::new();
        let mut listeners = Vec::new();
        let host = crate::policy::service_host(&s.service, &s.namespace);
        let mut jwks_clusters = Vec::new();
        let mut served = Vec::new();
        for port in &s.ports {
            // Two service ports may send to one port of the Pod (80 and 8080 to 8080):
            // its captured traffic is one port's, served as the first one says.
            if s.capture.is_some() && served.iter().any(|(p, _)| *p == port.listen.port()) {
                continue;
            }
            let number = port.service_port.number;
            let inbound = cluster::inbound(port);
            // Policies name the port the workload serves as its service's.
            let filters = if port.service_port.protocol.is_http() {
                let (policy_filters, jwks) = authz::inbound_filters(snapshot, &s.namespace, &s.labels, number);
                jwks_clusters.extend(jwks);
                vec![network_filter(&http_manager(
                    "inbound",
                    hcm::http_connection_manager::RouteSpecifier::RouteConfig(route::inbound(
                        &inbound.name,
                        trace::operation(&host, number),
                    )),
                    policy_filters,
                    snapshot.tracing.manager(false),
                ))]
            } else {
                let mut filters = authz::inbound_tcp_filters(snapshot, &s.namespace, &s.labels, number);
                filters.push(capture::tcp_to(&inbound.alt_stat_name, &inbound.name));
                filters
            };
            let mode = security::mode(snapshot, &s.namespace, &s.labels, Some(number));
            let (listener_filters, filter_chains) = security::inbound_chains(mode, filters);
            clusters.push(Encoded::new(inbound.name.clone(), pack(&inbound)));
            match s.capture {
                Some(_) => served.push((port.listen.port(), filter_chains)),
                None => listeners.push(Listener {
                    name: format!("inbound|{number}"),
                    address: Some(pb::socket_address(port.listen)),
                    listener_filters,
                    filter_chains,
                    traffic_direction: TrafficDirection::Inbound as i32,
                    ..Default::default()
                }),
            }
        }
        match s.capture {
            Some(address) => {
                // Ports no service names: PeerAuthentication's mode for the workload.
                let mode = security::mode(snapshot, &s.namespace, &s.labels, None);
                let own_ports = [address.port(), s.outbound.port()];
                listeners.push(capture::inbound(address, served, own_ports, mode));
            }
            None => {
                let http = outbound_http(OUTBOUND_ROUTES, snapshot.tracing, true);
                listeners.push(http_listener("outbound", s.outbound, http, TrafficDirection::Outbound));
                // What is not captured is forwarded by the host each request names.
                let passthrough = external::forward_cluster(capture::PASSTHROUGH);
                clusters.push(Encoded::new(passthrough.name.clone(), pack(&passthrough)));
            }
        }
        for cluster in &jwks_clusters {
            clusters.push(Encoded::new(cluster.name.clone(), pack(cluster)));
        }
        OwnPart {
            clusters,
            listeners_use_secrets: uses_secrets_in(&listeners),
            listeners: listeners.iter().map(|l| Encoded::new(l.name.clone(), pack(l))).collect(),
            secrets: encoded_secrets(&s.credentials, Vec::new()),
        }
    }
}

/// What every captured sidecar with its outbound listener at one address has, encoded: that
/// listener, the route configurations its chains load (Envoy asks for the routes only when a
/// chain refers to them, and a proxy must not be waited on for what it never asks for), and
/// the clusters of the traffic no service takes.
#[derive(Clone)]
struct Captured {
    outbound: Arc<Encoded>,
    /// Those of services' ports, in name order.
    routes: Arc<[Arc<Encoded>]>,
    /// Whether a chain routes by host, with the outbound routes.
    by_host: bool,
    clusters: Vec<Arc<Encoded>>,
}

impl Captured {
    /// These, with `last`'s of each part that is the same: one service's routes change far
    /// more often than the listener.
    fn reusing(self, last: &Captured) -> Captured {
        fn same<T: PartialEq + Clone>(built: T, last: &T) -> T {
            if built == *last { last.clone() } else { built }
        }
        Captured {
            outbound: same(self.outbound, &last.outbound),
            routes: same(self.routes, &last.routes),
            by_host: self.by_host,
            clusters: same(self.clusters, &last.clusters),
        }
    }
}

/// What a translation builds once for many proxies, as it first builds it for one. Each is
/// kept for the next translation too, which hands out the same resource where it builds an
/// equal one: the controller compares every proxy's configuration with the last, and a new
/// copy of a thousand services' routes would be compared byte by byte for each proxy.
#[derive(Default)]
struct Built {
    /// The outbound routes, by the scope of the proxies they are for (none where every proxy
    /// sees every service), the namespace short names resolve in, and whether they end in the
    /// unknown hosts' virtual host (a sidecar's do; the gateway's must not, or it would
    /// forward anything from outside to anywhere).
    routes: Reused<(Option<Scope>, String, bool), Arc<Encoded>>,
    /// What captured sidecars have in common, by the address of their outbound listener and
    /// their scope: the same for every sidecar there, and in a mesh of a thousand services,
    /// that listener matches a thousand services' addresses.
    captured: Reused<(SocketAddr, Option<Scope>), Captured>,
    /// Each service's chains in those listeners, by the address of the routes they were built
    /// with (which the entry keeps, so that no other routes take that address): built again
    /// only when the routes are.
    service_chains: Reused<usize, (Arc<route::ServiceRoutes>, Arc<capture::ServiceChains>)>,
    /// What the proxies of each scope see.
    views: Reused<Scope, Arc<View>>,
    /// Each sidecar's own part, by node, with the sidecar it was built for.
    sidecars: Reused<String, (Sidecar, Arc<OwnPart>)>,
    /// What the sidecars' own parts were built from, besides the sidecar.
    own_inputs: OwnInputs,
}

/// One translation's values by key, and the last one's.
struct Reused<K, V> {
    now: HashMap<K, V>,
    last: HashMap<K, V>,
}

impl<K, V> Default for Reused<K, V> {
    fn default() -> Self {
        Reused { now: HashMap::new(), last: HashMap::new() }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone + PartialEq> Reused<K, V> {
    /// The value for `key`, built the first time this translation asks; the last
    /// translation's instead where it is equal.
    fn get(&mut self, key: &K, build: impl FnOnce() -> V) -> V {
        self.get_reusing(key, build, |built, last| if built == *last { last.clone() } else { built })
    }
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Reused<K, V> {
    /// The value for `key`, built the first time this translation asks, then made of the last
    /// translation's by `reuse` where there is one.
    fn get_reusing(&mut self, key: &K, build: impl FnOnce() -> V, reuse: impl FnOnce(V, &V) -> V) -> V {
        if let Some(value) = self.now.get(key) {
            return value.clone();
        }
        let value = match (build(), self.last.get(key)) {
            (built, Some(last)) => reuse(built, last),
            (built, None) => built,
        };
        self.now.insert(key.clone(), value.clone());
        value
    }

    /// The value for `key` that `kept` says is still what `build` would make: this
    /// translation's or the last one's; else built, and kept for the rest of this translation.
    fn get_kept(&mut self, key: &K, kept: impl Fn(&V) -> bool, build: impl FnOnce() -> V) -> V {
        let found = [&self.now, &self.last].into_iter().find_map(|values| values.get(key).filter(|v| kept(v)).cloned());
        let value = found.unwrap_or_else(build);
        self.now.insert(key.clone(), value.clone());
        value
    }

    /// Starts a new translation: what this one built becomes the last.
    fn turn(&mut self) {
        self.last = std::mem::take(&mut self.now);
    }
}

/// What a translation leaves for the next: each service's part of what the proxies share and
/// its virtual hosts, so that a new snapshot rebuilds only those whose inputs changed (for the
/// shared part, the service and its instances, its DestinationRule, the mTLS its instances
/// accept; for the virtual hosts, `route::ServiceRoutes` says).
#[derive(Default)]
pub struct Carried {
    /// By host, and which of the services with that host (a ServiceEntry may repeat one).
    services: HashMap<(String, usize), (Arc<SharedPart>, Arc<route::ServiceRoutes>)>,
    /// The clusters and endpoints of every service: the next translation hands the proxies
    /// the same lists where they did not change, which a comparison with the last
    /// configuration then finds by pointer.
    lists: [Arc<[Arc<Encoded>]>; 2],
    built: Arc<Mutex<Built>>,
}

/// `list`, in name order, as the list `last` holds if that is the same; `last` holds it after.
fn reused(last: &mut Arc<[Arc<Encoded>]>, list: Vec<Arc<Encoded>>) -> Arc<[Arc<Encoded>]> {
    let list = resources::by_name(list);
    if **last != *list {
        *last = list.into();
    }
    last.clone()
}

impl ClassParts {
    /// The parts and routes of `class`: the common class's where they would be the same (a
    /// service whose host the class chooses as the common one does, and whose routes look up no
    /// host it chooses otherwise), else built for it.
    fn of(snapshot: &MeshSnapshot, class: Class, common: &ClassParts) -> ClassParts {
        let services = snapshot.services.iter().enumerate();
        let (parts, routes) = services
            .map(|(i, service)| {
                let (part, routes) = (&common.parts[i], &common.routes[i]);
                let host = service.host();
                let differs = |h: &str| snapshot.classes.differs(class, h);
                if !differs(&host) && !routes.looks_up(differs) {
                    return (part.clone(), routes.clone());
                }
                let rule = snapshot.destination_rule(class, &host);
                let part = match part.rule.as_ref() == rule.map(|r| &r.spec) {
                    true => part.clone(),
                    false => Arc::new(SharedPart::build(service, rule, part.accepts_mtls.clone())),
                };
                let routes = match routes.built_from(snapshot, class, service, &host) {
                    true => routes.clone(),
                    false => Arc::new(route::ServiceRoutes::build(snapshot, class, service, &host)),
                };
                (part, routes)
            })
            .unzip();
        ClassParts { parts, routes }
    }
}

impl<'a> Translation<'a> {
    /// A snapshot's translation from scratch.
    pub fn new(snapshot: &'a MeshSnapshot) -> Self {
        Translation::carrying(snapshot, &mut Carried::default())
    }

    /// A snapshot's translation that takes from `carried` what the last one built for each
    /// service whose inputs did not change, and leaves there what this one has, for the next.
    pub fn carrying(snapshot: &'a MeshSnapshot, carried: &mut Carried) -> Self {
        let mut parts = Vec::with_capacity(snapshot.services.len());
        let mut service_routes = Vec::with_capacity(snapshot.services.len());
        let mut kept = HashMap::with_capacity(snapshot.services.len());
        let mut hosts: HashMap<String, usize> = HashMap::new();
        for service in &snapshot.services {
            let host = service.host();
            let rule = snapshot.destination_rule(COMMON, &host);
            let accepts_mtls: Vec<bool> = service
                .ports
                .iter()
                .flat_map(|port| {
                    service.instances.iter().map(|i| {
                        !service.is_external()
                            && security::mode(snapshot, &service.namespace, &i.labels, Some(port.number))
                                != MtlsMode::Disable
                    })
                })
                .collect();
            let nth = hosts.entry(host.clone()).and_modify(|n| *n += 1).or_insert(0);
            let (last_part, last_routes) = carried.services.remove(&(host.clone(), *nth)).unzip();
            let part = match last_part {
                Some(part) if part.built_from(service, rule, &accepts_mtls) => part,
                _ => Arc::new(SharedPart::build(service, rule, accepts_mtls)),
            };
            let routes = match last_routes {
                Some(routes) if routes.built_from(snapshot, COMMON, service, &host) => routes,
                _ => Arc::new(route::ServiceRoutes::build(snapshot, COMMON, service, &host)),
            };
            service_routes.push(routes.clone());
            parts.push(part.clone());
            kept.insert((host, *nth), (part, routes));
        }
        carried.services = kept;
        {
            let mut built = carried.built.lock().expect("built lock");
            built.routes.turn();
            built.captured.turn();
            built.views.turn();
            built.sidecars.turn();
            built.service_chains.turn();
            if !built.own_inputs.hold(snapshot) {
                // The chains' HTTP filters trace as the inputs say.
                built.service_chains.last.clear();
                built.sidecars.last.clear();
                built.own_inputs = OwnInputs::of(snapshot);
            }
        }
        let everything = View::new(0..snapshot.services.len(), &parts, &service_routes, &mut carried.lists);
        let mut classes = vec![ClassParts { parts, routes: service_routes }];
        for class in 1..snapshot.classes.len() {
            classes.push(ClassParts::of(snapshot, class, &classes[COMMON]));
        }
        let ingress = crate::ingress::Ingress::new(snapshot.gateway_api.iter().copied(), &snapshot.environment);
        Translation {
            snapshot,
            classes,
            everything: Arc::new(everything),
            scoped: snapshot.is_scoped(),
            built: carried.built.clone(),
            ingress,
        }
    }

    /// The scope a proxy sees the mesh from, where any proxy sees less than the whole mesh, and
    /// what it sees. A Gateway API Gateway's proxy sees every service: its routes name their
    /// backends, which ReferenceGrants let them reach.
    fn view(&self, proxy: &Proxy) -> (Option<Scope>, Arc<View>) {
        let scope = match proxy {
            _ if !self.scoped => None,
            Proxy::Sidecar(s) => Some(self.snapshot.scope(&s.namespace, Some(&s.labels))),
            Proxy::Gateway(Gateway { serves: Some(_), .. }) => None,
            Proxy::Gateway(g) => Some(self.snapshot.scope(&g.namespace, None)),
        };
        let Some(scope) = scope else { return (None, self.everything.clone()) };
        let mut built = self.built.lock().expect("built lock");
        let view = built.views.get(&scope, || {
            let class = &self.classes[self.snapshot.class(&scope.namespace)];
            Arc::new(View::of(self.snapshot, &scope, &class.parts, &class.routes))
        });
        (Some(scope), view)
    }

    /// One proxy's configuration.
    pub fn proxy(&self, proxy: &Proxy) -> Resources {
        let snapshot = self.snapshot;
        let (scope, view) = self.view(proxy);
        let mut resources = view.resources.clone();
        // The gateways' listeners, built for each.
        let mut listeners = Vec::new();
        // Listeners built already, the sidecars' own and those many proxies share.
        let mut encoded_listeners = Vec::new();
        let mut routed = true;
        let mut secrets = Vec::new();
        let mut listeners_use_secrets = false;
        let sidecar = matches!(proxy, Proxy::Sidecar(_));
        let namespace = match proxy {
            Proxy::Sidecar(s) => {
                let own = self.own_part(s);
                for cluster in &own.clusters {
                    resources.insert(Type::Cluster, cluster.clone());
                }
                encoded_listeners.extend(own.listeners.iter().cloned());
                listeners_use_secrets = own.listeners_use_secrets;
                secrets.extend(own.secrets.iter().cloned());
                if s.capture.is_some() {
                    // Its chains end no TLS, so it asks for no secret.
                    let http = |routes: &str| outbound_http(routes, snapshot.tracing, false);
                    let captured = self.captured((s.outbound, scope.clone()), &view, http);
                    routed = captured.by_host;
                    resources.share(Type::Route, captured.routes);
                    encoded_listeners.push(captured.outbound);
                    for cluster in captured.clusters {
                        resources.insert(Type::Cluster, cluster);
                    }
                }
                &s.namespace
            }
            Proxy::Gateway(Gateway { serves: Some((namespace, name)), listen, .. }) => {
                let served = self.ingress.gateway(namespace, name);
                let (gateway_listeners, configs, own_secrets) = match served {
                    Some(served) => ingress::gateway(snapshot, served, listen.ip()),
                    None => Default::default(),
                };
                listeners.extend(gateway_listeners);
                resources.replace(Type::Route, configs.iter().map(|c| Encoded::new(c.name.clone(), pack(c))).collect());
                secrets = encoded_secrets(proxy.credentials(), own_secrets);
                routed = false;
                namespace
            }
            Proxy::Gateway(g) => {
                // One listener reports both sides of each call: the request from outside, and
                // the call into the mesh.
                let http = network_filter(&http_manager(
                    "gateway",
                    rds(OUTBOUND_ROUTES),
                    vec![external::forward_filter()],
                    snapshot.tracing.manager(true),
                ));
                listeners.push(http_listener("gateway", g.listen, http, TrafficDirection::Unspecified));
                secrets = encoded_secrets(&g.credentials, Vec::new());
                &g.namespace
            }
        };
        // Envoy asks for the secrets only when a listener or cluster refers to them; a proxy
        // that never asks must not be waited on for them. (JWKS clusters use TLS with the
        // system's roots, not the mesh's secrets.)
        listeners_use_secrets |= uses_secrets_in(&listeners);
        if view.uses_secrets || listeners_use_secrets {
            resources.replace(Type::Secret, secrets);
        }
        let listeners = listeners.iter().map(|l| Encoded::new(l.name.clone(), pack(l)));
        resources.replace(Type::Listener, listeners.chain(encoded_listeners).collect());
        if routed {
            let bound = match proxy {
                Proxy::Gateway(g) => snapshot.bound_virtual_services(&g.namespace, &g.labels),
                Proxy::Sidecar(_) => Vec::new(),
            };
            let routes = match (proxy, bound.is_empty()) {
                (Proxy::Gateway(g), false) => encoded_routes(
                    OUTBOUND_ROUTES,
                    route::gateway(snapshot, &view.routes, namespace, &bound, g.listen.port()),
                ),
                _ => self.outbound_routes((scope, namespace.to_string(), sidecar), &view),
            };
            resources.insert(Type::Route, routes);
        }
        resources
    }

    /// What a sidecar has of its own: the last translation's where it is the same sidecar and
    /// what else its own part is built from did not change.
    fn own_part(&self, sidecar: &Sidecar) -> Arc<OwnPart> {
        let mut built = self.built.lock().expect("built lock");
        let kept = |(was, _): &(Sidecar, Arc<OwnPart>)| was == sidecar;
        let (_, part) = built
            .sidecars
            .get_kept(&sidecar.node_id, kept, || (sidecar.clone(), Arc::new(OwnPart::build(self.snapshot, sidecar))));
        part
    }

    /// The outbound routes of the proxies of a scope (see `Built::routes`), which see `view`.
    fn outbound_routes(&self, key: (Option<Scope>, String, bool), view: &View) -> Arc<Encoded> {
        let mut built = self.built.lock().expect("built lock");
        let (_, namespace, sidecar) = &key;
        built.routes.get(&key, || {
            let unknown = sidecar.then(|| external::unknown_hosts(self.snapshot.outbound_policy));
            let config = route::outbound(&view.routes, namespace, &[], unknown.into_iter().collect());
            encoded_routes(OUTBOUND_ROUTES, config)
        })
    }

    /// What a captured sidecar with its outbound listener at an address, and its scope, has in
    /// common with the others there that see `view`, built once per translation.
    fn captured(&self, key: (SocketAddr, Option<Scope>), view: &View, http: impl FnMut(&str) -> Filter) -> Captured {
        let mut built = self.built.lock().expect("built lock");
        let Built { captured, service_chains, .. } = &mut *built;
        let build = || {
            let class = key.1.as_ref().map_or(COMMON, |scope| self.snapshot.class(&scope.namespace));
            let mut http = http;
            let chains: Vec<Arc<capture::ServiceChains>> = (view.services.iter().zip(&view.routes))
                .map(|(&i, routes)| {
                    let kept = |(of, _): &(Arc<route::ServiceRoutes>, _)| Arc::ptr_eq(of, routes);
                    let build = || {
                        let service = &self.snapshot.services[i];
                        (
                            routes.clone(),
                            Arc::new(capture::ServiceChains::build(self.snapshot, class, service, routes, &mut http)),
                        )
                    };
                    service_chains.get_kept(&(Arc::as_ptr(routes) as usize), kept, build).1
                })
                .collect();
            let outbound = capture::outbound(self.snapshot.outbound_policy, chains.iter().map(|c| &**c), key.0);
            let as_addressed = view.as_addressed.iter().map(|name| capture::original_destination(name));
            let clusters = capture::clusters().into_iter().chain(as_addressed);
            Captured {
                outbound: outbound.listener,
                routes: outbound.routes.into(),
                by_host: outbound.by_host,
                clusters: clusters.map(|c| Encoded::new(c.name.clone(), pack(&c))).collect(),
            }
        };
        captured.get_reusing(&key, build, Captured::reusing)
    }
}

/// A route configuration named `name`, encoded by `route`.
fn encoded_routes(name: impl Into<String>, config: Vec<u8>) -> Arc<Encoded> {
    use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
    use prost::Name;
    Encoded::new(
        name,
        envoy_types::pb::google::protobuf::Any { type_url: RouteConfiguration::type_url(), value: config },
    )
}

/// A sidecar's outbound HTTP, by the route configuration `routes`; with `connect`, their TCP
/// ports are reached by tunnels.
fn outbound_http(routes: &str, tracing: Tracing, connect: bool) -> Filter {
    let mut manager = http_manager("outbound", rds(routes), vec![external::forward_filter()], tracing.manager(false));
    if connect {
        manager
            .upgrade_configs
            .push(hcm::http_connection_manager::UpgradeConfig { upgrade_type: "CONNECT".into(), ..Default::default() });
    }
    network_filter(&manager)
}

/// The secrets a proxy proves its identity and checks its peers with, and `own` (the
/// certificates a Gateway's HTTPS listeners serve), encoded.
fn encoded_secrets(
    credentials: &Credentials,
    own: Vec<envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret>,
) -> Vec<Arc<Encoded>> {
    let mut secrets = security::secrets(credentials);
    secrets.extend(own);
    secrets.iter().map(|s| Encoded::new(s.name.clone(), pack(s))).collect()
}

/// Whether a listener terminates TLS, and so refers to the proxy's secrets.
fn uses_secrets_in(listeners: &[Listener]) -> bool {
    listeners.iter().flat_map(|l| &l.filter_chains).any(|c| c.transport_socket.is_some())
}

fn uses_secrets(cluster: &Cluster) -> bool {
    cluster.transport_socket.is_some() || !cluster.transport_socket_matches.is_empty()
}

/// The namespace an object is in; the policy pipeline sets one on every resource it accepts.
fn namespace(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

fn rds(name: &str) -> hcm::http_connection_manager::RouteSpecifier {
    hcm::http_connection_manager::RouteSpecifier::Rds(hcm::Rds {
        config_source: Some(pb::ads()),
        route_config_name: name.to_string(),
    })
}

/// A listener on `addr` for one HTTP connection manager; its direction says which side of a
/// call its spans report.
fn http_listener(name: &str, addr: SocketAddr, http: Filter, direction: TrafficDirection) -> Listener {
    Listener {
        name: name.to_string(),
        address: Some(pb::socket_address(addr)),
        filter_chains: vec![FilterChain { filters: vec![http], ..Default::default() }],
        traffic_direction: direction as i32,
        ..Default::default()
    }
}

/// An HTTP connection manager running `policy_filters` (authentication and authorization, or
/// the forward proxy's DNS lookup) before fault injection and routing, reporting spans as
/// `tracing` says.
fn http_manager(
    stat_prefix: &str,
    routes: hcm::http_connection_manager::RouteSpecifier,
    policy_filters: Vec<hcm::HttpFilter>,
    tracing: Option<hcm::http_connection_manager::Tracing>,
) -> hcm::HttpConnectionManager {
    let mut http_filters = policy_filters;
    // Present always (with no default fault), so routes can turn faults on through their
    // per-route config without changing the listener.
    http_filters.push(http_filter(route::FAULT_FILTER, &HttpFault::default()));
    // gRPC-Web from browsers becomes gRPC at the first proxy it reaches (the gateway, or a
    // caller's sidecar), and its answers gRPC-Web again; other requests pass untouched.
    http_filters.push(http_filter("envoy.filters.http.grpc_web", &GrpcWeb::default()));
    // Counts gRPC calls by their `grpc-status`, which `top` and the canary gates read: a
    // failed call is an HTTP 200. It leaves other requests alone.
    http_filters.push(http_filter("envoy.filters.http.grpc_stats", &GrpcStats::default()));
    // gRPC calls that end in a local reply (no instance, a timeout) count once, as gRPC
    // failures, not also as the HTTP status they are translated from.
    let router = Router { suppress_grpc_request_failure_code_stats: true, ..Default::default() };
    http_filters.push(http_filter("envoy.filters.http.router", &router));
    hcm::HttpConnectionManager {
        stat_prefix: stat_prefix.to_string(),
        codec_type: hcm::http_connection_manager::CodecType::Auto as i32,
        route_specifier: Some(routes),
        http_filters,
        tracing,
        ..Default::default()
    }
}

const HTTP_CONNECTION_MANAGER: &str = "envoy.filters.network.http_connection_manager";

fn network_filter(manager: &hcm::HttpConnectionManager) -> Filter {
    Filter {
        name: HTTP_CONNECTION_MANAGER.into(),
        config_type: Some(filter::ConfigType::TypedConfig(pb::any(manager))),
    }
}

fn http_filter<M: prost::Message + prost::Name>(name: &str, config: &M) -> hcm::HttpFilter {
    hcm::HttpFilter {
        name: name.to_string(),
        config_type: Some(hcm::http_filter::ConfigType::TypedConfig(pb::any(config))),
        ..Default::default()
    }
}

/// Endpoints at `addresses`; those marked `true` accept mTLS, and say so in their metadata
/// for the cluster's transport socket match.
fn load_assignment(cluster: &str, addresses: impl IntoIterator<Item = (SocketAddr, bool)>) -> ClusterLoadAssignment {
    use envoy_types::pb::envoy::config::core::v3::Metadata;
    ClusterLoadAssignment {
        cluster_name: cluster.to_string(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: addresses
                .into_iter()
                .map(|(addr, mtls)| LbEndpoint {
                    host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                        address: Some(pb::socket_address(addr)),
                        ..Default::default()
                    })),
                    metadata: mtls.then(|| Metadata {
                        filter_metadata: [security::accepts_mtls_metadata()].into_iter().collect(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Endpoints at DNS `names`, each with its port, which the cluster resolves itself.
fn dns_load_assignment<'a>(cluster: &str, names: impl IntoIterator<Item = (&'a str, u16)>) -> ClusterLoadAssignment {
    use envoy_types::pb::envoy::config::core::v3::{Address, SocketAddress, address, socket_address};
    let endpoint = |(name, port): (&str, u16)| LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: name.into(),
                    port_specifier: Some(socket_address::PortSpecifier::PortValue(u32::from(port))),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })),
        ..Default::default()
    };
    ClusterLoadAssignment {
        cluster_name: cluster.to_string(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: names.into_iter().map(endpoint).collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The name of a service's outbound cluster, for the whole service or one subset.
pub fn cluster_name(port: u16, subset: Option<&str>, host: &str) -> String {
    format!("outbound|{port}|{}|{host}", subset.unwrap_or_default())
}

/// The port, subset and host an outbound cluster's name says, as [`cluster_name`] writes it.
pub fn outbound_cluster(name: &str) -> Option<(u16, Option<&str>, &str)> {
    let mut parts = name.splitn(4, '|');
    let (Some("outbound"), Some(port), Some(subset), Some(host)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((port.parse().ok()?, Some(subset).filter(|s| !s.is_empty()), host))
}
