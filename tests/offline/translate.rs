//! The translator against golden summaries, and its output checked by real Envoy
//! (`envoy --mode validate`) for every policy fixture in testdata/.

use super::common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use envoy_types::pb::envoy::config::bootstrap::v3::{Bootstrap, bootstrap};
use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3::HeaderValueOption;
use envoy_types::pb::envoy::config::core::v3::transport_socket::ConfigType::TypedConfig;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::{Listener, filter};
use envoy_types::pb::envoy::config::route::v3::{Route, RouteConfiguration, route, route_action};
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CommonTlsContext, DownstreamTlsContext, Secret, UpstreamTlsContext, common_tls_context,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions;
use envoy_types::pb::google::protobuf::Any;
use meshctl::api::{Protocol, Resource};
use meshctl::policy::{self, Options, Source};
use meshctl::translate::{
    self, ControlPlane, Credentials, Gateway, InboundPort, Instance, MeshSnapshot, Origin, OutboundPolicy, Proxy,
    Service, ServicePort, Sidecar, Tracing, Translation,
};
use meshctl::translate::{Resources, Type};
use prost::{Message, Name};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn resources(files: &[&str]) -> Vec<Resource> {
    let sources: Vec<Source> = files
        .iter()
        .map(|f| Source { name: f.to_string(), text: std::fs::read_to_string(common::root().join(f)).unwrap() })
        .collect();
    let report = policy::check(&sources, &Options::default());
    assert_eq!(report.count(policy::Severity::Error), 0, "{:?}", report.findings);
    report.resources.into_iter().map(|c| c.resource).collect()
}

/// Services for every Workload, with one instance per replica on made-up ports; or, for
/// fixtures without Workloads, for every host their policies name, one instance per subset.
fn services(resources: &[Resource]) -> Vec<Service> {
    // A service's port is the one its callers name, where they name one.
    let mut ports: BTreeMap<String, u16> = BTreeMap::new();
    for r in resources {
        if let Resource::VirtualService(vs) = r {
            for d in vs.spec.http.iter().flat_map(|h| &h.route) {
                if let Some(p) = &d.destination.port {
                    ports.insert(policy::resolve_host(&d.destination.host, r.namespace()), p.number as u16);
                }
            }
        }
    }
    let mut services: BTreeMap<(String, String), Service> = BTreeMap::new();
    let mut next_port = 20_000;
    let http = |number| ServicePort { name: "http".into(), number, protocol: Protocol::Http };
    let mut add = |name: &str, namespace: &str, ports: Vec<ServicePort>, labels: BTreeMap<String, String>, replicas| {
        let service = services.entry((namespace.to_string(), name.to_string())).or_insert_with(|| Service {
            name: name.to_string(),
            namespace: namespace.to_string(),
            ports,
            addresses: vec![],
            origin: Origin::Registry,
            exported: Default::default(),
            instances: vec![],
        });
        for _ in 0..replicas {
            let ports = service
                .ports
                .iter()
                .map(|p| {
                    (p.number, {
                        next_port += 1;
                        next_port
                    })
                })
                .collect();
            let service_account = name.to_string();
            let mut labels = labels.clone();
            labels.entry("app".to_string()).or_insert_with(|| name.to_string());
            service.instances.push(Instance { ip: addr(0).ip(), ports, labels, service_account });
        }
    };
    let named =
        |name: &str, namespace: &str| vec![http(*ports.get(&policy::service_host(name, namespace)).unwrap_or(&80))];
    let has_workloads = resources.iter().any(|r| matches!(r, Resource::Workload(_)));
    for r in resources {
        match r {
            _ if has_workloads && !matches!(r, Resource::Workload(_)) => {}
            Resource::Workload(w) => {
                let ports = w
                    .spec
                    .ports
                    .iter()
                    .map(|p| ServicePort { name: p.name.clone(), number: p.port as u16, protocol: p.protocol() })
                    .collect();
                add(&w.spec.service, r.namespace(), ports, w.spec.labels.clone(), w.spec.replicas)
            }
            Resource::DestinationRule(dr) => {
                let fqdn = policy::resolve_host(&dr.spec.host, r.namespace());
                let (name, namespace) = split_host(&fqdn);
                add(&name, &namespace, named(&name, &namespace), BTreeMap::new(), 1);
                for subset in &dr.spec.subsets {
                    add(&name, &namespace, named(&name, &namespace), subset.labels.clone(), 1);
                }
            }
            Resource::VirtualService(vs) => {
                // A wildcard host (a gateway's `*`) names no service.
                for host in vs.spec.hosts.iter().filter(|h| !h.contains('*')) {
                    let (name, namespace) = split_host(&policy::resolve_host(host, r.namespace()));
                    add(&name, &namespace, named(&name, &namespace), BTreeMap::new(), 1);
                }
            }
            _ => {}
        }
    }
    services.into_values().collect()
}

fn split_host(fqdn: &str) -> (String, String) {
    let mut parts = fqdn.split('.');
    (parts.next().unwrap().to_string(), parts.next().unwrap_or("default").to_string())
}

fn sidecar(namespace: &str) -> Proxy {
    Proxy::Sidecar(Sidecar {
        node_id: "frontend-0".into(),
        service: "frontend".into(),
        namespace: namespace.into(),
        ports: vec![InboundPort {
            service_port: ServicePort { name: "http".into(), number: 80, protocol: Protocol::Http },
            listen: addr(15006),
            app: addr(18080),
        }],
        outbound: addr(15001),
        capture: None,
        labels: BTreeMap::from([("app".to_string(), "frontend".to_string())]),
        credentials: credentials(),
    })
}

/// `sidecar` as injection makes it: its Pod's traffic captured, both listeners on every address.
fn captured(sidecar: &Sidecar) -> Sidecar {
    let any = |port: u16| SocketAddr::from(([0, 0, 0, 0], port));
    // Callers address the application's port, which the capture sends to the proxy.
    let ports = sidecar.ports.iter().map(|p| InboundPort { listen: any(p.app.port()), ..p.clone() }).collect();
    Sidecar { capture: Some(any(15006)), ports, outbound: any(15001), ..sidecar.clone() }
}

