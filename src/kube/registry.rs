//! The controller's [`Registry`] on a cluster: where the mesh's workloads run, read from the
//! Kubernetes API. The local backend (`runtime::controller`) starts processes; here Kubernetes'
//! own controllers and kubelets run the Pods, so this side only watches and reports.
//!
//! ```text
//!   API server ──watch──▶ reflector stores: Services, EndpointSlices, Pods (all namespaces)
//!                              │ every event, and every watch error: `changes` fires
//!                              ▼
//!   controller loop ──tick──▶ view() (pure: objects ─▶ MeshView) ──▶ services, proxies,
//!                                                                    identities, scrape targets
//! ```
//!
//! A Pod is in the mesh when it runs a container named [`PROXY_CONTAINER`] (the native sidecar
//! injection adds): its application's connections are captured to the sidecar's outbound
//! listener, and callers reach it at `PodIP:15006`. The conversion from Kubernetes objects to
//! the translator's types ([`view`]) is pure, so it is tested on fixtures without an API server.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Namespace, Secret, Service as KubeService, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

use super::inject::INIT_CONTAINER;
use super::install::{GATEWAY, GATEWAY_HTTP_PORT, NAMESPACE};
use super::pod::Pod;
use super::ports::{INBOUND_PORT, OUTBOUND_PORT, STATS_PORT};
use crate::api::Identity;
use crate::api::Protocol;
use crate::api::networking::Exported;
use crate::controller::{Registry, Syncing};
use crate::metrics::scrape::{Served, Target};
use crate::pki::probe::ProbeTarget;
use crate::translate::{self, Credentials, Gateway, InboundPort, Instance, Origin, Proxy, Service, Sidecar};

/// The container that makes a Pod part of the mesh: its Envoy sidecar.
pub const PROXY_CONTAINER: &str = "meshctl-proxy";

/// The namespace short host names resolve in at the ingress gateway, as in the local mesh.
const GATEWAY_ROUTES_NAMESPACE: &str = "default";

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// How the registry is set up.
#[derive(Clone, Debug)]
pub struct Settings {
    /// meshctl's own namespace, where install runs the ingress gateway.
    pub namespace: String,
    /// How long a mesh Pod may go without an IP before `problems()` names it. A kubelet gives a
    /// Pod its IP seconds after the Pod is bound; a minute without one means it is stuck
    /// (unschedulable, its sandbox failing), and its sidecar gets no configuration until then.
    pub ip_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { namespace: NAMESPACE.to_string(), ip_grace: Duration::from_secs(60) }
    }
}

/// The mesh as the three stores show it at one moment, in the translator's terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeshView {
    /// By namespace and name; each one's instances by address.
    pub services: Vec<Service>,
    /// By node id.
    pub proxies: Vec<MeshProxy>,
    /// Mesh Pods the kubelet has given no IP yet (their proxies are not in `proxies`).
    pub waiting: Vec<WaitingPod>,
    /// What the objects themselves say is wrong with the mesh.
    pub problems: Vec<String>,
}

/// A proxy the control plane configures: what the translator needs (without credentials,
/// which the controller issues), the identity it runs as, and where its statistics are read.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshProxy {
    pub proxy: Proxy,
    pub identity: Identity,
    pub stats: SocketAddr,
    /// The services a sidecar's Pod serves: every Service that selects it, else the name it
    /// goes by; none for the gateway.
    pub services: Vec<String>,
}

/// A mesh Pod without an IP.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitingPod {
    /// `NAMESPACE/NAME`.
    pub pod: String,
    pub created: Option<SystemTime>,
}

/// Which proxy a Pod runs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Sidecar,
    /// Install's ingress gateway (none), or the proxy of a Gateway API Gateway (its namespace
    /// and name).
    Gateway(Option<(String, String)>),
}

/// A Service whose endpoints include a mesh Pod, with the ports it is known by.
struct MeshService<'a> {
    namespace: &'a str,
    name: &'a str,
    /// Empty for a Service without one, whose EndpointSlices are written by someone else.
    selector: &'a BTreeMap<String, String>,
    ports: Vec<(&'a ServicePort, translate::ServicePort)>,
}

/// The mesh Pods, by name and by IP within their namespace: what an endpoint names.
struct MeshPods<'a, 'p> {
    by_name: &'a BTreeMap<(&'p str, &'p str), &'p Pod>,
    by_ip: HashMap<(&'p str, IpAddr), &'p Pod>,
}

impl<'p> MeshPods<'_, 'p> {
    /// The mesh Pod an endpoint of a slice in `namespace` is: its `targetRef`, or for a slice
    /// written by hand without one, the Pod with its address.
    fn of(&self, namespace: &str, endpoint: &k8s_openapi::api::discovery::v1::Endpoint) -> Option<&'p Pod> {
        match &endpoint.target_ref {
            Some(target) => {
                if target.kind.as_deref() != Some("Pod")
                    || target.namespace.as_deref().is_some_and(|ns| ns != namespace)
                {
                    return None;
                }
                let pod = *self.by_name.get(&(namespace, target.name.as_deref()?))?;
                // A slice not yet updated may still name an earlier Pod of the same name.
                match (&target.uid, &pod.metadata.uid) {
                    (Some(listed), Some(running)) if listed != running => None,
                    _ => Some(pod),
                }
            }
            None => endpoint.addresses.iter().find_map(|a| self.by_ip.get(&(namespace, a.parse().ok()?)).copied()),
        }
    }
}

