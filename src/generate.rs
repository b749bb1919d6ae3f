//! Policy from intent: each generator turns a few settings into the Istio (or Gateway API, or
//! meshctl) resources that express them. Pure; the CLI parses flags into these settings, and
//! checks the result with the same validation as `meshctl validate` before printing it.

use std::collections::BTreeMap;

use crate::api::ROOT_NAMESPACE;
use crate::api::gateway::{HTTPBackendRef, HTTPRoute, HTTPRouteRule, HTTPRouteSpec, ParentReference};
use crate::api::meshctl::{Canary, CanarySpec, Gates, RouteApi};
use crate::api::networking::{
    ConnectionPoolSettings, Destination, DestinationRule, DestinationRuleSpec, HttpMatchRequest, HttpRoute,
    HttpRouteDestination, HttpSettings, L4MatchAttributes, OutlierDetection, PortSelector, Subset, TcpRoute,
    TcpSettings, TrafficPolicy, VirtualService, VirtualServiceSpec,
};
use crate::api::security::{
    Action, AuthorizationPolicy, AuthorizationPolicySpec, JwtRule, MtlsMode, MutualTls, Operation, PeerAuthentication,
    PeerAuthenticationSpec, RequestAuthentication, RequestAuthenticationSpec, Rule, RuleFrom, RuleTo, Source,
    WorkloadSelector,
};
use crate::api::{APP_LABEL, Duration, Resource};

/// `object` (as made by the kind's `new(name, spec)`) placed in `namespace`.
fn namespaced<K: kube::Resource>(mut object: K, namespace: &str) -> K {
    object.meta_mut().namespace = Some(namespace.to_string());
    object
}

fn app_selector(service: &str) -> Option<WorkloadSelector> {
    Some(WorkloadSelector { match_labels: BTreeMap::from([(APP_LABEL.to_string(), service.to_string())]) })
}

#[derive(Clone, Debug)]
pub struct TrafficSplit {
    pub service: String,
    pub namespace: String,
    /// Subset name and weight, in the order given.
    pub subsets: Vec<(String, u32)>,
    /// The workload label whose value names a subset.
    pub label: String,
    /// Only the traffic to this port of the service; all of it when unset.
    pub port: Option<u16>,
    /// Split connections (a `tcp` rule) rather than requests: for a TCP port.
    pub tcp: bool,
    /// Gateway: an HTTPRoute attached to the service, whose backends are a Service per subset,
    /// named SERVICE-SUBSET (as Flagger and Argo Rollouts name them).
    pub api: RouteApi,
}

/// The port a generated HTTPRoute sends to when none is given: a Service backend needs one.
pub const DEFAULT_BACKEND_PORT: u16 = 80;

/// A VirtualService that splits the service's traffic (or one port's) by weight, and the
/// DestinationRule that defines the subsets it names; or, in the Gateway API, an HTTPRoute.
pub fn traffic_split(s: &TrafficSplit) -> Vec<Resource> {
    if s.api == RouteApi::Gateway {
        return vec![Resource::HTTPRoute(namespaced(mesh_route(s), &s.namespace).into())];
    }
    let route: Vec<HttpRouteDestination> = s
        .subsets
        .iter()
        .map(|(subset, weight)| HttpRouteDestination {
            destination: Destination {
                host: s.service.clone(),
                subset: Some(subset.clone()),
                port: s.port.map(|number| PortSelector { number: u32::from(number) }),
            },
            weight: Some(*weight),
        })
        .collect();
    let port = s.port.map(u32::from);
    let (http, tcp) = if s.tcp {
        let matches = port.map(|port| L4MatchAttributes { port: Some(port) }).into_iter().collect();
        (vec![], vec![TcpRoute { matches, route }])
    } else {
        let matches =
            port.map(|port| HttpMatchRequest { port: Some(port), ..Default::default() }).into_iter().collect();
        (vec![HttpRoute { matches, route, ..HttpRoute::default() }], vec![])
    };
    let vs = VirtualService::new(
        &s.service,
        VirtualServiceSpec {
            hosts: vec![s.service.clone()],
            gateways: vec![],
            http,
            tcp,
            tls: vec![],
            export_to: vec![],
        },
    );
    let names: Vec<String> = s.subsets.iter().map(|(name, _)| name.clone()).collect();
    let dr = DestinationRule::new(
        &s.service,
        DestinationRuleSpec {
            host: s.service.clone(),
            traffic_policy: None,
            subsets: subsets(&names, &s.label),
            export_to: vec![],
        },
    );
    vec![
        Resource::VirtualService(namespaced(vs, &s.namespace).into()),
        Resource::DestinationRule(namespaced(dr, &s.namespace).into()),
    ]
}

