//! Peer authentication on the wire: what each sidecar's inbound listener accepts
//! (PeerAuthentication), the mTLS its callers originate (automatic, unless a DestinationRule
//! says otherwise), and the SDS secrets both refer to.
//!
//! Every proxy has two secrets, named as Istio names them: `default`, its own certificate and
//! key, and `ROOTCA`, the roots it trusts. Listeners and clusters refer to them by name, so a
//! renewed certificate reaches the proxy without touching either.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::{DataSource, TransportSocket, data_source, transport_socket};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, ListenerFilter, listener_filter,
};
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, SdsSecretConfig, Secret,
    SubjectAltNameMatcher, TlsCertificate, UpstreamTlsContext, certificate_validation_context, common_tls_context,
    secret, subject_alt_name_matcher,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{StringMatcher, string_matcher};
use envoy_types::pb::google::protobuf::{BoolValue, Struct, Value, value};

use super::{Credentials, MeshSnapshot, pb};
use crate::api::networking::ClientTlsSettings;
use crate::api::security::{MtlsMode, effective_mtls};

pub const CERTIFICATE_SECRET: &str = "default";
pub const ROOTS_SECRET: &str = "ROOTCA";

/// The endpoint metadata that marks an instance as accepting mTLS, and the key a cluster's
/// transport socket match looks for (Istio's names).
const TLS_MODE_KEY: &str = "tlsMode";
const TLS_MODE_ISTIO: &str = "istio";
pub const TRANSPORT_SOCKET_MATCH: &str = "envoy.transport_socket_match";

/// The mode a workload in `namespace` with `labels`, serving `port` (or a port no service
/// names), accepts.
pub fn mode(
    snapshot: &MeshSnapshot,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    port: Option<u16>,
) -> MtlsMode {
    effective_mtls(snapshot.peer_authentications.iter().copied(), namespace, labels, port)
}

/// The proxy's two secrets.
pub fn secrets(credentials: &Credentials) -> Vec<Secret> {
    vec![
        certificate_secret(CERTIFICATE_SECRET, &credentials.cert_chain, &credentials.private_key),
        Secret {
            name: ROOTS_SECRET.into(),
            r#type: Some(secret::Type::ValidationContext(CertificateValidationContext {
                trusted_ca: Some(inline(&credentials.trust_bundle)),
                ..Default::default()
            })),
        },
    ]
}

/// A certificate and its key (PEM), as the SDS secret `name`.
pub fn certificate_secret(name: &str, chain: &str, key: &str) -> Secret {
    Secret {
        name: name.into(),
        r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
            certificate_chain: Some(inline(chain)),
            private_key: Some(inline(key)),
            ..Default::default()
        })),
    }
}

fn inline(pem: &str) -> DataSource {
    DataSource { specifier: Some(data_source::Specifier::InlineString(pem.to_string())), ..Default::default() }
}

/// TLS as a server to any client, presenting the certificate of SDS secret `name` (a
/// Gateway's HTTPS listener).
pub fn serving_tls(name: &str) -> TransportSocket {
    TransportSocket {
        name: "envoy.transport_sockets.tls".into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pb::any(&DownstreamTlsContext {
            common_tls_context: Some(CommonTlsContext {
                tls_certificate_sds_secret_configs: vec![sds(name)],
                alpn_protocols: vec!["h2".into(), "http/1.1".into()],
                ..Default::default()
            }),
            ..Default::default()
        }))),
    }
}

fn sds(name: &str) -> SdsSecretConfig {
    SdsSecretConfig { name: name.into(), sds_config: Some(pb::ads()) }
}

