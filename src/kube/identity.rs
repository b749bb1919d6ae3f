//! Proxies prove who they are on a cluster: a proxy presents its Pod's projected
//! ServiceAccount token (audience `meshctl`) on its xDS stream, and the controller asks the
//! API server about it (TokenReview) before it sends the proxy any certificate. The token must
//! be valid for meshctl's audience, unexpired, and bound to the very Pod the proxy's node id
//! (`POD.NAMESPACE`) names: a Pod's token proves that Pod, and so its ServiceAccount (a bound
//! token is issued only for the Pod's own ServiceAccount, and stops being valid once that Pod
//! is gone).

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::xds::Authenticator;

/// The audience of the token a proxy presents to the controller.
pub const TOKEN_AUDIENCE: &str = "meshctl";
/// The proxy's volume: the Pod's token (`token`, which the kubelet replaces by renaming before
/// it expires) and the SDS file that tells Envoy where the token is.
pub const TOKEN_VOLUME: &str = "meshctl-token";
pub const TOKEN_DIR: &str = "/var/run/secrets/meshctl";
/// The kubelet's minimum is 10 minutes; it renews at 80% of this.
const TOKEN_LIFETIME_S: i64 = 3600;
/// The Pod annotation the SDS file is projected from (the downward API can project only the
/// Pod's own fields, and a Pod needs no object of its own for this).
pub const CREDENTIAL_ANNOTATION: &str = "proxy.meshctl.io/xds-credential";
const CREDENTIAL_FILE: &str = "xds-credential.json";
const CREDENTIAL_SECRET: &str = "xds-token";

/// The Pod's volume with the proxy's token and the SDS file naming it.
pub fn volume() -> Value {
    json!({
        "name": TOKEN_VOLUME,
        "projected": { "sources": [
            { "serviceAccountToken": { "audience": TOKEN_AUDIENCE, "expirationSeconds": TOKEN_LIFETIME_S, "path": "token" } },
            { "downwardAPI": { "items": [{
                "path": CREDENTIAL_FILE,
                "fieldRef": { "fieldPath": format!("metadata.annotations['{CREDENTIAL_ANNOTATION}']") },
            }]}},
        ]},
    })
}

/// Where the proxy container mounts [`volume`].
pub fn mount() -> Value {
    json!({ "name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": true })
}

/// The value of [`CREDENTIAL_ANNOTATION`]: an SDS file with one generic secret, the token file.
pub fn credential_sds() -> String {
    json!({ "resources": [{
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
        "name": CREDENTIAL_SECRET,
        "generic_secret": { "secret": { "filename": format!("{TOKEN_DIR}/token") } },
    }]})
    .to_string()
}

/// The upstream HTTP filters of the proxy's clusters to the controller (`xds`, and the span
/// collector's): every stream and request carries `authorization: Bearer TOKEN`, read again
/// when the kubelet replaces the token.
pub fn credential_filters() -> Value {
    json!([
        {
            "name": "envoy.filters.http.credential_injector",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector",
                "overwrite": true,
                "credential": {
                    "name": "envoy.http.injected_credentials.generic",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic",
                        "credential": { "name": CREDENTIAL_SECRET, "sds_config": { "path_config_source": {
                            "path": format!("{TOKEN_DIR}/{CREDENTIAL_FILE}"),
                            // The kubelet swaps the volume's files by renaming a directory.
                            "watched_directory": { "path": TOKEN_DIR },
                        }}},
                        "header": "authorization",
                        "header_value_prefix": "Bearer ",
                    },
                },
            },
        },
        {
            "name": "envoy.filters.http.upstream_codec",
            "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec" },
        },
    ])
}

/// The `extra` key of a Pod-bound token's review that names its Pod.
const POD_NAME: &str = "authentication.kubernetes.io/pod-name";

pub struct TokenReviewer {
    client: Client,
}

impl TokenReviewer {
    pub fn new(client: Client) -> Self {
        TokenReviewer { client }
    }
}

impl TokenReviewer {
    /// The Pod a token proves: one of the mesh's proxies, since only an injected Pod holds a
    /// token for audience `meshctl`.
    pub async fn pod_of(&self, token: Option<&str>) -> Result<ProvenPod, String> {
        let token = token.ok_or_else(|| {
            format!(
                "it presented no token; a proxy on a cluster sends its Pod's ServiceAccount token \
                 for audience {TOKEN_AUDIENCE} (the injected volume mounts it)"
            )
        })?;
        let review = TokenReview {
            spec: TokenReviewSpec { token: token.to_string(), audiences: Some(vec![TOKEN_AUDIENCE.to_string()]) },
            ..TokenReview::default()
        };
        let answer = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| format!("its token could not be reviewed: {e}"))?;
        proven_pod(&answer)
    }
}

