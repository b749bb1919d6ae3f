//! YAML with source positions.
//!
//! Findings must point at the line and column of the offending node, so policy files are read
//! into a [`Node`] tree that keeps the position of every value and every mapping key. The tree
//! follows the YAML 1.2 core schema, as Kubernetes does when it turns YAML into JSON. The same
//! module writes YAML back out ([`to_string`]) for `meshctl generate` and `-o yaml`.

use std::fmt::Write as _;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

/// A 1-based line and column in a source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(span: Span) -> Self {
        Pos { line: span.start.line(), column: span.start.col() + 1 }
    }
}

/// A YAML value and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order. Keys are kept as text, as Kubernetes turns YAML into JSON.
    Map(Vec<(Key, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub text: String,
}

impl Value {
    /// The name of this value's type, as a finding states it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}

impl Node {
    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The JSON form of this node, which is what the typed resources deserialize from.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.text.clone(), v.to_json())).collect()),
        }
    }
}

/// One document of a multi-document stream. An empty document has no root.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub pos: Pos,
    pub root: Option<Node>,
}

/// Why a stream could not be read past some point.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Alias expansion can blow a small text up exponentially ("billion laughs"); past this many
/// nodes a document is refused instead.
const MAX_NODES: usize = 1_000_000;

/// Reads every document of `text`. Documents before a syntax error are returned with it, so a
/// caller can still check them; nothing after the error is read.
pub fn parse(text: &str) -> (Vec<Document>, Option<SyntaxError>) {
    let mut loader = Loader { parser: Parser::new_from_str(text), anchors: Vec::new(), nodes: 0 };
    let mut docs = Vec::new();
    match loader.stream(&mut docs) {
        Ok(()) => (docs, None),
        Err(e) => (docs, Some(e)),
    }
}

struct Loader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: Vec<(usize, Node)>,
    nodes: usize,
}

impl<'a> Loader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(scan_error(&e)),
            None => Err(SyntaxError { pos: Pos::default(), message: "unexpected end of input".into() }),
        }
    }

    fn stream(&mut self, docs: &mut Vec<Document>) -> Result<(), SyntaxError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    let (first, first_span) = self.next()?;
                    let root = match first {
                        Event::DocumentEnd => None,
                        ev => Some(self.node(ev, first_span)?),
                    };
                    // An empty document (`---` then nothing, or only comments) reads as a null
                    // scalar; kubectl skips such documents, and so do we.
                    let root = root.filter(|n| n.value != Value::Null);
                    docs.push(Document { pos: Pos::of(span), root });
                }
                other => {
                    return Err(SyntaxError {
                        pos: Pos::of(span),
                        message: format!("unexpected {other:?} outside a document"),
                    });
                }
            }
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, SyntaxError> {
        let pos = Pos::of(span);
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(SyntaxError {
                pos,
                message: format!("document expands to more than {MAX_NODES} nodes; remove the aliases that repeat it"),
            });
        }
        let (anchor, node) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value =
                    resolve_scalar(&text, style, tag.as_deref()).map_err(|message| SyntaxError { pos, message })?;
                (anchor, Node { pos, value })
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(ev, sp)?);
                }
                (anchor, Node { pos, value: Value::Seq(items) })
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Key, Node)> = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if ev == Event::MappingEnd {
                        break;
                    }
                    let key_node = self.node(ev, sp)?;
                    let key = Key { pos: key_node.pos, text: key_text(key_node)? };
                    if entries.iter().any(|(k, _)| k.text == key.text) {
                        return Err(SyntaxError {
                            pos: key.pos,
                            message: format!("duplicate key {:?} in the same mapping; remove one of them", key.text),
                        });
                    }
                    let (ev, sp) = self.next()?;
                    let value = self.node(ev, sp)?;
                    entries.push((key, value));
                }
                (anchor, Node { pos, value: Value::Map(entries) })
            }
            Event::Alias(id) => {
                let Some((_, target)) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err(SyntaxError { pos, message: "alias to an unknown anchor".into() });
                };
                let mut node = target.clone();
                self.nodes += count(&node);
                node.pos = pos;
                (0, node)
            }
            other => return Err(SyntaxError { pos, message: format!("unexpected {other:?}") }),
        };
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        Ok(node)
    }
}

fn count(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(_, v)| count(v)).sum(),
        _ => 0,
    }
}

fn key_text(node: Node) -> Result<String, SyntaxError> {
    Ok(match node.value {
        Value::Str(s) => s,
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Seq(_) | Value::Map(_) => {
            return Err(SyntaxError {
                pos: node.pos,
                message: "a mapping key must be a scalar, not a list or mapping".into(),
            });
        }
    })
}

fn scan_error(e: &ScanError) -> SyntaxError {
    let m = e.marker();
    SyntaxError { pos: Pos { line: m.line(), column: m.col() + 1 }, message: e.info().to_string() }
}

