//! The library's top-level modules stand on floors, as DESIGN.md orders them: a module uses
//! only modules on its own floor or below, and the modules of one floor use each other without
//! cycles. A use is a `crate::MODULE` path in a module's code (not in its comments or tests).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::common;

/// The floors, lowest first: the model; what is pure (validation, translation, generation)
/// and the store; the control plane's services; the controller's loop; the backends (a
/// cluster's, the local supervisor), each with its controller's wiring; the handle on a
/// running mesh; what shows one; the command line.
const FLOORS: &[&[&str]] = &[
    &["api", "demo_app", "grpc", "http", "publish"],
    &["generate", "ingress", "policy", "store", "translate"],
    &["canary", "metrics", "observe", "pki", "xds"],
    &["controller"],
    &["kube", "runtime"],
    &["mesh"],
    &["dashboard"],
    &["cli"],
];

/// Each top-level module's `crate::` uses of the others, each with where it is
/// (`src/FILE:LINE`).
fn dependencies() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let src = common::root().join("src");
    let mut graph: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let Some(module) = top_module(&src, &path) else { continue };
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let used = graph.entry(module.clone()).or_default();
        for (number, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    let place = format!("{}:{}", path.strip_prefix(common::root()).unwrap().display(), number + 1);
                    used.entry(name).or_default().push(place);
                }
            }
        }
    }
    graph
}

/// `api` for `src/api/mod.rs` and `src/api.rs`; none for the crate roots.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    if file.extension().is_none_or(|e| e != "rs") {
        return None;
    }
    let first = file.strip_prefix(src).ok()?.components().next()?.as_os_str().to_str()?;
    let module = first.trim_end_matches(".rs");
    (!matches!(module, "lib" | "main")).then(|| module.to_string())
}

fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: BTreeSet<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let at = self.index.len();
            self.index.insert(node, at);
            self.low.insert(node, at);
            self.stack.push(node);
            for next in self.graph.get(node).into_iter().flatten() {
                if !self.index.contains_key(next.as_str()) {
                    self.visit(next);
                    let low = self.low[next.as_str()].min(self.low[node]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next.as_str()) {
                    let low = self.index[next.as_str()].min(self.low[node]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let start = self.stack.iter().rposition(|n| *n == node).unwrap();
                let mut component: Vec<String> = self.stack.drain(start..).map(String::from).collect();
                if component.len() > 1 {
                    component.sort();
                    self.found.insert(component);
                }
            }
        }
    }
    let mut walk =
        Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: BTreeSet::new() };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found
}

#[test]
fn every_module_uses_only_its_floor_and_those_below_without_cycles() {
    let uses = dependencies();
    assert!(uses.contains_key("translate") && uses["cli"].contains_key("controller"), "{uses:?}");
    let unplaced: Vec<&String> = uses.keys().filter(|m| floor(m).is_none()).collect();
    assert!(unplaced.is_empty(), "modules on no floor: {unplaced:?}; put each on one in FLOORS");
    let upward: Vec<String> = uses
        .iter()
        .flat_map(|(module, used)| {
            used.iter().filter(|(other, _)| floor(other) > floor(module)).flat_map(move |(other, places)| {
                places.iter().map(move |place| format!("{place}: {module} uses {other}, a floor above"))
            })
        })
        .collect();
    assert!(upward.is_empty(), "uses that run up the floors:\n{}", upward.join("\n"));
    let graph: BTreeMap<String, BTreeSet<String>> =
        uses.iter().map(|(m, used)| (m.clone(), used.keys().cloned().collect())).collect();
    if let Some(cycle) = cycles(&graph).first() {
        let inside: Vec<String> = cycle
            .iter()
            .flat_map(|m| {
                uses[m].iter().filter(|(d, _)| cycle.contains(d)).map(move |(d, p)| format!("{m} -> {d} ({})", p[0]))
            })
            .collect();
        panic!("a cycle among {cycle:?}: {inside:?}; one of them must not use the other");
    }
}

#[test]
fn a_cycle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a", "d"]), ("d", vec![])]
            .into_iter()
            .map(|(m, deps)| (m.to_string(), deps.into_iter().map(String::from).collect()))
            .collect();
    assert_eq!(cycles(&graph), BTreeSet::from([vec!["a".to_string(), "b".to_string(), "c".to_string()]]));
}
