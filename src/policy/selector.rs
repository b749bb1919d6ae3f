//! Label selectors as kubectl's `-l` writes them: `app=web,tier!=db,canary,!legacy`. Only the
//! equality-based forms; a set-based one (`env in (a,b)`) is refused by name rather than
//! misread, since its commas would split it into nonsense. Keys and values are held to the same
//! rules as the labels they match (see `names`), so a typo is an error, not an empty result.

use std::collections::BTreeMap;
use std::str::FromStr;

use super::names::{is_label_key, is_label_value};

/// Requirements on an object's labels; all must hold (a comma is AND). The empty selector
/// matches everything, as kubectl's `-l ''` does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    /// `key=value` or `key==value`: the label is there, with this value.
    Equals(String, String),
    /// `key!=value`: the label is absent or has another value (as in Kubernetes).
    NotEquals(String, String),
    /// `key`: the label is there, with any value.
    Exists(String),
    /// `!key`: the label is absent.
    Absent(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("{selector:?} has an empty requirement; write key=value, key!=value, key or !key, joined by commas")]
    Empty { selector: String },
    #[error(
        "{requirement:?}: {key:?} is not a label key (up to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, after an optional DNS prefix and '/')"
    )]
    Key { requirement: String, key: String },
    #[error(
        "{requirement:?}: {value:?} is not a label value (empty, or up to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"
    )]
    Value { requirement: String, value: String },
    #[error("{selector:?}: set-based selectors (in, notin) are not supported; write key=value or key!=value")]
    SetBased { selector: String },
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.contains(['(', ')']) {
            return Err(SelectorError::SetBased { selector: text.into() });
        }
        if text.trim().is_empty() {
            return Ok(Selector::default());
        }
        let requirements = text.split(',').map(|r| requirement(r.trim(), text)).collect::<Result<_, _>>()?;
        Ok(Selector(requirements))
    }
}

/// One requirement; `selector` is the whole text, for the message when `text` is empty.
fn requirement(text: &str, selector: &str) -> Result<Requirement, SelectorError> {
    if text.is_empty() {
        return Err(SelectorError::Empty { selector: selector.into() });
    }
    let key = |key: &str| {
        let key = key.trim();
        is_label_key(key)
            .then(|| key.to_string())
            .ok_or_else(|| SelectorError::Key { requirement: text.into(), key: key.into() })
    };
    let value = |value: &str| {
        let value = value.trim();
        is_label_value(value)
            .then(|| value.to_string())
            .ok_or_else(|| SelectorError::Value { requirement: text.into(), value: value.into() })
    };
    // `!=` and `==` before `=`, which each contains.
    if let Some((k, v)) = text.split_once("!=") {
        Ok(Requirement::NotEquals(key(k)?, value(v)?))
    } else if let Some((k, v)) = text.split_once("==").or_else(|| text.split_once('=')) {
        Ok(Requirement::Equals(key(k)?, value(v)?))
    } else if let Some(k) = text.strip_prefix('!') {
        Ok(Requirement::Absent(key(k)?))
    } else {
        Ok(Requirement::Exists(key(text)?))
    }
}

impl Selector {
    /// Whether `labels` meet every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(key, value) => labels.get(key) == Some(value),
            Requirement::NotEquals(key, value) => labels.get(key) != Some(value),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::Absent(key) => !labels.contains_key(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn selects(selector: &str, pairs: &[(&str, &str)]) -> bool {
        selector.parse::<Selector>().unwrap().matches(&labels(pairs))
    }

    #[test]
    fn equality_inequality_and_existence_as_kubectl_reads_them() {
        let web = [("app", "web"), ("tier", "front")];
        assert!(selects("app=web", &web));
        assert!(selects("app==web", &web));
        assert!(!selects("app=db", &web));
        assert!(selects("app!=db", &web));
        assert!(!selects("app!=web", &web));
        // `!=` also holds when the label is absent.
        assert!(selects("version!=v2", &web));
        assert!(selects("tier", &web));
        assert!(!selects("version", &web));
        assert!(selects("!version", &web));
        assert!(!selects("!tier", &web));
    }

    #[test]
    fn commas_join_requirements_that_must_all_hold() {
        let web = [("app", "web"), ("tier", "front")];
        assert!(selects("app=web,tier=front", &web));
        assert!(!selects("app=web,tier=back", &web));
        assert!(selects(" app = web , !version ", &web));
        assert!(selects("", &web), "an empty selector matches everything");
        assert!(selects("example.com/team=mesh,app", &[("example.com/team", "mesh"), ("app", "x")]));
        assert!(selects("app=", &[("app", "")]), "an empty value is a value");
        assert!(!selects("app=", &web));
    }

    #[test]
    fn bad_syntax_is_an_error_naming_the_requirement() {
        let error = |text: &str| text.parse::<Selector>().unwrap_err();
        assert_eq!(error("app=web,,tier"), SelectorError::Empty { selector: "app=web,,tier".into() });
        assert_eq!(error("app=web,"), SelectorError::Empty { selector: "app=web,".into() });
        assert_eq!(error("=web"), SelectorError::Key { requirement: "=web".into(), key: "".into() });
        assert_eq!(error("app=a=b"), SelectorError::Value { requirement: "app=a=b".into(), value: "a=b".into() });
        assert_eq!(error("a b"), SelectorError::Key { requirement: "a b".into(), key: "a b".into() });
        assert_eq!(error("app=-web"), SelectorError::Value { requirement: "app=-web".into(), value: "-web".into() });
        assert_eq!(error("!"), SelectorError::Key { requirement: "!".into(), key: "".into() });
        assert_eq!(error("env in (a,b)"), SelectorError::SetBased { selector: "env in (a,b)".into() });
        let long = format!("app={}", "v".repeat(64));
        assert!(matches!(error(&long), SelectorError::Value { .. }));
        assert!(error("app=a=b").to_string().contains("\"a=b\" is not a label value"));
    }
}
