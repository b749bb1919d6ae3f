//! The controller's [`Registry`] on a cluster: where the mesh's workloads run, read from the
//! Kubernetes API. The local backend (`controller::local`) starts processes; here Kubernetes'
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
//! Part 1 of the cluster mode (issue 10) has no injection and no traffic capture yet: a Pod is
//! in the mesh when it runs a container named [`PROXY_CONTAINER`] (or a native sidecar of that
//! name), its application calls the sidecar explicitly at `127.0.0.1:15001` (`HTTP_PROXY`),
//! and callers reach it at `PodIP:15006`. The conversion from Kubernetes objects to the
//! translator's types ([`view`]) is pure, so it is tested on fixtures without an API server.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Pod, Service as KubeService, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

use super::install::{GATEWAY, GATEWAY_HTTP_PORT, NAMESPACE};
use super::ports::{INBOUND_PORT, OUTBOUND_PORT, STATS_PORT};
use crate::controller::{Refusing, Registry};
use crate::metrics::scrape::Target;
use crate::pki::Identity;
use crate::translate::{Credentials, Gateway, Instance, Proxy, Service, Sidecar};

/// The container that makes a Pod part of the mesh: its Envoy sidecar.
pub const PROXY_CONTAINER: &str = "meshctl-proxy";

/// The namespace short host names resolve in at the ingress gateway, as in the local mesh.
const GATEWAY_ROUTES_NAMESPACE: &str = "default";

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The application port of a sidecar whose Pod declares none and that no Service selects (a
/// client only, such as a traffic generator). Envoy accepts it and fails the connection, so a
/// request sent straight to such a Pod's inbound port gets a 503: it serves nothing.
const NO_APP_PORT: u16 = 0;

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
}

/// A mesh Pod without an IP.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitingPod {
    /// `NAMESPACE/NAME`.
    pub pod: String,
    pub created: Option<SystemTime>,
}

/// Which proxy a Pod runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Sidecar,
    Gateway,
}

/// A Service that selects at least one mesh Pod, with the port it is known by.
struct MeshService<'a> {
    namespace: &'a str,
    name: &'a str,
    selector: &'a BTreeMap<String, String>,
    port: &'a ServicePort,
}

/// Converts what the API server stores into the mesh the translator sees. Pure: no I/O, no
/// clock; the same objects give the same view.
///
/// - A Service is a mesh service when its selector picks at least one mesh Pod. Its `port` is
///   its first port: callers address one port per service in part 1 (multi-port services
///   follow). Its instances are its EndpointSlices' ready endpoints (`ready` unset counts as
///   ready, as Kubernetes says) whose `targetRef` is a mesh Pod with an IP, at `PodIP:15006`.
/// - Each mesh Pod with an IP gets a sidecar. Its service is the first Service, by name, that
///   selects it; its application is at that Service's target port on the Pod's loopback. A Pod
///   no Service selects still gets one, so a client-only workload can call the mesh: its own
///   name is its service and its first declared container port its application.
/// - Each Pod of install's ingress gateway in `settings.namespace` gets a gateway proxy.
pub fn view(
    pods: &[Arc<Pod>],
    services: &[Arc<KubeService>],
    slices: &[Arc<EndpointSlice>],
    settings: &Settings,
) -> MeshView {
    let mut view = MeshView::default();
    let mut sidecar_pods: BTreeMap<(&str, &str), &Pod> = BTreeMap::new();
    let mut gateway_pods: Vec<&Pod> = Vec::new();
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
            Role::Gateway => gateway_pods.push(pod),
        }
    }

    let mut slices_by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for slice in slices.iter().map(Arc::as_ref) {
        if let Some(service) = slice.labels().get(SERVICE_NAME_LABEL) {
            slices_by_service.entry((namespace(slice), service.as_str())).or_default().push(slice);
        }
    }

    let mut sorted: Vec<&KubeService> = services.iter().map(Arc::as_ref).collect();
    sorted.sort_by(|a, b| (namespace(*a), name(*a)).cmp(&(namespace(*b), name(*b))));
    let mut mesh_services: Vec<MeshService> = Vec::new();
    for service in sorted {
        let Some(mesh) = mesh_service(service, &sidecar_pods) else { continue };
        let Ok(port) = u16::try_from(mesh.port.port) else { continue };
        let slices = slices_by_service.get(&(mesh.namespace, mesh.name)).map(Vec::as_slice).unwrap_or_default();
        view.services.push(Service {
            name: mesh.name.to_string(),
            namespace: mesh.namespace.to_string(),
            port,
            instances: instances(mesh.namespace, slices, &sidecar_pods),
        });
        mesh_services.push(mesh);
    }

    for (&(namespace, name), pod) in &sidecar_pods {
        let Some(ip) = pod_ip(pod) else { continue };
        let labels = pod.labels();
        let service = mesh_services.iter().find(|s| s.namespace == namespace && selects(s.selector, labels));
        let (service, app_port) = match service {
            Some(service) => {
                let port = target_port(service.port, pod).unwrap_or_else(|| {
                    view.problems.push(format!(
                        "Service {namespace}/{}: its target port {} names no container port of Pod \
                         {namespace}/{name}, so that Pod's sidecar has no application to deliver to; \
                         name the port in the Pod's spec or give the Service a port number",
                        service.name,
                        describe(service.port.target_port.as_ref()),
                    ));
                    NO_APP_PORT
                });
                (service.name, port)
            }
            None => (name, first_container_port(pod).unwrap_or(NO_APP_PORT)),
        };
        view.proxies.push(MeshProxy {
            proxy: Proxy::Sidecar(Sidecar {
                node_id: node_id(pod),
                service: service.to_string(),
                namespace: namespace.to_string(),
                inbound: SocketAddr::new(ip, INBOUND_PORT),
                app: SocketAddr::from((Ipv4Addr::LOCALHOST, app_port)),
                outbound: SocketAddr::from((Ipv4Addr::LOCALHOST, OUTBOUND_PORT)),
                labels: labels.clone(),
                credentials: Credentials::default(),
            }),
            identity: Identity::new(namespace, service_account(pod)),
            stats: SocketAddr::new(ip, STATS_PORT),
        });
    }

    for pod in gateway_pods {
        let Some(ip) = pod_ip(pod) else { continue };
        view.proxies.push(MeshProxy {
            proxy: Proxy::Gateway(Gateway {
                node_id: node_id(pod),
                namespace: GATEWAY_ROUTES_NAMESPACE.to_string(),
                listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, GATEWAY_HTTP_PORT)),
                credentials: Credentials::default(),
            }),
            identity: Identity::gateway(),
            stats: SocketAddr::new(ip, STATS_PORT),
        });
    }
    view.proxies.sort_by(|a, b| a.proxy.node_id().cmp(b.proxy.node_id()));
    view.waiting.sort_by(|a, b| a.pod.cmp(&b.pod));
    view
}

