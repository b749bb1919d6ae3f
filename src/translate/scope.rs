//! What one proxy sees of the mesh (Istio's sidecar scope): the services exported to its
//! namespace (`exportTo`, and a Service's `networking.istio.io/exportTo` annotation) that the
//! Sidecar applying to it lets it reach (`egress.hosts`), and the services their routes send
//! to. A proxy is sent the clusters, endpoints and virtual hosts of those alone: in a mesh of a
//! thousand services, a sidecar that calls ten holds ten services' configuration, not a
//! thousand's.
//!
//! Proxies that see alike share one view, built once per translation: those of one namespace
//! under one Sidecar (or none).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::resources::{Encoded, Resources, Type};
use super::route::ServiceRoutes;
use super::{MeshSnapshot, SharedPart};

/// The proxies that see alike: those of a namespace under the same Sidecar, by its place in the
/// snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Scope {
    pub namespace: String,
    pub sidecar: Option<usize>,
}

impl MeshSnapshot<'_> {
    /// Whether any proxy sees less than every service, or takes other VirtualServices or
    /// DestinationRules than the rest: a Sidecar or a narrow export is there.
    pub(super) fn is_scoped(&self) -> bool {
        !self.sidecars.is_empty()
            || self.classes.len() > 1
            || self.services.iter().any(|s| s.exported != crate::api::networking::Exported::Everywhere)
    }

    /// The scope of a workload's sidecar in `namespace` with `labels` (a gateway has none:
    /// Sidecars do not apply to it, exports do): the first Sidecar of its namespace that
    /// selects it, else its namespace's default, else the root namespace's.
    pub(super) fn scope(&self, namespace: &str, labels: Option<&BTreeMap<String, String>>) -> Scope {
        let of_namespace = |s: &crate::api::networking::Sidecar, ns: &str| super::namespace(&s.metadata) == ns;
        let default_of = |ns: &str| self.sidecars.iter().position(|s| of_namespace(s, ns) && s.spec.is_default());
        let sidecar = labels.and_then(|labels| {
            let selecting = self.sidecars.iter().position(|s| of_namespace(s, namespace) && s.spec.selects(labels));
            selecting.or_else(|| default_of(namespace)).or_else(|| default_of(crate::api::ROOT_NAMESPACE))
        });
        Scope { namespace: namespace.to_string(), sidecar }
    }

    /// The services, by place, that the proxies of `scope` see: those exported to its
    /// namespace that its Sidecar admits, and those their routes send to that are exported
    /// there (Istio imports a VirtualService's destinations the same way).
    fn seen(&self, scope: &Scope, routes: &[Arc<ServiceRoutes>]) -> BTreeSet<usize> {
        let exported = |i: &usize| self.services[*i].exported.to(&scope.namespace);
        let sidecar = scope.sidecar.map(|i| &self.sidecars[i].spec);
        let admitted = |i: &usize| {
            let service = &self.services[*i];
            sidecar.is_none_or(|s| s.admits(&scope.namespace, &service.namespace, &service.host()))
        };
        let mut seen: BTreeSet<usize> = (0..self.services.len()).filter(exported).filter(admitted).collect();
        let imported: Vec<usize> = seen
            .iter()
            .flat_map(|&i| routes[i].destinations())
            .filter_map(|host| self.service_of.get(host).copied())
            .filter(exported)
            .collect();
        seen.extend(imported);
        seen
    }
}

/// What the proxies of one scope are sent of what every proxy could share: the clusters and
/// endpoints of the services they see, and those services' virtual hosts.
pub(super) struct View {
    /// The services seen, by place in the snapshot.
    pub services: Vec<usize>,
    /// Their clusters and endpoints.
    pub resources: Resources,
    /// Each one's virtual hosts, in the snapshot's order.
    pub routes: Vec<Arc<ServiceRoutes>>,
    /// Whether a cluster refers to the proxies' secrets.
    pub uses_secrets: bool,
    /// The clusters that forward as the caller addressed.
    pub as_addressed: Vec<String>,
}

/// The same view: the routes are those of the same translation, so compared by pointer.
impl PartialEq for View {
    fn eq(&self, other: &View) -> bool {
        self.services == other.services
            && self.resources == other.resources
            && self.uses_secrets == other.uses_secrets
            && self.as_addressed == other.as_addressed
            && self.routes.len() == other.routes.len()
            && self.routes.iter().zip(&other.routes).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

impl View {
    /// The view of the services at `seen`, whose parts and routes are those at the same places;
    /// `lists` holds the last clusters and endpoints a view of them was given, which it is given
    /// again where they are the same, for the controller to find by pointer.
    pub(super) fn new(
        seen: impl IntoIterator<Item = usize>,
        parts: &[Arc<SharedPart>],
        routes: &[Arc<ServiceRoutes>],
        lists: &mut [Arc<[Arc<Encoded>]>; 2],
    ) -> View {
        let services: Vec<usize> = seen.into_iter().collect();
        let seen_parts = || services.iter().map(|&i| &parts[i]);
        let mut resources = Resources::default();
        for (t, list) in [Type::Cluster, Type::Endpoint].into_iter().zip(lists) {
            let all = seen_parts().flat_map(|part| match t {
                Type::Cluster => &part.clusters,
                _ => &part.endpoints,
            });
            resources.share(t, super::reused(list, all.cloned().collect()));
        }
        View {
            uses_secrets: seen_parts().any(|p| p.uses_secrets),
            as_addressed: seen_parts().flat_map(|p| p.as_addressed.iter().cloned()).collect(),
            routes: services.iter().map(|&i| routes[i].clone()).collect(),
            resources,
            services,
        }
    }

    /// The view of what `scope`'s proxies see in `snapshot`.
    pub(super) fn of(
        snapshot: &MeshSnapshot,
        scope: &Scope,
        parts: &[Arc<SharedPart>],
        routes: &[Arc<ServiceRoutes>],
    ) -> View {
        View::new(snapshot.seen(scope, routes), parts, routes, &mut Default::default())
    }
}
