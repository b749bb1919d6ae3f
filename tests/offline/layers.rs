//! The library's top-level modules depend on each other without cycles, but for the ones
//! listed here, which are known and on their way out (issue 24): a new cycle fails, and so does
//! a listed one that is gone, so the list stays true. A dependency is a `crate::MODULE` path in
//! a module's code (not in its comments or its tests).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::common;

/// The cycles there are today, each as its modules in order of name.
const KNOWN_CYCLES: &[&[&str]] = &[&["controller", "kube", "mesh", "observe"]];

/// Each top-level module's `crate::` dependencies on the others.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = common::root().join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
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
        for line in code.lines().map(|l| l.split("//").next().unwrap_or_default()) {
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    used.insert(name);
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
fn the_modules_depend_on_each_other_without_cycles_but_the_known_ones() {
    let graph = dependencies();
    assert!(graph.contains_key("translate") && graph["cli"].contains("controller"), "{graph:?}");
    let known: BTreeSet<Vec<String>> = KNOWN_CYCLES.iter().map(|c| c.iter().map(|m| m.to_string()).collect()).collect();
    let found = cycles(&graph);
    let edges = |cycle: &Vec<String>| -> Vec<String> {
        let inside = |m: &String| cycle.contains(m);
        cycle.iter().flat_map(|m| graph[m].iter().filter(|d| inside(d)).map(move |d| format!("{m} -> {d}"))).collect()
    };
    if let Some(cycle) = found.difference(&known).next() {
        panic!("a new cycle among {cycle:?}: {:?}; depend downward only", edges(cycle));
    }
    if let Some(cycle) = known.difference(&found).next() {
        panic!("the cycle among {cycle:?} is gone: take it out of KNOWN_CYCLES");
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
