//! The controller's admission webhooks, over TLS: the sidecar injector (mutating), and the
//! validator of mesh kinds (`admission.rs`).
//!
//! ```text
//!   kubectl ──create Pod──▶ API server ──AdmissionReview (HTTPS, Service meshctl-controller:443/inject)──▶ controller
//!                                      ◀── allowed + JSONPatch (inject::inject_template) ───────────────┘
//! ```
//!
//! The API server checks the webhooks' certificate against the configurations' `caBundle`.
//! The controller serves a certificate from the mesh CA for its Service's DNS names, renewed
//! before it expires, and keeps `caBundle` set to the mesh CA's roots (a field it owns by
//! server-side apply, so `meshctl install` applying the configurations again leaves it).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_stream::StreamExt as _;

use super::admission;
use super::client::Cluster;
use super::inject::{self, Outcome};
use super::install::{self, CONTROLLER, Object, ObjectKind, Settings};
use super::store::KubeStore;
use crate::pki::{
    self,
    serving::{self, ServingCert},
};
use crate::store::{Contents, Store as _};

/// The path the API server posts AdmissionReviews to.
pub const PATH: &str = "/inject";
/// The MutatingWebhookConfiguration install makes and the controller keeps trusted.
pub const CONFIGURATION: &str = "meshctl-sidecar-injector";
/// The webhooks in it: namespaces labelled meshctl's way, and Istio's.
pub const WEBHOOKS: [&str; 2] = ["namespace.sidecar-injector.meshctl.io", "istio-label.sidecar-injector.meshctl.io"];
/// The field manager of the `caBundle` the controller writes (not install's).
const CA_BUNDLE_MANAGER: &str = "meshctl-controller";
/// An AdmissionReview of a Pod is a few kilobytes; nothing legitimate comes near this.
const MAX_REVIEW_BYTES: usize = 4 << 20;

/// The answer to one AdmissionReview (its JSON): the Pod injected as a JSONPatch, the Pod
/// allowed unchanged when there is nothing to do, or refused with the reason when its
/// annotations are wrong. A review that is not one is refused too, never panics.
pub fn review(request: &Value, settings: &Settings) -> Value {
    let uid = request["request"]["uid"].clone();
    let mut pod = request["request"]["object"].clone();
    let response = match inject::inject_template(&mut pod, settings) {
        Ok(Outcome::Injected) => {
            // `add` replaces a member that exists; `/metadata` always does.
            let patch = json!([
                { "op": "add", "path": "/metadata/annotations", "value": pod["metadata"]["annotations"] },
                { "op": "add", "path": "/spec", "value": pod["spec"] },
            ]);
            let encoded = base64::engine::general_purpose::STANDARD.encode(patch.to_string());
            json!({ "uid": uid, "allowed": true, "patchType": "JSONPatch", "patch": encoded })
        }
        Ok(_) => json!({ "uid": uid, "allowed": true }),
        Err(e) => json!({
            "uid": uid,
            "allowed": false,
            "status": { "code": 400, "reason": "BadRequest", "message": format!("meshctl cannot inject this Pod: {e}") },
        }),
    };
    json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response })
}