/// Converts what the API server stores into the mesh the translator sees. Pure: no I/O, no
/// clock; the same objects give the same view.
///
/// - A Service is a mesh service when its selector picks at least one mesh Pod. Each of its TCP
///   ports is a service port, with the protocol its `appProtocol` or name selects
///   ([`Protocol::select`]). Its instances are its EndpointSlices' ready endpoints (`ready`
///   unset counts as ready, as Kubernetes says) whose `targetRef` is a mesh Pod with an IP: a
///   captured Pod at its target ports, as any caller addresses it; another at `PodIP:15006`,
///   for its first port only.
/// - Each mesh Pod with an IP gets a sidecar (a terminating one keeps it while its Envoy
///   drains; a finished one has none). Its service is the first Service, by name, that
///   selects it; its application serves that Service's ports at their target ports on the
///   Pod's loopback. A Pod no Service selects still gets one, serving nothing, so a
///   client-only workload can call the mesh; its service name is its own.
/// - Each Pod of install's ingress gateway in `settings.namespace` gets a gateway proxy.
pub fn view(
    pods: &[Arc<Pod>],
    services: &[Arc<KubeService>],
    slices: &[Arc<EndpointSlice>],
    settings: &Settings,
) -> MeshView {
    let mut view = MeshView::default();
    let mut sidecar_pods: BTreeMap<(&str, &str), &Pod> = BTreeMap::new();
    let mut gateway_pods: Vec<(&Pod, Option<(String, String)>)> = Vec::new();
    for pod in pods.iter().map(Arc::as_ref) {
        let Some(role) = role(pod, settings) else { continue };
        if pod_ip(pod).is_none() && pod.metadata.deletion_timestamp.is_none() {
            let created = pod.metadata.creation_timestamp.as_ref().map(|t| SystemTime::from(t.0));
            view.waiting.push(WaitingPod { pod: pod_reference(pod), created });
        }
        match role {
            Role::Sidecar => {
                sidecar_pods.insert((namespace(pod), name(pod)), pod);
            }
            Role::Gateway(serves) => gateway_pods.push((pod, serves)),
        }
    }

    let mut slices_by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for slice in slices.iter().map(Arc::as_ref) {
        if let Some(service) = slice.labels().get(SERVICE_NAME_LABEL) {
            slices_by_service.entry((namespace(slice), service.as_str())).or_default().push(slice);
        }
    }

    let mesh_pods = MeshPods {
        by_name: &sidecar_pods,
        by_ip: sidecar_pods.iter().filter_map(|(&(ns, _), &pod)| Some(((ns, pod_ip(pod)?), pod))).collect(),
    };
    let mut sorted: Vec<&KubeService> = services.iter().map(Arc::as_ref).collect();
    sorted.sort_by(|a, b| (namespace(*a), name(*a)).cmp(&(namespace(*b), name(*b))));
    let mut mesh_services: Vec<MeshService> = Vec::new();
    for service in sorted {
        let slices = slices_by_service.get(&(namespace(service), name(service))).map(Vec::as_slice).unwrap_or_default();
        let Some(mesh) = mesh_service(service, &mesh_pods, slices) else { continue };
        // "None" for a headless Service, which has no virtual address.
        let addresses = service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()).and_then(|ip| ip.parse().ok());
        view.services.push(Service {
            name: mesh.name.to_string(),
            namespace: mesh.namespace.to_string(),
            ports: mesh.ports.iter().map(|(_, port)| port.clone()).collect(),
            addresses: addresses.into_iter().collect(),
            instances: instances(&mesh, slices, &mesh_pods),
            origin: Origin::Registry,
            exported: exported(service),
        });
        mesh_services.push(mesh);
    }

    for (&(namespace, name), pod) in &sidecar_pods {
        let Some(ip) = pod_ip(pod) else { continue };
        let labels = pod.labels();
        // Every Service that selects the Pod (`profile` and `profile-v1`): it serves all their
        // ports, and goes by the first's name.
        let selecting: Vec<&MeshService> =
            mesh_services.iter().filter(|s| s.namespace == namespace && selects(s.selector, labels)).collect();
        let captured = captured(pod);
        let mut ports = Vec::new();
        for (service, (kube_port, port)) in selecting.iter().flat_map(|s| s.ports.iter().map(move |p| (s, p))) {
            let Some(target) = target_port(kube_port, pod) else {
                view.problems.push(format!(
                    "Service {namespace}/{}: the target port {} of its port {} names no container port of Pod \
                     {namespace}/{name}, so that Pod's sidecar does not serve the port; name the port in the \
                     Pod's spec or give the Service a port number",
                    service.name,
                    describe(kube_port.target_port.as_ref()),
                    port.number,
                ));
                continue;
            };
            if ports.iter().any(|p: &InboundPort| p.app.port() == target) {
                continue;
            }
            // Captured traffic arrives at the proxy whatever address it was sent to; without
            // capture the proxy has one inbound listener, for the first port.
            let listen = match captured {
                true => SocketAddr::new(ip, target),
                false if ports.is_empty() => SocketAddr::new(ip, INBOUND_PORT),
                false => continue,
            };
            ports.push(InboundPort {
                service_port: port.clone(),
                listen,
                app: SocketAddr::from((Ipv4Addr::LOCALHOST, target)),
            });
        }
        let services: Vec<String> = match selecting.is_empty() {
            true => vec![workload_name(pod, name).to_string()],
            false => selecting.iter().map(|s| s.name.to_string()).collect(),
        };
        let outbound = if captured { Ipv4Addr::UNSPECIFIED } else { Ipv4Addr::LOCALHOST };
        view.proxies.push(MeshProxy {
            proxy: Proxy::Sidecar(Sidecar {
                node_id: node_id(pod),
                service: services[0].clone(),
                namespace: namespace.to_string(),
                ports,
                outbound: SocketAddr::from((outbound, OUTBOUND_PORT)),
                capture: captured.then(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, INBOUND_PORT))),
                labels: labels.clone(),
                credentials: Credentials::default(),
            }),
            identity: Identity::new(namespace, service_account(pod)),
            stats: SocketAddr::new(ip, STATS_PORT),
            services,
        });
    }

    for (pod, serves) in gateway_pods {
        let Some(ip) = pod_ip(pod) else { continue };
        view.proxies.push(MeshProxy {
            proxy: Proxy::Gateway(Gateway {
                serves,
                node_id: node_id(pod),
                namespace: GATEWAY_ROUTES_NAMESPACE.to_string(),
                listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, GATEWAY_HTTP_PORT)),
                labels: pod.labels().clone(),
                credentials: Credentials::default(),
            }),
            identity: Identity::gateway(),
            stats: SocketAddr::new(ip, STATS_PORT),
            services: vec![],
        });
    }
    view.proxies.sort_by(|a, b| a.proxy.node_id().cmp(b.proxy.node_id()));
    view.waiting.sort_by(|a, b| a.pod.cmp(&b.pod));
    view
}

/// The Pods in `waiting` that have had no IP for `grace` or longer at `now`, as problems.
/// Each says since when, which stays true until the Pod gets one: the controller looks again
/// when a grace runs out, not every second.
pub fn waiting_too_long(waiting: &[WaitingPod], now: SystemTime, grace: Duration) -> Vec<String> {
    waiting
        .iter()
        .filter_map(|w| {
            let created = w.created?;
            (now >= created + grace).then(|| {
                format!(
                    "Pod {} has had no IP since {} (over {}s), so its proxy gets no configuration yet; \
                     `kubectl describe pod` says why it has not started",
                    w.pod,
                    crate::api::time::rfc3339(created),
                    grace.as_secs()
                )
            })
        })
        .collect()
}

