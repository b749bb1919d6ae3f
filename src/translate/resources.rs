//! What the translator makes for one proxy: its resources by xDS type, each encoded once and
//! shared by every proxy that runs it, with a version per set. The ADS server (`xds`) serves
//! them; nothing here speaks gRPC.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use envoy_types::pb::google::protobuf::Any;
use serde::Serialize;

/// The xDS types meshctl serves, in the order a change is pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Type {
    Secret,
    Cluster,
    Endpoint,
    Listener,
    Route,
}

impl Type {
    pub const ALL: [Type; 5] = [Type::Secret, Type::Cluster, Type::Endpoint, Type::Listener, Type::Route];

    pub fn url(self) -> &'static str {
        match self {
            Type::Secret => "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
            Type::Cluster => "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            Type::Endpoint => "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
            Type::Listener => "type.googleapis.com/envoy.config.listener.v3.Listener",
            Type::Route => "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        }
    }

    pub fn from_url(url: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.url() == url)
    }

    /// Secrets, endpoints and routes are asked for by name; clusters and listeners are all sent.
    pub fn by_name(self) -> bool {
        matches!(self, Type::Secret | Type::Endpoint | Type::Route)
    }

    pub fn short(self) -> &'static str {
        match self {
            Type::Secret => "SDS",
            Type::Cluster => "CDS",
            Type::Endpoint => "EDS",
            Type::Listener => "LDS",
            Type::Route => "RDS",
        }
    }
}

/// One resource, encoded once and shared by every proxy that runs it: in a mesh of a thousand
/// services, each proxy's clusters are the same thousands of resources, and copying or hashing
/// them per proxy would cost more than translating them.
pub struct Encoded {
    pub name: String,
    pub any: Any,
    /// A hash of the name and content, from which a set's version is made.
    digest: u64,
}

/// The digest first: two different resources most likely differ there, and the controller
/// compares every proxy's resources with the last configuration's, some of them a megabyte
/// (a thousand services' routes).
impl PartialEq for Encoded {
    fn eq(&self, other: &Encoded) -> bool {
        self.digest == other.digest && self.name == other.name && self.any == other.any
    }
}

/// Equal is reflexive here (names and bytes), so an `Arc<Encoded>` compares by pointer first:
/// the controller compares every proxy's thousands of resources with the last configuration's,
/// most of them the very same ones, carried over.
impl Eq for Encoded {}

impl Encoded {
    pub fn new(name: impl Into<String>, any: Any) -> Arc<Encoded> {
        let name = name.into();
        let digest = digest(&[name.as_bytes(), &any.value]);
        Arc::new(Encoded { name, any, digest })
    }

    /// This resource's own version, which incremental xDS names each resource with.
    pub fn version(&self) -> String {
        format!("{:016x}", self.digest)
    }

    /// The message inside, decoded; for tests and diagnostics, not the serving path.
    pub fn decode<M: prost::Message + Default>(&self) -> Result<M, prost::DecodeError> {
        M::decode(self.any.value.as_slice())
    }
}

/// A hash of `parts` in order, eight bytes a step: stable across builds and restarts, unlike
/// std's hasher, so versions are too; and quick, as every resource is hashed when encoded, some
/// of them a megabyte (FNV, a byte a step, was a tenth of the controller's work on a change).
/// Each step is a bijection of the state, so two inputs that differ in one word differ here.
fn digest(parts: &[&[u8]]) -> u64 {
    let step = |hash: u64, word: u64| (hash ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        let mut words = part.chunks_exact(8);
        for word in &mut words {
            hash = step(hash, u64::from_le_bytes(word.try_into().expect("eight bytes")));
        }
        let mut rest = [0; 8];
        rest[..words.remainder().len()].copy_from_slice(words.remainder());
        // The length ends each part, so parts that run into each other differently differ.
        hash = step(step(hash, u64::from_le_bytes(rest)), part.len() as u64);
    }
    hash
}

