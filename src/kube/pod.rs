//! A Pod as the registry keeps it: the fields it reads, with the names and shapes Kubernetes
//! gives them, and nothing else. k8s-openapi's `Pod` holds every field Kubernetes defines in
//! place (2.5 kB before a single one is set, and 2.3 kB a container), so that a small injected
//! Pod took about 14 kB in the registry: at 3,000 mesh Pods, half of the controller's heap.
//! Decoded from the watch as it comes, the rest of each object is never held.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{ContainerPort, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    pub init_containers: Option<Vec<Container>>,
    pub service_account_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub ports: Option<Vec<ContainerPort>>,
    /// `Always` on an init container makes it a native sidecar.
    pub restart_policy: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// `Ready` says a Gateway's proxy serves.
    pub conditions: Option<Vec<PodCondition>>,
}

/// A Pod the CLI listed whole (it also reads the containers' states), as the registry reads it.
impl From<&k8s_openapi::api::core::v1::Pod> for Pod {
    fn from(pod: &k8s_openapi::api::core::v1::Pod) -> Pod {
        let container = |c: &k8s_openapi::api::core::v1::Container| Container {
            name: c.name.clone(),
            ports: c.ports.clone(),
            restart_policy: c.restart_policy.clone(),
        };
        Pod {
            metadata: pod.metadata.clone(),
            spec: pod.spec.as_ref().map(|spec| PodSpec {
                containers: spec.containers.iter().map(container).collect(),
                init_containers: spec.init_containers.as_ref().map(|all| all.iter().map(container).collect()),
                service_account_name: spec.service_account_name.clone(),
            }),
            status: pod.status.as_ref().map(|status| PodStatus {
                phase: status.phase.clone(),
                pod_ip: status.pod_ip.clone(),
                conditions: status.conditions.clone(),
            }),
        }
    }
}

impl kube::Resource for Pod {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Pod")
    }

    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }

    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("pods")
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields the registry reads come out of a Pod as the API server writes it, and the
    /// slim Pod asks the API for pods, as the typed one does.
    #[test]
    fn a_pod_is_read_as_kubernetes_writes_it() {
        let written = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "p", "namespace": "shop", "uid": "u", "labels": { "app": "profile" } },
            "spec": {
                "serviceAccountName": "profile",
                "initContainers": [{ "name": "meshctl-proxy", "image": "envoy", "restartPolicy": "Always" }],
                "containers": [{ "name": "app", "image": "app", "env": [{ "name": "A", "value": "b" }],
                                 "ports": [{ "name": "http", "containerPort": 8080, "protocol": "TCP" }] }],
                "volumes": [{ "name": "v", "emptyDir": {} }],
            },
            "status": { "phase": "Running", "podIP": "10.0.0.7", "podIPs": [{ "ip": "10.0.0.7" }] },
        });
        let pod: Pod = serde_json::from_value(written).unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.service_account_name.as_deref(), Some("profile"));
        let native = &spec.init_containers.as_ref().unwrap()[0];
        assert_eq!((native.name.as_str(), native.restart_policy.as_deref()), ("meshctl-proxy", Some("Always")));
        let port = &spec.containers[0].ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.container_port), (Some("http"), 8080));
        let status = pod.status.as_ref().unwrap();
        assert_eq!((status.phase.as_deref(), status.pod_ip.as_deref()), (Some("Running"), Some("10.0.0.7")));
        assert_eq!(kube::ResourceExt::labels(&pod)["app"], "profile");
        let url = <Pod as kube::Resource>::url_path(&(), Some("shop"));
        assert_eq!(url, "/api/v1/namespaces/shop/pods");
    }
}