fn gateway() -> Proxy {
    Proxy::Gateway(Gateway {
        serves: None,
        node_id: "gateway".into(),
        namespace: "shop".into(),
        listen: addr(15080),
        labels: BTreeMap::from([("istio".to_string(), "ingressgateway".to_string())]),
        credentials: credentials(),
    })
}

fn sidecar_of(proxy: &Proxy) -> Sidecar {
    match proxy {
        Proxy::Sidecar(s) => s.clone(),
        Proxy::Gateway(_) => unreachable!("a sidecar"),
    }
}

/// Real certificates, so that Envoy's validation parses them.
fn credentials() -> Credentials {
    static CREDENTIALS: std::sync::OnceLock<Credentials> = std::sync::OnceLock::new();
    CREDENTIALS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let ca = meshctl::pki::Authority::open(dir.path()).unwrap();
            let leaf = ca.issue(&meshctl::api::Identity::new("shop", "frontend"), Duration::from_secs(3600)).unwrap();
            Credentials { cert_chain: leaf.cert_pem, private_key: leaf.key_pem, trust_bundle: ca.trust_bundle().into() }
        })
        .clone()
}

fn unpack<M: Message + Name + Default>(any: &Any) -> M {
    assert_eq!(any.type_url, M::type_url());
    M::decode(any.value.as_slice()).unwrap()
}

fn manager(listener: &Listener) -> HttpConnectionManager {
    match &listener.filter_chains[0].filters[0].config_type {
        Some(filter::ConfigType::TypedConfig(any)) => unpack(any),
        other => panic!("unexpected filter config {other:?}"),
    }
}

/// One proxy's translation, decoded: what these tests read.
struct ProxyConfig {
    listeners: Vec<Listener>,
    routes: Vec<RouteConfiguration>,
    clusters: Vec<Cluster>,
    endpoints: Vec<ClusterLoadAssignment>,
    secrets: Vec<Secret>,
}

fn translate(snapshot: &MeshSnapshot, proxy: &Proxy) -> ProxyConfig {
    let resources = Translation::new(snapshot).proxy(proxy);
    ProxyConfig {
        listeners: resources.decoded(Type::Listener),
        routes: resources.decoded(Type::Route),
        clusters: resources.decoded(Type::Cluster),
        endpoints: resources.decoded(Type::Endpoint),
        secrets: resources.decoded(Type::Secret),
    }
}