/// The Service's selector and TCP ports, if it selects at least one mesh Pod, or (without a
/// selector) its EndpointSlices name one.
fn mesh_service<'a>(
    service: &'a KubeService,
    mesh_pods: &MeshPods<'_, '_>,
    slices: &[&EndpointSlice],
) -> Option<MeshService<'a>> {
    static NONE: BTreeMap<String, String> = BTreeMap::new();
    let spec = service.spec.as_ref()?;
    let selector = spec.selector.as_ref().filter(|s| !s.is_empty()).unwrap_or(&NONE);
    let ports: Vec<_> = spec
        .ports
        .iter()
        .flatten()
        .filter(|p| p.protocol.as_deref().is_none_or(|p| p == "TCP"))
        .filter_map(|p| {
            let port = translate::ServicePort {
                name: p.name.clone().unwrap_or_default(),
                number: u16::try_from(p.port).ok()?,
                protocol: Protocol::select(p.app_protocol.as_deref(), p.name.as_deref()),
            };
            Some((p, port))
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    let namespace = namespace(service);
    let in_mesh = match selector.is_empty() {
        false => mesh_pods
            .by_name
            .range((namespace, "")..)
            .take_while(|((ns, _), _)| *ns == namespace)
            .any(|(_, pod)| selects(selector, pod.labels())),
        true => slices.iter().flat_map(|s| s.endpoints.iter().flatten()).any(|e| mesh_pods.of(namespace, e).is_some()),
    };
    in_mesh.then(|| MeshService { namespace, name: name(service), selector, ports })
}

/// The service's instances: its slices' ready endpoints that are mesh Pods with an IP, each
/// at its sidecar's inbound port, or, when the Pod's traffic is captured, at the target ports
/// as any caller addresses them.
fn instances(service: &MeshService, slices: &[&EndpointSlice], mesh_pods: &MeshPods<'_, '_>) -> Vec<Instance> {
    let namespace = service.namespace;
    // By Pod: one instance per Pod even when two slices list it (as they may while the
    // EndpointSlice controller moves endpoints between them).
    let mut instances: BTreeMap<IpAddr, Instance> = BTreeMap::new();
    let endpoints = slices.iter().flat_map(|s| s.endpoints.iter().flatten().map(move |e| (*s, e)));
    for (slice, endpoint) in endpoints {
        if endpoint.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
            continue;
        }
        let Some(pod) = mesh_pods.of(namespace, endpoint) else { continue };
        let Some(ip) = pod_ip(pod) else { continue };
        // Where a port goes on the Pod: as the Service's selector resolves it, or without one,
        // as the slice's port of the same name says.
        let target = |kube_port: &ServicePort| match service.selector.is_empty() {
            false => target_port(kube_port, pod),
            true => slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name == kube_port.name)
                .and_then(|p| u16::try_from(p.port?).ok()),
        };
        // A port whose target the Pod does not have is left out; its sidecar's problem says why.
        let ports = match captured(pod) {
            true => {
                service.ports.iter().filter_map(|(kube_port, port)| Some((port.number, target(kube_port)?))).collect()
            }
            false => service.ports.first().map(|(_, port)| (port.number, INBOUND_PORT)).into_iter().collect(),
        };
        instances.entry(ip).or_insert_with(|| Instance {
            ip,
            ports,
            labels: pod.labels().clone(),
            service_account: service_account(pod).to_string(),
        });
    }
    instances.into_values().collect()
}

/// Which proxy, if any, the Pod runs. Pods that have finished run none.
fn role(pod: &Pod, settings: &Settings) -> Option<Role> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    let labels = pod.labels();
    let component = |name: &str| {
        crate::kube::install::pod_labels(name)
            .as_object()
            .is_some_and(|wanted| wanted.iter().all(|(k, v)| labels.get(k).is_some_and(|l| v == l.as_str())))
    };
    if namespace(pod) == settings.namespace {
        if component(GATEWAY) {
            return Some(Role::Gateway(None));
        }
        if component(super::gateways::COMPONENT) {
            return super::gateways::served(labels).map(|served| Role::Gateway(Some(served)));
        }
    }
    let spec = pod.spec.as_ref()?;
    let in_containers = spec.containers.iter().any(|c| c.name == PROXY_CONTAINER);
    // An init container runs beside the others only as a native sidecar; a plain one named so
    // has ended before the Pod's application starts.
    let native_sidecar = spec
        .init_containers
        .iter()
        .flatten()
        .any(|c| c.name == PROXY_CONTAINER && c.restart_policy.as_deref() == Some("Always"));
    (in_containers || native_sidecar).then_some(Role::Sidecar)
}

/// Whether the Pod's traffic is captured: injection gave it the init container that sets the
/// rules up. (A Pod whose proxy was added by hand is addressed explicitly, as in part 1.)
/// The annotation by which a Service says which namespaces' proxies see it, as Istio reads it:
/// a comma-separated `exportTo`.
pub const EXPORT_TO_ANNOTATION: &str = "networking.istio.io/exportTo";

fn exported(service: &KubeService) -> Exported {
    let export_to: Vec<&str> = match service.annotations().get(EXPORT_TO_ANNOTATION) {
        Some(value) => value.split(',').map(str::trim).filter(|n| !n.is_empty()).collect(),
        None => Vec::new(),
    };
    Exported::new(&export_to, namespace(service))
}

fn captured(pod: &Pod) -> bool {
    pod.spec.as_ref().is_some_and(|spec| spec.init_containers.iter().flatten().any(|c| c.name == INIT_CONTAINER))
}

/// Whether a Service's `selector` picks a Pod with `labels`.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && crate::api::has_labels(selector, labels)
}

/// The port on the Pod that a Service port sends to, as kube-proxy resolves it: a number, a
/// container port's name, or (unset) the Service's own port.
fn target_port(port: &ServicePort, pod: &Pod) -> Option<u16> {
    match &port.target_port {
        None => u16::try_from(port.port).ok(),
        Some(IntOrString::Int(number)) => u16::try_from(*number).ok(),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
            containers
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
        }
    }
}

fn describe(port: Option<&IntOrString>) -> String {
    match port {
        Some(IntOrString::String(name)) => format!("{name:?}"),
        Some(IntOrString::Int(number)) => number.to_string(),
        None => "(unset)".to_string(),
    }
}

/// The Pod's IP, once the kubelet has reported one (and it is an address).
fn pod_ip(pod: &Pod) -> Option<IpAddr> {
    pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
}

/// The name a Pod that no Service selects goes by in the mesh (its traces, graph, `top`), as
/// Istio's canonical service: a label that names its application, else the Pod's own name —
/// which, for a Deployment's Pod, carries generated suffixes that change with every rollout.
fn workload_name<'p>(pod: &'p Pod, name: &'p str) -> &'p str {
    let labels = pod.labels();
    ["service.istio.io/canonical-name", "app.kubernetes.io/name", "app"]
        .iter()
        .find_map(|key| labels.get(*key))
        .map_or(name, String::as_str)
}

fn service_account(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.service_account_name.as_deref()).unwrap_or("default")
}

/// A proxy's node id: `POD.NAMESPACE` (DESIGN.md, "Kubernetes mode").
fn node_id(pod: &Pod) -> String {
    format!("{}.{}", name(pod), namespace(pod))
}

fn pod_reference(pod: &Pod) -> String {
    format!("{}/{}", namespace(pod), name(pod))
}

/// An object's namespace; objects watched in all namespaces always have one.
fn namespace<K: ResourceExt>(object: &K) -> &str {
    object.meta().namespace.as_deref().unwrap_or("default")
}

/// An object's name, borrowed (`ResourceExt::name_any` allocates); stored objects have one.
fn name<K: ResourceExt>(object: &K) -> &str {
    object.meta().name.as_deref().unwrap_or_default()
}

/// The kinds the registry watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Watched {
    Services,
    EndpointSlices,
    Pods,
    Namespaces,
    Secrets,
}

impl Watched {
    pub const ALL: [Watched; 5] =
        [Watched::Services, Watched::EndpointSlices, Watched::Pods, Watched::Namespaces, Watched::Secrets];

    /// As RBAC names it.
    pub fn resource(self) -> &'static str {
        match self {
            Watched::Services => "services",
            Watched::EndpointSlices => "endpointslices.discovery.k8s.io",
            Watched::Pods => "pods",
            Watched::Namespaces => "namespaces",
            Watched::Secrets => "secrets",
        }
    }
}