/// The MutatingWebhookConfiguration: Pods created in a namespace labelled
/// `meshctl.io/inject=enabled`, or Istio's `istio-injection=enabled` without meshctl's label,
/// are sent to the controller, except those labelled `sidecar.meshctl.io/inject: "false"`
/// (the annotation is checked by the webhook itself).
pub fn configuration(settings: &Settings) -> Object {
    let not_opted_out = json!({ "matchExpressions": [
        { "key": inject::INJECT_KEYS[0], "operator": "NotIn", "values": ["false"] },
        { "key": inject::INJECT_KEYS[1], "operator": "NotIn", "values": ["false"] },
    ]});
    let namespaces = [
        json!({ "matchLabels": { "meshctl.io/inject": "enabled" } }),
        json!({ "matchExpressions": [
            { "key": "istio-injection", "operator": "In", "values": ["enabled"] },
            { "key": "meshctl.io/inject", "operator": "DoesNotExist" },
        ]}),
    ];
    let webhooks: Vec<Value> = WEBHOOKS
        .iter()
        .zip(namespaces)
        .map(|(name, namespace_selector)| {
            json!({
                "name": name,
                "clientConfig": { "service": {
                    "name": CONTROLLER, "namespace": settings.namespace, "path": PATH, "port": 443,
                }},
                "rules": [{
                    "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                    "operations": ["CREATE"], "scope": "Namespaced",
                }],
                "namespaceSelector": namespace_selector,
                "objectSelector": not_opted_out,
                // A Pod in a mesh namespace is not made without its sidecar (docs/kubernetes.md, "Injection").
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                // Called again when a later webhook changed the Pod; injection is idempotent.
                "reinvocationPolicy": "IfNeeded",
                "timeoutSeconds": 10,
            })
        })
        .collect();
    install::cluster_scoped(
        ObjectKind::MutatingWebhookConfiguration,
        CONFIGURATION,
        Some(CONTROLLER),
        json!({ "webhooks": webhooks }),
    )
}

/// The DNS names the API server and the proxies call the controller's Service by, in
/// `namespace`.
pub fn service_names(namespace: &str) -> Vec<String> {
    let service = format!("{CONTROLLER}.{namespace}.svc");
    vec![format!("{service}.cluster.local"), service]
}