/// A readable account of a proxy's configuration: what a reviewer needs to see in a diff.
fn summary(config: &ProxyConfig) -> String {
    let mut out = String::new();
    for l in &config.listeners {
        if l.listener_filters.iter().any(|f| f.name == "envoy.filters.listener.original_dst") {
            summarize_captured(&mut out, l);
            continue;
        }
        let m = manager(l);
        let routes = match &m.route_specifier {
            Some(RouteSpecifier::Rds(rds)) => format!("rds:{}", rds.route_config_name),
            Some(RouteSpecifier::RouteConfig(rc)) => format!("inline:{}", rc.name),
            other => format!("{other:?}"),
        };
        let filters: Vec<&str> = m.http_filters.iter().map(|f| f.name.as_str()).collect();
        let address = format!("{:?}", l.address)
            .split("address: \"")
            .nth(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .unwrap_or_default();
        let port = format!("{:?}", l.address)
            .split("PortValue(")
            .nth(1)
            .map(|s| s.split(')').next().unwrap().to_string())
            .unwrap_or_default();
        let chains: Vec<String> = l
            .filter_chains
            .iter()
            .map(|c| {
                let protocol = c.filter_chain_match.as_ref().map_or("any", |m| m.transport_protocol.as_str());
                if c.transport_socket.is_some() { format!("{protocol}+mtls") } else { protocol.to_string() }
            })
            .collect();
        let _ = writeln!(out, "listener {} {address}:{port} {routes} filters={filters:?} chains={chains:?}", l.name);
        if let Some(RouteSpecifier::RouteConfig(rc)) = &m.route_specifier {
            summarize_routes(&mut out, rc);
        }
    }
    for rc in &config.routes {
        summarize_routes(&mut out, rc);
    }
    for c in &config.clusters {
        summarize_cluster(&mut out, c);
    }
    for e in &config.endpoints {
        let addrs: Vec<String> = e
            .endpoints
            .iter()
            .flat_map(|l| &l.lb_endpoints)
            .map(|ep| {
                let port = format!("{:?}", ep.host_identifier)
                    .split("PortValue(")
                    .nth(1)
                    .unwrap()
                    .split(')')
                    .next()
                    .unwrap()
                    .to_string();
                if ep.metadata.is_some() { format!("{port}+mtls") } else { port }
            })
            .collect();
        let _ = writeln!(out, "endpoints {} ports={addrs:?}", e.cluster_name);
    }
    let secrets: Vec<&str> = config.secrets.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(out, "secrets {secrets:?}");
    out
}

fn summarize_routes(out: &mut String, rc: &RouteConfiguration) {
    let _ = writeln!(out, "routes {}", rc.name);
    for vh in &rc.virtual_hosts {
        let _ = writeln!(out, "  vhost {} domains={:?}", vh.name, vh.domains);
        for r in &vh.routes {
            summarize_route(out, r);
        }
    }
}

/// A captured listener: its chains in order, each with the destination it matches and where
/// its connections go.
fn summarize_captured(out: &mut String, l: &Listener) {
    let _ = writeln!(out, "listener {} (captured)", l.name);
    for c in l.filter_chains.iter().chain(&l.default_filter_chain) {
        let m = c.filter_chain_match.clone().unwrap_or_default();
        let ranges: Vec<String> = m.prefix_ranges.iter().map(|r| r.address_prefix.clone()).collect();
        let port = m.destination_port.map_or("*".to_string(), |p| p.value.to_string());
        let to: Vec<String> = c
            .filters
            .iter()
            .map(|f| match &f.config_type {
                Some(filter::ConfigType::TypedConfig(any)) if any.type_url == TcpProxy::type_url() => {
                    match unpack::<TcpProxy>(any).cluster_specifier {
                        Some(tcp_proxy::ClusterSpecifier::Cluster(c)) => format!("tcp:{c}"),
                        Some(tcp_proxy::ClusterSpecifier::WeightedClusters(w)) => {
                            let split: Vec<String> =
                                w.clusters.iter().map(|c| format!("{}={}", c.name, c.weight)).collect();
                            format!("tcp:[{}]", split.join(","))
                        }
                        None => "tcp:?".into(),
                    }
                }
                Some(filter::ConfigType::TypedConfig(any)) if any.type_url == HttpConnectionManager::type_url() => {
                    match unpack::<HttpConnectionManager>(any).route_specifier {
                        Some(RouteSpecifier::Rds(rds)) => format!("http rds:{}", rds.route_config_name),
                        Some(RouteSpecifier::RouteConfig(rc)) => format!("http inline:{}", rc.name),
                        other => format!("http {other:?}"),
                    }
                }
                _ => f.name.rsplit('.').next().unwrap_or_default().to_string(),
            })
            .collect();
        let sni = if m.server_names.is_empty() { String::new() } else { format!(" sni={:?}", m.server_names) };
        let _ = writeln!(out, "  chain {} port={port} ranges={ranges:?}{sni} -> {}", c.name, to.join(" "));
    }
}

/// ` WHICH[name=value name+=value] -[removed]`: headers set (`=`) or added beside others (`+=`),
/// and removed; nothing when there are none.
fn headers(which: &str, add: &[HeaderValueOption], remove: &[String]) -> String {
    if add.is_empty() && remove.is_empty() {
        return String::new();
    }
    let add: Vec<String> = add
        .iter()
        .map(|h| {
            let header = h.header.as_ref().unwrap();
            let how = if h.append_action == 0 { "+=" } else { "=" };
            format!("{}{how}{}", header.key, header.value)
        })
        .collect();
    format!(" {which}[{}] -{remove:?}", add.join(" "))
}

fn summarize_route(out: &mut String, r: &Route) {
    let m = r.r#match.as_ref().unwrap();
    let _ = write!(out, "    route {:?} stat={} path={:?}", r.name, r.stat_prefix, m.path_specifier.as_ref().unwrap());
    for h in &m.headers {
        let _ =
            write!(out, " header[{}{}]={:?}", if h.invert_match { "!" } else { "" }, h.name, h.header_match_specifier);
    }
    for q in &m.query_parameters {
        let _ = write!(out, " query[{}]={:?}", q.name, q.query_parameter_match_specifier);
    }
    if let Some(cs) = &m.case_sensitive {
        let _ = write!(out, " case_sensitive={}", cs.value);
    }
    let _ = write!(out, "{}", headers("request", &r.request_headers_to_add, &r.request_headers_to_remove));
    let _ = write!(out, "{}", headers("response", &r.response_headers_to_add, &r.response_headers_to_remove));
    let a = match &r.action {
        Some(route::Action::Route(a)) => a,
        Some(route::Action::DirectResponse(d)) => {
            let _ = writeln!(out, "\n      -> direct {}", d.status);
            return;
        }
        Some(route::Action::Redirect(redirect)) => {
            let _ = writeln!(
                out,
                "\n      -> redirect {:?} scheme={:?} host={:?} port={} path={:?}",
                redirect.response_code,
                redirect.scheme_rewrite_specifier,
                redirect.host_redirect,
                redirect.port_redirect,
                redirect.path_rewrite_specifier
            );
            return;
        }
        _ => panic!("no action: {r:?}"),
    };
    match a.cluster_specifier.as_ref().unwrap() {
        route_action::ClusterSpecifier::Cluster(c) => {
            let _ = write!(out, "\n      -> {c}");
        }
        route_action::ClusterSpecifier::WeightedClusters(w) => {
            for c in &w.clusters {
                let backend = headers("request", &c.request_headers_to_add, &c.request_headers_to_remove);
                let _ = write!(out, "\n      -> {} weight={}{backend}", c.name, c.weight.unwrap().value);
            }
        }
        other => panic!("{other:?}"),
    }
    if !a.prefix_rewrite.is_empty() {
        let _ = write!(out, "\n      prefix_rewrite={:?}", a.prefix_rewrite);
    }
    if let Some(rewrite) = &a.regex_rewrite {
        let _ = write!(
            out,
            "\n      regex_rewrite={:?}->{:?}",
            rewrite.pattern.as_ref().unwrap().regex,
            rewrite.substitution
        );
    }
    if let Some(host) = &a.host_rewrite_specifier {
        let _ = write!(out, "\n      host_rewrite={host:?}");
    }
    let t = a.timeout.unwrap();
    let _ = write!(out, "\n      timeout={}.{:03}s", t.seconds, t.nanos / 1_000_000);
    if let Some(rp) = &a.retry_policy {
        let _ = write!(
            out,
            " retries={}x[{}] codes={:?}",
            rp.num_retries.unwrap().value,
            rp.retry_on,
            rp.retriable_status_codes
        );
        if let Some(pt) = rp.per_try_timeout {
            let _ = write!(out, " per_try={}s", pt.seconds);
        }
    }
    for m in &a.request_mirror_policies {
        let _ = write!(
            out,
            " mirror={} ({}/1e6)",
            m.cluster,
            m.runtime_fraction.as_ref().unwrap().default_value.unwrap().numerator
        );
    }
    for h in &a.hash_policy {
        let _ = write!(out, " hash={:?}", h.policy_specifier);
    }
    if let Some(f) = r.typed_per_filter_config.get("envoy.filters.http.fault") {
        let fault: HttpFault = unpack(f);
        let _ = write!(out, " fault: delay={:?} abort={:?}", fault.delay, fault.abort);
    }
    out.push('\n');
}

fn summarize_cluster(out: &mut String, c: &Cluster) {
    let kind = match c.cluster_discovery_type {
        Some(cluster::ClusterDiscoveryType::Type(t)) => {
            cluster::DiscoveryType::try_from(t).unwrap().as_str_name().to_string()
        }
        Some(cluster::ClusterDiscoveryType::ClusterType(ref custom)) => custom.name.clone(),
        None => "?".into(),
    };
    let lb = cluster::LbPolicy::try_from(c.lb_policy).unwrap().as_str_name();
    let limit = |v: Option<envoy_types::pb::google::protobuf::UInt32Value>| match v.unwrap().value {
        u32::MAX => "-".to_string(),
        n => n.to_string(),
    };
    let _ = write!(
        out,
        "cluster {} stat={} {kind} lb={lb} connect={}s",
        c.name,
        c.alt_stat_name,
        c.connect_timeout.unwrap().seconds
    );
    if let Some(breakers) = &c.circuit_breakers {
        let t = &breakers.thresholds[0];
        let _ = write!(
            out,
            " limits(conn={},pending={},requests={},retries={})",
            limit(t.max_connections),
            limit(t.max_pending_requests),
            limit(t.max_requests),
            limit(t.max_retries)
        );
    }
    if let Some(od) = &c.outlier_detection {
        let _ = write!(
            out,
            " outlier(5xx={}@{}%,gateway={:?}@{}%,interval={}s,ejection={}s,max={}%,panic={}%)",
            od.consecutive_5xx.unwrap().value,
            od.enforcing_consecutive_5xx.unwrap().value,
            od.consecutive_gateway_failure.map(|v| v.value),
            od.enforcing_consecutive_gateway_failure.unwrap().value,
            od.interval.unwrap().seconds,
            od.base_ejection_time.unwrap().seconds,
            od.max_ejection_percent.unwrap().value,
            c.common_lb_config.as_ref().unwrap().healthy_panic_threshold.unwrap().value,
        );
    }
    if let Some(any) = c.typed_extension_protocol_options.get("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
    {
        let options: HttpProtocolOptions = unpack(any);
        let common = options.common_http_protocol_options.unwrap_or_default();
        let _ =
            write!(out, " http(max_requests_per_connection={:?})", common.max_requests_per_connection.map(|v| v.value));
    }
    // How a transport socket checks the server: mesh identities (mTLS), or for TLS to a
    // server outside the mesh, names against roots (or nothing).
    let checks = |socket: &envoy_types::pb::envoy::config::core::v3::TransportSocket| {
        let Some(TypedConfig(any)) = &socket.config_type else { panic!("untyped transport socket") };
        let tls: UpstreamTlsContext = unpack(any);
        let names =
            |sans: &[envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::SubjectAltNameMatcher]| {
                sans.iter().map(|s| format!("{:?}", s.matcher.as_ref().unwrap().match_pattern)).collect::<Vec<_>>()
            };
        let checked = match tls.common_tls_context.unwrap().validation_context_type {
            Some(common_tls_context::ValidationContextType::CombinedValidationContext(v)) => {
                format!("mutual{:?}", names(&v.default_validation_context.unwrap().match_typed_subject_alt_names))
            }
            Some(common_tls_context::ValidationContextType::ValidationContext(v)) => {
                let roots = v.trusted_ca.and_then(|ca| ca.specifier).map_or("system".to_string(), |s| format!("{s:?}"));
                format!("simple{:?} roots={roots}", names(&v.match_typed_subject_alt_names))
            }
            _ => "simple(unchecked)".to_string(),
        };
        if tls.sni.is_empty() { checked } else { format!("{checked} sni={}", tls.sni) }
    };
    if let Some(socket) = &c.transport_socket {
        let _ = write!(out, " tls={}", checks(socket));
    }
    for m in &c.transport_socket_matches {
        let _ = write!(out, " tls=auto:{}", checks(m.transport_socket.as_ref().unwrap()));
    }
    out.push('\n');
}

#[test]
fn the_demo_mesh_translates_to_its_golden_configuration() {
    let resources = resources(&["testdata/valid/demo-mesh.yaml"]);
    let snapshot = MeshSnapshot::new(services(&resources), &resources);
    common::assert_golden("testdata/translate/demo-sidecar.txt", &summary(&translate(&snapshot, &sidecar("shop"))));
    common::assert_golden("testdata/translate/demo-gateway.txt", &summary(&translate(&snapshot, &gateway())));
}

#[test]
fn istio_reference_shapes_translate_to_their_golden_configuration() {
    let resources = resources(&["testdata/valid/istio-reference.yaml"]);
    let snapshot = MeshSnapshot::new(services(&resources), &resources);
    common::assert_golden(
        "testdata/translate/istio-reference.txt",
        &summary(&translate(&snapshot, &sidecar("bookinfo"))),
    );
}

#[test]
fn mesh_httproutes_translate_to_their_golden_configuration() {
    let resources = resources(&["testdata/valid/mesh-routes.yaml"]);
    let snapshot = MeshSnapshot::new(services(&resources), &resources);
    common::assert_golden("testdata/translate/mesh-routes.txt", &summary(&translate(&snapshot, &sidecar("bookinfo"))));
}

/// A VirtualService bound to an Istio Gateway routes at the gateway that Gateway selects, not in
/// the mesh: the sidecars' routes do not have it.
#[test]
fn a_virtual_service_bound_to_a_gateway_routes_there_and_not_in_the_mesh() {
    let mut resources = resources(&["testdata/istio/bookinfo-gateway.yaml"]);
    resources.extend(meshctl::generate::traffic_split(&meshctl::generate::TrafficSplit {
        service: "productpage".into(),
        namespace: "default".into(),
        subsets: vec![("v1".into(), 100)],
        label: "version".into(),
        port: None,
        tcp: false,
        api: meshctl::api::meshctl::RouteApi::Istio,
    }));
    let mut services = services(&resources);
    let http = ServicePort { name: "http".into(), number: 9080, protocol: Protocol::Http };
    services[0].ports = vec![http];
    let snapshot = MeshSnapshot::new(services, &resources);
    let at_gateway = translate(&snapshot, &gateway());
    common::envoy::validate(&static_bootstrap(&at_gateway)).unwrap();
    let gateway = summary(&at_gateway);
    assert!(gateway.contains("vhost gateway_default_bookinfo domains=[\"*\"]"), "{gateway}");
    let in_mesh = translate(&snapshot, &sidecar("default"));
    common::envoy::validate(&static_bootstrap(&in_mesh)).unwrap();
    let sidecar = summary(&in_mesh);
    assert!(!sidecar.contains("gateway_default_bookinfo"), "{sidecar}");
}

#[test]
fn service_entries_translate_by_their_resolution_and_registry_only_closes_the_rest() {
    let resources = resources(&["testdata/valid/service-entries.yaml"]);
    let mut snapshot = MeshSnapshot::new(services(&resources), &resources);
    snapshot.outbound_policy = OutboundPolicy::RegistryOnly;
    let Proxy::Sidecar(explicit) = sidecar("shop") else { unreachable!() };
    let summaries = [
        summary(&translate(&snapshot, &Proxy::Sidecar(explicit.clone()))),
        summary(&translate(&snapshot, &Proxy::Sidecar(captured(&explicit)))),
    ];
    common::assert_golden("testdata/translate/service-entries.txt", &summaries.join("\n# captured\n"));
}

/// A Sidecar narrows what the sidecars it selects see, and exports narrow what every proxy
/// sees: each gets the clusters, endpoints, routes and captured chains of what it sees alone,
/// under the VirtualServices and DestinationRules it sees, its own namespace's first.
#[test]
fn sidecars_and_exports_scope_what_each_proxy_is_sent() {
    let resources = resources(&["testdata/valid/sidecar-scope.yaml"]);
    let snapshot = MeshSnapshot::new(with_cluster_ips(services(&resources)), &resources);
    let frontend = sidecar_of(&sidecar("mall"));
    let reviews = Sidecar {
        node_id: "reviews-0".into(),
        service: "reviews".into(),
        labels: BTreeMap::from([("app".to_string(), "reviews".to_string())]),
        ..frontend.clone()
    };
    let billing =
        Sidecar { node_id: "billing-0".into(), service: "billing".into(), namespace: "tax".into(), ..reviews.clone() };
    let mut summaries = Vec::new();
    for proxy in [&frontend, &captured(&frontend), &reviews, &billing] {
        let config = translate(&snapshot, &Proxy::Sidecar(proxy.clone()));
        common::envoy::validate(&static_bootstrap(&config)).unwrap();
        let captured = if proxy.capture.is_some() { ", captured" } else { "" };
        summaries.push(format!("# {} in {}{captured}\n{}", proxy.service, proxy.namespace, summary(&config)));
    }
    let clusters = |summary: &str, host: &str| summary.contains(&format!("|{host}"));
    assert!(clusters(&summaries[0], "profile.mall") && clusters(&summaries[0], "ratings.mall"), "{}", summaries[0]);
    assert!(!clusters(&summaries[0], "reviews.mall") && !clusters(&summaries[0], "api.payments"), "{}", summaries[0]);
    assert!(clusters(&summaries[2], "reviews.mall") && clusters(&summaries[2], "api.payments"), "{}", summaries[2]);
    assert!(!clusters(&summaries[3], "api.payments"), "{}", summaries[3]);
    let balanced = |summary: &str| {
        let line = summary.lines().find(|l| l.starts_with("cluster outbound|80||billing.tax")).unwrap_or_default();
        line.split(' ').find_map(|w| w.strip_prefix("lb=")).unwrap_or_default().to_string()
    };
    let lb: Vec<String> = summaries.iter().map(|s| balanced(s)).collect();
    assert_eq!(lb, ["RANDOM", "RANDOM", "RANDOM", "ROUND_ROBIN"], "mall's own rule in mall, tax's in tax");
    let ratings_to_profile = "-> outbound|80||profile.mall.svc.cluster.local";
    assert!(
        summaries[3].contains(&format!("stat=http0 path=Prefix(\"/\")\n      {ratings_to_profile}")),
        "{}",
        summaries[3]
    );
    let ratings_default = "stat=default path=Prefix(\"/\")\n      -> outbound|80||ratings.mall.svc.cluster.local";
    assert!(summaries[2].contains(ratings_default), "tax's VirtualService is tax's alone: {}", summaries[2]);
    common::assert_golden("testdata/translate/sidecar-scope.txt", &summaries.join("\n"));
}

/// `services`, each with a cluster IP, as on a cluster: what a captured sidecar's outbound
/// listener matches.
fn with_cluster_ips(mut services: Vec<Service>) -> Vec<Service> {
    for (i, service) in services.iter_mut().enumerate() {
        service.addresses = vec![std::net::IpAddr::from([10, 96, 0, 10 + i as u8])];
    }
    services
}

/// The translator's output as one static bootstrap: routes inline instead of RDS, endpoints
/// inline instead of EDS, so Envoy's validation sees every resource.
fn static_bootstrap(config: &ProxyConfig) -> Bootstrap {
    let mut listeners = config.listeners.clone();
    let filters = listeners
        .iter_mut()
        .flat_map(|l| l.filter_chains.iter_mut().chain(l.default_filter_chain.as_mut()))
        .flat_map(|chain| chain.filters.iter_mut());
    for filter in filters {
        let Some(filter::ConfigType::TypedConfig(any)) = &mut filter.config_type else { continue };
        if any.type_url != HttpConnectionManager::type_url() {
            continue;
        }
        let mut m: HttpConnectionManager = unpack(any);
        if let Some(RouteSpecifier::Rds(rds)) = &m.route_specifier {
            let rc = config.routes.iter().find(|r| r.name == rds.route_config_name).unwrap().clone();
            m.route_specifier = Some(RouteSpecifier::RouteConfig(rc));
        }
        *any = Any { type_url: HttpConnectionManager::type_url(), value: m.encode_to_vec() };
    }
    let clusters: Vec<Cluster> = config
        .clusters
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if let Some(e) = config.endpoints.iter().find(|e| e.cluster_name == c.name) {
                c.cluster_discovery_type =
                    Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static as i32));
                c.eds_cluster_config = None;
                c.load_assignment = Some(e.clone());
            }
            c
        })
        .collect();
    // The tracer names the collector's cluster, which a proxy's bootstrap holds.
    let collector = Cluster {
        name: translate::COLLECTOR_CLUSTER.into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static as i32)),
        ..Default::default()
    };
    let clusters = clusters.into_iter().chain([collector]).collect();
    let mut bootstrap = Bootstrap {
        static_resources: Some(bootstrap::StaticResources { listeners, clusters, secrets: config.secrets.clone() }),
        ..Default::default()
    };
    // Validation mode cannot follow SDS over ADS (Envoy 1.40 crashes trying), so the
    // transport sockets name the secrets as static ones, which checks their certificates too.
    let resources = bootstrap.static_resources.as_mut().unwrap();
    let sockets = resources
        .listeners
        .iter_mut()
        .flat_map(|l| l.filter_chains.iter_mut().filter_map(|c| c.transport_socket.as_mut()))
        .chain(resources.clusters.iter_mut().flat_map(|c| {
            c.transport_socket
                .iter_mut()
                .chain(c.transport_socket_matches.iter_mut().filter_map(|m| m.transport_socket.as_mut()))
        }));
    for socket in sockets {
        let Some(TypedConfig(any)) = &mut socket.config_type else { panic!("untyped transport socket") };
        if any.type_url == UpstreamTlsContext::type_url() {
            let mut tls: UpstreamTlsContext = unpack(any);
            static_secrets(tls.common_tls_context.as_mut().unwrap());
            *any = Any { type_url: UpstreamTlsContext::type_url(), value: tls.encode_to_vec() };
        } else {
            let mut tls: DownstreamTlsContext = unpack(any);
            static_secrets(tls.common_tls_context.as_mut().unwrap());
            *any = Any { type_url: DownstreamTlsContext::type_url(), value: tls.encode_to_vec() };
        }
    }
    bootstrap
}

