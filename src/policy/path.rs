//! Field paths (`spec.http[0].route[1].weight`) and where they stand in the source.

use std::fmt;

use crate::api::yaml::{Node, Pos, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(k: &str) -> Self {
        Seg::Key(k.to_string())
    }
}

impl From<&String> for Seg {
    fn from(k: &String) -> Self {
        Seg::Key(k.clone())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

/// `field!["spec", "http", i, "route"]`
macro_rules! field {
    ($($seg:expr),* $(,)?) => { $crate::policy::path::Path(vec![$($crate::policy::path::Seg::from($seg)),*]) };
}
pub(crate) use field;

impl Path {
    pub fn child(&self, seg: impl Into<Seg>) -> Path {
        let mut p = self.clone();
        p.0.push(seg.into());
        p
    }

    /// The path with list indices blanked (`spec.http[].route`), as the unsupported-field
    /// table names places.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(_) => out.push_str("[]"),
            }
        }
        out
    }

    /// Where this path stands in `root`: the value's position, or for a path that ends in a
    /// key, the key's own position (so a finding points at `weight:`, not past it). A path that
    /// leads outside the tree stops at the deepest node it reached.
    pub fn locate(&self, root: &Node) -> Pos {
        let mut node = root;
        let mut pos = root.pos;
        for seg in &self.0 {
            let next = match (&node.value, seg) {
                (Value::Map(entries), Seg::Key(k)) => entries.iter().find(|(key, _)| &key.text == k).map(|(key, v)| {
                    pos = key.pos;
                    v
                }),
                (Value::Seq(items), Seg::Index(i)) => items.get(*i).inspect(|v| pos = v.pos),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        pos
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::yaml;

    #[test]
    fn locates_keys_items_and_stops_at_the_deepest_node() {
        let (docs, _) = yaml::parse("spec:\n  http:\n  - route:\n    - weight: 90\n");
        let root = docs[0].root.as_ref().unwrap();
        let p = field!["spec", "http", 0, "route", 0, "weight"];
        assert_eq!(p.to_string(), "spec.http[0].route[0].weight");
        assert_eq!(p.pattern(), "spec.http[].route[].weight");
        assert_eq!(p.locate(root), Pos { line: 4, column: 7 });
        assert_eq!(field!["spec", "http", 3].locate(root), Pos { line: 2, column: 3 });
    }
}
