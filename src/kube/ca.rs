//! The mesh CA in a cluster's Secret: a new root made in memory by `crate::pki`, as the local
//! mesh makes its own, so its key only ever rests in the Secret; the Secret read back and
//! followed, so that every controller replica signs with the same root; and the leader's
//! rotations written to it ([`SecretKeeper`]).
//!
//! The Secret's keys are Istio's for its own CA (`ca-cert.pem`, `ca-key.pem`: the signing
//! root; `root-cert.pem`: every root trusted), with `next-cert.pem`/`next-key.pem` for a root
//! staged to sign next, and `reissue-before` (milliseconds since the Unix epoch).

use std::collections::BTreeMap;
use std::time::SystemTime;

use anyhow::Context as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;

use super::install::{CA_CERT_KEY, CA_KEY_KEY, CA_SECRET, CaMaterial, ROOT_CERT_KEY};
use crate::pki::{self, Kept, PkiError, Root};
use crate::publish::SendChanged;

const NEXT_CERT_KEY: &str = "next-cert.pem";
const NEXT_KEY_KEY: &str = "next-key.pem";
const REISSUE_KEY: &str = "reissue-before";

/// A new root certificate and its key.
pub fn generate() -> Result<CaMaterial, PkiError> {
    let root = pki::make_root()?;
    Ok(CaMaterial { cert_pem: root.cert_pem, key_pem: root.key_pem })
}

/// The CA a Secret holds.
fn kept(secret: &Secret, namespace: &str) -> anyhow::Result<Kept> {
    let data = secret.data.clone().unwrap_or_default();
    let field = |key: &str| -> anyhow::Result<Option<String>> {
        data.get(key)
            .map(|bytes| {
                String::from_utf8(bytes.0.clone())
                    .with_context(|| format!("Secret {namespace}/{CA_SECRET}: {key} is not PEM"))
            })
            .transpose()
    };
    let needed = |key: &str| -> anyhow::Result<String> {
        field(key)?.with_context(|| format!("Secret {namespace}/{CA_SECRET} has no {key}; run `meshctl install` again"))
    };
    let signing = Root::from_pem(&needed(CA_CERT_KEY)?, &needed(CA_KEY_KEY)?)?;
    let next = match (field(NEXT_CERT_KEY)?, field(NEXT_KEY_KEY)?) {
        (Some(cert), Some(key)) => Some(Root::from_pem(&cert, &key)?),
        _ => None,
    };
    let bundle = field(ROOT_CERT_KEY)?.unwrap_or_else(|| signing.cert_pem.clone());
    let reissue_before_unix_ms = field(REISSUE_KEY)?.and_then(|ms| ms.trim().parse().ok());
    Ok(Kept { signing, next, bundle, reissue_before_unix_ms })
}

/// The Secret's data for `kept`.
fn data(kept: &Kept) -> BTreeMap<String, ByteString> {
    let mut data = BTreeMap::new();
    let mut put = |key: &str, value: &str| data.insert(key.to_string(), ByteString(value.as_bytes().to_vec()));
    put(CA_CERT_KEY, &kept.signing.cert_pem);
    put(CA_KEY_KEY, &kept.signing.key_pem);
    put(ROOT_CERT_KEY, &kept.bundle);
    if let Some(next) = &kept.next {
        put(NEXT_CERT_KEY, &next.cert_pem);
        put(NEXT_KEY_KEY, &next.key_pem);
    }
    if let Some(ms) = kept.reissue_before_unix_ms {
        put(REISSUE_KEY, &ms.to_string());
    }
    data
}

fn missing(namespace: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "no mesh CA: Secret {namespace}/{CA_SECRET} is missing; run `meshctl install` on this cluster first"
    )
}

/// The mesh CA from the Secret `meshctl install` made in `namespace`, followed from now on: the
/// receiver sees each change (a rotation's step, written by the leader).
pub async fn follow(client: kube::Client, namespace: &str) -> anyhow::Result<watch::Receiver<Kept>> {
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    let secret = secrets.get_opt(CA_SECRET).await?.ok_or_else(|| missing(namespace))?;
    let (tx, rx) = watch::channel(kept(&secret, namespace)?);
    let namespace = namespace.to_string();
    tokio::spawn(async move {
        let config = watcher::Config::default().fields(&format!("metadata.name={CA_SECRET}"));
        let mut events = std::pin::pin!(watcher(secrets, config));
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(secret) | watcher::Event::InitApply(secret)) => {
                    match kept(&secret, &namespace) {
                        Ok(now) => {
                            tx.send_changed(now);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "the mesh CA's Secret cannot be used; keeping the CA as it was")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "watching the mesh CA's Secret"),
            }
        }
    });
    Ok(rx)
}

/// The leader's hand on the CA in the Secret: each change is read, made and written back with
/// the version it was read at, so that two writers cannot both win.
pub struct SecretKeeper {
    secrets: Api<Secret>,
    namespace: String,
}

impl SecretKeeper {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        SecretKeeper { secrets: Api::namespaced(client, namespace), namespace: namespace.to_string() }
    }

    async fn change<T>(&self, change: impl FnOnce(&Kept) -> anyhow::Result<(Kept, T)>) -> anyhow::Result<T> {
        let mut secret = self.secrets.get_opt(CA_SECRET).await?.ok_or_else(|| missing(&self.namespace))?;
        let before = kept(&secret, &self.namespace)?;
        let (after, answer) = change(&before)?;
        if after != before {
            secret.data = Some(data(&after));
            secret.metadata.managed_fields = None;
            self.secrets
                .replace(CA_SECRET, &PostParams::default(), &secret)
                .await
                .with_context(|| format!("cannot write Secret {}/{CA_SECRET}", self.namespace))?;
        }
        Ok(answer)
    }
}

#[async_trait::async_trait]
impl crate::pki::Keeper for SecretKeeper {
    async fn trust_new_root(&self) -> anyhow::Result<String> {
        self.change(|kept| Ok(kept.trust_new_root()?)).await
    }

    async fn sign_with(&self, root: &str) -> anyhow::Result<()> {
        self.change(|kept| Ok((kept.sign_with(root), ()))).await
    }

    async fn drop_all_but(&self, root: &str) -> anyhow::Result<()> {
        self.change(|kept| Ok((kept.drop_all_but(root), ()))).await
    }

    async fn reissue_before(&self, at: SystemTime) -> anyhow::Result<()> {
        self.change(|kept| Ok((kept.reissue_before(at), ()))).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_new_ca_is_a_root_that_issues_workload_certificates() {
        let ca = super::generate().unwrap();
        let (_, cert) = x509_parser::pem::parse_x509_pem(ca.cert_pem.as_bytes()).unwrap();
        assert!(cert.parse_x509().unwrap().is_ca());
        let authority = crate::pki::Authority::from_root(&ca.cert_pem, &ca.key_pem).unwrap();
        let leaf = authority
            .issue(&crate::api::Identity::new("default", "profile"), std::time::Duration::from_secs(60))
            .unwrap();
        assert_eq!(leaf.root, authority.state().signing);
        assert_eq!(authority.trust_bundle(), ca.cert_pem);
    }
}