fn static_secrets(common: &mut CommonTlsContext) {
    for sds in &mut common.tls_certificate_sds_secret_configs {
        sds.sds_config = None;
    }
    if let Some(common_tls_context::ValidationContextType::CombinedValidationContext(v)) =
        &mut common.validation_context_type
    {
        v.validation_context_sds_secret_config.as_mut().unwrap().sds_config = None;
    }
}

/// Regression: a Service whose ports 80 and 8080 both send to the Pod's 8080 (as the Gateway
/// API conformance suite's `echo` does) made two inbound chains for 8080, which Envoy refused.
#[test]
fn two_service_ports_to_one_pod_port_make_one_captured_chain() {
    let resources = resources(&["testdata/valid/demo-mesh.yaml"]);
    let snapshot = MeshSnapshot::new(services(&resources), &resources);
    let mut sidecar = sidecar_of(&sidecar("shop"));
    let alt = ServicePort { name: "http-alt".into(), number: 8080, protocol: Protocol::Http };
    sidecar.ports.push(InboundPort { service_port: alt, ..sidecar.ports[0].clone() });
    let config = translate(&snapshot, &Proxy::Sidecar(captured(&sidecar)));
    common::envoy::validate(&static_bootstrap(&config)).unwrap();
    assert_eq!(summary(&config).matches("chain inbound-tls_18080").count(), 1, "{}", summary(&config));
}