/// What one watch failure means for the mesh, and what to do about it.
pub fn watch_problem(kind: Watched, listed: bool, error: &watcher::Error) -> String {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status))
        | watcher::Error::WatchError(status) => Some(status),
        _ => None,
    };
    let resource = kind.resource();
    if let Some(status) = status.filter(|s| s.is_forbidden()) {
        return format!(
            "the controller may not list and watch {resource} in all namespaces: grant its ServiceAccount \
             `list` and `watch` on {resource} (install's ClusterRole does); the API server said: {}",
            status.message
        );
    }
    let shown = if listed { "the mesh is shown as last seen".to_string() } else { format!("no {resource} listed yet") };
    format!("watching {resource} failed, retrying: {error}; {shown}")
}

/// How each watch is doing, shared by the watch tasks and the registry.
#[derive(Clone, Debug, Default)]
struct WatchState {
    /// Whether the store holds a first full list.
    listed: bool,
    /// The last failure, until the watch works again.
    failing: Option<String>,
}

struct Watches {
    state: Mutex<BTreeMap<Watched, WatchState>>,
    changes: watch::Sender<()>,
}

impl Watches {
    fn saw<K>(&self, kind: Watched, event: Result<watcher::Event<K>, watcher::Error>) {
        let mut states = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = states.entry(kind).or_default();
        let changed = match event {
            Ok(event) => {
                if state.failing.take().is_some() {
                    tracing::info!(resource = kind.resource(), "watching again");
                }
                match event {
                    watcher::Event::Apply(_) | watcher::Event::Delete(_) => true,
                    watcher::Event::InitDone => {
                        state.listed = true;
                        true
                    }
                    // The store shows a relist at its InitDone, all at once.
                    watcher::Event::Init | watcher::Event::InitApply(_) => false,
                }
            }
            Err(error) => {
                tracing::warn!(resource = kind.resource(), %error, "watch failed; retrying with backoff");
                state.failing = Some(watch_problem(kind, state.listed, &error));
                // The controller shows problems on its next pass.
                true
            }
        };
        drop(states);
        if changed {
            self.changes.send_replace(());
        }
    }

    fn problems(&self) -> Vec<String> {
        let states = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Watched::ALL
            .iter()
            .filter_map(|kind| {
                let state = states.get(kind).cloned().unwrap_or_default();
                match state.failing {
                    Some(failing) => Some(failing),
                    None if !state.listed => {
                        Some(format!("waiting for the first list of {} from the API server", kind.resource()))
                    }
                    None => None,
                }
            })
            .collect()
    }
}

/// The registry of a cluster: reflector stores that watch tasks keep current, and the view the
/// last `tick` made of them.
pub struct KubeRegistry {
    settings: Settings,
    services: Store<KubeService>,
    slices: Store<EndpointSlice>,
    pods: Store<Pod>,
    namespaces: Store<Namespace>,
    /// TLS Secrets only: the certificates Gateways serve.
    secrets: Store<Secret>,
    /// The Gateways' proxies, made while this replica leads.
    provisioner: Option<(super::gateways::Provisioner, super::install::Settings, super::install::GatewayService)>,
    environment: crate::ingress::Environment,
    watches: Arc<Watches>,
    /// Fires with every change the watches see; `tick` reads it.
    seen: watch::Receiver<()>,
    /// The same, for `changed`, which wakes the controller's loop without taking `tick`'s news.
    wake: watch::Receiver<()>,
    /// What the Registry methods answer: one view per `tick`, so one pass of the controller
    /// sees services and proxies of the same moment.
    view: MeshView,
    /// Where the view's instances are probed for their certificates: one port of each.
    probe_targets: Vec<ProbeTarget>,
    /// The view's proxies' identities, by node id, and where their statistics are read: every
    /// pass asks for the identities, every change for the targets, and at thousands of Pods a
    /// copy of each for each was most of what an ACK cost.
    identities: Arc<[(String, Identity)]>,
    targets: Arc<[Target]>,
    tasks: Vec<JoinHandle<()>>,
}

/// Where a proxy's statistics are read, and what it serves.
fn scrape_target(p: &MeshProxy) -> Target {
    let serves = match &p.proxy {
        Proxy::Sidecar(s) => {
            Some(Served { namespace: s.namespace.clone(), services: p.services.clone(), labels: s.labels.clone() })
        }
        Proxy::Gateway(_) => None,
    };
    Target { node_id: p.proxy.node_id().to_string(), admin: p.stats, serves }
}

impl KubeRegistry {
    /// Starts watching Services, EndpointSlices and Pods in all namespaces, on the current
    /// tokio runtime (it must be called inside one). `changed()` resolves whenever a watch saw a
    /// change or a failure: the controller's loop awaits it to run a pass.
    pub fn start(client: Client, settings: Settings) -> KubeRegistry {
        let (changes, seen) = watch::channel(());
        let watches = Arc::new(Watches { state: Mutex::new(BTreeMap::new()), changes });
        let all = watcher::Config::default();
        let (services, services_task) =
            reflect(Api::all(client.clone()), all.clone(), Watched::Services, watches.clone());
        let (slices, slices_task) =
            reflect(Api::all(client.clone()), all.clone(), Watched::EndpointSlices, watches.clone());
        let (pods, pods_task) = reflect(Api::all(client.clone()), all.clone(), Watched::Pods, watches.clone());
        let (namespaces, namespaces_task) =
            reflect(Api::all(client.clone()), all.clone(), Watched::Namespaces, watches.clone());
        let tls = all.fields(&format!("type={TLS_SECRET}"));
        let (secrets, secrets_task) = reflect(Api::all(client), tls, Watched::Secrets, watches.clone());
        KubeRegistry {
            settings,
            services,
            slices,
            pods,
            namespaces,
            secrets,
            provisioner: None,
            environment: crate::ingress::Environment::default(),
            watches,
            wake: seen.clone(),
            seen,
            view: MeshView::default(),
            probe_targets: Vec::new(),
            identities: Arc::default(),
            targets: Arc::from([]),
            tasks: vec![services_task, slices_task, pods_task, namespaces_task, secrets_task],
        }
    }

    /// Makes the Gateways' proxies (`settings`' images, Services of type `default` unless a
    /// Gateway says otherwise) while `leading`.
    pub fn provision_gateways(
        &mut self,
        cluster: super::client::Cluster,
        settings: super::install::Settings,
        default: super::install::GatewayService,
        leading: watch::Receiver<bool>,
    ) {
        let provisioner = super::gateways::Provisioner::start(cluster, self.settings.namespace.clone(), leading);
        self.provisioner = Some((provisioner, settings, default));
    }

    /// The namespaces' labels, the TLS Secrets' certificates and the Gateways' proxies, now.
    fn read_environment(&self) -> crate::ingress::Environment {
        let namespace_labels = self.namespaces.state().iter().map(|n| (n.name_any(), n.labels().clone())).collect();
        let certificates = self
            .secrets
            .state()
            .iter()
            .map(|s| ((namespace(s.as_ref()).to_string(), s.name_any()), certificate(s)))
            .collect();
        let services = self.services.state();
        let gateways = super::gateways::deployments(&self.settings.namespace, &services, &self.pods.state());
        let services = services
            .iter()
            .map(|s| {
                let ports = s.spec.iter().flat_map(|spec| spec.ports.iter().flatten());
                let host = crate::policy::service_host(&s.name_any(), namespace(s.as_ref()));
                (host, ports.filter_map(|p| u16::try_from(p.port).ok()).collect())
            })
            .collect();
        crate::ingress::Environment { namespace_labels, certificates, no_secrets: None, gateways, services }
    }

