//! A new mesh CA for a cluster's Secret, made by `crate::pki` as the local mesh makes its own.
//!
//! `pki` keeps a CA in a directory; until it can make a root in memory, the root is made in a
//! private temporary directory (mode 0700, its key 0600) that is removed at once, so the key
//! only ever rests in the Secret.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::install::CaMaterial;
use crate::pki::{Authority, PkiError};

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot make a private temporary directory {path} for the new mesh CA; set TMPDIR to a writable one")]
    TempDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the mesh CA")]
    Pki(#[from] PkiError),
}

/// Removes the directory however the caller leaves.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new root certificate and its key.
pub fn generate() -> Result<CaMaterial, CaError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let path = std::env::temp_dir().join(format!("meshctl-ca-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(|source| CaError::TempDir { path: path.clone(), source })?;
    let scratch = Scratch(path);
    let ca = Authority::open(&scratch.0)?;
    let root = scratch.0.join("pki/roots").join(&ca.state().signing);
    Ok(CaMaterial { cert_pem: read(&root.join("cert.pem"))?, key_pem: read(&root.join("key.pem"))? })
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_new_ca_is_a_root_with_its_key_and_leaves_nothing_behind() {
        let ca = super::generate().unwrap();
        assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"), "{}", ca.cert_pem);
        assert!(ca.key_pem.contains("PRIVATE KEY"));
        let (_, cert) = x509_parser::pem::parse_x509_pem(ca.cert_pem.as_bytes()).unwrap();
        assert!(cert.parse_x509().unwrap().is_ca());
        let left = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(&format!("meshctl-ca-{}-", std::process::id())));
        assert!(!left, "the scratch directory is removed");
    }
}
