//! A new mesh CA for a cluster's Secret: a root made in memory by `crate::pki`, as the local
//! mesh makes its own, so its key only ever rests in the Secret.

use super::install::CaMaterial;
use crate::pki::{self, PkiError};

/// A new root certificate and its key.
pub fn generate() -> Result<CaMaterial, PkiError> {
    let root = pki::make_root()?;
    Ok(CaMaterial { cert_pem: root.cert_pem, key_pem: root.key_pem })
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
