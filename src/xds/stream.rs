//! One proxy's ADS stream: what it subscribed to, what was sent and ACKed, and the order in
//! which a change goes out. A proxy speaks ADS one of two ways, and a stream serves either:
//! state of the world, where a response names every listener and cluster the proxy is to keep,
//! or incremental (delta), where it names what changed and what went. meshctl's bootstraps ask
//! for incremental, in which a DestinationRule's change sends each proxy one cluster instead of
//! all of them (1.8 MB at a thousand services); a proxy an older meshctl bootstrapped speaks
//! the other.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use tokio::sync::{Notify, mpsc, watch};
use tokio_stream::StreamExt;

use super::{Authenticator, Desired, ProxyStatus};
use crate::translate::{Encoded, Resources, Type};

#[derive(Default)]
struct TypeState {
    /// Whether the proxy asked for this type at all.
    subscribed: bool,
    /// The names asked for (secrets, endpoints and routes only).
    names: BTreeSet<String>,
    /// What the last response left the proxy holding (all of it, though the response may have
    /// carried only what changed), its version and nonce.
    sent: Arc<[Arc<Encoded>]>,
    sent_version: String,
    nonce: String,
    /// What the proxy holds as far as its ACKs say: the last response it ACKed, less what it
    /// must be sent again (a resource asked for anew, the endpoints of a changed cluster).
    acked: Arc<[Arc<Encoded>]>,
    acked_version: String,
    /// The listeners or clusters an incremental proxy holds from an earlier stream (from a
    /// controller since restarted): each is named removed at the first push unless wanted.
    held_before: BTreeSet<String>,
    /// What the proxy wanted of the resources of this type it was last looked at with (the
    /// list other proxies share and its own), while it asks for the same names: every ACK
    /// looks again, and every change looks at every type, most of them the same as before (a
    /// route's change leaves a thousand services' clusters and endpoints as they were).
    wanted: Option<(Arc<[Arc<Encoded>]>, Vec<Arc<Encoded>>, Listed)>,
}

/// Resources of one type in name order, with their version: shared, not copied, since every
/// ACK looks at what a proxy wants, thousands of clusters at a thousand services.
#[derive(Clone)]
struct Listed {
    resources: Arc<[Arc<Encoded>]>,
    version: String,
}

impl Listed {
    fn new(resources: Vec<Arc<Encoded>>) -> Listed {
        let version = Resources::version(&resources);
        Listed { resources: resources.into(), version }
    }
}

impl TypeState {
    /// Sends the proxy `names` again at the next push, whether they changed or not.
    fn resend(&mut self, names: &BTreeSet<String>) {
        if !names.is_empty() {
            self.acked = self.acked.iter().filter(|e| !names.contains(&e.name)).cloned().collect();
            self.sent_version.clear();
        }
    }
}

/// Where a stream's responses go, in the protocol its proxy speaks.
pub(super) enum Wire {
    StateOfTheWorld(mpsc::Sender<Result<DiscoveryResponse, tonic::Status>>),
    Incremental(mpsc::Sender<Result<DeltaDiscoveryResponse, tonic::Status>>),
}

impl Wire {
    async fn fail(&self, status: tonic::Status) {
        // The stream ends after this; a proxy gone already is told nothing.
        let _ = match self {
            Wire::StateOfTheWorld(tx) => tx.send(Err(status)).await.is_ok(),
            Wire::Incremental(tx) => tx.send(Err(status)).await.is_ok(),
        };
    }
}

/// A request in either protocol, as the stream reads it.
pub(super) struct Request {
    node: Option<String>,
    type_url: String,
    /// The response it answers; empty for a subscription's first request.
    nonce: String,
    /// Why the proxy refused that response.
    error: Option<String>,
    names: Names,
}

enum Names {
    /// Every name the proxy asks for now (state of the world).
    All(Vec<String>),
    /// The names it asks for and no longer asks for, and those it holds from an earlier stream
    /// (incremental).
    Changed { subscribe: Vec<String>, unsubscribe: Vec<String>, held: Vec<String> },
}