#[test]
fn envoy_accepts_the_bootstrap() {
    let local = ControlPlane::Local { xds: addr(15010), collector: addr(15014) };
    common::envoy::validate(&translate::bootstrap(addr(15000), &local)).unwrap();
}

#[test]
fn envoy_accepts_the_translation_of_every_fixture() {
    let mut fixtures: Vec<String> = Vec::new();
    for dir in ["testdata/valid", "testdata/generate"] {
        fixtures.extend(common::files(dir, "yaml").iter().map(|p| p.display().to_string()));
    }
    assert!(fixtures.len() > 5);
    for fixture in fixtures {
        let resources = resources(&[&fixture]);
        let mut snapshot = MeshSnapshot::new(with_cluster_ips(services(&resources)), &resources);
        snapshot.tracing = Tracing { sampling: 10.0 };
        let namespace = snapshot.services.first().map_or("default".to_string(), |s| s.namespace.clone());
        // A sidecar for every instance, so every policy's selector picks someone.
        let mut proxies = vec![sidecar(&namespace), gateway()];
        for service in snapshot.services.iter().filter(|s| s.origin == Origin::Registry) {
            for instance in &service.instances {
                let ports = service
                    .ports
                    .iter()
                    .zip(18_000..)
                    .filter_map(|(port, app)| {
                        let listen = instance.address(port.number)?;
                        Some(InboundPort { service_port: port.clone(), listen, app: addr(app) })
                    })
                    .collect();
                let explicit = Sidecar {
                    node_id: format!("{}-{}", service.name, instance.ports.values().next().unwrap()),
                    ports,
                    service: service.name.clone(),
                    namespace: service.namespace.clone(),
                    labels: instance.labels.clone(),
                    ..sidecar_of(&sidecar(&namespace))
                };
                proxies.push(Proxy::Sidecar(captured(&explicit)));
                proxies.push(Proxy::Sidecar(explicit));
            }
        }
        for proxy in proxies {
            let config = translate(&snapshot, &proxy);
            if let Err(e) = common::envoy::validate(&static_bootstrap(&config)) {
                panic!(
                    "Envoy refuses the translation of {fixture} for {}:\n{e}\n{}",
                    proxy.node_id(),
                    summary(&config)
                );
            }
        }
    }
}

