//! Checks a document against its kind's CRD schema — the same OpenAPI schema the Kubernetes API
//! server enforces — and reports every mismatch at its node, instead of stopping at the first as
//! a deserializer would. Only after this passes is the document decoded into its typed form.

use serde_json::Value as Schema;

use super::finding::Code;
use super::path::{Path, Seg};
use super::{Sink, names};
use crate::api::yaml::{Node, Value};
use crate::api::{Duration, Kind, unsupported};

/// Fields of `metadata` that Kubernetes itself sets or accepts; the ones meshctl reads are
/// checked elsewhere, the rest pass through untouched.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "labels",
    "annotations",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "ownerReferences",
    "managedFields",
    "selfLink",
];

pub(super) struct Walker<'s, 'a> {
    pub kind: Kind,
    pub sink: &'s mut Sink<'a>,
}

impl Walker<'_, '_> {
    /// Checks the whole object: the envelope (apiVersion, kind, metadata) and then `spec` and
    /// `status` against the CRD schema.
    pub fn object(&mut self, root: &Node) {
        let Value::Map(entries) = &root.value else { return };
        let schema = self.kind.schema();
        let body = &schema["properties"];
        for (key, value) in entries {
            let path = Path(vec![Seg::Key(key.text.clone())]);
            match key.text.as_str() {
                "apiVersion" | "kind" => {}
                "metadata" => self.metadata(value, &path),
                k if body.get(k).is_some() => self.node(value, &body[k], &path),
                _ => {
                    let known = ["apiVersion", "kind", "metadata"].into_iter().chain(body_keys(body));
                    self.unknown(key, &path, known);
                }
            }
        }
        for required in schema["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str()) {
            if root.get(required).is_none() {
                self.sink.at(
                    root.pos,
                    Code::MissingField,
                    format!("missing required field `{required}` of {}", with_article(self.kind.name())),
                );
            }
        }
    }

    fn metadata(&mut self, node: &Node, path: &Path) {
        let Value::Map(entries) = &node.value else {
            return self.wrong_type(node, path, "mapping");
        };
        for (key, value) in entries {
            let child = path.child(&key.text);
            match key.text.as_str() {
                "labels" | "annotations" => self.string_map(value, &child),
                k if OBJECT_META_FIELDS.contains(&k) => {}
                _ => self.unknown(key, &child, OBJECT_META_FIELDS.iter().copied()),
            }
        }
    }

