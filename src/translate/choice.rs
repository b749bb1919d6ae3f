//! Which VirtualService and DestinationRule a proxy takes for each host. A proxy sees those
//! exported to its namespace (`exportTo`, every namespace when unset); of those for one host,
//! it takes its own namespace's first, as Istio does, then the first in the snapshot's order.
//!
//! Most namespaces choose alike: those that hold no such object and that no narrow export
//! names take the first exported everywhere (class 0). Each namespace that chooses otherwise
//! for some host has a class of its own, which records only where it differs; namespaces that
//! differ alike share one.

use std::collections::{BTreeMap, HashMap};

use crate::api::networking::Exported;

/// Proxies that take the same object for every host.
pub(super) type Class = usize;

/// The class of the proxies of every namespace that chooses as the rest do, and of the Gateway
/// API's Gateways' proxies, which see the whole mesh (`Translation::view`).
pub(super) const COMMON: Class = 0;

/// One object's claim on a host.
pub(super) struct Claim<'a> {
    pub host: String,
    pub namespace: &'a str,
    pub exported: Exported,
    /// The object's place in the snapshot.
    pub at: usize,
}

impl<'a> Claim<'a> {
    /// The claim of the object of `meta` at place `at` on `host` (resolved in its namespace).
    pub(super) fn new(
        meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        host: &str,
        export_to: &[String],
        at: usize,
    ) -> Claim<'a> {
        let namespace = super::namespace(meta);
        let exported = Exported::new(export_to, namespace);
        Claim { host: crate::policy::resolve_host(host, namespace), namespace, exported, at }
    }
}

/// Where a namespace chooses otherwise than class 0: host to place.
type Differences = BTreeMap<String, usize>;

#[derive(Clone, Debug, Default)]
pub(super) struct Classes {
    of: HashMap<String, Class>,
    /// By class: class 0's choice for every host, each other class's where it differs.
    virtual_services: Vec<HashMap<String, usize>>,
    destination_rules: Vec<HashMap<String, usize>>,
}

impl Classes {
    pub(super) fn new(virtual_services: &[Claim], destination_rules: &[Claim]) -> Classes {
        let (vs_everywhere, vs_differ) = choose(virtual_services);
        let (dr_everywhere, dr_differ) = choose(destination_rules);
        let mut classes = Classes {
            of: HashMap::new(),
            virtual_services: vec![vs_everywhere],
            destination_rules: vec![dr_everywhere],
        };
        let mut seen: HashMap<(&Differences, &Differences), Class> = HashMap::new();
        let none = Differences::new();
        let namespaces: std::collections::BTreeSet<&String> = vs_differ.keys().chain(dr_differ.keys()).collect();
        for namespace in namespaces {
            let key = (vs_differ.get(namespace).unwrap_or(&none), dr_differ.get(namespace).unwrap_or(&none));
            let class = *seen.entry(key).or_insert_with(|| {
                classes.virtual_services.push(key.0.iter().map(|(h, at)| (h.clone(), *at)).collect());
                classes.destination_rules.push(key.1.iter().map(|(h, at)| (h.clone(), *at)).collect());
                classes.virtual_services.len() - 1
            });
            classes.of.insert(namespace.clone(), class);
        }
        classes
    }

    /// How many classes there are: 1 where every proxy chooses alike.
    pub(super) fn len(&self) -> usize {
        self.virtual_services.len()
    }

    /// The class of the proxies of `namespace`.
    pub(super) fn of(&self, namespace: &str) -> Class {
        self.of.get(namespace).copied().unwrap_or(0)
    }

    /// The place of the VirtualService that `class` takes for `host`.
    pub(super) fn virtual_service(&self, class: Class, host: &str) -> Option<usize> {
        Self::chosen(&self.virtual_services, class, host)
    }

    /// The place of the DestinationRule that `class` takes for `host`.
    pub(super) fn destination_rule(&self, class: Class, host: &str) -> Option<usize> {
        Self::chosen(&self.destination_rules, class, host)
    }

    /// Whether `class` takes another object for `host` than the common class does.
    pub(super) fn differs(&self, class: Class, host: &str) -> bool {
        self.virtual_services[class].contains_key(host) || self.destination_rules[class].contains_key(host)
    }

