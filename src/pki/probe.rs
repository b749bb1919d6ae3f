//! Requests over the mesh's mTLS, from outside any proxy: how `meshctl mtls status` proves that
//! a sidecar completes a real handshake, and how tests knock on a sidecar with the wrong
//! certificate.
//!
//! Workload certificates name SPIFFE identities (a URI SAN), not DNS names, so the server is
//! checked as Envoy's sidecars check each other: the chain against the mesh roots, then the
//! URI SAN against the identity expected.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::{Authority, Leaf, PkiError};
use crate::api::Identity;
use crate::http::{self, HttpError, Response};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("TLS with {addr} failed: {message}")]
    Tls { addr: SocketAddr, message: String },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error("unusable credentials: {0}")]
    Credentials(String),
}

/// A client outside the proxies that speaks the mesh's mTLS with one certificate.
pub struct MtlsClient {
    pub certificate: Leaf,
    pub trust_bundle: String,
}

impl MtlsClient {
    /// `method path` with `Host: host` and `headers` over mTLS to `addr`, accepting a server
    /// that holds `identity` under one of the trusted roots.
    #[allow(clippy::too_many_arguments)]
    pub async fn request(
        &self,
        addr: SocketAddr,
        identity: &str,
        method: hyper::Method,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response, ProbeError> {
        let config = client_config(&self.certificate, &self.trust_bundle, identity)?;
        let request = http::build(method, host, path, headers)?;
        let exchange = async {
            let tcp =
                tokio::net::TcpStream::connect(addr).await.map_err(|source| ProbeError::Connect { addr, source })?;
            // The name is never checked (see the verifier); rustls needs one to send.
            let name = ServerName::try_from("mesh.invalid").expect("a valid DNS name");
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| ProbeError::Tls { addr, message: e.to_string() })?;
            Ok(http::send(addr, tls, request).await?)
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| ProbeError::Timeout { addr, timeout })?
    }
}

fn client_config(client: &Leaf, trust_bundle: &str, identity: &str) -> Result<rustls::ClientConfig, ProbeError> {
    let bad = |e: &dyn std::fmt::Display| ProbeError::Credentials(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(trust_bundle.as_bytes()) {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().map_err(|e| bad(&e))?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(client.cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).map_err(|e| bad(&e))?;
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeVerifier { webpki, identity: identity.to_string() }))
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad(&e))
}

/// The URI SANs of a DER certificate.
pub fn uri_sans(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return vec![] };
    let Ok(Some(san)) = cert.subject_alternative_name() else { return vec![] };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::URI(uri) => Some(uri.to_string()),
            _ => None,
        })
        .collect()
}

#[derive(Debug)]
struct SpiffeVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    identity: String,
}

impl ServerCertVerifier for SpiffeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // WebPKI checks the chain before the name; a name mismatch means the chain is good,
        // and the URI SAN decides instead.
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(_)
            | Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {}
            Err(e) => return Err(e),
        }
        if uri_sans(end_entity).contains(&self.identity) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What a mutual-TLS probe of one instance found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsProbe {
    pub mtls_ok: bool,
    pub plaintext_refused: bool,
}

/// An instance to probe: its mesh address, the identity its sidecar must present, and the
/// host a request to it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    pub address: SocketAddr,
    pub identity: String,
    pub host: String,
}

/// Knocks on every target at once, as `prober` with a short-lived certificate from `ca` (as
/// any mesh client would) and in plaintext; results in the targets' order.
pub async fn probe_all(
    ca: &Authority,
    prober: &Identity,
    targets: &[ProbeTarget],
    timeout: Duration,
) -> Result<Vec<TlsProbe>, PkiError> {
    let certificate = ca.issue(prober, Duration::from_secs(300))?;
    let client = Arc::new(MtlsClient { certificate, trust_bundle: ca.trust_bundle().to_string() });
    let mut probes = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().cloned().enumerate() {
        let client = client.clone();
        probes.spawn(async move {
            let (addr, host) = (target.address, target.host.as_str());
            let mtls = client.request(addr, &target.identity, hyper::Method::GET, host, "/", &[], timeout).await;
            let plaintext = http::get(addr, host, "/", timeout).await;
            (index, TlsProbe { mtls_ok: mtls.is_ok(), plaintext_refused: plaintext.is_err() })
        });
    }
    let mut results = probes.join_all().await;
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, probe)| probe).collect())
}