/// The Pods in `waiting` that have had no IP for longer than `grace` at `now`, as problems.
pub fn waiting_too_long(waiting: &[WaitingPod], now: SystemTime, grace: Duration) -> Vec<String> {
    waiting
        .iter()
        .filter_map(|w| {
            let age = now.duration_since(w.created?).ok()?;
            (age > grace).then(|| {
                format!(
                    "Pod {} has had no IP for {}s, so its proxy gets no configuration yet; \
                     `kubectl describe pod` says why it has not started",
                    w.pod,
                    age.as_secs()
                )
            })
        })
        .collect()
}

/// The Service's selector and first port, if it selects at least one mesh Pod.
fn mesh_service<'a>(service: &'a KubeService, sidecar_pods: &BTreeMap<(&str, &str), &Pod>) -> Option<MeshService<'a>> {
    let spec = service.spec.as_ref()?;
    // A Service without a selector (or with an empty one) gets its endpoints from elsewhere:
    // none of them is a Pod the mesh knows.
    let selector = spec.selector.as_ref().filter(|s| !s.is_empty())?;
    let port = spec.ports.as_ref()?.first()?;
    let namespace = namespace(service);
    let selects_one = sidecar_pods
        .range((namespace, "")..)
        .take_while(|((ns, _), _)| *ns == namespace)
        .any(|(_, pod)| selects(selector, pod.labels()));
    selects_one.then(|| MeshService { namespace, name: name(service), selector, port })
}

