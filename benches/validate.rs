//! Validation throughput: documents per second on one core, over a generated corpus of
//! 10,000 policy documents in 100 files (every kind meshctl handles, with cross-references
//! between them). Run with `cargo bench --bench validate`; under `cargo test --all-targets`
//! it makes one pass as a smoke test.

use std::time::{Duration, Instant};

use meshctl::api::meshctl::RouteApi;
use meshctl::api::security::{Action, MtlsMode};
use meshctl::api::{Duration as MeshDuration, Resource, yaml};
use meshctl::generate::{self, Authz, CanaryRollout, CircuitBreaker, JwksSource, Jwt, TrafficSplit};
use meshctl::policy::{self, Options, Severity, Source};

const DOCUMENTS: usize = 10_000;
const FILES: usize = 100;

fn seconds(s: u64) -> MeshDuration {
    MeshDuration(Duration::from_secs(s))
}

/// Ten documents about service `i`: a split with its subsets, a circuit breaker, access
/// control, JWT, a canary and mTLS.
fn documents_for(i: usize) -> Vec<Resource> {
    let service = format!("svc-{i}");
    let namespace = format!("ns-{}", i % 50);
    let mut out = generate::traffic_split(&TrafficSplit {
        service: service.clone(),
        namespace: namespace.clone(),
        subsets: vec![("v1".into(), 90), ("v2".into(), 10)],
        label: "version".into(),
        port: None,
        tcp: false,
        api: RouteApi::Istio,
    });
    let mut breaker = generate::circuit_breaker(&CircuitBreaker {
        service: service.clone(),
        namespace: namespace.clone(),
        consecutive_errors: 5,
        interval: seconds(10),
        ejection_time: seconds(30),
        max_ejection_percent: 100,
        max_connections: Some(100),
        max_pending: Some(10),
        subsets: vec![],
        label: "version".into(),
    });
    if let Resource::DestinationRule(dr) = &mut breaker[0] {
        let dr = std::sync::Arc::make_mut(dr);
        dr.metadata.name = Some(format!("{service}-breaker"));
        dr.spec.host = format!("{service}-b");
    }
    out.extend(breaker);
    for action in [Action::Allow, Action::Deny] {
        out.extend(generate::authz(&Authz {
            service: service.clone(),
            namespace: namespace.clone(),
            action,
            from: vec!["frontend".into(), "ops/admin".into()],
            methods: vec!["GET".into()],
            paths: vec!["/api/*".into()],
        }));
    }
    out.extend(generate::jwt(&Jwt {
        service: service.clone(),
        namespace: namespace.clone(),
        issuer: "https://auth.example.com".into(),
        keys: JwksSource::Uri("https://auth.example.com/jwks.json".into()),
        audiences: vec![service.clone()],
        require: true,
    }));
    out.extend(generate::canary(&CanaryRollout {
        service: service.clone(),
        namespace: namespace.clone(),
        stable: "v1".into(),
        canary: "v2".into(),
        steps: vec![10, 50, 100],
        interval: seconds(30),
        min_success_rate: 99.0,
        max_p99: Some(MeshDuration(Duration::from_millis(500))),
        min_requests: 20,
        sequential_test: true,
        api: RouteApi::Istio,
    }));
    let mut pa = generate::mtls(Some(&namespace), MtlsMode::Strict);
    if let Resource::PeerAuthentication(p) = &mut pa[0] {
        let p = std::sync::Arc::make_mut(p);
        p.metadata.name = Some(format!("{service}-mtls"));
    }
    out.extend(pa);
    out
}

fn corpus() -> Vec<Source> {
    let docs: Vec<String> = (0..)
        .flat_map(documents_for)
        .take(DOCUMENTS)
        .map(|r| format!("---\n{}", yaml::to_string(&r.to_json())))
        .collect();
    docs.chunks(DOCUMENTS / FILES)
        .enumerate()
        .map(|(i, chunk)| Source { name: format!("corpus/{i:03}.yaml"), text: chunk.concat() })
        .collect()
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let sources = corpus();
    let bytes: usize = sources.iter().map(|s| s.text.len()).sum();
    let options = Options::default();

    let first = policy::check(&sources, &options);
    assert_eq!(first.documents, DOCUMENTS);
    assert_eq!(first.count(Severity::Error), 0, "the corpus is valid: {:?}", first.findings.first());
    if !benchmarking {
        return;
    }

    let runs = 30;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let report = policy::check(&sources, &options);
            let elapsed = start.elapsed();
            assert_eq!(report.documents, DOCUMENTS);
            elapsed
        })
        .collect();
    times.sort();
    let median = times[runs / 2];
    let p99 = times[(runs * 99).div_ceil(100) - 1];
    let rate = |t: Duration| DOCUMENTS as f64 / t.as_secs_f64();
    println!(
        "validate: {DOCUMENTS} documents in {FILES} files ({:.1} MiB), {runs} runs, one thread",
        bytes as f64 / 1048576.0
    );
    println!("  median {:>8.1} ms   {:>8.0} documents/s", median.as_secs_f64() * 1e3, rate(median));
    println!("  p99    {:>8.1} ms   {:>8.0} documents/s", p99.as_secs_f64() * 1e3, rate(p99));
}