/// Presents the proxy's certificate and checks the peer's against the mesh roots; with
/// `peers`, the peer must also hold one of those SPIFFE identities.
fn common_tls(peers: &[String]) -> CommonTlsContext {
    let san = |uri: &String| san(subject_alt_name_matcher::SanType::Uri, uri);
    CommonTlsContext {
        tls_certificate_sds_secret_configs: vec![sds(CERTIFICATE_SECRET)],
        validation_context_type: Some(common_tls_context::ValidationContextType::CombinedValidationContext(
            common_tls_context::CombinedCertificateValidationContext {
                default_validation_context: Some(CertificateValidationContext {
                    match_typed_subject_alt_names: peers.iter().map(san).collect(),
                    ..Default::default()
                }),
                validation_context_sds_secret_config: Some(sds(ROOTS_SECRET)),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The client side of mTLS to instances holding one of the `peers` identities, sending `sni`
/// when a DestinationRule names one.
pub fn upstream_tls(peers: &[String], sni: Option<&str>) -> TransportSocket {
    TransportSocket {
        name: "envoy.transport_sockets.tls".into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pb::any(&UpstreamTlsContext {
            common_tls_context: Some(common_tls(peers)),
            sni: sni.unwrap_or_default().to_string(),
            ..Default::default()
        }))),
    }
}

/// TLS the proxy originates to a server outside the mesh, asking for `sni`, and checking its
/// certificate against `validation` (none: not checked at all).
pub fn origination(sni: &str, validation: Option<CertificateValidationContext>) -> TransportSocket {
    let tls = UpstreamTlsContext {
        sni: sni.to_string(),
        common_tls_context: Some(CommonTlsContext {
            validation_context_type: validation.map(common_tls_context::ValidationContextType::ValidationContext),
            ..Default::default()
        }),
        ..Default::default()
    };
    TransportSocket {
        name: "envoy.transport_sockets.tls".into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pb::any(&tls))),
    }
}

/// Trust in the roots the proxy's system trusts.
pub fn system_roots() -> CertificateValidationContext {
    CertificateValidationContext {
        system_root_certs: Some(certificate_validation_context::SystemRootCerts {}),
        ..Default::default()
    }
}

/// The system's roots as a file, where Debian, Ubuntu (Envoy's own image) and Alpine keep them;
/// Envoy checks a certificate's names only against roots it is given as a file.
const SYSTEM_ROOTS_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A DestinationRule's `tls.mode: SIMPLE` towards `host`: TLS with the rule's `sni` (the host
/// by default), the server's certificate checked against `caCertificates` (a file on the
/// proxy, the system's roots by default) for one of `subjectAltNames` (the SNI name by
/// default), unless `insecureSkipVerify`.
pub fn simple_tls(settings: &ClientTlsSettings, host: &str) -> TransportSocket {
    let sni = settings.sni.as_deref().unwrap_or(host);
    let validation = (settings.insecure_skip_verify != Some(true)).then(|| {
        let names = match settings.subject_alt_names.as_slice() {
            [] => vec![sni.to_string()],
            names => names.to_vec(),
        };
        let roots = settings.ca_certificates.as_deref().unwrap_or(SYSTEM_ROOTS_FILE);
        CertificateValidationContext {
            trusted_ca: Some(DataSource {
                specifier: Some(data_source::Specifier::Filename(roots.to_string())),
                ..Default::default()
            }),
            match_typed_subject_alt_names: names
                .iter()
                .map(|n| san(subject_alt_name_matcher::SanType::Dns, n))
                .collect(),
            ..Default::default()
        }
    });
    origination(sni, validation)
}

fn san(kind: subject_alt_name_matcher::SanType, name: &str) -> SubjectAltNameMatcher {
    SubjectAltNameMatcher {
        san_type: kind as i32,
        matcher: Some(StringMatcher {
            match_pattern: Some(string_matcher::MatchPattern::Exact(name.to_string())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The server side: a client certificate from the mesh is required.
fn downstream_tls() -> TransportSocket {
    TransportSocket {
        name: "envoy.transport_sockets.tls".into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pb::any(&DownstreamTlsContext {
            common_tls_context: Some(common_tls(&[])),
            require_client_certificate: Some(BoolValue { value: true }),
            ..Default::default()
        }))),
    }
}

/// Endpoint metadata that a cluster's transport socket match picks mTLS by.
pub fn accepts_mtls_metadata() -> (String, Struct) {
    let fields = [(TLS_MODE_KEY.to_string(), Value { kind: Some(value::Kind::StringValue(TLS_MODE_ISTIO.into())) })];
    (TRANSPORT_SOCKET_MATCH.to_string(), Struct { fields: fields.into_iter().collect() })
}

/// Automatic mTLS: instances marked as accepting it get mTLS, the others plaintext.
pub fn auto_mtls(peers: &[String]) -> envoy_types::pb::envoy::config::cluster::v3::cluster::TransportSocketMatch {
    envoy_types::pb::envoy::config::cluster::v3::cluster::TransportSocketMatch {
        name: "tlsMode-istio".into(),
        r#match: Some(accepts_mtls_metadata().1),
        transport_socket: Some(upstream_tls(peers, None)),
    }
}

/// Reads whether a connection starts with a TLS handshake, and the name it asks for, for the
/// chains to match on.
pub(super) fn tls_inspector() -> ListenerFilter {
    ListenerFilter {
        name: "envoy.filters.listener.tls_inspector".into(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(pb::any(&TlsInspector::default()))),
        ..Default::default()
    }
}

/// The inbound listener's filter chains for `mode`, each running `filters`, and the listener
/// filters that pick between them.
pub fn inbound_chains(mode: MtlsMode, filters: Vec<Filter>) -> (Vec<ListenerFilter>, Vec<FilterChain>) {
    let chain = |protocol: &str, socket: Option<TransportSocket>| FilterChain {
        name: format!("inbound-{protocol}"),
        filter_chain_match: Some(FilterChainMatch { transport_protocol: protocol.into(), ..Default::default() }),
        filters: filters.clone(),
        transport_socket: socket,
        ..Default::default()
    };
    let inspector = tls_inspector();
    match mode {
        MtlsMode::Disable => (vec![], vec![FilterChain { filters, ..Default::default() }]),
        MtlsMode::Strict => (vec![inspector], vec![chain("tls", Some(downstream_tls()))]),
        MtlsMode::Permissive | MtlsMode::Unset => {
            (vec![inspector], vec![chain("tls", Some(downstream_tls())), chain("raw_buffer", None)])
        }
    }
}