/// The service's instances: its slices' ready endpoints that are mesh Pods with an IP.
fn instances(namespace: &str, slices: &[&EndpointSlice], sidecar_pods: &BTreeMap<(&str, &str), &Pod>) -> Vec<Instance> {
    // By address: one instance per Pod even when two slices list it (as they may while the
    // EndpointSlice controller moves endpoints between them).
    let mut instances: BTreeMap<SocketAddr, Instance> = BTreeMap::new();
    for endpoint in slices.iter().flat_map(|s| s.endpoints.iter().flatten()) {
        if endpoint.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
            continue;
        }
        let Some(target) = &endpoint.target_ref else { continue };
        if target.kind.as_deref() != Some("Pod") || target.namespace.as_deref().is_some_and(|ns| ns != namespace) {
            continue;
        }
        let Some(pod) = target.name.as_deref().and_then(|name| sidecar_pods.get(&(namespace, name))) else {
            continue;
        };
        // A slice not yet updated may still name an earlier Pod of the same name.
        if let (Some(listed), Some(running)) = (&target.uid, &pod.metadata.uid)
            && listed != running
        {
            continue;
        }
        let Some(ip) = pod_ip(pod) else { continue };
        let address = SocketAddr::new(ip, INBOUND_PORT);
        instances.entry(address).or_insert_with(|| Instance {
            address,
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
    // install's gateway Pods carry these labels (`install::pod_labels`), and its Service
    // selects them by these.
    let labels = pod.labels();
    let gateway = namespace(pod) == settings.namespace
        && labels.get("app.kubernetes.io/name").is_some_and(|v| v == GATEWAY)
        && labels.get("app.kubernetes.io/part-of").is_some_and(|v| v == "meshctl");
    if gateway {
        return Some(Role::Gateway);
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

/// Whether a Service's `selector` picks a Pod with `labels`.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
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

/// The first port the Pod's application containers (not its proxy) declare.
fn first_container_port(pod: &Pod) -> Option<u16> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .filter(|c| c.name != PROXY_CONTAINER)
        .flat_map(|c| c.ports.iter().flatten())
        .find_map(|p| u16::try_from(p.container_port).ok())
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
}

impl Watched {
    pub const ALL: [Watched; 3] = [Watched::Services, Watched::EndpointSlices, Watched::Pods];

    /// As RBAC names it.
    pub fn resource(self) -> &'static str {
        match self {
            Watched::Services => "services",
            Watched::EndpointSlices => "endpointslices.discovery.k8s.io",
            Watched::Pods => "pods",
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
    watches: Arc<Watches>,
    /// Fires with every change the watches see; `tick` reads it.
    seen: watch::Receiver<()>,
    /// What the Registry methods answer: one view per `tick`, so one pass of the controller
    /// sees services and proxies of the same moment.
    view: MeshView,
    tasks: Vec<JoinHandle<()>>,
}

impl KubeRegistry {
    /// Starts watching Services, EndpointSlices and Pods in all namespaces, on the current
    /// tokio runtime (it must be called inside one). The receiver fires whenever a watch saw a
    /// change or a failure: the controller's loop awaits it (`changed()`) to run a pass.
    pub fn start(client: Client, settings: Settings) -> (KubeRegistry, watch::Receiver<()>) {
        let (changes, seen) = watch::channel(());
        let watches = Arc::new(Watches { state: Mutex::new(BTreeMap::new()), changes });
        let (services, services_task) = reflect(Api::all(client.clone()), Watched::Services, watches.clone());
        let (slices, slices_task) = reflect(Api::all(client.clone()), Watched::EndpointSlices, watches.clone());
        let (pods, pods_task) = reflect(Api::all(client), Watched::Pods, watches.clone());
        let receiver = seen.clone();
        let registry = KubeRegistry {
            settings,
            services,
            slices,
            pods,
            watches,
            seen,
            view: MeshView::default(),
            tasks: vec![services_task, slices_task, pods_task],
        };
        (registry, receiver)
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
            self.pods.wait_until_ready()
        );
    }

    /// The view of the stores as they are now.
    fn read(&self) -> MeshView {
        view(&self.pods.state(), &self.services.state(), &self.slices.state(), &self.settings)
    }
}

/// Runs a reflector for `K` on a task of its own; returns its store and the task.
fn reflect<K>(api: Api<K>, kind: Watched, watches: Arc<Watches>) -> (Store<K>, JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let events = watcher(api, watcher::Config::default())
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
    /// Kubernetes' own controllers run the Pods; there is nothing to start or stop.
    fn reconcile(&mut self, _resources: &[crate::api::Resource]) -> Result<(), String> {
        Ok(())
    }

    /// Takes a new view when the watches saw anything; says whether the proxies' configuration
    /// depends on something that changed (services, instances, proxies).
    async fn tick(&mut self, _refusing: Refusing<'_>) -> bool {
        if !self.seen.has_changed().unwrap_or(false) {
            return false;
        }
        self.seen.mark_unchanged();
        let view = self.read();
        let moved = view.services != self.view.services || view.proxies != self.view.proxies;
        self.view = view;
        moved
    }

    fn services(&self) -> Vec<Service> {
        self.view.services.clone()
    }

    fn identities(&self) -> Vec<(String, Identity)> {
        self.view.proxies.iter().map(|p| (p.proxy.node_id().to_string(), p.identity.clone())).collect()
    }

    fn proxies(&self, credentials: &dyn Fn(&str) -> Credentials) -> Vec<Proxy> {
        self.view
            .proxies
            .iter()
            .map(|p| {
                let mut proxy = p.proxy.clone();
                let given = credentials(proxy.node_id());
                match &mut proxy {
                    Proxy::Sidecar(s) => s.credentials = given,
                    Proxy::Gateway(g) => g.credentials = given,
                }
                proxy
            })
            .collect()
    }

    fn scrape_targets(&self) -> Vec<Target> {
        self.view.proxies.iter().map(|p| Target { node_id: p.proxy.node_id().to_string(), admin: p.stats }).collect()
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = self.watches.problems();
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
