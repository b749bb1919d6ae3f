//! The validating admission webhook: every write of a mesh kind, from any client (kubectl,
//! Helm, Argo CD, Flux), is judged as `meshctl apply` and `meshctl delete` judge theirs.
//!
//! ```text
//!   kubectl apply/delete ──▶ API server ──AdmissionReview (HTTPS, meshctl-controller:443/validate)──▶ controller
//!                                       ◀── allowed (+ warnings), or refused with the findings ─────┘
//!                                           judged with the stored objects, the change in place
//! ```
//!
//! Each object is judged on its own, as the API server writes it: a route to a subset that a
//! DestinationRule in the same `kubectl apply -f dir/` defines is admitted only once the rule
//! is stored, so the rule must come first (`meshctl apply` orders its writes so).
//!
//! `failurePolicy: Fail`, as Istio's validator once its control plane serves: a write that
//! cannot be judged (no replica up, or none trusted yet, before the controller sets the
//! `caBundle`) is refused rather than let through unjudged, since one unjudged route can fail
//! every request to a service. Deleting the configuration (`meshctl uninstall` does it first)
//! lifts it.

use serde_json::{Value, json};

use super::install::{self, CLUSTER_KINDS, CONTROLLER, Object, ObjectKind, Settings};
use crate::api::{Kind, Resource};
use crate::policy::{self, Finding, Options, Severity, Source};
use crate::store::ObjectRef;

/// The path the API server posts AdmissionReviews to.
pub const PATH: &str = "/validate";
/// The ValidatingWebhookConfiguration install makes and the controller keeps trusted.
pub const CONFIGURATION: &str = "meshctl-validator";
/// Its one webhook, as kubectl names it when a write is refused.
pub const WEBHOOK: &str = "validation.meshctl.io";

/// The answer to one AdmissionReview of a mesh kind: allowed, with the judgement's warnings,
/// or refused with its errors. `stored` is the mesh as the controller's cache has it.
pub fn review(request: &Value, stored: &[Resource]) -> Value {
    let request = &request["request"];
    let uid = request["uid"].clone();
    let namespace = request["namespace"].as_str().unwrap_or("default").to_string();
    let options = Options { namespace: namespace.clone(), reject_unknown: false };
    let findings: Vec<Finding> = match request["operation"].as_str() {
        Some("CREATE" | "UPDATE") => {
            // The object as written, through the same pipeline as a file given to `apply`:
            // its schema, its own rules, and the mesh with it in place.
            let source = Source { name: "the object".into(), text: request["object"].to_string() };
            policy::check_change(&[source], &options, stored, &|_| false, false).findings
        }
        Some("DELETE") => match gone(request, &namespace) {
            Some(gone) => {
                let removed = |r: &Resource| ObjectRef::of(r) == gone;
                policy::check_change(&[], &options, stored, &removed, false).findings
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    let text = |f: &Finding| match &f.resource {
        Some(resource) if f.file.is_none() => format!("{}: {} ({resource})", f.code, f.message),
        _ => format!("{}: {}", f.code, f.message),
    };
    let errors: Vec<String> = findings.iter().filter(|f| f.severity == Severity::Error).map(text).collect();
    let warnings: Vec<String> = findings.iter().filter(|f| f.severity == Severity::Warning).map(text).collect();
    let mut response = json!({ "uid": uid, "allowed": errors.is_empty() });
    if !errors.is_empty() {
        response["status"] = json!({
            "code": 422,
            "reason": "Invalid",
            "message": format!("meshctl refuses this change: {}", errors.join("; ")),
        });
    }
    if !warnings.is_empty() {
        response["warnings"] = json!(warnings);
    }
    json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response })
}

/// The object a DELETE removes, by the review's kind and name.
fn gone(request: &Value, namespace: &str) -> Option<ObjectRef> {
    let kind = Kind::from_group(request["kind"]["group"].as_str()?, request["kind"]["kind"].as_str()?)?;
    Some(ObjectRef { kind, namespace: namespace.to_string(), name: request["name"].as_str()?.to_string() })
}

/// The ValidatingWebhookConfiguration: every create, update and delete of the mesh kinds a
/// cluster stores goes to the controller.
pub fn configuration(settings: &Settings) -> Object {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for kind in CLUSTER_KINDS {
        let crd = kind.crd();
        let group = kind.api_version().split_once('/').map_or("", |(g, _)| g);
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, plurals)) => plurals.push(crd.spec.names.plural),
            None => groups.push((group, vec![crd.spec.names.plural])),
        }
    }
    let rules: Vec<Value> = groups
        .into_iter()
        .map(|(group, resources)| {
            json!({
                "apiGroups": [group], "apiVersions": ["*"], "resources": resources,
                "operations": ["CREATE", "UPDATE", "DELETE"], "scope": "Namespaced",
            })
        })
        .collect();
    install::cluster_scoped(
        ObjectKind::ValidatingWebhookConfiguration,
        CONFIGURATION,
        Some(CONTROLLER),
        json!({ "webhooks": [{
            "name": WEBHOOK,
            "clientConfig": { "service": {
                "name": CONTROLLER, "namespace": settings.namespace, "path": PATH, "port": 443,
            }},
            "rules": rules,
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        }]}),
    )
}

