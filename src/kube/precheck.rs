//! `meshctl check --pre`: whether `meshctl install` can work on a cluster, asked of the cluster
//! before anything is applied, as `linkerd check --pre` and `istioctl x precheck` do. Each
//! check is a line that holds or not, with what to do when it does not.

use std::collections::BTreeSet;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, PostParams};

use super::client::Cluster;
use super::install::{self, CLUSTER_GRANTS, Found, GatewayService, Grant, NAMESPACE_GRANTS, ObjectKind, Settings};

/// Native sidecars (an init container that keeps running), which injection relies on, are on
/// by default from this minor version of Kubernetes 1.
pub const MIN_MINOR: u32 = 29;

/// One request the caller must be allowed to make.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Access {
    verb: &'static str,
    group: &'static str,
    resource: String,
    subresource: Option<String>,
    namespace: Option<String>,
    name: Option<&'static str>,
}

impl Access {
    fn new(verb: &'static str, group: &'static str, resource: &str, namespace: Option<&str>) -> Access {
        let (resource, subresource) = match resource.split_once('/') {
            Some((resource, sub)) => (resource.to_string(), Some(sub.to_string())),
            None => (resource.to_string(), None),
        };
        Access { verb, group, resource, subresource, namespace: namespace.map(str::to_string), name: None }
    }

    /// What it is on, as kubectl names it: `roles.rbac.authorization.k8s.io in meshctl-system`.
    fn object(&self) -> String {
        let mut out = self.resource.clone();
        if !self.group.is_empty() {
            out = format!("{out}.{}", self.group);
        }
        if let Some(sub) = &self.subresource {
            out = format!("{out}/{sub}");
        }
        if let Some(name) = self.name {
            out = format!("{out} {name}");
        }
        if let Some(namespace) = &self.namespace {
            out = format!("{out} in {namespace}");
        }
        out
    }
}

/// `object (verb, verb), ...` for what was denied.
fn describe(denied: &[&Access]) -> String {
    let mut verbs: std::collections::BTreeMap<String, Vec<&str>> = std::collections::BTreeMap::new();
    for access in denied {
        verbs.entry(access.object()).or_default().push(access.verb);
    }
    verbs.iter().map(|(object, verbs)| format!("{object} ({})", verbs.join(", "))).collect::<Vec<_>>().join(", ")
}

/// Every check, in order; after an unreachable API server, nothing else can be asked.
pub async fn precheck(cluster: &Cluster) -> Vec<(bool, String)> {
    let mut lines = Vec::new();
    let version = match cluster.client().apiserver_version().await {
        Ok(version) => version,
        Err(e) => {
            let error = cluster.failed("get", "version".into(), "the server's version".into(), None, e);
            lines.push((false, format!("Kubernetes API: {error}")));
            return lines;
        }
    };
    lines.push((true, format!("Kubernetes API at {} answers", cluster.server())));
    lines.push(version_line(&version.major, &version.minor, &version.git_version));
    lines.push(permissions(cluster).await);
    lines.extend(istio(cluster).await);
    lines
}

fn version_line(major: &str, minor: &str, shown: &str) -> (bool, String) {
    // Managed clusters append to the minor version ("29+").
    let minor_number: Option<u32> = minor.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok();
    match (major, minor_number) {
        ("1", Some(m)) if m >= MIN_MINOR => {
            (true, format!("Kubernetes {shown} (1.{MIN_MINOR} or later: native sidecars)"))
        }
        _ => (
            false,
            format!(
                "Kubernetes {shown}: meshctl needs 1.{MIN_MINOR} or later (native sidecars); upgrade the cluster first"
            ),
        ),
    }
}