/// Resolves a scalar by the YAML 1.2 core schema: only plain scalars can be anything but a
/// string, and an explicit core tag (`!!str`, `!!int`, ...) decides for itself.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        let resolved = match tag.suffix.as_str() {
            "str" => Some(Value::Str(text.to_string())),
            "null" => parse_null(text),
            "bool" => parse_bool(text),
            "int" => parse_int(text),
            "float" => parse_int(text)
                .map(|v| match v {
                    Value::Int(i) => Value::Float(i as f64),
                    v => v,
                })
                .or_else(|| parse_float(text)),
            other => {
                return Err(format!(
                    "tag !!{other} is not supported; Kubernetes resources hold only strings, numbers, booleans, lists and mappings"
                ));
            }
        };
        return resolved.ok_or_else(|| format!("{text:?} is not a valid !!{}", tag.suffix));
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_string()));
    }
    Ok(parse_null(text)
        .or_else(|| parse_bool(text))
        .or_else(|| parse_int(text))
        .or_else(|| parse_float(text))
        .unwrap_or_else(|| Value::Str(text.to_string())))
}

fn parse_null(s: &str) -> Option<Value> {
    matches!(s, "" | "~" | "null" | "Null" | "NULL").then_some(Value::Null)
}

fn parse_bool(s: &str) -> Option<Value> {
    match s {
        "true" | "True" | "TRUE" => Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => Some(Value::Bool(false)),
        _ => None,
    }
}

fn parse_int(s: &str) -> Option<Value> {
    let (radix, digits) = if let Some(d) = s.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = s.strip_prefix("0o") {
        (8, d)
    } else {
        let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(s.parse().map_or_else(|_| Value::Float(s.parse().unwrap_or(f64::INFINITY)), Value::Int));
    };
    if digits.is_empty() {
        return None;
    }
    i64::from_str_radix(digits, radix).ok().map(Value::Int)
}

fn parse_float(s: &str) -> Option<Value> {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    match unsigned {
        ".inf" | ".Inf" | ".INF" => {
            return Some(Value::Float(if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }));
        }
        ".nan" | ".NaN" | ".NAN" if s == unsigned => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    // The core schema's float: digits with an optional fraction and exponent, no bare "e5".
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = (!whole.is_empty() || !frac.is_empty()) && digits(whole) && digits(frac);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    (mantissa_ok && exponent_ok).then(|| s.parse().ok().map(Value::Float)).flatten()
}

/// The lines of `text` as YAML counts them for positions: a lone `\r` ends a line too.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(i) => {
                let skip = if current[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&current[i + skip..]).filter(|r| !r.is_empty());
                Some(&current[..i])
            }
            None => {
                rest = None;
                (!current.is_empty()).then_some(current)
            }
        }
    })
}

/// Writes `value` as a block-style YAML document (without the `---` separator).
pub fn to_string(value: &serde_json::Value) -> String {
    let mut out = String::new();
    match value {
        serde_json::Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        serde_json::Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, serde_json::Value>, indent: usize) {
    for (i, (key, value)) in map.iter().enumerate() {
        // The first entry of a mapping inside a list shares the line of its "- ".
        if i > 0 || indent == 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str(&quote(key));
        out.push(':');
        write_child(out, value, indent);
    }
}

fn write_seq(out: &mut String, items: &[serde_json::Value], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            serde_json::Value::Object(m) if !m.is_empty() => write_map(out, m, indent + 2),
            serde_json::Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_seq(out, a, indent + 2);
            }
            scalar => {
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }
}

fn write_child(out: &mut String, value: &serde_json::Value, indent: usize) {
    match value {
        serde_json::Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        // Lists sit at their key's indentation, as kubectl prints them.
        serde_json::Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => quote(s),
        serde_json::Value::Array(_) => "[]".into(),
        serde_json::Value::Object(_) => "{}".into(),
    }
}