    fn string_map(&mut self, node: &Node, path: &Path) {
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    if value.as_str().is_none() {
                        self.wrong_type(value, &path.child(&key.text), "string");
                    }
                }
            }
            Value::Null => {}
            _ => self.wrong_type(node, path, "mapping"),
        }
    }

    fn node(&mut self, node: &Node, schema: &Schema, path: &Path) {
        if node.value == Value::Null {
            if schema["nullable"] != true {
                self.wrong_type(node, path, expected_name(schema));
            }
            return;
        }
        match schema["type"].as_str() {
            Some("object") => self.mapping(node, schema, path),
            Some("array") => self.list(node, schema, path),
            Some("string") => self.string(node, schema, path),
            Some("integer") => self.integer(node, schema, path),
            Some("number") => self.number(node, schema, path),
            Some("boolean") if !matches!(node.value, Value::Bool(_)) => self.wrong_type(node, path, "boolean"),
            _ => {}
        }
    }

    fn mapping(&mut self, node: &Node, schema: &Schema, path: &Path) {
        let Value::Map(entries) = &node.value else {
            return self.wrong_type(node, path, "mapping");
        };
        let properties = schema.get("properties");
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        for (key, value) in entries {
            let child = path.child(&key.text);
            if let Some(field) = properties.and_then(|p| p.get(&key.text)) {
                // The Gateway API's schemas are its own, so they name what meshctl does not do.
                if unsupported(self.kind, &child.pattern(), None) {
                    self.unsupported(key, &child);
                } else {
                    self.node(value, field, &child);
                }
            } else if let Some(item) = additional {
                self.node(value, item, &child);
            } else if schema["x-kubernetes-preserve-unknown-fields"] != true {
                self.unknown(key, &child, properties.map(body_keys).into_iter().flatten());
            }
        }
        for required in schema["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str()) {
            if node.get(required).is_none() {
                self.sink.at(node.pos, Code::MissingField, format!("{path}: missing required field `{required}`"));
            }
        }
    }

    fn list(&mut self, node: &Node, schema: &Schema, path: &Path) {
        let Value::Seq(items) = &node.value else {
            return self.wrong_type(node, path, "list");
        };
        if let Some(min) = schema["minItems"].as_u64().filter(|m| (items.len() as u64) < *m) {
            self.sink.at(node.pos, Code::OutOfRange, format!("{path}: needs at least {min} item(s)"));
        }
        if let Some(max) = schema["maxItems"].as_u64().filter(|m| (items.len() as u64) > *m) {
            self.sink.at(
                node.pos,
                Code::OutOfRange,
                format!("{path}: holds {} items; at most {max} are allowed", items.len()),
            );
        }
        for (i, item) in items.iter().enumerate() {
            self.node(item, &schema["items"], &path.child(i));
        }
    }

    fn string(&mut self, node: &Node, schema: &Schema, path: &Path) {
        let Some(text) = node.as_str() else {
            let hint = match &node.value {
                Value::Int(_) | Value::Float(_) | Value::Bool(_) => "; put it in quotes to make it a string",
                _ => "",
            };
            return self.sink.at(
                node.pos,
                Code::WrongType,
                format!("{path}: expected a string, found {}{hint}", describe(&node.value)),
            );
        };
        if let Some(allowed) = schema["enum"].as_array() {
            if unsupported(self.kind, &path.pattern(), Some(text)) {
                let api = if self.kind.generated() { "Istio" } else { "Gateway API" };
                self.sink.at(
                    node.pos,
                    Code::Unsupported,
                    format!("{path}: {text} is valid {api} but not supported by meshctl; choose another value"),
                );
            } else if !allowed.iter().any(|a| a == text) {
                let options: Vec<&str> = allowed.iter().filter_map(|a| a.as_str()).collect();
                let hint = names::nearest(text, options.iter().copied())
                    .map(|n| format!("did you mean {n}? "))
                    .unwrap_or_default();
                self.sink.at(
                    node.pos,
                    Code::InvalidEnum,
                    format!("{path}: {text:?} is not allowed here; {hint}use one of {}", options.join(", ")),
                );
            }
        }
        let length = text.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64().filter(|m| length < *m) {
            self.sink.at(
                node.pos,
                Code::OutOfRange,
                format!("{path}: {text:?} is too short; it needs at least {min} character(s)"),
            );
        }
        if let Some(max) = schema["maxLength"].as_u64().filter(|m| length > *m) {
            self.sink.at(
                node.pos,
                Code::OutOfRange,
                format!("{path}: {length} characters is too long; at most {max} are allowed"),
            );
        }
        if let Some(pattern) = schema["pattern"].as_str()
            && !pattern_matches(pattern, text)
        {
            self.sink.at(
                node.pos,
                Code::InvalidValue,
                format!("{path}: {text:?} does not have the form this field takes (it must match `{pattern}`)"),
            );
        }
        if schema["format"] == "duration"
            && let Err(e) = text.parse::<Duration>()
        {
            self.sink.at(node.pos, Code::InvalidDuration, format!("{path}: {e}"));
        }
    }

    fn integer(&mut self, node: &Node, schema: &Schema, path: &Path) {
        let n = match &node.value {
            Value::Int(n) => *n,
            Value::Str(s) if s.parse::<i64>().is_ok() => {
                return self.sink.at(
                    node.pos,
                    Code::WrongType,
                    format!("{path}: expected an integer, found string {s:?}; remove the quotes"),
                );
            }
            _ => return self.wrong_type(node, path, "integer"),
        };
        let (min, max) = match schema["format"].as_str() {
            Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
            Some("uint32") => (0, i64::from(u32::MAX)),
            Some("uint8") => (0, 255),
            Some("uint64") => (0, i64::MAX),
            _ => (i64::MIN, i64::MAX),
        };
        let min = schema["minimum"].as_f64().map_or(min, |m| min.max(m as i64));
        let max = schema["maximum"].as_f64().map_or(max, |m| max.min(m as i64));
        if n < min || n > max {
            self.out_of_range(node, path, n as f64, min as f64, max as f64);
        }
    }

    fn number(&mut self, node: &Node, schema: &Schema, path: &Path) {
        let n = match node.value {
            Value::Int(i) => i as f64,
            Value::Float(f) if f.is_finite() => f,
            _ => return self.wrong_type(node, path, "number"),
        };
        let min = schema["minimum"].as_f64().unwrap_or(f64::MIN);
        let max = schema["maximum"].as_f64().unwrap_or(f64::MAX);
        if n < min || n > max {
            self.out_of_range(node, path, n, min, max);
        }
    }

    fn out_of_range(&mut self, node: &Node, path: &Path, n: f64, min: f64, max: f64) {
        let bounds = match (min > f64::from(i32::MIN), max < f64::from(i32::MAX)) {
            (true, true) => format!("between {min} and {max}"),
            (true, false) => format!("at least {min}"),
            _ => format!("at most {max}"),
        };
        self.sink.at(node.pos, Code::OutOfRange, format!("{path}: {n} is out of range; it must be {bounds}"));
    }

    fn wrong_type(&mut self, node: &Node, path: &Path, expected: &str) {
        self.sink.at(
            node.pos,
            Code::WrongType,
            format!("{path}: expected {}, found {}", with_article(expected), describe(&node.value)),
        );
    }

    fn unsupported(&mut self, key: &crate::api::yaml::Key, path: &Path) {
        let api = if self.kind.generated() { "Istio" } else { "Gateway API" };
        self.sink.at(
            key.pos,
            Code::Unsupported,
            format!("{path} is valid {api} but not supported by meshctl; remove it, or it would not be enforced"),
        );
    }

    fn unknown<'k>(&mut self, key: &crate::api::yaml::Key, path: &Path, known: impl Iterator<Item = &'k str>) {
        if unsupported(self.kind, &path.pattern(), None) {
            return self.unsupported(key, path);
        }
        let hint = match names::nearest(&key.text, known) {
            Some(n) => format!("did you mean `{n}`?"),
            None => "remove it".to_string(),
        };
        self.sink.at(
            key.pos,
            Code::UnknownField,
            format!("unknown field `{path}` in {}; {hint}", with_article(self.kind.name())),
        );
    }
}