impl From<DiscoveryRequest> for Request {
    fn from(r: DiscoveryRequest) -> Request {
        Request {
            node: r.node.map(|n| n.id),
            type_url: r.type_url,
            nonce: r.response_nonce,
            error: r.error_detail.map(|e| e.message),
            names: Names::All(r.resource_names),
        }
    }
}

impl From<DeltaDiscoveryRequest> for Request {
    fn from(r: DeltaDiscoveryRequest) -> Request {
        Request {
            node: r.node.map(|n| n.id),
            type_url: r.type_url,
            nonce: r.response_nonce,
            error: r.error_detail.map(|e| e.message),
            names: Names::Changed {
                subscribe: r.resource_names_subscribe,
                unsubscribe: r.resource_names_unsubscribe,
                held: r.initial_resource_versions.into_keys().collect(),
            },
        }
    }
}

/// What a stream's proxy must prove before it is sent secrets, and what it presented.
pub(super) struct Proof {
    pub authenticator: Arc<dyn Authenticator>,
    pub token: Option<String>,
    /// When the stream is closed for the proxy to prove itself again.
    pub max_age: Option<std::time::Duration>,
}

pub(super) struct Stream {
    id: u64,
    /// `None` once checked (or when nothing is checked).
    proof: Option<Proof>,
    /// Why this stream's proxy is sent no secrets.
    refused: Option<String>,
    desired: watch::Receiver<Desired>,
    status: Arc<Mutex<BTreeMap<String, ProxyStatus>>>,
    /// Told of every change to `status`.
    changed: Arc<Notify>,
    wire: Wire,
    node: String,
    types: [TypeState; 5],
    nonce: u64,
    /// Whether the proxy had ACKed the endpoints of the clusters it was sent, as last found,
    /// with what it was found from (the configuration, those clusters, the endpoints ACKed):
    /// every ACK asks, and the answer walks thousands of names.
    endpoints_ready: Option<(Arc<Resources>, Arc<[Arc<Encoded>]>, Arc<[Arc<Encoded>]>, bool)>,
}

impl Stream {
    pub fn new(
        id: u64,
        desired: watch::Receiver<Desired>,
        status: Arc<Mutex<BTreeMap<String, ProxyStatus>>>,
        changed: Arc<Notify>,
        wire: Wire,
        proof: Option<Proof>,
    ) -> Self {
        Stream {
            id,
            proof,
            refused: None,
            desired,
            status,
            changed,
            wire,
            node: String::new(),
            types: Default::default(),
            nonce: 0,
            endpoints_ready: None,
        }
    }