/// One proxy's resources, encoded and named, by type: the lists its snapshot shares with every
/// other proxy, and its own. In a mesh of a thousand services the shared lists hold thousands
/// of resources; a copy of them per proxy cost most of the controller's memory, and most of the
/// time a change took. Debug output shows names and versions only: the encoded secrets hold a
/// private key.
#[derive(Clone, Default)]
pub struct Resources {
    /// What every proxy of the snapshot has, in name order.
    shared: [Arc<[Arc<Encoded>]>; 5],
    /// This proxy's own, in name order; one named as a shared one is served instead of it.
    own: [Vec<Arc<Encoded>>; 5],
    /// Each set's version, made when first asked for. The controller asks for every proxy's
    /// on every pass (is it in sync?); hashing thousands of digests each time for each of
    /// thousands of proxies was most of an idle controller's work.
    versions: [OnceLock<String>; 5],
}

/// The same lists: the shared ones compared by pointer first, as they mostly are the same.
impl PartialEq for Resources {
    fn eq(&self, other: &Resources) -> bool {
        let same = |a: &Arc<[Arc<Encoded>]>, b: &Arc<[Arc<Encoded>]>| Arc::ptr_eq(a, b) || a == b;
        self.own == other.own && self.shared.iter().zip(&other.shared).all(|(a, b)| same(a, b))
    }
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_map();
        for t in Type::ALL {
            let names: Vec<String> = self.get(t).iter().map(|e| e.name.clone()).collect();
            out.entry(&t.short(), &(self.version_of(t), names));
        }
        out.finish()
    }
}

impl Resources {
    /// The resources of one type, in name order.
    pub fn get(&self, t: Type) -> Cow<'_, [Arc<Encoded>]> {
        let (shared, own) = (&self.shared[t as usize], &self.own[t as usize]);
        match (shared.is_empty(), own.is_empty()) {
            (_, true) => Cow::Borrowed(shared),
            (true, false) => Cow::Borrowed(own),
            (false, false) => Cow::Owned(merged(shared, own)),
        }
    }

    /// The resources of one type in their two parts, whose merge `get` is: the list other
    /// proxies share, and the proxy's own.
    pub fn parts(&self, t: Type) -> (&Arc<[Arc<Encoded>]>, &[Arc<Encoded>]) {
        (&self.shared[t as usize], &self.own[t as usize])
    }

    /// Whether there are none of one type.
    pub fn is_empty(&self, t: Type) -> bool {
        self.shared[t as usize].is_empty() && self.own[t as usize].is_empty()
    }

    /// The resources of one type, decoded; for tests and diagnostics, not the serving path.
    pub fn decoded<M: prost::Message + Default>(&self, t: Type) -> Vec<M> {
        self.get(t).iter().map(|e| e.decode().expect("resources meshctl encoded decode")).collect()
    }

    /// The version of the resources of one type.
    pub fn version_of(&self, t: Type) -> &str {
        self.versions[t as usize].get_or_init(|| Resources::version(&self.get(t)))
    }

    /// Replaces the resources of one type, shared and own, with these, the proxy's own.
    pub fn replace(&mut self, t: Type, resources: Vec<Arc<Encoded>>) {
        self.own[t as usize] = by_name(resources);
        self.shared[t as usize] = Arc::default();
        self.versions[t as usize] = OnceLock::new();
    }

    /// Gives the proxy a list of one type that other proxies share, in name order.
    pub fn share(&mut self, t: Type, shared: Arc<[Arc<Encoded>]>) {
        debug_assert!(shared.is_sorted_by(|a, b| a.name <= b.name), "a shared list is in name order");
        self.shared[t as usize] = shared;
        self.versions[t as usize] = OnceLock::new();
    }

    /// Adds one resource of the proxy's own, in its place by name, instead of one of the same
    /// name.
    pub fn insert(&mut self, t: Type, resource: Arc<Encoded>) {
        self.versions[t as usize] = OnceLock::new();
        let list = &mut self.own[t as usize];
        let at = list.partition_point(|e| e.name < resource.name);
        match list.get_mut(at) {
            Some(same) if same.name == resource.name => *same = resource,
            _ => list.insert(at, resource),
        }
    }

    /// The version of a set of resources: a hash of their content, so an unchanged set keeps
    /// its version, even across controller restarts.
    pub fn version(resources: &[Arc<Encoded>]) -> String {
        let digests: Vec<u8> = resources.iter().flat_map(|e| e.digest.to_le_bytes()).collect();
        format!("{:016x}", digest(&[&digests]))
    }
}