/// Whether `text` matches a schema's `pattern` (ECMA-262 in OpenAPI, written by the CRDs
/// meshctl reads in the syntax RE2 and the `regex` crate share), compiled once per pattern.
fn pattern_matches(pattern: &str, text: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static COMPILED: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let mut compiled = COMPILED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let regex = compiled.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok());
    // A pattern this engine cannot read is left to the API server rather than failing everything.
    regex.as_ref().is_none_or(|r| r.is_match(text))
}

fn body_keys(properties: &Schema) -> impl Iterator<Item = &str> {
    properties.as_object().into_iter().flat_map(|m| m.keys().map(String::as_str))
}

fn expected_name(schema: &Schema) -> &'static str {
    match schema["type"].as_str() {
        Some("object") => "mapping",
        Some("array") => "list",
        Some("integer") => "integer",
        Some("number") => "number",
        Some("boolean") => "boolean",
        _ => "string",
    }
}

fn with_article(name: &str) -> String {
    // Said as letters: "an HTTPRoute".
    match name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {name}"),
        _ if name.starts_with("HTTP") => format!("an {name}"),
        _ => format!("a {name}"),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("string {s:?}"),
        Value::Int(i) => format!("integer {i}"),
        Value::Float(f) => format!("number {f}"),
        Value::Bool(b) => format!("boolean {b}"),
        other => other.type_name().to_string(),
    }
}
