//! The mesh CA in a cluster's Secret: a new root made in memory by `crate::pki`, as the local
//! mesh makes its own, so its key only ever rests in the Secret; and the Secret read back.

use anyhow::Context as _;
use base64::Engine as _;

use super::client::Cluster;
use super::install::{CA_CERT_KEY, CA_KEY_KEY, CA_SECRET, CaMaterial, ObjectKind};
use crate::pki::{self, PkiError};

/// A new root certificate and its key.
pub fn generate() -> Result<CaMaterial, PkiError> {
    let root = pki::make_root()?;
    Ok(CaMaterial { cert_pem: root.cert_pem, key_pem: root.key_pem })
}

/// The mesh CA's certificate and key from the Secret `meshctl install` made in `namespace`.
pub async fn read(cluster: &Cluster, namespace: &str) -> anyhow::Result<CaMaterial> {
    let secret = cluster.get(ObjectKind::Secret, Some(namespace), CA_SECRET).await?.with_context(|| {
        format!("no mesh CA: Secret {namespace}/{CA_SECRET} is missing; run `meshctl install` on this cluster first")
    })?;
    let field = |key: &str| -> anyhow::Result<String> {
        let encoded = secret.data["data"][key]
            .as_str()
            .with_context(|| format!("Secret {namespace}/{CA_SECRET} has no {key}; run `meshctl install` again"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .with_context(|| format!("Secret {namespace}/{CA_SECRET}: {key} is not base64"))?;
        String::from_utf8(bytes).with_context(|| format!("Secret {namespace}/{CA_SECRET}: {key} is not PEM"))
    };
    Ok(CaMaterial { cert_pem: field(CA_CERT_KEY)?, key_pem: field(CA_KEY_KEY)? })
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