/// Two lists in name order as one; of two of one name, `own`'s.
fn merged(shared: &[Arc<Encoded>], own: &[Arc<Encoded>]) -> Vec<Arc<Encoded>> {
    let mut out = Vec::with_capacity(shared.len() + own.len());
    let mut shared = shared.iter().peekable();
    for mine in own {
        while let Some(theirs) = shared.next_if(|e| e.name < mine.name) {
            out.push(theirs.clone());
        }
        shared.next_if(|e| e.name == mine.name);
        out.push(mine.clone());
    }
    out.extend(shared.cloned());
    out
}

/// Resources in name order: a set's version must not depend on the order it was built in,
/// or the same clusters merged with ones still in use (make-before-break) would look like a
/// change and be pushed again, delaying the routes behind them.
pub(super) fn by_name(mut resources: Vec<Arc<Encoded>>) -> Vec<Arc<Encoded>> {
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    resources
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;

    use super::*;

    #[test]
    fn a_set_has_one_version_whatever_order_it_was_built_in() {
        let clusters = |names: &[&str]| -> Vec<Arc<Encoded>> {
            let cluster = |name: &str| Cluster { name: name.into(), ..Cluster::default() };
            names.iter().map(|n| Encoded::new(*n, super::super::pack(&cluster(n)))).collect()
        };
        let mut a = Resources::default();
        a.replace(Type::Cluster, clusters(&["b", "a", "c"]));
        let mut b = Resources::default();
        b.replace(Type::Cluster, clusters(&["c", "b", "a"]));
        assert_eq!(a.version_of(Type::Cluster), b.version_of(Type::Cluster));
        let mut other = Resources::default();
        other.replace(Type::Cluster, clusters(&["a", "b"]));
        assert_ne!(a.version_of(Type::Cluster), other.version_of(Type::Cluster));
    }

    #[test]
    fn a_proxy_is_served_the_shared_list_with_its_own_in_their_places() {
        let cluster = |name: &str, whose: &str| {
            let cluster = Cluster { name: name.into(), alt_stat_name: whose.into(), ..Cluster::default() };
            Encoded::new(name, super::super::pack(&cluster))
        };
        let shared: Arc<[Arc<Encoded>]> =
            by_name(vec![cluster("b", "shared"), cluster("d", "shared"), cluster("f", "shared")]).into();
        let mut proxy = Resources::default();
        proxy.share(Type::Cluster, shared.clone());
        for own in [cluster("a", "own"), cluster("d", "own"), cluster("g", "own")] {
            proxy.insert(Type::Cluster, own);
        }
        let served: Vec<(String, String)> =
            proxy.decoded::<Cluster>(Type::Cluster).into_iter().map(|c| (c.name, c.alt_stat_name)).collect();
        let expected = [("a", "own"), ("b", "shared"), ("d", "own"), ("f", "shared"), ("g", "own")]
            .map(|(n, w)| (n.to_string(), w.to_string()));
        assert_eq!(served, expected);
        // The same resources, all its own, are the same set to the proxy.
        let mut copied = Resources::default();
        copied.replace(Type::Cluster, proxy.get(Type::Cluster).into_owned());
        assert_eq!(proxy.version_of(Type::Cluster), copied.version_of(Type::Cluster));
        // Another proxy sharing the list, with nothing of its own, is served the list itself.
        let mut other = Resources::default();
        other.share(Type::Cluster, shared.clone());
        assert!(matches!(other.get(Type::Cluster), Cow::Borrowed(list) if std::ptr::eq(list, &*shared)));
    }
}