/// Whether the caller may apply everything install applies (server-side apply creates or
/// patches each object) and grant the controller its rights, which RBAC allows only to one who
/// holds them or may `escalate`.
async fn permissions(cluster: &Cluster) -> (bool, String) {
    let settings =
        Settings::new(install::default_image(), install::DEFAULT_ENVOY_IMAGE.into(), GatewayService::LoadBalancer);
    let found = Found {
        foreign_crds: BTreeSet::new(),
        new_ca: Some(install::CaMaterial { cert_pem: String::new(), key_pem: String::new() }),
    };
    let mut applies = BTreeSet::new();
    for object in install::objects(&settings, &found) {
        for verb in ["create", "patch"] {
            applies.insert(Access::new(verb, object.kind.group(), object.kind.plural(), object.namespace()));
        }
    }
    let grants = |grants: &[Grant], namespace: Option<&str>| -> Vec<Access> {
        let mut out = Vec::new();
        for grant in grants {
            let names: Vec<Option<&'static str>> =
                if grant.names.is_empty() { vec![None] } else { grant.names.iter().copied().map(Some).collect() };
            for resource in grant.resources {
                for verb in grant.verbs {
                    for name in &names {
                        out.push(Access { name: *name, ..Access::new(verb, grant.group, resource, namespace) });
                    }
                }
            }
        }
        out
    };
    let mut held = grants(CLUSTER_GRANTS, None);
    held.extend(grants(NAMESPACE_GRANTS, Some(&settings.namespace)));
    let rbac = "rbac.authorization.k8s.io";
    let escalate = [
        Access::new("escalate", rbac, "clusterroles", None),
        Access::new("escalate", rbac, "roles", Some(&settings.namespace)),
    ];

    let mut denied = Vec::new();
    for access in &applies {
        match allowed(cluster, access).await {
            Ok(true) => {}
            Ok(false) => denied.push(access),
            Err(e) => return (false, format!("permissions: {e}")),
        }
    }
    let mut may_escalate = true;
    for access in &escalate {
        may_escalate &= matches!(allowed(cluster, access).await, Ok(true));
    }
    let mut not_held = Vec::new();
    if !may_escalate {
        for access in &held {
            if !matches!(allowed(cluster, access).await, Ok(true)) {
                not_held.push(access);
            }
        }
    }
    if denied.is_empty() && not_held.is_empty() {
        return (true, "permissions: you may apply everything install applies".into());
    }
    let mut problems = Vec::new();
    if !denied.is_empty() {
        problems.push(format!("install applies {}", describe(&denied)));
    }
    if !not_held.is_empty() {
        // RBAC lets one grant only what one holds, unless one may escalate.
        problems.push(format!("the controller is granted {}, which you do not hold", describe(&not_held)));
    }
    (false, format!("permissions: {}; ask a cluster admin, or run install as one", problems.join("; ")))
}

/// The API server's answer to "may I?" for the caller.
async fn allowed(cluster: &Cluster, access: &Access) -> Result<bool, super::client::ClusterError> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(access.verb.into()),
                group: Some(access.group.into()),
                resource: Some(access.resource.clone()),
                subresource: access.subresource.clone(),
                namespace: access.namespace.clone(),
                name: access.name.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(cluster.client().clone());
    let answer = api.create(&PostParams::default(), &review).await.map_err(|e| {
        let what = "selfsubjectaccessreviews.authorization.k8s.io".to_string();
        cluster.failed("create", what.clone(), what, None, e)
    })?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// The Gateway API's CRDs found are used as they are, at their release, which says what the
/// cluster's API server accepts of HTTPRoute.
async fn gateway_api(cluster: &Cluster) -> (bool, String) {
    use crate::api::gateway::{BUNDLE_VERSION, BUNDLE_VERSION_ANNOTATION};
    let name = crate::api::Kind::HTTPRoute.crd().metadata.name.unwrap_or_default();
    match cluster.get(ObjectKind::CustomResourceDefinition, None, &name).await {
        Ok(None) => {
            (true, format!("the Gateway API's CRDs: none; install adds its standard channel, {BUNDLE_VERSION}"))
        }
        Ok(Some(crd)) => {
            let annotations = crd.metadata.annotations.as_ref();
            let version = annotations.and_then(|a| a.get(BUNDLE_VERSION_ANNOTATION));
            let version = version.map_or("of an unknown release", String::as_str);
            let whose = if super::client::managed(&crd) { "installed by meshctl" } else { "used as they are" };
            (true, format!("the Gateway API's CRDs: {version} found, {whose} (meshctl carries {BUNDLE_VERSION})"))
        }
        Err(e) => (false, format!("the Gateway API's CRDs: {e}")),
    }
}

/// Istio's CRDs are used as they are; Istio's control plane beside meshctl's is refused, since
/// both would program the same policy and inject the same namespaces.
async fn istio(cluster: &Cluster) -> Vec<(bool, String)> {
    let mut lines = Vec::new();
    match cluster.foreign_crds().await {
        Ok(crds) => {
            let istio = crds.iter().filter(|name| name.ends_with(".istio.io")).count();
            lines.push((
                true,
                match istio {
                    0 => "Istio's CRDs: none; install adds meshctl's".into(),
                    n => format!("Istio's CRDs: {n} found; install uses them as they are and never replaces them"),
                },
            ));
        }
        Err(e) => lines.push((false, format!("Istio's CRDs: {e}"))),
    }
    lines.push(gateway_api(cluster).await);
    match cluster.get(ObjectKind::Deployment, Some("istio-system"), "istiod").await {
        Ok(None) => lines.push((true, "Istio's control plane: not running (no istio-system/istiod)".into())),
        Ok(Some(_)) => lines.push((
            false,
            "Istio's control plane runs (istio-system/istiod): two meshes would program the same policy and inject \
             the same namespaces; uninstall Istio first (`istioctl uninstall --purge`), keeping its CRDs and policy"
                .into(),
        )),
        Err(e) => lines.push((false, format!("Istio's control plane: {e}"))),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_1_29_on_pass_and_managed_suffixes_are_read() {
        assert!(version_line("1", "29", "v1.29.0").0);
        assert!(version_line("1", "37+", "v1.37.2-gke.1").0);
        assert!(!version_line("1", "28", "v1.28.9").0);
        assert!(!version_line("1", "", "v1.?").0);
        assert!(!version_line("2", "0", "v2.0.0").0, "an unknown major is not assumed to work");
    }
}