#[test]
fn the_same_mesh_translates_to_the_same_bytes() {
    // Several RBAC policies and JWT providers: protobuf maps, which must not be encoded in
    // hash order, or every translation would look like a change to the proxies.
    let policy = |name: &str, action: &str| {
        format!(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n  selector: {{matchLabels: {{app: frontend}}}}\n  action: {action}\n  rules:\n  - to: [{{operation: {{methods: [GET]}}}}]\n  - from: [{{source: {{namespaces: [shop]}}}}]\n"
        )
    };
    let jwks = std::fs::read_to_string(common::root().join("testdata/generate/jwks.json")).unwrap();
    let text = [policy("a", "ALLOW"), policy("b", "ALLOW"), policy("c", "DENY"), policy("d", "DENY"), format!(
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {{name: jwt, namespace: shop}}\nspec:\n  jwtRules:\n  - {{issuer: one, jwks: '{}'}}\n  - {{issuer: two, jwksUri: 'https://two.example.com/keys'}}\n  - {{issuer: three, jwks: '{}'}}\n",
        jwks.trim(), jwks.trim()
    )]
    .join("---\n");
    let report = policy::check(&[Source { name: "policies.yaml".into(), text }], &Options::default());
    assert_eq!(report.count(policy::Severity::Error), 0, "{:?}", report.findings);
    let resources: Vec<Resource> = report.resources.into_iter().map(|c| c.resource).collect();
    let snapshot = MeshSnapshot::new(services(&resources), &resources);
    let encode = || -> Resources { Translation::new(&snapshot).proxy(&sidecar("shop")) };
    let first = encode();
    let summary = summary(&translate(&snapshot, &sidecar("shop")));
    assert!(summary.contains("envoy.filters.http.rbac.deny") && summary.contains("jwt_authn"), "{summary}");
    for _ in 0..20 {
        assert!(encode() == first, "a translation of the same mesh differs");
    }
    // Debug output (of a failed assertion, say) must not carry the private key.
    assert!(!first.get(Type::Secret).is_empty());
    for debug in [format!("{first:?}"), format!("{:?}", sidecar("shop"))] {
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    }
}

