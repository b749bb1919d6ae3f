//! What the translator makes for one proxy: its resources by xDS type, each encoded once and
//! shared by every proxy that runs it, with a version per set. The ADS server (`xds`) serves
//! them; nothing here speaks gRPC.

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
#[derive(PartialEq)]
pub struct Encoded {
    pub name: String,
    pub any: Any,
    /// A hash of the name and content, from which a set's version is made.
    digest: u64,
}

/// Equal is reflexive here (names and bytes), so an `Arc<Encoded>` compares by pointer first:
/// the controller compares every proxy's thousands of resources with the last configuration's,
/// most of them the very same ones, carried over.
impl Eq for Encoded {}

impl Encoded {
    pub fn new(name: impl Into<String>, any: Any) -> Arc<Encoded> {
        let name = name.into();
        let digest = fnv(&[name.as_bytes(), &[0], &any.value]);
        Arc::new(Encoded { name, any, digest })
    }

    /// The message inside, decoded; for tests and diagnostics, not the serving path.
    pub fn decode<M: prost::Message + Default>(&self) -> Result<M, prost::DecodeError> {
        M::decode(self.any.value.as_slice())
    }
}

/// FNV-1a over `parts` in order: stable across builds and restarts, unlike std's hasher, so
/// versions are too.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in *part {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// One proxy's resources, encoded and named, by type. Debug output shows names and versions
/// only: the encoded secrets hold a private key.
#[derive(Clone, Default)]
pub struct Resources {
    by_type: [Vec<Arc<Encoded>>; 5],
    /// Each set's version, made when first asked for. The controller asks for every proxy's
    /// on every pass (is it in sync?); hashing thousands of digests each time for each of
    /// thousands of proxies was most of an idle controller's work.
    versions: [OnceLock<String>; 5],
}

impl PartialEq for Resources {
    fn eq(&self, other: &Resources) -> bool {
        self.by_type == other.by_type
    }
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_map();
        for t in Type::ALL {
            let names: Vec<&str> = self.get(t).iter().map(|e| e.name.as_str()).collect();
            out.entry(&t.short(), &(self.version_of(t), names));
        }
        out.finish()
    }
}

impl Resources {
    pub fn get(&self, t: Type) -> &[Arc<Encoded>] {
        &self.by_type[t as usize]
    }

    /// The resources of one type, decoded; for tests and diagnostics, not the serving path.
    pub fn decoded<M: prost::Message + Default>(&self, t: Type) -> Vec<M> {
        self.get(t).iter().map(|e| e.decode().expect("resources meshctl encoded decode")).collect()
    }

    /// The version of the resources of one type.
    pub fn version_of(&self, t: Type) -> &str {
        self.versions[t as usize].get_or_init(|| Resources::version(self.get(t)))
    }

    /// Replaces the resources of one type.
    pub fn replace(&mut self, t: Type, resources: Vec<Arc<Encoded>>) {
        self.by_type[t as usize] = by_name(resources);
        self.versions[t as usize] = OnceLock::new();
    }

    /// Adds one resource, in its place by name, instead of one of the same name: cheaper than
    /// replacing a long list that is already in order.
    pub fn insert(&mut self, t: Type, resource: Arc<Encoded>) {
        self.versions[t as usize] = OnceLock::new();
        let list = &mut self.by_type[t as usize];
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
        format!("{:016x}", fnv(&[&digests]))
    }
}

/// Resources in name order: a set's version must not depend on the order it was built in,
/// or the same clusters merged with ones still in use (make-before-break) would look like a
/// change and be pushed again, delaying the routes behind them.
fn by_name(mut resources: Vec<Arc<Encoded>>) -> Vec<Arc<Encoded>> {
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
        assert_eq!(Resources::version(a.get(Type::Cluster)), Resources::version(b.get(Type::Cluster)));
        let mut other = Resources::default();
        other.replace(Type::Cluster, clusters(&["a", "b"]));
        assert_ne!(Resources::version(a.get(Type::Cluster)), Resources::version(other.get(Type::Cluster)));
    }
}
