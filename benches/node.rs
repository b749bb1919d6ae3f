//! The mesh on the real one-node cluster (`scripts/test-node`), measured: the time from
//! `meshctl install` to the mesh ready (CRDs established, controller and gateway Available),
//! the time from `kubectl apply` of a meshed Deployment to its Pod Ready (which a meshed Pod is
//! only once its sidecar is configured: the app waits for the proxy's startup probe), the
//! node's memory with those Pods running and with the demo running, by part, and the seed's
//! story (`meshctl demo` to ready, then a traffic shift until every proxy runs it) on the
//! cluster beside the local mesh. Run with `cargo bench --bench node` (as root,
//! with the cluster's binaries from `scripts/kube-testenv`); under `cargo test --all-targets` it
//! does one round as a smoke test.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::node;
use serde_json::Value;

const NAMESPACE: &str = "bench";
const DEADLINE: Duration = Duration::from_secs(120);

fn main() {
    let rounds = if std::env::args().any(|a| a == "--bench") { 10 } else { 1 };
    let node = node::shared();

    let start = Instant::now();
    let install = node.meshctl(&node::INSTALL);
    let installed = start.elapsed();
    assert_eq!(install.code, 0, "{}{}", install.stdout, install.stderr);
    // The rest of the fixture: the injector trusted, and nothing changed by a second install.
    let mesh = node::mesh();
    assert_eq!(mesh.check.code, 0, "{}", mesh.check.stdout);
    println!("meshctl install --wait on a fresh node: {:.2} s", installed.as_secs_f64());

    let _namespace = node.namespace(NAMESPACE, &["meshctl.io/inject=enabled"]);
    let mut ready = Vec::new();
    for round in 0..rounds {
        let name = format!("app{round}");
        let deployment = node::demo_deployment(NAMESPACE, &name, &[], &[]);
        let start = Instant::now();
        node.apply(&deployment.to_string());
        let selector = format!("app={name}");
        common::poll(&format!("{name}'s Pod is Ready"), DEADLINE, || pod_ready(node, &selector));
        ready.push(start.elapsed());
    }
    ready.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (median, p99) = (ready[ready.len() / 2], ready[(ready.len() * 99).div_ceil(100) - 1]);
    println!(
        "kubectl apply of a meshed Deployment to its Pod Ready, {} rounds: median {:.0} ms, p99 {:.0} ms",
        ready.len(),
        ms(median),
        ms(p99)
    );

    println!("resident memory of the node with {rounds} meshed Pods running:");
    print_memory();
    // Their Pods gone too, so that the demo's memory is the demo's.
    node.kubectl_ok(&["-n", NAMESPACE, "delete", "deployments", "--all", "--cascade=foreground", "--wait"]);

    // The seed's story, on the cluster and then on the local mesh: `meshctl demo` to ready,
    // then profile's traffic shifted to v1 until every proxy runs it.
    let kubeconfig = node.kubeconfig();
    let on_cluster = ["--kubeconfig", kubeconfig.to_str().unwrap()];
    let _demo = node.namespace("demo", &[]);
    let start = Instant::now();
    let demo = common::meshctl(&[&["demo"][..], &on_cluster].concat());
    let cluster_ready = start.elapsed();
    assert_eq!(demo.code, 0, "{}{}", demo.stdout, demo.stderr);
    let shift = |namespace: &str| {
        let split = ["generate", "traffic-split", "profile", "-n", namespace, "--subset", "v1=100", "--subset", "v2=0"];
        common::meshctl(&split).stdout
    };
    let apply = ["apply", "-f", "-", "--wait"];
    let start = Instant::now();
    let run = common::meshctl_with_input(&[&apply[..], &on_cluster].concat(), &shift("demo"));
    let cluster_shift = start.elapsed();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    println!("resident memory of the node with the demo running:");
    print_memory();

    let start = Instant::now();
    let (local, _) = common::local_mesh::LocalMesh::start("demo", &[]);
    let local_ready = start.elapsed();
    let start = Instant::now();
    let run = local.meshctl(&apply, &shift("default"));
    let local_shift = start.elapsed();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    println!(
        "the seed's story: meshctl demo to ready, cluster {:.1} s, local {:.1} s; the shift to v1 until every \
         proxy runs it (apply --wait), cluster {:.0} ms, local {:.0} ms",
        cluster_ready.as_secs_f64(),
        local_ready.as_secs_f64(),
        ms(cluster_shift),
        ms(local_shift)
    );
}

fn print_memory() {
    for (part, megabytes) in memory() {
        println!("  {part:<48} {megabytes:>7.1} MB");
    }
}

fn pod_ready(node: &node::Node, selector: &str) -> bool {
    let pods: Value =
        serde_json::from_str(&node.kubectl_ok(&["-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json"]))
            .unwrap();
    let ready = |pod: &Value| {
        pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    };
    pods["items"].as_array().is_some_and(|items| items.len() == 1 && ready(&items[0]))
}

/// The resident memory of every process of the node (its cgroup), summed by what it is.
fn memory() -> BTreeMap<&'static str, f64> {
    let mut parts = BTreeMap::new();
    let procs = walk(std::path::Path::new("/sys/fs/cgroup/freezer/meshctl-node"));
    for pid in procs {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).unwrap_or_default();
        let kb: f64 = field("VmRSS:").trim_end_matches(" kB").parse().unwrap_or(0.0);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let part = match field("Name:") {
            "etcd" | "kube-apiserver" | "kube-controller" | "kube-scheduler" => "control plane (etcd, API server, ...)",
            "kubelet" | "containerd" | "kube-proxy" | "coredns" | "pause" | "bash" | "unshare" => {
                "node (kubelet, containerd, kube-proxy, CoreDNS)"
            }
            "containerd-shim" => "containerd shims (one per Pod)",
            "envoy" if cmdline.contains("meshctl-ingressgateway") => "ingress gateway (Envoy)",
            "envoy" => "sidecars (Envoy)",
            "meshctl" if cmdline.contains("controller") => "meshctl controller",
            "meshctl" => "applications (demo apps)",
            _ => "other",
        };
        *parts.entry(part).or_insert(0.0) += kb / 1024.0;
    }
    parts
}

/// The processes of a cgroup and of every cgroup below it.
fn walk(cgroup: &std::path::Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_to_string(cgroup.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    for child in std::fs::read_dir(cgroup).into_iter().flatten().flatten() {
        if child.path().is_dir() {
            pids.extend(walk(&child.path()));
        }
    }
    pids
}