    fn chosen(by_class: &[HashMap<String, usize>], class: Class, host: &str) -> Option<usize> {
        let differs = (class != COMMON).then(|| by_class[class].get(host)).flatten();
        differs.or_else(|| by_class[COMMON].get(host)).copied()
    }
}

/// The first of `claims` (in their order) for each host among those exported everywhere, and
/// for each namespace that would choose otherwise, where it does: its own claims come first,
/// then the first of the rest it sees. Only a namespace's own claims and those exported to it
/// by name can make it choose otherwise.
fn choose(claims: &[Claim]) -> (HashMap<String, usize>, BTreeMap<String, Differences>) {
    let mut everywhere: HashMap<String, usize> = HashMap::new();
    let mut own: HashMap<&str, Vec<&Claim>> = HashMap::new();
    let mut named: HashMap<&str, Vec<&Claim>> = HashMap::new();
    for claim in claims {
        match &claim.exported {
            Exported::Everywhere => {
                everywhere.entry(claim.host.clone()).or_insert(claim.at);
            }
            Exported::To(namespaces) => {
                for namespace in namespaces.iter().filter(|n| *n != claim.namespace) {
                    named.entry(namespace).or_default().push(claim);
                }
            }
        }
        own.entry(claim.namespace).or_default().push(claim);
    }
    let mut differ = BTreeMap::new();
    let namespaces: std::collections::BTreeSet<&str> = own.keys().chain(named.keys()).copied().collect();
    for namespace in namespaces {
        let mut chosen: BTreeMap<&str, (bool, usize)> = BTreeMap::new();
        let its_own = own.get(namespace).into_iter().flatten().filter(|c| c.exported.to(namespace));
        for claim in its_own {
            chosen.entry(&claim.host).or_insert((true, claim.at));
        }
        for claim in named.get(namespace).into_iter().flatten() {
            let first = everywhere.get(&claim.host).map_or(claim.at, |&at| at.min(claim.at));
            let pick = chosen.entry(&claim.host).or_insert((false, first));
            if !pick.0 {
                pick.1 = pick.1.min(first);
            }
        }
        let differences: Differences = chosen
            .into_iter()
            .filter(|(host, (_, at))| everywhere.get(*host) != Some(at))
            .map(|(host, (_, at))| (host.to_string(), at))
            .collect();
        if !differences.is_empty() {
            differ.insert(namespace.to_string(), differences);
        }
    }
    (everywhere, differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<'a>(host: &str, namespace: &'a str, export_to: &[&str], at: usize) -> Claim<'a> {
        Claim { host: host.into(), namespace, exported: Exported::new(export_to, namespace), at }
    }

    #[test]
    fn a_namespace_takes_its_own_first_then_what_it_sees_in_order() {
        let rules = [
            claim("profile.shop.svc.cluster.local", "shop", &[], 0),
            claim("profile.shop.svc.cluster.local", "web", &["."], 1),
            claim("profile.shop.svc.cluster.local", "audit", &["ops"], 2),
            claim("ratings.shop.svc.cluster.local", "ops", &["shop"], 3),
        ];
        let classes = Classes::new(&[], &rules);
        let rule = |namespace: &str, host: &str| classes.destination_rule(classes.of(namespace), host);
        let profile = "profile.shop.svc.cluster.local";
        let ratings = "ratings.shop.svc.cluster.local";
        // Elsewhere: the one exported everywhere; none for ratings, which only shop sees.
        assert_eq!((rule("billing", profile), rule("billing", ratings)), (Some(0), None));
        // web's own, though it comes later; ops sees audit's, but shop's comes first.
        assert_eq!(rule("web", profile), Some(1));
        assert_eq!(rule("ops", profile), Some(0));
        assert_eq!((rule("shop", profile), rule("shop", ratings)), (Some(0), Some(3)));
        // audit's own is not exported to audit: it sees the one exported everywhere.
        assert_eq!(rule("audit", profile), Some(0));
        assert_eq!(classes.len(), 3, "class 0, web's and shop's: {classes:?}");
    }

    #[test]
    fn where_every_object_is_exported_everywhere_there_is_one_class() {
        let routes = [claim("a.x.svc.cluster.local", "x", &["*"], 0), claim("b.y.svc.cluster.local", "y", &[], 1)];
        let classes = Classes::new(&routes, &routes);
        assert_eq!(classes.len(), 1);
        assert_eq!(classes.virtual_service(classes.of("z"), "b.y.svc.cluster.local"), Some(1));
    }
}
