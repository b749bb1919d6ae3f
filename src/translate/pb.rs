//! Small constructors for the Envoy protobuf messages the translator builds over and over.

use std::net::SocketAddr;

use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::extensions::upstreams::http::v3 as upstream;
use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, fractional_percent::DenominatorType};
use envoy_types::pb::google::protobuf::{Any, Duration as PbDuration, UInt32Value};
use prost::{Message, Name};

/// `message` packed as a `google.protobuf.Any`, as typed configs and xDS responses carry it.
pub fn any<M: Message + Name>(message: &M) -> Any {
    Any { type_url: M::type_url(), value: message.encode_to_vec() }
}

pub fn duration(d: std::time::Duration) -> PbDuration {
    PbDuration { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 }
}

pub fn uint32(value: u32) -> UInt32Value {
    UInt32Value { value }
}

pub fn socket_address(addr: SocketAddr) -> core::Address {
    core::Address {
        address: Some(core::address::Address::SocketAddress(core::SocketAddress {
            address: addr.ip().to_string(),
            port_specifier: Some(core::socket_address::PortSpecifier::PortValue(u32::from(addr.port()))),
            ..Default::default()
        })),
    }
}

/// Resources of this kind come over the same ADS stream as everything else.
pub fn ads() -> core::ConfigSource {
    core::ConfigSource {
        config_source_specifier: Some(core::config_source::ConfigSourceSpecifier::Ads(core::AggregatedConfigSource {})),
        resource_api_version: core::ApiVersion::V3 as i32,
        ..Default::default()
    }
}

/// A percentage (0-100, fractional) in millionths, the precision Istio uses.
pub fn percent(value: f64) -> FractionalPercent {
    FractionalPercent {
        numerator: (value.clamp(0.0, 100.0) * 10_000.0).round() as u32,
        denominator: DenominatorType::Million as i32,
    }
}

/// The key under which a cluster's upstream HTTP options are set.
pub const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// Upstream HTTP options for a cluster: HTTP/2 or HTTP/1.1 explicitly, with `common` settings.
pub fn http_protocol_options(http2: bool, common: Option<core::HttpProtocolOptions>) -> Any {
    use upstream::http_protocol_options::{
        ExplicitHttpConfig, UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
    };
    let protocol = if http2 {
        ProtocolConfig::Http2ProtocolOptions(core::Http2ProtocolOptions::default())
    } else {
        ProtocolConfig::HttpProtocolOptions(core::Http1ProtocolOptions::default())
    };
    any(&upstream::HttpProtocolOptions {
        common_http_protocol_options: common,
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(ExplicitHttpConfig {
            protocol_config: Some(protocol),
        })),
        ..Default::default()
    })
}

/// `message` encoded, then its map field `tag` from `entries`, in key order. prost encodes a
/// HashMap in its random iteration order, so the same configuration would encode differently,
/// get a new version and make the proxy reload it, on every translation; protobuf lets a
/// field come after the others, so appending the map (left empty in `message`) is the same
/// message.
pub fn encode_with_sorted_map<M: Message, V: Message + Default + PartialEq>(
    message: &M,
    tag: u32,
    entries: &std::collections::BTreeMap<String, V>,
) -> Vec<u8> {
    use prost::encoding::{btree_map, message as nested, string};
    let mut buf = message.encode_to_vec();
    btree_map::encode(string::encode, string::encoded_len, nested::encode, nested::encoded_len, tag, entries, &mut buf);
    buf
}

/// Appends `encoded`, an encoded message, to `buf` as the message field `tag`.
pub fn append_message_field(tag: u32, encoded: &[u8], buf: &mut Vec<u8>) {
    use prost::encoding::{WireType, encode_key, encode_varint};
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(encoded.len() as u64, buf);
    buf.extend_from_slice(encoded);
}