/// The HTTPRoute of a split: attached to the service (one port of it, if given), sending to a
/// Service per subset.
fn mesh_route(s: &TrafficSplit) -> HTTPRoute {
    let port = s.port.unwrap_or(DEFAULT_BACKEND_PORT);
    let backend_refs = s
        .subsets
        .iter()
        .map(|(subset, weight)| HTTPBackendRef {
            name: format!("{}-{subset}", s.service),
            port: Some(port),
            weight: *weight,
            ..HTTPBackendRef::default()
        })
        .collect();
    let parent = ParentReference {
        group: Some(String::new()),
        kind: Some("Service".into()),
        name: s.service.clone(),
        port: s.port,
        ..ParentReference::default()
    };
    let rule = HTTPRouteRule { backend_refs, ..HTTPRouteRule::default() };
    HTTPRoute::new(&s.service, HTTPRouteSpec { parent_refs: vec![parent], hostnames: vec![], rules: vec![rule] })
}

/// Subsets named by the values of one workload label.
fn subsets(names: &[String], label: &str) -> Vec<Subset> {
    names
        .iter()
        .map(|name| Subset {
            name: name.clone(),
            labels: BTreeMap::from([(label.to_string(), name.clone())]),
            traffic_policy: None,
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    pub service: String,
    pub namespace: String,
    pub consecutive_errors: u32,
    pub interval: Duration,
    pub ejection_time: Duration,
    pub max_ejection_percent: u32,
    pub max_connections: Option<u32>,
    pub max_pending: Option<u32>,
    /// Subsets the rule keeps defining, by the value of `label`.
    pub subsets: Vec<String>,
    pub label: String,
}

/// A DestinationRule that ejects failing instances (outlier detection) and, when limits are
/// given, bounds the connection pool so overflow fails fast with 503.
pub fn circuit_breaker(s: &CircuitBreaker) -> Vec<Resource> {
    let tcp = s.max_connections.map(|n| TcpSettings { max_connections: Some(n), ..TcpSettings::default() });
    let http = s.max_pending.map(|n| HttpSettings { http1_max_pending_requests: Some(n), ..HttpSettings::default() });
    let connection_pool = (tcp.is_some() || http.is_some()).then_some(ConnectionPoolSettings { tcp, http });
    let policy = TrafficPolicy {
        connection_pool,
        outlier_detection: Some(OutlierDetection {
            consecutive_5xx_errors: Some(s.consecutive_errors),
            interval: Some(s.interval),
            base_ejection_time: Some(s.ejection_time),
            max_ejection_percent: Some(s.max_ejection_percent),
            ..OutlierDetection::default()
        }),
        ..TrafficPolicy::default()
    };
    let dr = DestinationRule::new(
        &s.service,
        DestinationRuleSpec {
            host: s.service.clone(),
            traffic_policy: Some(policy),
            subsets: subsets(&s.subsets, &s.label),
            export_to: vec![],
        },
    );
    vec![Resource::DestinationRule(namespaced(dr, &s.namespace).into())]
}

/// A PeerAuthentication named `default` for a namespace, or for the whole mesh when no
/// namespace is given (in the root namespace, as Istio does).
pub fn mtls(namespace: Option<&str>, mode: MtlsMode) -> Vec<Resource> {
    let namespace = namespace.unwrap_or(ROOT_NAMESPACE);
    let pa = PeerAuthentication::new(
        "default",
        PeerAuthenticationSpec { mtls: Some(MutualTls { mode: Some(mode) }), ..PeerAuthenticationSpec::default() },
    );
    vec![Resource::PeerAuthentication(namespaced(pa, namespace).into())]
}

#[derive(Clone, Debug)]
pub struct Authz {
    pub service: String,
    pub namespace: String,
    pub action: Action,
    /// Service accounts, as `NAME` (in the policy's namespace) or `NAMESPACE/NAME`; `*` is any
    /// authenticated caller.
    pub from: Vec<String>,
    pub methods: Vec<String>,
    pub paths: Vec<String>,
}

/// The mTLS principal of a service account, as AuthorizationPolicy matches it.
pub fn principal(service_account: &str, namespace: &str) -> String {
    match service_account.split_once('/') {
        _ if service_account == "*" => "*".to_string(),
        Some((ns, sa)) => format!("{}/ns/{ns}/sa/{sa}", crate::api::TRUST_DOMAIN),
        None => format!("{}/ns/{namespace}/sa/{service_account}", crate::api::TRUST_DOMAIN),
    }
}

/// An AuthorizationPolicy on the service's workloads for callers with the given identities.
pub fn authz(s: &Authz) -> Vec<Resource> {
    let from = (!s.from.is_empty()).then(|| RuleFrom {
        source: Source {
            principals: s.from.iter().map(|sa| principal(sa, &s.namespace)).collect(),
            ..Source::default()
        },
    });
    let to = (!s.methods.is_empty() || !s.paths.is_empty()).then(|| RuleTo {
        operation: Operation { methods: s.methods.clone(), paths: s.paths.clone(), ..Operation::default() },
    });
    let verb = if s.action == Action::Deny { "deny" } else { "allow" };
    let name = format!("{}-{verb}", s.service);
    let ap = AuthorizationPolicy::new(
        &name,
        AuthorizationPolicySpec {
            selector: app_selector(&s.service),
            rules: vec![Rule { from: from.into_iter().collect(), to: to.into_iter().collect(), when: vec![] }],
            action: Some(s.action),
        },
    );
    vec![Resource::AuthorizationPolicy(namespaced(ap, &s.namespace).into())]
}

#[derive(Clone, Debug)]
pub enum JwksSource {
    Uri(String),
    Inline(String),
}

#[derive(Clone, Debug)]
pub struct Jwt {
    pub service: String,
    pub namespace: String,
    pub issuer: String,
    pub keys: JwksSource,
    pub audiences: Vec<String>,
    /// Also refuse requests that carry no token.
    pub require: bool,
}

/// A RequestAuthentication that checks tokens from the issuer; with `require`, an
/// AuthorizationPolicy that allows only requests with a valid token.
pub fn jwt(s: &Jwt) -> Vec<Resource> {
    let (jwks_uri, jwks) = match &s.keys {
        JwksSource::Uri(u) => (Some(u.clone()), None),
        JwksSource::Inline(j) => (None, Some(j.clone())),
    };
    let rule = JwtRule {
        issuer: s.issuer.clone(),
        audiences: s.audiences.clone(),
        jwks_uri,
        jwks,
        from_headers: vec![],
        from_params: vec![],
        output_payload_to_header: None,
        forward_original_token: None,
    };
    let name = format!("{}-jwt", s.service);
    let ra = RequestAuthentication::new(
        &name,
        RequestAuthenticationSpec { selector: app_selector(&s.service), jwt_rules: vec![rule] },
    );
    let mut out = vec![Resource::RequestAuthentication(namespaced(ra, &s.namespace).into())];
    if s.require {
        let name = format!("{}-require-jwt", s.service);
        let ap = AuthorizationPolicy::new(
            &name,
            AuthorizationPolicySpec {
                selector: app_selector(&s.service),
                rules: vec![Rule {
                    from: vec![RuleFrom {
                        source: Source { request_principals: vec![format!("{}/*", s.issuer)], ..Source::default() },
                    }],
                    ..Rule::default()
                }],
                action: Some(Action::Allow),
            },
        );
        out.push(Resource::AuthorizationPolicy(namespaced(ap, &s.namespace).into()));
    }
    out
}

#[derive(Clone, Debug)]
pub struct CanaryRollout {
    pub service: String,
    pub namespace: String,
    pub stable: String,
    pub canary: String,
    pub steps: Vec<u32>,
    pub interval: Duration,
    pub min_success_rate: f64,
    pub max_p99: Option<Duration>,
    pub min_requests: u32,
    pub sequential_test: bool,
    pub api: RouteApi,
}

pub fn canary(s: &CanaryRollout) -> Vec<Resource> {
    let c = Canary::new(
        &s.service,
        CanarySpec {
            service: s.service.clone(),
            stable: s.stable.clone(),
            canary: s.canary.clone(),
            api: s.api,
            steps: s.steps.clone(),
            interval: s.interval,
            gates: Gates {
                min_success_rate: s.min_success_rate,
                max_p99: s.max_p99,
                min_requests: s.min_requests,
                sequential_test: s.sequential_test,
            },
            failure_threshold: 1,
            progress_deadline: None,
            paused: false,
            decision: None,
        },
    );
    vec![Resource::Canary(namespaced(c, &s.namespace).into())]
}