    pub async fn run(mut self, requests: impl tokio_stream::Stream<Item = Result<Request, tonic::Status>>) {
        let mut requests = std::pin::pin!(requests);
        let max_age = self.proof.as_ref().and_then(|p| p.max_age);
        let expiry = tokio::time::sleep(max_age.unwrap_or(std::time::Duration::MAX / 4));
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                _ = &mut expiry, if max_age.is_some() => {
                    tracing::debug!("stream reached its maximum age");
                    let status = tonic::Status::unavailable("the stream reached its maximum age: reconnect and prove the proxy's identity again");
                    self.wire.fail(status).await;
                    break;
                }
                request = requests.next() => match request {
                    Some(Ok(request)) => {
                        if self.request(request).await.is_err() {
                            break;
                        }
                    }
                    _ => break,
                },
                changed = self.desired.changed() => {
                    if changed.is_err() || self.push_all().await.is_err() {
                        break;
                    }
                }
            }
        }
        if !self.node.is_empty() {
            let id = self.id;
            self.update_status(|s| s.connected &= s.stream != id);
        }
    }

    /// Changes this proxy's status, unless a newer stream now reports for it.
    fn update_status(&self, change: impl FnOnce(&mut ProxyStatus)) {
        let mut all = self.status.lock().expect("status lock");
        let status = all.entry(self.node.clone()).or_default();
        if status.stream <= self.id {
            change(status);
            self.changed.notify_one();
        }
    }

    /// This proxy's configuration; `None` while the loop has built none for it, as for a Pod
    /// the registry does not know yet or a replica that has not translated since it started.
    fn resources(&self) -> Option<Arc<Resources>> {
        self.desired.borrow().get(&self.node).cloned()
    }

    async fn request(&mut self, request: Request) -> Result<(), ()> {
        if self.node.is_empty() {
            let Some(node) = request.node.filter(|n| !n.is_empty()) else {
                self.wire.fail(tonic::Status::invalid_argument("the first request must name its node")).await;
                return Err(());
            };
            self.node = node;
            tracing::Span::current().record("node", self.node.as_str());
            if let Some(proof) = self.proof.take()
                && let Err(reason) = proof.authenticator.authenticate(&self.node, proof.token.as_deref()).await
            {
                tracing::warn!("proxy refused its certificates: {reason}");
                self.refused = Some(reason);
            }
            tracing::info!("proxy connected");
            let (id, refused) = (self.id, self.refused.clone());
            // A new stream starts over: what an earlier one recorded is not this proxy's now.
            self.update_status(|s| *s = ProxyStatus { connected: true, stream: id, refused, ..ProxyStatus::default() });
        }
        let Some(t) = Type::from_url(&request.type_url) else { return Ok(()) };
        // A state-of-the-world request that answers a response says nothing more; an incremental
        // one may also change what the proxy asks for, which counts however late it comes.
        let answer_only = matches!(request.names, Names::All(_));
        if !request.nonce.is_empty() {
            let state = &mut self.types[t as usize];
            if request.nonce != state.nonce {
                // An answer to an older response; a newer one is on its way.
                if answer_only {
                    return Ok(());
                }
            } else if let Some(error) = request.error {
                tracing::warn!(version = %state.sent_version, "proxy refused {}: {error}", t.short());
                let reason = format!("{}: {error}", t.short());
                self.update_status(|s| {
                    s.nacks.insert(t, reason);
                });
                if answer_only {
                    return Ok(());
                }
            } else {
                // The nonce is the last response's, and so is the version.
                state.acked_version = state.sent_version.clone();
                state.acked = state.sent.clone();
                let version = state.acked_version.clone();
                self.update_status(|s| {
                    s.nacks.remove(&t);
                    s.acked.insert(t, version);
                });
            }
        }
        let state = &mut self.types[t as usize];
        state.subscribed = true;
        // The names asked for, where the request changes them: an ACK of an incremental
        // proxy names none, and copied the thousands of names asked for before.
        let names = match request.names {
            Names::All(all) => Some(all.into_iter().collect()),
            Names::Changed { subscribe, unsubscribe, held } => {
                // Listeners and clusters are all sent, whatever the names say; those the proxy
                // holds from an earlier stream and is not to hold now are named removed.
                if !t.by_name() && request.nonce.is_empty() {
                    state.held_before = held.into_iter().collect();
                }
                (!subscribe.is_empty() || !unsubscribe.is_empty()).then(|| {
                    let mut names = state.names.clone();
                    names.extend(subscribe);
                    for name in &unsubscribe {
                        names.remove(name);
                    }
                    names
                })
            }
        };
        let names = names.filter(|names: &BTreeSet<String>| *names != state.names);
        if request.nonce.is_empty() || names.is_some() {
            // A new subscription is answered even when nothing changed.
            state.sent_version.clear();
        }
        if let Some(names) = names {
            let asked_anew: BTreeSet<String> = names.difference(&state.names).cloned().collect();
            state.resend(&asked_anew);
            state.wanted = None;
            state.names = names;
        }
        self.push_all().await
    }

    /// Sends every subscribed type whose resources changed, secrets, clusters and endpoints first;
    /// listeners and routes wait until the proxy has ACKed the clusters they need and their
    /// endpoints. Until the proxy has ACKed the new listeners and routes, the clusters it
    /// ACKed before stay too, so no request finds its cluster gone. Nothing is sent while there
    /// is no configuration for the proxy: an empty answer would make it drop the listeners it
    /// serves with, while waiting keeps what it runs (or keeps a new proxy from becoming ready).
    async fn push_all(&mut self) -> Result<(), ()> {
        let Some(desired) = self.resources() else { return Ok(()) };
        let secrets = self.wanted(Type::Secret, &desired);
        self.push(Type::Secret, secrets).await?;
        let listeners = self.wanted(Type::Listener, &desired);
        let routes = self.wanted(Type::Route, &desired);
        let moved = [(Type::Listener, &listeners), (Type::Route, &routes)].iter().all(|(t, want)| {
            let state = &self.types[*t as usize];
            !state.subscribed || state.acked_version == want.version
        });
        let mut clusters = self.wanted(Type::Cluster, &desired);
        if !moved {
            let acked = &self.types[Type::Cluster as usize].acked;
            let names = clusters.resources.iter().map(|e| e.name.as_str());
            let still_used: Vec<Arc<Encoded>> = named_in(acked, names, false).cloned().collect();
            if !still_used.is_empty() {
                let mut kept = clusters.resources.to_vec();
                kept.extend(still_used);
                kept.sort_by(|a, b| a.name.cmp(&b.name));
                clusters = Listed::new(kept);
            }
        }
        if self.push(Type::Cluster, clusters.clone()).await? {
            // A changed cluster is warmed anew, and waits for its endpoints, which the proxy
            // does not ask for again under the same names: send them, changed or not. (A push
            // leaves what the proxy ACKed as it was.)
            let acked = &self.types[Type::Cluster as usize].acked;
            let changed: BTreeSet<String> = changed(acked, &clusters.resources).map(|e| e.name.clone()).collect();
            self.types[Type::Endpoint as usize].resend(&changed);
        }
        let endpoints = self.wanted(Type::Endpoint, &desired);
        self.push(Type::Endpoint, endpoints).await?;

        let cds = &self.types[Type::Cluster as usize];
        if cds.acked_version == clusters.version && self.endpoints_ready(&desired, &clusters.resources) {
            self.push(Type::Listener, listeners).await?;
            self.push(Type::Route, routes).await?;
        }
        Ok(())
    }

    /// Whether the proxy ACKed the endpoints of every one of `clusters` that has endpoints in
    /// `desired`.
    fn endpoints_ready(&mut self, desired: &Arc<Resources>, clusters: &Arc<[Arc<Encoded>]>) -> bool {
        let acked = &self.types[Type::Endpoint as usize].acked;
        if let Some((of, of_clusters, of_acked, ready)) = &self.endpoints_ready
            && Arc::ptr_eq(of, desired)
            && Arc::ptr_eq(of_clusters, clusters)
            && Arc::ptr_eq(of_acked, acked)
        {
            return *ready;
        }
        let endpoints = desired.get(Type::Endpoint);
        let need: Vec<&Arc<Encoded>> = named_in(clusters, endpoints.iter().map(|e| e.name.as_str()), true).collect();
        let ready = named_in(acked, need.iter().map(|e| e.name.as_str()), true).count() == need.len();
        self.endpoints_ready = Some((desired.clone(), clusters.clone(), acked.clone(), ready));
        ready
    }

    /// The desired resources of a type that the proxy subscribed to; no secrets for a proxy
    /// that did not prove its identity.
    fn wanted(&mut self, t: Type, desired: &Arc<Resources>) -> Listed {
        if t == Type::Secret && self.refused.is_some() {
            return Listed::new(Vec::new());
        }
        let state = &mut self.types[t as usize];
        let (shared, own) = desired.parts(t);
        if let Some((of_shared, of_own, wanted)) = &state.wanted
            && Arc::ptr_eq(of_shared, shared)
            && of_own[..] == *own
        {
            return wanted.clone();
        }
        let resources = desired.get(t);
        let wanted = match t.by_name() {
            true => Listed::new(named_in(&resources, state.names.iter().map(String::as_str), true).cloned().collect()),
            // All of it: its version is the configuration's own, which the status compares too.
            false => Listed { resources: resources.into_owned().into(), version: desired.version_of(t).to_string() },
        };
        state.wanted = Some((shared.clone(), own.to_vec(), wanted.clone()));
        wanted
    }

    /// Has the proxy hold `resources` of type `t`, unless it has them or did not subscribe;
    /// whether it sent anything. The response carries what the proxy does not hold as far as
    /// its ACKs say, and all of a state-of-the-world response's listeners and clusters.
    async fn push(&mut self, t: Type, listed: Listed) -> Result<bool, ()> {
        let state = &mut self.types[t as usize];
        if !state.subscribed {
            return Ok(false);
        }
        let Listed { resources, version } = listed;
        if version == state.sent_version {
            return Ok(false);
        }
        self.nonce += 1;
        state.nonce = self.nonce.to_string();
        state.sent_version = version.clone();
        let (type_url, nonce) = (t.url().to_string(), state.nonce.clone());
        let sent = match &self.wire {
            Wire::StateOfTheWorld(tx) => {
                let carried = carried(t, &state.acked, &resources).map(|e| e.any.clone()).collect();
                let response = DiscoveryResponse {
                    version_info: version,
                    type_url,
                    nonce,
                    resources: carried,
                    ..Default::default()
                };
                tx.send(Ok(response)).await.is_ok()
            }
            Wire::Incremental(tx) => {
                let named = |e: &Arc<Encoded>| Resource {
                    name: e.name.clone(),
                    version: e.version(),
                    resource: Some(e.any.clone()),
                    ..Default::default()
                };
                // The proxy drops only what a response names removed. A resource asked for by
                // name goes when the proxy stops asking for it (its cluster gone), and never
                // while a cluster kept until the new routes are ACKed still needs it; listeners
                // and clusters go when the proxy may hold them (ACKed, on their way, or held
                // from an earlier stream) and they are not wanted.
                let removed = match t.by_name() {
                    true => Vec::new(),
                    false => {
                        let wanted: BTreeSet<&str> = resources.iter().map(|e| e.name.as_str()).collect();
                        let named = state.acked.iter().chain(state.sent.iter()).map(|e| e.name.as_str());
                        let held: BTreeSet<&str> = named.chain(state.held_before.iter().map(String::as_str)).collect();
                        held.into_iter().filter(|n| !wanted.contains(n)).map(str::to_string).collect()
                    }
                };
                state.held_before.clear();
                let response = DeltaDiscoveryResponse {
                    system_version_info: version,
                    type_url,
                    nonce,
                    resources: changed(&state.acked, &resources).map(named).collect(),
                    removed_resources: removed,
                    ..Default::default()
                };
                tx.send(Ok(response)).await.is_ok()
            }
        };
        state.sent = resources;
        if sent { Ok(true) } else { Err(()) }
    }
}