    /// Waits until every store holds its first full list, so that the controller's first
    /// configuration is of the whole mesh, not of what happened to arrive first. A watch that
    /// cannot list (forbidden, say) keeps this waiting: bound it with a timeout and report
    /// `problems()`.
    pub async fn listed(&self) {
        // A store's writer lives as long as its task; only `shut_down` ends them early.
        let _ = tokio::join!(
            self.services.wait_until_ready(),
            self.slices.wait_until_ready(),
            self.pods.wait_until_ready(),
            self.namespaces.wait_until_ready(),
            self.secrets.wait_until_ready()
        );
    }

    /// Where the instances are probed for their certificates, as of the last `tick`.
    pub fn probe_targets(&self) -> &[ProbeTarget] {
        &self.probe_targets
    }

    /// The view of the stores as they are now.
    fn read(&self) -> MeshView {
        view(&self.pods.state(), &self.services.state(), &self.slices.state(), &self.settings)
    }
}

fn probe_targets(services: &[Service]) -> Vec<ProbeTarget> {
    let target = |service: &Service, instance: &Instance| {
        Some(ProbeTarget {
            // One port answers for the sidecar's certificate.
            address: instance.address(*instance.ports.keys().next()?)?,
            identity: instance.identity(&service.namespace),
            host: service.name.clone(),
        })
    };
    services.iter().flat_map(|s| s.instances.iter().filter_map(move |i| target(s, i))).collect()
}

/// The type of the Secrets a Gateway's certificate is read from.
const TLS_SECRET: &str = "kubernetes.io/tls";

/// A TLS Secret's certificate chain and key, or why it cannot serve.
fn certificate(secret: &Secret) -> Result<crate::ingress::Certificate, String> {
    let data = secret.data.clone().unwrap_or_default();
    let text = |key: &str| {
        let bytes = data.get(key).ok_or_else(|| format!("it has no {key}"))?;
        String::from_utf8(bytes.0.clone()).map_err(|_| format!("its {key} is not PEM text"))
    };
    let (chain, key) = (text("tls.crt")?, text("tls.key")?);
    crate::pki::check_certificate_and_key(&chain, &key)?;
    Ok(crate::ingress::Certificate { chain, key })
}

/// Runs a reflector for `K` on a task of its own; returns its store and the task.
fn reflect<K>(api: Api<K>, config: watcher::Config, kind: Watched, watches: Arc<Watches>) -> (Store<K>, JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let events = watcher(api, config)
        // Without backoff a failing watch (API server down, forbidden) retries in a tight loop.
        .default_backoff()
        // Managed fields are about half of an object's metadata; nothing here reads them.
        .modify(|object: &mut K| object.managed_fields_mut().clear())
        .reflect(writer);
    let task = tokio::spawn(async move {
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            watches.saw(kind, event);
        }
    });
    (store, task)
}

#[async_trait::async_trait]
impl Registry for KubeRegistry {
    /// Kubernetes' own controllers run the Pods; the Gateways' proxies are made here.
    fn reconcile(&mut self, resources: &[crate::api::Resource]) -> Result<(), String> {
        if let Some((provisioner, settings, default)) = &self.provisioner {
            provisioner.want(resources, settings, *default);
        }
        Ok(())
    }