#[async_trait::async_trait]
impl Authenticator for TokenReviewer {
    async fn authenticate(&self, node_id: &str, token: Option<&str>) -> Result<(), String> {
        let (pod, namespace) =
            node_id.rsplit_once('.').ok_or_else(|| format!("its node id {node_id:?} is not POD.NAMESPACE"))?;
        let proven = self.pod_of(token).await?;
        claims(&proven, pod, namespace)
    }
}

/// The Pod a token is bound to, and the ServiceAccount it runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenPod {
    pub namespace: String,
    pub pod: String,
    pub account: String,
}

/// Whether the Pod a token proved is Pod `namespace/pod`, which the proxy claims to be. Pure.
fn claims(proven: &ProvenPod, pod: &str, namespace: &str) -> Result<(), String> {
    if proven.pod == pod && proven.namespace == namespace {
        return Ok(());
    }
    Err(format!(
        "it claims Pod {namespace}/{pod} but its token is Pod {}/{}'s (ServiceAccount {})",
        proven.namespace, proven.pod, proven.account
    ))
}

/// The Pod a review's answer proves. Pure.
fn proven_pod(answer: &TokenReview) -> Result<ProvenPod, String> {
    let status = answer.status.clone().unwrap_or_default();
    if status.authenticated != Some(true) {
        let why = status.error.filter(|e| !e.is_empty()).unwrap_or_else(|| "not authenticated".into());
        return Err(format!("its token was refused by the API server for audience {TOKEN_AUDIENCE}: {why}"));
    }
    // A review that names audiences answers with those the token has among them.
    if !status.audiences.unwrap_or_default().iter().any(|a| a == TOKEN_AUDIENCE) {
        return Err(format!("its token is not for audience {TOKEN_AUDIENCE}"));
    }
    let user = status.user.unwrap_or_default();
    let username = user.username.unwrap_or_default();
    let Some((token_namespace, account)) =
        username.strip_prefix("system:serviceaccount:").and_then(|rest| rest.split_once(':'))
    else {
        return Err(format!("its token is {username:?}'s, not a ServiceAccount's"));
    };
    let token_pod = user.extra.unwrap_or_default().get(POD_NAME).and_then(|v| v.first().cloned());
    match token_pod {
        Some(pod) => Ok(ProvenPod { namespace: token_namespace.to_string(), pod, account: account.to_string() }),
        None => Err(format!(
            "its token (ServiceAccount {token_namespace}/{account}) is not bound to a Pod; a proxy \
             presents its Pod's projected token"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::authentication::v1::{TokenReviewStatus, UserInfo};

    fn check(answer: &TokenReview, pod: &str, namespace: &str) -> Result<(), String> {
        claims(&proven_pod(answer)?, pod, namespace)
    }

    fn answer(authenticated: bool, audiences: &[&str], username: &str, pod: Option<&str>) -> TokenReview {
        let extra = pod.map(|p| [(POD_NAME.to_string(), vec![p.to_string()])].into_iter().collect());
        TokenReview {
            status: Some(TokenReviewStatus {
                authenticated: Some(authenticated),
                audiences: Some(audiences.iter().map(|a| a.to_string()).collect()),
                user: Some(UserInfo { username: Some(username.into()), extra, ..UserInfo::default() }),
                error: (!authenticated).then(|| "token has expired".into()),
            }),
            ..TokenReview::default()
        }
    }

    #[test]
    fn only_a_token_bound_to_the_named_pod_proves_it() {
        let sa = "system:serviceaccount:shop:profile";
        assert_eq!(check(&answer(true, &["meshctl"], sa, Some("profile-0")), "profile-0", "shop"), Ok(()));
        let other = check(&answer(true, &["meshctl"], sa, Some("profile-1")), "profile-0", "shop").unwrap_err();
        assert!(other.contains("its token is Pod shop/profile-1's"), "{other}");
        let elsewhere = check(&answer(true, &["meshctl"], sa, Some("profile-0")), "profile-0", "bank").unwrap_err();
        assert!(elsewhere.contains("claims Pod bank/profile-0"), "{elsewhere}");
        let unbound = check(&answer(true, &["meshctl"], sa, None), "profile-0", "shop").unwrap_err();
        assert!(unbound.contains("not bound to a Pod"), "{unbound}");
        let expired = check(&answer(false, &[], sa, Some("profile-0")), "profile-0", "shop").unwrap_err();
        assert!(expired.contains("token has expired"), "{expired}");
        let audience = check(&answer(true, &["other"], sa, Some("profile-0")), "profile-0", "shop").unwrap_err();
        assert!(audience.contains("not for audience meshctl"), "{audience}");
        let user = check(&answer(true, &["meshctl"], "alice", None), "profile-0", "shop").unwrap_err();
        assert!(user.contains("\"alice\"'s, not a ServiceAccount's"), "{user}");
    }
}