/// Serves the webhooks on `listener` until the process ends; the validator judges with what
/// `store` holds.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ca: tokio::sync::watch::Receiver<pki::Kept>,
    settings: Settings,
    store: Arc<KubeStore>,
) {
    let tls = ServingCert::new(ca, service_names(&settings.namespace), serving::LIFETIME).server_config(&[b"http/1.1"]);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let settings = Arc::new(settings);
    loop {
        let Ok((stream, peer)) = listener.accept().await else { continue };
        let (acceptor, settings, store) = (acceptor.clone(), settings.clone(), store.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(stream) => stream,
                Err(e) => return tracing::debug!(%peer, error = %e, "webhook TLS handshake failed"),
            };
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (settings, store) = (settings.clone(), store.clone());
                async move { Ok::<_, std::convert::Infallible>(handle(request, &settings, store.as_ref()).await) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    settings: &Settings,
    store: &KubeStore,
) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: String| {
        let mut response = Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() = status;
        response
    };
    let path = request.uri().path().to_string();
    if path != PATH && path != admission::PATH {
        return plain(
            StatusCode::NOT_FOUND,
            format!("the injector answers on {PATH}, the validator on {}", admission::PATH),
        );
    }
    let body = match Limited::new(request.into_body(), MAX_REVIEW_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("cannot read the review: {e}")),
    };
    let review_request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("not an AdmissionReview: {e}")),
    };
    let answer = if path == PATH {
        review(&review_request, settings)
    } else {
        // Admitted with the mesh as the controller's watches have brought it, refused only
        // with the mesh as listed now: the watches may not have brought a write made a moment
        // before (the rule `kubectl apply` wrote just ahead of the route that needs it). A
        // store that cannot be read cannot judge.
        let judge = |contents: Contents| {
            let stored: Vec<crate::api::Resource> = contents.resources().into_iter().flatten().collect();
            admission::review(&review_request, &stored)
        };
        let answer = match store.contents().await.map(judge) {
            Ok(answer) if answer["response"]["allowed"] == false => store.list().await.map(judge),
            answered => answered,
        };
        match answer {
            Ok(answer) => answer,
            Err(e) => return plain(StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the mesh to judge: {e}")),
        }
    };
    if answer["response"]["allowed"] == false {
        let request = &review_request["request"];
        tracing::info!(
            namespace = request["namespace"].as_str().unwrap_or_default(),
            kind = request["kind"]["kind"].as_str().unwrap_or_default(),
            name = request["name"].as_str().unwrap_or_default(),
            reason = answer["response"]["status"]["message"].as_str().unwrap_or_default(),
            "refused"
        );
    }
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

/// Keeps the configurations' `caBundle` the mesh CA's roots: now, again whenever they change
/// (a rotation), and whenever a watch on the configurations sees one that does not trust them
/// (applied after the controller started, or by an older install). Idle, it asks nothing.
pub async fn keep_trusted(cluster: Cluster, mut ca: tokio::sync::watch::Receiver<pki::Kept>) {
    let kind = ObjectKind::MutatingWebhookConfiguration;
    let mut reported = false;
    let mut untrusted = std::pin::pin!(untrusted(&cluster, ca.clone()));
    loop {
        let bundle = base64::engine::general_purpose::STANDARD.encode(&ca.borrow_and_update().bundle);
        let webhooks: Vec<Value> =
            WEBHOOKS.iter().map(|name| json!({ "name": name, "clientConfig": { "caBundle": bundle } })).collect();
        // Only the fields it owns: the rest is install's.
        let injector = Object {
            kind,
            json: json!({
                "apiVersion": kind.api_version(), "kind": kind.kind(),
                "metadata": { "name": CONFIGURATION },
                "webhooks": webhooks,
            }),
        };
        let validator = admission::trusting(&bundle);
        let applied = async {
            cluster.apply_as(CA_BUNDLE_MANAGER, &injector).await?;
            cluster.apply_as(CA_BUNDLE_MANAGER, &validator).await
        };
        let retry = match applied.await {
            Ok(()) => {
                reported = false;
                None
            }
            Err(e) => {
                if !reported {
                    tracing::warn!(error = %e, "cannot set the injector's caBundle; trying again");
                    reported = true;
                }
                Some(Duration::from_secs(5))
            }
        };
        tokio::select! {
            _ = ca.changed() => {}
            Some(()) = untrusted.next() => {}
            () = tokio::time::sleep(retry.unwrap_or_default()), if retry.is_some() => {}
        }
    }
}

/// A stream that yields when a watch sees one of the two configurations with a webhook whose
/// `caBundle` is not the roots `ca` holds then: not for the controller's own writes.
fn untrusted(
    cluster: &Cluster,
    ca: tokio::sync::watch::Receiver<pki::Kept>,
) -> impl tokio_stream::Stream<Item = ()> + use<> {
    use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
    let client = cluster.client().clone();
    let injector =
        distrusting(kube::Api::<MutatingWebhookConfiguration>::all(client.clone()), CONFIGURATION, ca.clone(), |c| {
            c.webhooks.iter().flatten().map(|w| w.client_config.ca_bundle.clone()).collect()
        });
    let validator =
        distrusting(kube::Api::<ValidatingWebhookConfiguration>::all(client), admission::CONFIGURATION, ca, |c| {
            c.webhooks.iter().flatten().map(|w| w.client_config.ca_bundle.clone()).collect()
        });
    injector.merge(validator)
}

/// Configuration `name`'s watch, yielding when a webhook's `caBundle` (of those `bundles`
/// reads) is not the roots `ca` holds.
fn distrusting<K>(
    api: kube::Api<K>,
    name: &str,
    ca: tokio::sync::watch::Receiver<pki::Kept>,
    bundles: fn(&K) -> Vec<Option<k8s_openapi::ByteString>>,
) -> impl tokio_stream::Stream<Item = ()> + use<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    use kube::runtime::{WatchStreamExt, watcher};
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watcher(api, config).default_backoff().filter_map(move |event| match event {
        Ok(watcher::Event::Apply(configuration) | watcher::Event::InitApply(configuration)) => {
            let roots = ca.borrow().bundle.clone();
            bundles(&configuration).iter().any(|b| b.as_ref().is_none_or(|b| b.0 != roots.as_bytes())).then_some(())
        }
        _ => None,
    })
}