/// What a state-of-the-world response of type `t` carries to a proxy that holds `held` and is
/// to hold `wanted`: every listener and cluster, since the proxy drops those a response does
/// not name; of the types asked for by name (secrets, endpoints, routes), only those that
/// changed, since the proxy takes each by itself and keeps those not named (the xDS protocol's
/// grouping of resources into responses). Otherwise an instance that moves would send every
/// proxy every cluster's endpoints: a megabyte each at a thousand services.
pub fn carried<'a>(
    t: Type,
    held: &[Arc<Encoded>],
    wanted: &'a [Arc<Encoded>],
) -> impl Iterator<Item = &'a Arc<Encoded>> {
    changed(if t.by_name() { held } else { &[] }, wanted)
}

/// Those of `resources` named in `names` (with `named`; else those not named), both in name
/// order: one walk of each, where looking each name up would compare thousands of names with a
/// dozen others each, on every ACK of every proxy.
fn named_in<'a, 'n>(
    resources: &'a [Arc<Encoded>],
    names: impl Iterator<Item = &'n str>,
    named: bool,
) -> impl Iterator<Item = &'a Arc<Encoded>> {
    debug_assert!(resources.is_sorted_by(|a, b| a.name <= b.name), "resources are kept in name order");
    let mut names = names.peekable();
    resources.iter().filter(move |e| {
        while names.next_if(|n| *n < e.name.as_str()).is_some() {}
        names.peek().is_some_and(|n| *n == e.name) == named
    })
}