/// A translation that carries each service's shared part over from the last one makes exactly
/// what a translation from scratch makes, after any sequence of changes: objects come and go
/// (rules, routes, entries, mTLS and authorization policies), services come and go, their
/// ports are renumbered (which routes that name no port follow), and their instances come, go
/// and are labelled again.
#[test]
fn a_carried_translation_is_the_translation_from_scratch() {
    const STEPS: usize = 60;
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut fixtures: Vec<String> = Vec::new();
    for dir in ["testdata/valid", "testdata/generate"] {
        fixtures.extend(common::files(dir, "yaml").iter().map(|p| p.display().to_string()));
    }
    for fixture in fixtures {
        let mut all = resources(&[&fixture]);
        let base = with_cluster_ips(services(&all));
        let mut present = vec![true; all.len()];
        let mut services: Vec<Option<Service>> = base.iter().cloned().map(Some).collect();
        let namespace = base.first().map_or("default".to_string(), |s| s.namespace.clone());
        // mTLS turned off where instances serve, which their clusters' endpoints say: absent
        // at first.
        let disabling = plaintext_policies(&namespace, base.first().map_or("none", |s| s.name.as_str()));
        present.extend(disabling.iter().map(|_| false));
        all.extend(disabling);
        let proxies = [sidecar(&namespace), gateway(), Proxy::Sidecar(captured(&sidecar_of(&sidecar(&namespace))))];
        let mut carried = translate::Carried::default();
        for step in 0..STEPS {
            let change = match random.below(6) {
                0 | 1 if !all.is_empty() => {
                    let i = random.below(all.len());
                    present[i] = !present[i];
                    format!(
                        "{} {} {}",
                        if present[i] { "restored" } else { "removed" },
                        all[i].kind().name(),
                        all[i].name()
                    )
                }
                2 if !base.is_empty() => {
                    let i = random.below(base.len());
                    services[i] = match services[i] {
                        Some(_) => None,
                        None => Some(base[i].clone()),
                    };
                    format!("toggled service {}", base[i].name)
                }
                3 if !base.is_empty() => {
                    let Some(service) = services.iter_mut().flatten().nth(random.below(base.len())) else {
                        continue;
                    };
                    let port = &mut service.ports[0];
                    let (from, to) = (port.number, port.number ^ 1);
                    port.number = to;
                    for instance in &mut service.instances {
                        if let Some(at) = instance.ports.remove(&from) {
                            instance.ports.insert(to, at);
                        }
                    }
                    format!("renumbered port {from} of {} to {to}", service.name)
                }
                _ => {
                    let Some(service) = services.iter_mut().flatten().nth(random.below(base.len().max(1))) else {
                        continue;
                    };
                    match (random.below(3), service.instances.len()) {
                        (0, n) if n > 1 => {
                            service.instances.pop();
                        }
                        (1, n) if n > 0 => {
                            let mut instance = service.instances[random.below(n)].clone();
                            instance.ports.values_mut().for_each(|p| *p += 1000);
                            service.instances.push(instance);
                        }
                        (_, n) if n > 0 => {
                            let version = format!("v{}", random.below(3) + 1);
                            service.instances[random.below(n)].labels.insert("version".into(), version);
                        }
                        _ => {}
                    }
                    format!("changed the instances of {}", service.name)
                }
            };
            let chosen = all.iter().zip(&present).filter(|(_, p)| **p).map(|(r, _)| r);
            let snapshot = MeshSnapshot::new(services.iter().flatten().cloned().collect(), chosen);
            let carrying = Translation::carrying(&snapshot, &mut carried);
            for proxy in &proxies {
                // Each proxy from a translation of its own: two of these share a node's name,
                // and a translation must not hand one the other's part.
                assert_eq!(
                    carrying.proxy(proxy),
                    Translation::new(&snapshot).proxy(proxy),
                    "{fixture}, step {step} ({change}), for {}",
                    proxy.node_id()
                );
            }
        }
    }
}