    async fn changed(&mut self) {
        // A Pod that waits for an IP becomes a problem when its grace runs out, with no event.
        let now = SystemTime::now();
        let overdue = self.view.waiting.iter().filter_map(|w| w.created).map(|t| t + self.settings.ip_grace);
        let grace_ends = crate::api::time::sleep_until(overdue.filter(|at| *at > now).min());
        let provisioner = self.provisioner.as_mut().map(|(p, _, _)| p);
        let provisioning = async {
            match provisioner {
                Some(p) => p.problem_changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            woke = self.wake.changed() => if woke.is_err() {
                // The watches have stopped (shut down): nothing changes any more.
                std::future::pending::<()>().await;
            },
            () = grace_ends => {}
            () = provisioning => {}
        }
    }

    /// Takes a new view when the watches saw anything; says whether the proxies' configuration
    /// depends on something that changed (services, instances, proxies).
    async fn tick(&mut self, _syncing: Syncing<'_>) -> bool {
        if !self.seen.has_changed().unwrap_or(false) {
            return false;
        }
        self.seen.mark_unchanged();
        let view = self.read();
        let environment = self.read_environment();
        let moved =
            view.services != self.view.services || view.proxies != self.view.proxies || environment != self.environment;
        if view.services != self.view.services {
            self.probe_targets = probe_targets(&view.services);
        }
        if view.proxies != self.view.proxies {
            self.identities =
                view.proxies.iter().map(|p| (p.proxy.node_id().to_string(), p.identity.clone())).collect();
            self.targets = view.proxies.iter().map(scrape_target).collect();
        }
        self.view = view;
        self.environment = environment;
        moved
    }

    fn environment(&self) -> crate::ingress::Environment {
        self.environment.clone()
    }

    fn services(&self) -> Vec<Service> {
        self.view.services.clone()
    }

    fn identities(&self) -> Arc<[(String, Identity)]> {
        self.identities.clone()
    }

    fn proxies(&self, credentials: &dyn Fn(&str) -> Option<Credentials>) -> Vec<Proxy> {
        self.view.proxies.iter().filter_map(|p| p.proxy.credentialed(credentials)).collect()
    }

    fn scrape_targets(&self) -> Arc<[Target]> {
        self.targets.clone()
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = self.watches.problems();
        problems.extend(self.provisioner.as_ref().and_then(|(p, _, _)| p.problem()));
        problems.extend(self.view.problems.iter().cloned());
        problems.extend(waiting_too_long(&self.view.waiting, SystemTime::now(), self.settings.ip_grace));
        problems
    }

    fn shut_down(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for KubeRegistry {
    /// A registry dropped without `shut_down` (a test that failed) stops watching too.
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use serde_json::{Value, json};

    use super::*;

    fn from<T: DeserializeOwned>(value: Value) -> Arc<T> {
        Arc::new(serde_json::from_value(value).unwrap())
    }

    /// A running mesh Pod: an app container serving `http` on 8080 and the proxy container.
    fn mk_pod(namespace: &str, name: &str, labels: Value, ip: Option<&str>) -> Value {
        json!({
            "metadata": { "name": name, "namespace": namespace, "uid": format!("uid-{name}"), "labels": labels,
                "creationTimestamp": "2026-01-01T00:00:00Z" },
            "spec": { "containers": [
                { "name": "app", "ports": [{ "name": "http", "containerPort": 8080 }] },
                { "name": PROXY_CONTAINER },
            ]},
            "status": { "phase": if ip.is_some() { "Running" } else { "Pending" }, "podIP": ip },
        })
    }

    fn mk_service(namespace: &str, name: &str, selector: Value, port: i32, target_port: Value) -> Value {
        json!({
            "metadata": { "name": name, "namespace": namespace },
            "spec": { "selector": selector, "ports": [{ "port": port, "targetPort": target_port }] },
        })
    }

    /// The EndpointSlice of `service` with `endpoints` (see `mk_endpoint`).
    fn mk_slice(namespace: &str, service: &str, endpoints: Vec<Value>) -> Value {
        json!({
            "metadata": { "name": format!("{service}-abcde"), "namespace": namespace,
                "labels": { SERVICE_NAME_LABEL: service } },
            "addressType": "IPv4",
            "endpoints": endpoints,
        })
    }

    /// An endpoint for `pod` (as `mk_pod` made it) with readiness `ready`.
    fn mk_endpoint(pod: &Value, ready: Option<bool>) -> Value {
        json!({
            "addresses": [pod["status"]["podIP"]],
            "conditions": { "ready": ready },
            "targetRef": { "kind": "Pod", "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"] },
        })
    }

    /// A Service without a selector whose EndpointSlice is written by hand (the Gateway API's
    /// conformance suite does so) serves the mesh Pods its endpoints' addresses are, at the
    /// slice's port of the Service port's name; the same Service with no endpoint yet is not in
    /// the mesh.
    #[test]
    fn a_service_without_a_selector_serves_the_mesh_pods_its_slices_name_by_address() {
        let mut pod = mk_pod("infra", "backend-1", json!({ "app": "backend" }), Some("10.237.0.5"));
        pod["spec"]["initContainers"] = json!([{ "name": INIT_CONTAINER }]);
        let mut service = mk_service("infra", "manual", json!({}), 8080, json!(3000));
        service["spec"]["ports"][0]["name"] = json!("first-port");
        service["spec"].as_object_mut().unwrap().remove("selector");
        let mut endpoint = mk_endpoint(&pod, Some(true));
        endpoint.as_object_mut().unwrap().remove("targetRef");
        let mut slice = mk_slice("infra", "manual", vec![endpoint]);
        slice["ports"] = json!([{ "name": "first-port", "port": 3001, "protocol": "TCP" }]);

        let view = mk_view(std::slice::from_ref(&pod), std::slice::from_ref(&service), &[slice.clone()]);
        assert_eq!(view.services.len(), 1, "{view:#?}");
        let instances = &view.services[0].instances;
        assert_eq!(instances.len(), 1, "{view:#?}");
        assert_eq!(instances[0].address(8080), Some(addr("10.237.0.5:3001")), "the slice's port, not targetPort");

        slice["endpoints"] = json!([]);
        let view = mk_view(&[pod], &[service], &[slice]);
        assert_eq!(view.services, vec![], "no endpoint is a mesh Pod yet");
    }

    fn mk_view(pods: &[Value], services: &[Value], slices: &[Value]) -> MeshView {
        let pods: Vec<Arc<Pod>> = pods.iter().cloned().map(from).collect();
        let services: Vec<Arc<KubeService>> = services.iter().cloned().map(from).collect();
        let slices: Vec<Arc<EndpointSlice>> = slices.iter().cloned().map(from).collect();
        view(&pods, &services, &slices, &Settings::default())
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn mk_port(name: &str, number: u16, protocol: Protocol) -> translate::ServicePort {
        translate::ServicePort { name: name.into(), number, protocol }
    }

    /// Where a sidecar's application serves each of its ports.
    fn apps(sidecar: &Sidecar) -> Vec<SocketAddr> {
        sidecar.ports.iter().map(|p| p.app).collect()
    }

    fn sidecar(view: &MeshView, node_id: &str) -> Sidecar {
        view.proxies
            .iter()
            .find_map(|p| match &p.proxy {
                Proxy::Sidecar(s) if s.node_id == node_id => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no sidecar {node_id} in {view:#?}"))
    }

    #[test]
    fn a_service_is_exported_as_its_annotation_says() {
        let pod = mk_pod("shop", "profile", json!({ "app": "profile" }), Some("10.237.0.2"));
        let mut service = mk_service("shop", "profile", json!({ "app": "profile" }), 80, json!(80));
        let slice = mk_slice("shop", "profile", vec![mk_endpoint(&pod, Some(true))]);
        let exported = |service: &Value| {
            let view = mk_view(std::slice::from_ref(&pod), std::slice::from_ref(service), std::slice::from_ref(&slice));
            view.services[0].exported.clone()
        };
        assert_eq!(exported(&service), Exported::Everywhere);
        service["metadata"]["annotations"] = json!({ EXPORT_TO_ANNOTATION: " ., audit " });
        let to = |names: &[&str]| Exported::To(names.iter().map(|n| n.to_string()).collect());
        assert_eq!(exported(&service), to(&["audit", "shop"]));
        service["metadata"]["annotations"] = json!({ EXPORT_TO_ANNOTATION: "~" });
        assert_eq!(exported(&service), to(&[]));
    }

    #[test]
    fn a_service_of_two_mesh_pods_has_both_ready_endpoints_at_their_inbound_port() {
        let mut v1 = mk_pod("shop", "profile-v1", json!({ "app": "profile", "version": "v1" }), Some("10.237.0.2"));
        v1["spec"]["serviceAccountName"] = json!("profile");
        let v2 = mk_pod("shop", "profile-v2", json!({ "app": "profile", "version": "v2" }), Some("10.237.0.3"));
        let service = mk_service("shop", "profile", json!({ "app": "profile" }), 80, json!("http"));
        let slice = mk_slice("shop", "profile", vec![mk_endpoint(&v2, Some(true)), mk_endpoint(&v1, None)]);

        let view = mk_view(&[v1, v2], &[service], &[slice]);

        let labels =
            |version: &str| BTreeMap::from([("app".into(), "profile".into()), ("version".into(), version.into())]);
        assert_eq!(
            view.services,
            vec![Service {
                name: "profile".into(),
                namespace: "shop".into(),
                ports: vec![mk_port("", 80, Protocol::Tcp)],
                addresses: vec![],
                origin: Origin::Registry,
                exported: Default::default(),
                instances: vec![
                    Instance {
                        ip: "10.237.0.2".parse().unwrap(),
                        ports: BTreeMap::from([(80, 15006)]),
                        labels: labels("v1"),
                        service_account: "profile".into()
                    },
                    Instance {
                        ip: "10.237.0.3".parse().unwrap(),
                        ports: BTreeMap::from([(80, 15006)]),
                        labels: labels("v2"),
                        service_account: "default".into()
                    },
                ],
            }]
        );
        assert_eq!(view.problems, Vec::<String>::new());
        assert_eq!(view.waiting, vec![]);
    }

    #[test]
    fn an_endpoint_not_ready_or_not_a_mesh_pod_of_this_pod_is_no_instance() {
        let mesh = mk_pod("shop", "profile-v1", json!({ "app": "profile" }), Some("10.237.0.2"));
        let unready = mk_pod("shop", "profile-v2", json!({ "app": "profile" }), Some("10.237.0.3"));
        let mut plain = mk_pod("shop", "profile-plain", json!({ "app": "profile" }), Some("10.237.0.4"));
        plain["spec"]["containers"] = json!([{ "name": "app" }]);
        let mut replaced = mk_endpoint(&mesh, Some(true));
        replaced["targetRef"]["uid"] = json!("uid-of-an-earlier-pod");
        // Written by hand, without a targetRef, for an address no mesh Pod has.
        let mut no_target = mk_endpoint(&mesh, Some(true));
        no_target.as_object_mut().unwrap().remove("targetRef");
        no_target["addresses"] = json!(["10.237.0.9"]);
        let mut other_namespace = mk_endpoint(&mesh, Some(true));
        other_namespace["targetRef"]["namespace"] = json!("elsewhere");
        let slice = mk_slice(
            "shop",
            "profile",
            vec![
                mk_endpoint(&unready, Some(false)),
                mk_endpoint(&plain, Some(true)),
                replaced,
                no_target,
                other_namespace,
            ],
        );
        let service = mk_service("shop", "profile", json!({ "app": "profile" }), 80, json!(8080));

        let view = mk_view(&[mesh, unready, plain], &[service], &[slice]);

        assert_eq!(view.services.len(), 1, "{view:#?}");
        assert_eq!(view.services[0].instances, vec![], "{view:#?}");
        // Not ready is not gone: both mesh Pods keep their sidecars; the plain Pod has none.
        let nodes: Vec<&str> = view.proxies.iter().map(|p| p.proxy.node_id()).collect();
        assert_eq!(nodes, ["profile-v1.shop", "profile-v2.shop"]);
    }

    #[test]
    fn only_services_that_select_a_mesh_pod_and_have_a_port_are_mesh_services() {
        let pod = mk_pod("shop", "profile-v1", json!({ "app": "profile" }), Some("10.237.0.2"));
        let services = [
            mk_service("shop", "profile", json!({ "app": "profile" }), 80, json!(8080)),
            mk_service("shop", "board", json!({ "app": "board" }), 80, json!(8080)),
            mk_service("elsewhere", "profile", json!({ "app": "profile" }), 80, json!(8080)),
            mk_service("shop", "everything", json!({}), 80, json!(8080)),
            json!({ "metadata": { "name": "portless", "namespace": "shop" }, "spec": { "selector": { "app": "profile" } } }),
            json!({ "metadata": { "name": "external", "namespace": "shop" },
                "spec": { "type": "ExternalName", "externalName": "example.com" } }),
        ];

        let view = mk_view(&[pod], &services, &[]);

        let names: Vec<(&str, &str)> = view.services.iter().map(|s| (s.namespace.as_str(), s.name.as_str())).collect();
        assert_eq!(names, [("shop", "profile")]);
    }

    #[test]
    fn a_sidecar_serves_its_first_service_by_name_at_that_services_target_port() {
        let mut pod = mk_pod("shop", "profile-v1", json!({ "app": "profile", "tier": "api" }), Some("10.237.0.2"));
        pod["spec"]["serviceAccountName"] = json!("profile");
        let services = [
            mk_service("shop", "profile", json!({ "app": "profile" }), 80, json!("http")),
            mk_service("shop", "api", json!({ "tier": "api" }), 9000, json!(9090)),
        ];

        let view = mk_view(&[pod], &services, &[]);

        assert_eq!(
            sidecar(&view, "profile-v1.shop"),
            Sidecar {
                node_id: "profile-v1.shop".into(),
                service: "api".into(),
                namespace: "shop".into(),
                ports: vec![InboundPort {
                    service_port: mk_port("", 9000, Protocol::Tcp),
                    listen: addr("10.237.0.2:15006"),
                    app: addr("127.0.0.1:9090"),
                }],
                outbound: addr("127.0.0.1:15001"),
                capture: None,
                labels: BTreeMap::from([("app".into(), "profile".into()), ("tier".into(), "api".into())]),
                credentials: Credentials::default(),
            }
        );
        assert_eq!(view.proxies[0].identity, Identity::new("shop", "profile"));
        assert_eq!(view.proxies[0].stats, addr("10.237.0.2:15090"));
    }

    #[test]
    fn every_tcp_port_of_a_service_is_served_with_its_protocol_at_its_target_port_when_captured() {
        let mut pod = mk_pod("shop", "api-1", json!({ "app": "api" }), Some("10.237.0.2"));
        pod["spec"]["initContainers"] = json!([{ "name": INIT_CONTAINER }]);
        pod["spec"]["containers"][0]["ports"] = json!([
            { "name": "http", "containerPort": 8080 }, { "name": "grpc", "containerPort": 9090 },
        ]);
        let mut service = mk_service("shop", "api", json!({ "app": "api" }), 80, json!("http"));
        service["spec"]["ports"] = json!([
            { "name": "http-web", "port": 80, "targetPort": "http" },
            { "name": "rpc", "port": 9090, "targetPort": "grpc", "appProtocol": "grpc" },
            { "port": 5432, "targetPort": 5432 },
            { "name": "dns", "port": 53, "protocol": "UDP" },
        ]);
        let slice = mk_slice("shop", "api", vec![mk_endpoint(&pod, Some(true))]);

        let view = mk_view(&[pod], &[service], &[slice]);

        let service = &view.services[0];
        let want = [
            mk_port("http-web", 80, Protocol::Http),
            mk_port("rpc", 9090, Protocol::Grpc),
            mk_port("", 5432, Protocol::Tcp),
        ];
        assert_eq!(service.ports, want);
        assert_eq!(service.instances[0].ports, BTreeMap::from([(80, 8080), (9090, 9090), (5432, 5432)]));
        let sidecar = sidecar(&view, "api-1.shop");
        let listens: Vec<SocketAddr> = sidecar.ports.iter().map(|p| p.listen).collect();
        assert_eq!(listens, [addr("10.237.0.2:8080"), addr("10.237.0.2:9090"), addr("10.237.0.2:5432")]);
        assert_eq!(apps(&sidecar), [addr("127.0.0.1:8080"), addr("127.0.0.1:9090"), addr("127.0.0.1:5432")]);
        assert_eq!(sidecar.capture, Some(addr("0.0.0.0:15006")));
    }

    #[test]
    fn a_pod_two_services_select_serves_the_ports_of_both_once_each_and_is_measured_as_either() {
        let mut pod = mk_pod("shop", "profile-v2-1", json!({ "app": "profile", "version": "v2" }), Some("10.237.0.2"));
        pod["spec"]["initContainers"] = json!([{ "name": INIT_CONTAINER }]);
        let all = mk_service("shop", "profile", json!({ "app": "profile" }), 80, json!(8080));
        let mut v2 = mk_service("shop", "profile-v2", json!({ "version": "v2" }), 80, json!(8080));
        v2["spec"]["ports"] = json!([
            { "name": "http", "port": 80, "targetPort": 8080 },
            { "name": "tcp-admin", "port": 9090, "targetPort": 9090 },
        ]);

        let view = mk_view(&[pod], &[all, v2], &[]);

        let sidecar = sidecar(&view, "profile-v2-1.shop");
        assert_eq!(sidecar.service, "profile");
        assert_eq!(apps(&sidecar), [addr("127.0.0.1:8080"), addr("127.0.0.1:9090")]);
        assert_eq!(view.proxies[0].services, ["profile", "profile-v2"]);
    }

    #[test]
    fn a_target_port_is_a_number_a_container_ports_name_or_the_service_port() {
        let pod = mk_pod("shop", "p", json!({ "app": "p" }), Some("10.237.0.2"));
        for (target, app) in [(json!(7070), 7070), (json!("http"), 8080), (Value::Null, 80)] {
            let view = mk_view(
                std::slice::from_ref(&pod),
                &[mk_service("shop", "p", json!({ "app": "p" }), 80, target.clone())],
                &[],
            );
            assert_eq!(apps(&sidecar(&view, "p.shop")), [addr(&format!("127.0.0.1:{app}"))], "targetPort {target}");
            assert_eq!(view.problems, Vec::<String>::new());
        }
    }

    #[test]
    fn a_target_port_name_the_pod_does_not_declare_is_a_problem_not_a_panic() {
        let pod = mk_pod("shop", "p", json!({ "app": "p" }), Some("10.237.0.2"));
        let view = mk_view(&[pod], &[mk_service("shop", "p", json!({ "app": "p" }), 80, json!("grpc"))], &[]);

        assert_eq!(apps(&sidecar(&view, "p.shop")), []);
        assert_eq!(view.problems.len(), 1, "{view:#?}");
        assert!(view.problems[0].contains("Service shop/p") && view.problems[0].contains("\"grpc\""), "{view:#?}");
        assert!(view.problems[0].contains("Pod shop/p"), "{view:#?}");
    }

    #[test]
    fn a_mesh_pod_no_service_selects_gets_a_sidecar_serving_nothing_named_by_its_app_label_else_after_itself() {
        let client = mk_pod("shop", "loadgen-5b67594bcd-ttcjs", json!({ "app": "loadgen" }), Some("10.237.0.5"));
        let mut silent = mk_pod("shop", "silent", json!({}), Some("10.237.0.6"));
        silent["spec"]["containers"][0].as_object_mut().unwrap().remove("ports");

        let view = mk_view(&[client, silent], &[], &[]);

        let loadgen = sidecar(&view, "loadgen-5b67594bcd-ttcjs.shop");
        assert_eq!((loadgen.service.as_str(), apps(&loadgen)), ("loadgen", vec![]));
        let silent = sidecar(&view, "silent.shop");
        assert_eq!((silent.service.as_str(), apps(&silent)), ("silent", vec![]));
        assert_eq!(view.services, vec![]);
    }

    #[test]
    fn a_native_sidecar_makes_a_pod_a_mesh_pod_and_a_plain_init_container_does_not() {
        let mut native = mk_pod("shop", "native", json!({}), Some("10.237.0.2"));
        native["spec"]["containers"] = json!([{ "name": "app" }]);
        native["spec"]["initContainers"] = json!([{ "name": PROXY_CONTAINER, "restartPolicy": "Always" }]);
        let mut plain_init = native.clone();
        plain_init["metadata"]["name"] = json!("plain-init");
        plain_init["spec"]["initContainers"][0].as_object_mut().unwrap().remove("restartPolicy");

        let view = mk_view(&[native, plain_init], &[], &[]);

        let nodes: Vec<&str> = view.proxies.iter().map(|p| p.proxy.node_id()).collect();
        assert_eq!(nodes, ["native.shop"]);
    }

    #[test]
    fn a_pod_without_an_ip_waits_and_is_a_problem_only_after_the_grace() {
        let waiting = mk_pod("shop", "new", json!({ "app": "p" }), None);
        let mut bad_ip = mk_pod("shop", "bad-ip", json!({ "app": "p" }), Some("not-an-ip"));
        bad_ip["metadata"]["creationTimestamp"] = Value::Null;
        let mut leaving = mk_pod("shop", "leaving", json!({ "app": "p" }), None);
        leaving["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:01:00Z");
        let mut done = mk_pod("shop", "done", json!({ "app": "p" }), Some("10.237.0.9"));
        done["status"]["phase"] = json!("Succeeded");
        let service = mk_service("shop", "p", json!({ "app": "p" }), 80, json!(8080));

        let view = mk_view(&[waiting, bad_ip, leaving, done], &[service], &[]);

        assert_eq!(view.proxies, vec![], "no proxy without an IP, none for a finished Pod");
        // A Service whose mesh Pods have no IP yet is known, with no instances.
        assert_eq!(view.services.len(), 1);
        let created = UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
        assert_eq!(
            view.waiting,
            vec![
                WaitingPod { pod: "shop/bad-ip".into(), created: None },
                WaitingPod { pod: "shop/new".into(), created: Some(created) },
            ]
        );
        let grace = Duration::from_secs(60);
        let just_before = created + grace - Duration::from_millis(1);
        assert_eq!(waiting_too_long(&view.waiting, just_before, grace), Vec::<String>::new());
        let late = waiting_too_long(&view.waiting, created + grace, grace);
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(late[0].starts_with("Pod shop/new has had no IP since 2026-01-01T00:00:00Z (over 60s)"), "{late:?}");
    }

    #[test]
    fn the_ingress_gateways_pods_get_gateway_proxies_and_its_labels_elsewhere_do_not() {
        let labels = crate::kube::install::pod_labels(GATEWAY);
        let mut gateway = mk_pod(NAMESPACE, "gw-1", labels.clone(), Some("10.237.0.7"));
        gateway["spec"]["containers"] = json!([{ "name": "envoy" }]);
        let mut impostor = gateway.clone();
        impostor["metadata"]["namespace"] = json!("shop");
        let gateway_service = mk_service(NAMESPACE, GATEWAY, labels.clone(), 80, json!(GATEWAY_HTTP_PORT));

        let view = mk_view(&[gateway, impostor], &[gateway_service], &[]);

        assert_eq!(
            view.proxies,
            vec![MeshProxy {
                proxy: Proxy::Gateway(Gateway {
                    serves: None,
                    node_id: format!("gw-1.{NAMESPACE}"),
                    namespace: "default".into(),
                    listen: addr("0.0.0.0:8080"),
                    labels: serde_json::from_value(labels).unwrap(),
                    credentials: Credentials::default(),
                }),
                identity: Identity::gateway(),
                stats: addr("10.237.0.7:15090"),
                services: vec![],
            }]
        );
        assert_eq!(view.services, vec![], "the gateway's own Service is not a mesh service");
    }

    #[test]
    fn a_forbidden_watch_says_which_permission_is_missing() {
        let status = kube::core::Status {
            code: 403,
            message: "pods is forbidden: User \"x\" cannot list resource \"pods\"".into(),
            reason: "Forbidden".into(),
            ..Default::default()
        };
        let forbidden = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)));
        let text = watch_problem(Watched::Pods, false, &forbidden);
        assert!(text.contains("may not list and watch pods") && text.contains("cannot list resource"), "{text}");

        let gone = watcher::Error::NoResourceVersion;
        let text = watch_problem(Watched::EndpointSlices, true, &gone);
        assert!(text.starts_with("watching endpointslices.discovery.k8s.io failed, retrying"), "{text}");
        assert!(text.ends_with("the mesh is shown as last seen"), "{text}");
    }
}