/// What the controller owns of the configuration: the roots its certificate chains to.
pub fn trusting(bundle: &str) -> Object {
    let kind = ObjectKind::ValidatingWebhookConfiguration;
    Object {
        kind,
        json: json!({
            "apiVersion": kind.api_version(), "kind": kind.kind(),
            "metadata": { "name": CONFIGURATION },
            "webhooks": [{ "name": WEBHOOK, "clientConfig": { "caBundle": bundle } }],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(yaml: &str) -> Vec<Resource> {
        let source = Source { name: "stored.yaml".into(), text: yaml.into() };
        policy::check(&[source], &Options::default()).resources.into_iter().map(|c| c.resource).collect()
    }

    const RULE: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: profile, namespace: default}\nspec:\n  host: profile\n  subsets: [{name: v1, labels: {version: v1}}]\n";

    fn route(subset: &str) -> Value {
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": { "name": "profile", "namespace": "default" },
            "spec": { "hosts": ["profile"], "http": [{ "route": [{ "destination": { "host": "profile", "subset": subset } }] }] },
        })
    }

    fn request(operation: &str, object: Value) -> Value {
        json!({ "request": {
            "uid": "u-1", "operation": operation, "namespace": "default",
            "kind": { "group": "networking.istio.io", "version": "v1", "kind": object["kind"] },
            "name": object["metadata"]["name"], "object": object,
        }})
    }

    #[test]
    fn a_route_to_a_missing_subset_is_refused_with_the_finding() {
        let answer = review(&request("CREATE", route("v2")), &stored(RULE));
        let response = &answer["response"];
        assert_eq!((&response["uid"], &response["allowed"]), (&json!("u-1"), &json!(false)), "{answer}");
        let message = response["status"]["message"].as_str().unwrap();
        assert!(message.contains("MESH0202") && message.contains("\"v2\""), "{message}");
        assert_eq!(review(&request("CREATE", route("v1")), &stored(RULE))["response"]["allowed"], true);
    }

    #[test]
    fn warnings_come_back_as_admission_warnings() {
        // A second rule that the first, matching every request, leaves unreachable (MESH0205).
        let mut shadowed = route("v1");
        let rule = shadowed["spec"]["http"][0].clone();
        let mut second = rule.clone();
        second["match"] = json!([{ "uri": { "prefix": "/admin" } }]);
        shadowed["spec"]["http"] = json!([rule, second]);
        let answer = review(&request("CREATE", shadowed), &stored(RULE));
        assert_eq!(answer["response"]["allowed"], true, "{answer}");
        let warnings = answer["response"]["warnings"].as_array().unwrap();
        assert!(warnings.iter().any(|w| w.as_str().unwrap().starts_with("MESH0205: ")), "{answer}");
    }

    #[test]
    fn deleting_a_rule_a_stored_route_needs_is_refused() {
        // JSON is YAML: the stored route as its JSON text.
        let mesh = stored(&format!("{RULE}---\n{}\n", route("v1")));
        let rule = json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": { "name": "profile", "namespace": "default" },
        });
        let answer = review(&request("DELETE", rule), &mesh);
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
        let message = answer["response"]["status"]["message"].as_str().unwrap();
        assert!(message.contains("MESH0202") && message.contains("VirtualService/default/profile"), "{message}");
    }
}