/// Those of `wanted` that `held` does not hold as they are.
fn changed<'a>(held: &[Arc<Encoded>], wanted: &'a [Arc<Encoded>]) -> impl Iterator<Item = &'a Arc<Encoded>> {
    let held: HashMap<&str, &Arc<Encoded>> = held.iter().map(|e| (e.name.as_str(), e)).collect();
    wanted.iter().filter(move |e| held.get(e.name.as_str()).is_none_or(|h| h != e))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use envoy_types::pb::envoy::config::core::v3::Node;
    use envoy_types::pb::google::protobuf::Any;

    use super::*;

    fn resource(name: &str, value: &[u8]) -> Arc<Encoded> {
        Encoded::new(name, Any { type_url: String::new(), value: value.to_vec() })
    }

    fn desired(clusters: &[(&str, &[u8])]) -> Desired {
        let mut resources = Resources::default();
        resources.replace(Type::Cluster, clusters.iter().map(|(n, v)| resource(n, v)).collect());
        Arc::new(std::collections::HashMap::from([("n".to_string(), Arc::new(resources))]))
    }

    /// The incremental protocol, spoken to a stream as a proxy that held clusters `a` and
    /// `gone` from an earlier stream, that is, from a controller since restarted. (Real Envoy
    /// is driven through every other case in the proxy tests; this one needs the control plane
    /// to change while no stream is open, and a change to come before the proxy ACKs the last.)
    #[tokio::test]
    async fn an_incremental_stream_sends_what_the_proxy_lacks_and_removes_what_it_may_hold() {
        let (desired_tx, desired_rx) = watch::channel(desired(&[("a", b"1"), ("b", b"1")]));
        let (tx, mut responses) = mpsc::channel(4);
        let (requests, incoming) = mpsc::channel(4);
        let status: Arc<Mutex<BTreeMap<String, ProxyStatus>>> = Arc::default();
        let stream = Stream::new(1, desired_rx, status.clone(), Arc::default(), Wire::Incremental(tx), None);
        let incoming = tokio_stream::wrappers::ReceiverStream::new(incoming).map(|r| Ok(Request::from(r)));
        tokio::spawn(stream.run(incoming));
        let mut next = async || {
            let response = tokio::time::timeout(Duration::from_secs(5), responses.recv()).await;
            let response = response.expect("a response").expect("the stream is open").expect("not an error");
            let names: Vec<String> = response.resources.iter().map(|r| r.name.clone()).collect();
            (names, response.removed_resources.clone(), response)
        };

        let subscribe = DeltaDiscoveryRequest {
            node: Some(Node { id: "n".into(), ..Default::default() }),
            type_url: Type::Cluster.url().into(),
            initial_resource_versions: [("a".into(), "old".into()), ("gone".into(), "old".into())].into(),
            ..Default::default()
        };
        requests.send(subscribe).await.unwrap();
        let (sent, removed, _) = next().await;
        assert_eq!((sent, removed), (vec!["a".to_string(), "b".into()], vec!["gone".to_string()]));

        // Before the proxy ACKs that, `a` changes and `b` goes: `b` is removed though no ACK
        // says the proxy holds it.
        desired_tx.send(desired(&[("a", b"2")])).unwrap();
        let (sent, removed, response) = next().await;
        assert_eq!((sent, removed), (vec!["a".to_string()], vec!["b".to_string()]));
        assert_eq!(response.resources[0].version, resource("a", b"2").version());

        let ack = DeltaDiscoveryRequest {
            type_url: Type::Cluster.url().into(),
            response_nonce: response.nonce,
            ..Default::default()
        };
        requests.send(ack).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while status.lock().unwrap().get("n").is_none_or(|s| !s.acked.contains_key(&Type::Cluster)) {
            assert!(tokio::time::Instant::now() < deadline, "the ACK was not taken");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Once it has, a new cluster is sent alone, with nothing to remove.
        desired_tx.send(desired(&[("a", b"2"), ("c", b"1")])).unwrap();
        let (sent, removed, _) = next().await;
        assert_eq!((sent, removed), (vec!["c".to_string()], Vec::<String>::new()));
    }

    #[test]
    fn a_response_carries_every_listener_and_cluster_and_only_the_changed_named_resources() {
        let held = [resource("a", b"1"), resource("b", b"1"), resource("c", b"1")];
        // `a` stays (rebuilt, equal), `b` changes, `c` goes, `d` is new.
        let wanted = [resource("a", b"1"), resource("b", b"2"), resource("d", b"1")];
        let names = |t| carried(t, &held, &wanted).map(|e| e.name.clone()).collect::<Vec<_>>();
        for t in [Type::Endpoint, Type::Route, Type::Secret] {
            assert_eq!(names(t), ["b", "d"], "{t:?}");
        }
        for t in [Type::Cluster, Type::Listener] {
            assert_eq!(names(t), ["a", "b", "d"], "{t:?}");
        }
    }
}
