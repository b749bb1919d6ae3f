//! The controller's own TLS servers on a cluster (the admission webhooks, which the API server
//! calls, and the proxies' xDS port): a certificate from the mesh CA for the controller
//! Service's DNS names, issued on first use and again once half its life has passed or another
//! root signs. A handshake never waits for the API server, and a renewal needs no restart: each
//! handshake asks for the certificate of the moment.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{Authority, Kept, Leaf};

/// How long a serving certificate lives unless told otherwise.
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A server's certificate, renewed at half its life.
pub struct ServingCert {
    ca: tokio::sync::watch::Receiver<Kept>,
    names: Vec<String>,
    lifetime: Duration,
    current: Mutex<Option<(Arc<CertifiedKey>, Leaf)>>,
}

impl std::fmt::Debug for ServingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingCert").field("names", &self.names).finish_non_exhaustive()
    }
}

impl ServingCert {
    pub fn new(ca: tokio::sync::watch::Receiver<Kept>, names: Vec<String>, lifetime: Duration) -> Self {
        ServingCert { ca, names, lifetime, current: Mutex::new(None) }
    }

    /// A TLS server configuration that serves this certificate and offers `alpn`.
    pub fn server_config(self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(self));
        tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(tls)
    }

    fn issue(&self, ca: &Kept) -> anyhow::Result<(Arc<CertifiedKey>, Leaf)> {
        let leaf = Authority::from_kept(ca)?.issue_server(&self.names, self.lifetime)?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes()).collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes())?;
        let signer = rustls::crypto::ring::sign::any_supported_type(&key)?;
        Ok((Arc::new(CertifiedKey::new(chain, signer)), leaf))
    }
}

impl ResolvesServerCert for ServingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let ca = self.ca.borrow().clone();
        let fresh =
            current.as_ref().is_some_and(|(_, leaf)| !leaf.due(SystemTime::now()) && leaf.root == ca.signing.id);
        if !fresh {
            match self.issue(&ca) {
                Ok(issued) => *current = Some(issued),
                // An old certificate still valid serves better than none.
                Err(e) => tracing::error!(error = %e, names = ?self.names, "cannot issue a serving certificate"),
            }
        }
        current.as_ref().map(|(key, _)| key.clone())
    }
}