/// A string as a YAML scalar: plain when it reads back as the same string (under YAML 1.2 and
/// the 1.1 readers many tools still use), double-quoted otherwise.
fn quote(s: &str) -> String {
    let ambiguous = s.is_empty()
        || resolve_scalar(s, ScalarStyle::Plain, None) != Ok(Value::Str(s.to_string()))
        || matches!(s.to_ascii_lowercase().as_str(), "y" | "n" | "yes" | "no" | "on" | "off")
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        // At the start of a line, `...` ends the document (and `---` starts one, which the
        // leading `-` already quotes).
        || s.starts_with("...")
        || s.ends_with(|c: char| c.is_whitespace() || c == ':')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control() || c == '\u{feff}');
    if !ambiguous {
        return s.to_string();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(text: &str) -> Node {
        let (docs, err) = parse(text);
        assert_eq!(err, None);
        docs.into_iter().next().and_then(|d| d.root).expect("a document")
    }

    #[test]
    fn positions_of_keys_and_values() {
        let root = one("# comment\nspec:\n  hosts:\n  - profile\n  weight: 90\n");
        let spec = root.get("spec").unwrap();
        assert_eq!(spec.pos, Pos { line: 3, column: 3 });
        let Value::Map(entries) = &spec.value else { panic!() };
        assert_eq!(entries[1].0.pos, Pos { line: 5, column: 3 });
        assert_eq!(entries[1].1, Node { pos: Pos { line: 5, column: 11 }, value: Value::Int(90) });
        let Value::Seq(hosts) = &entries[0].1.value else { panic!() };
        assert_eq!(hosts[0].pos, Pos { line: 4, column: 5 });
    }

    #[test]
    fn core_schema_scalars() {
        let root = one("a: 1\nb: '1'\nc: 1.5\nd: true\ne: yes\nf: ~\ng: 0x10\nh: !!str 3\ni: 1e3\nj: .5\nk: 1.2.3\n");
        let v = |k| root.get(k).unwrap().value.clone();
        assert_eq!(v("a"), Value::Int(1));
        assert_eq!(v("b"), Value::Str("1".into()));
        assert_eq!(v("c"), Value::Float(1.5));
        assert_eq!(v("d"), Value::Bool(true));
        assert_eq!(v("e"), Value::Str("yes".into()));
        assert_eq!(v("f"), Value::Null);
        assert_eq!(v("g"), Value::Int(16));
        assert_eq!(v("h"), Value::Str("3".into()));
        assert_eq!(v("i"), Value::Float(1000.0));
        assert_eq!(v("j"), Value::Float(0.5));
        assert_eq!(v("k"), Value::Str("1.2.3".into()));
    }

    #[test]
    fn documents_empty_and_commented() {
        let (docs, err) = parse("---\n# only a comment\n---\na: 1\n---\n");
        assert_eq!(err, None);
        let roots: Vec<bool> = docs.iter().map(|d| d.root.is_some()).collect();
        assert_eq!(roots, [false, true, false]);
        assert_eq!(docs[1].pos.line, 3);
    }

    #[test]
    fn syntax_error_has_position_and_keeps_earlier_documents() {
        let (docs, err) = parse("a: 1\n---\nb: [1, 2\nc: 3\n");
        assert_eq!(docs.len(), 1);
        let err = err.expect("an error");
        assert!(err.pos.line >= 3, "{err:?}");
    }

    #[test]
    fn lines_end_where_yaml_says() {
        assert_eq!(lines("a\r\nb\rc\nd").collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(lines("a\n\nb\n").collect::<Vec<_>>(), ["a", "", "b"]);
        assert_eq!(lines("").count(), 0);
        let (_, err) = parse("a: 1\rb: [\r");
        assert_eq!(err.unwrap().pos.line, 3);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let (_, err) = parse("a: 1\na: 2\n");
        assert_eq!(err.unwrap().pos, Pos { line: 2, column: 1 });
    }

    #[test]
    fn aliases_expand_but_not_without_bound() {
        let root = one("a: &x {k: v}\nb: *x\n");
        assert_eq!(root.get("b").unwrap().get("k").unwrap().as_str(), Some("v"));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let (_, err) = parse(&bomb);
        assert!(err.unwrap().message.contains("more than"));
    }

    #[test]
    fn writes_block_yaml() {
        let v = serde_json::json!({
            "apiVersion": "v1",
            "spec": {"hosts": ["profile"], "http": [{"route": [{"weight": 90}, {"weight": 10}]}], "empty": {}},
            "odd": ["", "true", "1.0", "a: b", "-x", "yes", "line\nbreak"],
        });
        let text = to_string(&v);
        assert_eq!(
            text,
            "apiVersion: v1\nspec:\n  hosts:\n  - profile\n  http:\n  - route:\n    - weight: 90\n    - weight: 10\n  empty: {}\nodd:\n- \"\"\n- \"true\"\n- \"1.0\"\n- \"a: b\"\n- \"-x\"\n- \"yes\"\n- \"line\\nbreak\"\n"
        );
        assert_eq!(one(&text).to_json(), v);
    }

    #[test]
    fn a_key_that_reads_as_a_document_marker_is_quoted() {
        let v = serde_json::json!({"... 0": null, "---": "..."});
        assert_eq!(one(&to_string(&v)).to_json(), v);
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::String),
            "[a-z:#\\- ]{0,6}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-zA-Z0-9 :.-]{1,8}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn written_yaml_reads_back(v in json_value()) {
            let (docs, err) = parse(&to_string(&v));
            prop_assert_eq!(err, None);
            let back = docs.into_iter().next().and_then(|d| d.root).map_or(serde_json::Value::Null, |n| n.to_json());
            prop_assert_eq!(back, v);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,64}") {
            let _ = parse(&s);
        }
    }
}
