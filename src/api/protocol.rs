//! What a service port carries, chosen as Istio's explicit protocol selection does
//! (<https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/>):
//! the port's `appProtocol` if it has one, else its name, `PROTOCOL` or `PROTOCOL-SUFFIX`.
//! Istio sniffs the first bytes of a port that names no protocol; meshctl does not, so such a
//! port is TCP: its traffic still flows, encrypted between sidecars, but is not routed by HTTP
//! rules. Name the port (`http-web`) or give it an `appProtocol` to have it treated as HTTP.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Protocol {
    /// HTTP/1.1 (an HTTP/2 client is accepted too; the application is spoken to in HTTP/1.1).
    Http,
    /// HTTP/2 without TLS (h2c), end to end.
    Http2,
    /// gRPC: HTTP/2, with outcomes read from `grpc-status`.
    Grpc,
    /// gRPC-Web from browsers, translated to gRPC for the application.
    GrpcWeb,
    /// An opaque byte stream.
    Tcp,
    /// TLS the application terminates itself (`tls`, and `https`, which a sidecar cannot read
    /// either): passed through, routed by SNI.
    Tls,
}

impl Protocol {
    /// The protocol of a port with `app_protocol` and `name`.
    pub fn select(app_protocol: Option<&str>, name: Option<&str>) -> Protocol {
        if let Some(declared) = app_protocol.and_then(Protocol::named) {
            return declared;
        }
        let Some(name) = name else { return Protocol::Tcp };
        // `grpc-web` holds the separator itself, so it is looked for before the prefix is cut.
        if name.get(..8).is_some_and(|p| p.eq_ignore_ascii_case("grpc-web")) {
            return Protocol::GrpcWeb;
        }
        let prefix = name.split_once('-').map_or(name, |(p, _)| p);
        Protocol::named(prefix).unwrap_or(Protocol::Tcp)
    }

    /// The protocol a name stands for, as Istio reads port names and `appProtocol` (any case;
    /// Kubernetes' own `kubernetes.io/h2c` and WebSocket names included). The database
    /// protocols Istio knows are TCP to a sidecar that has no filter for them, as in Istio by
    /// default.
    fn named(name: &str) -> Option<Protocol> {
        Some(match name.to_ascii_lowercase().as_str() {
            "http" | "kubernetes.io/ws" => Protocol::Http,
            "http2" | "kubernetes.io/h2c" => Protocol::Http2,
            "grpc" => Protocol::Grpc,
            "grpc-web" => Protocol::GrpcWeb,
            "tcp" | "mongo" | "mysql" | "redis" => Protocol::Tcp,
            "tls" | "https" | "kubernetes.io/wss" => Protocol::Tls,
            _ => return None,
        })
    }

    /// Whether requests on the port are read and routed one by one (HTTP rules apply).
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb)
    }

    /// Whether the application is spoken to in HTTP/2.
    pub fn is_http2(self) -> bool {
        matches!(self, Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb)
    }

    /// Whether calls report their outcome in `grpc-status` rather than the HTTP status.
    pub fn is_grpc(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::GrpcWeb)
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Http2 => "HTTP2",
            Protocol::Grpc => "GRPC",
            Protocol::GrpcWeb => "GRPC-WEB",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Protocol::{self, *};

    #[test]
    fn app_protocol_wins_over_the_name_and_names_may_have_a_suffix() {
        let cases: [(Option<&str>, Option<&str>, Protocol); 15] = [
            (None, Some("http"), Http),
            (None, Some("http-web"), Http),
            (None, Some("HTTP2-api"), Http2),
            (None, Some("grpc"), Grpc),
            (None, Some("grpc-web"), GrpcWeb),
            (None, Some("grpc-web-ui"), GrpcWeb),
            (None, Some("tcp-db"), Tcp),
            (None, Some("https"), Tls),
            (None, Some("tls-passthrough"), Tls),
            (None, Some("mysql"), Tcp),
            (Some("grpc"), Some("http"), Grpc),
            (Some("kubernetes.io/h2c"), None, Http2),
            (Some("unknown"), Some("http"), Http),
            (None, Some("metrics"), Tcp),
            (None, None, Tcp),
        ];
        for (app_protocol, name, want) in cases {
            assert_eq!(Protocol::select(app_protocol, name), want, "appProtocol {app_protocol:?}, name {name:?}");
        }
    }
}