/// Where a translation builds, once for many proxies, what the last one built (the outbound
/// routes, a captured sidecar's outbound listener), it hands out the last one's: the controller
/// then finds it unchanged by pointer instead of comparing a thousand services' routes byte by
/// byte for each proxy. A sidecar's own part is kept too, while its security policies stay.
#[test]
fn a_translation_hands_out_what_the_last_one_built_where_it_is_the_same() {
    let all = resources(&["testdata/valid/demo-mesh.yaml"]);
    let mut services = services(&all);
    let plain = sidecar(&services[0].namespace);
    let proxies = [Proxy::Sidecar(Sidecar { node_id: "frontend-1".into(), ..captured(&sidecar_of(&plain)) }), plain];
    let mut carried = translate::Carried::default();
    let snapshot = MeshSnapshot::new(services.clone(), &all);
    let translation = Translation::carrying(&snapshot, &mut carried);
    let before: Vec<Resources> = proxies.iter().map(|p| translation.proxy(p)).collect();
    // An instance moves: its endpoints change, and nothing routes differently.
    services[0].instances[0].ports.values_mut().for_each(|p| *p += 1000);
    let snapshot = MeshSnapshot::new(services.clone(), &all);
    let translation = Translation::carrying(&snapshot, &mut carried);
    let after: Vec<Resources> = proxies.iter().map(|p| translation.proxy(p)).collect();
    assert!(before[1].get(Type::Endpoint) != after[1].get(Type::Endpoint), "the endpoints moved");
    let named = |resources: &Resources, t: Type, name: &str| {
        resources.get(t).iter().find(|e| e.name == name).cloned().unwrap_or_else(|| panic!("{t:?} {name}"))
    };
    let kept = [
        (0, Type::Listener, "outbound"),
        (0, Type::Listener, "inbound"),
        (1, Type::Listener, "inbound|80"),
        (1, Type::Route, translate::OUTBOUND_ROUTES),
    ];
    for (proxy, t, name) in kept {
        let (before, after) = (named(&before[proxy], t, name), named(&after[proxy], t, name));
        assert!(std::sync::Arc::ptr_eq(&before, &after), "{t:?} {name}");
    }
    // A policy that applies to the sidecars: their own parts are built again.
    let mut policies = all.clone();
    policies.extend(plaintext_policies(&services[0].namespace, "frontend"));
    let snapshot = MeshSnapshot::new(services, &policies);
    let translation = Translation::carrying(&snapshot, &mut carried);
    let changed = translation.proxy(&proxies[1]);
    let inbound = |resources: &Resources| named(resources, Type::Listener, "inbound|80");
    assert!(!std::sync::Arc::ptr_eq(&inbound(&after[1]), &inbound(&changed)));
    assert!(inbound(&after[1]) != inbound(&changed), "mTLS is off on port 80");
}

/// A captured sidecar routes a request by the address it was sent to, with that service port's
/// routes alone: a change to one service's VirtualService changes that one route
/// configuration of the sidecar's, hands out the last translation's of every other, and
/// leaves its listeners as they were. (With one configuration of every service's routes, each
/// change sent every proxy all of them, which each Envoy built anew whole.)
#[test]
fn a_change_to_one_service_changes_one_route_configuration_of_a_captured_sidecar() {
    let text = std::fs::read_to_string(common::root().join("testdata/valid/demo-mesh.yaml")).unwrap();
    let all = from_text("demo-mesh.yaml", text.clone());
    let services = with_cluster_ips(services(&all));
    let proxy = Proxy::Sidecar(captured(&sidecar_of(&sidecar("shop"))));
    let mut carried = translate::Carried::default();
    let snapshot = MeshSnapshot::new(services.clone(), &all);
    let before = Translation::carrying(&snapshot, &mut carried).proxy(&proxy);
    let shifted =
        from_text("demo-mesh.yaml", text.replace("weight: 90", "weight: 50").replace("weight: 10", "weight: 50"));
    let snapshot = MeshSnapshot::new(services, &shifted);
    let after = Translation::carrying(&snapshot, &mut carried).proxy(&proxy);

    let names =
        |resources: &Resources| -> Vec<String> { resources.get(Type::Route).iter().map(|e| e.name.clone()).collect() };
    assert_eq!(
        names(&after),
        ["board.shop.svc.cluster.local:80", "frontend.shop.svc.cluster.local:80", "profile.shop.svc.cluster.local:80"],
        "{after:?}"
    );
    assert_eq!(names(&before), names(&after));
    let (routes_before, routes_after) = (before.get(Type::Route), after.get(Type::Route));
    let changed: Vec<&str> = routes_before
        .iter()
        .zip(routes_after.iter())
        .filter(|(b, a)| !std::sync::Arc::ptr_eq(b, a))
        .map(|(_, a)| a.name.as_str())
        .collect();
    assert_eq!(changed, ["profile.shop.svc.cluster.local:80"]);
    let listeners = |r: &Resources| r.get(Type::Listener).into_owned();
    let moved: Vec<String> = listeners(&before)
        .iter()
        .zip(&listeners(&after))
        .filter(|(b, a)| !std::sync::Arc::ptr_eq(b, a))
        .map(|(b, _)| b.name.clone())
        .collect();
    assert!(moved.is_empty(), "the listeners are the last translation's: {moved:?}");
    let profile: RouteConfiguration = after.get(Type::Route)[2].decode().unwrap();
    let weights = format!("{:?}", profile.virtual_hosts[0].routes[1].action);
    assert!(weights.contains("weight: Some(UInt32Value { value: 50 })"), "{weights}");
}

/// PeerAuthentications that turn mTLS off in `namespace`, and on one port of `service`'s
/// instances.
fn plaintext_policies(namespace: &str, service: &str) -> Vec<Resource> {
    let text = format!(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: plain, namespace: {namespace}}}\nspec:\n  mtls: {{mode: DISABLE}}\n---\n\
         apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: plain-port, namespace: {namespace}}}\nspec:\n  selector: {{matchLabels: {{app: {service}}}}}\n  portLevelMtls: {{'80': {{mode: DISABLE}}}}\n"
    );
    from_text("plain.yaml", text)
}

/// The resources of a file named `name` holding `text`, which has no errors.
fn from_text(name: &str, text: String) -> Vec<Resource> {
    let report = policy::check(&[Source { name: name.into(), text }], &Options::default());
    assert_eq!(report.count(policy::Severity::Error), 0, "{:?}", report.findings);
    report.resources.into_iter().map(|c| c.resource).collect()
}

/// A deterministic sequence of numbers (xorshift64): the same changes on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
