//! Durations as Istio and Kubernetes write them: Go's `time.ParseDuration` syntax
//! (`500ms`, `1.5s`, `1m30s`, `2h`), which is what a CRD's `format: duration` accepts.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration: write a number and a unit (ms, s, m, h), like 500ms, 1.5s or 1m30s")]
pub struct DurationError(pub String);

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DurationError(s.to_string());
        if s == "0" {
            return Ok(Duration(std::time::Duration::ZERO));
        }
        if s.is_empty() {
            return Err(err());
        }
        let mut rest = s;
        let mut nanos: u128 = 0;
        while !rest.is_empty() {
            let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
            let (number, tail) = rest.split_at(number_len);
            let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let scale: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(err()),
            };
            let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
            if (whole.is_empty() && frac.is_empty()) || frac.contains('.') || whole.len() > 20 {
                return Err(err());
            }
            let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| err())? };
            let mut part = whole.checked_mul(scale).ok_or_else(err)?;
            let mut place = scale;
            for digit in frac.bytes().take(18) {
                place /= 10;
                part += u128::from(digit - b'0') * place;
            }
            nanos = nanos.checked_add(part).ok_or_else(err)?;
            rest = tail;
        }
        let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| err())?;
        Ok(Duration(std::time::Duration::new(secs, (nanos % 1_000_000_000) as u32)))
    }
}

impl fmt::Display for Duration {
    /// Go's canonical form, so a value reads back the same: `1h2m3.5s`, `500ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        if d.as_secs() == 0 {
            let n = d.subsec_nanos();
            return match n {
                n if n % 1_000_000 == 0 => write!(f, "{}ms", n / 1_000_000),
                n if n % 1_000 == 0 => write!(f, "{}us", n / 1_000),
                n => write!(f, "{n}ns"),
            };
        }
        let (h, m, s) = (d.as_secs() / 3600, d.as_secs() / 60 % 60, d.as_secs() % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        let frac = d.subsec_nanos();
        if frac == 0 {
            write!(f, "{s}s")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{s}.{}s", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "duration" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(text: &str) -> u128 {
        text.parse::<Duration>().unwrap().0.as_millis()
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("1.5s"), 1500);
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("2h"), 7_200_000);
        assert_eq!(ms("0"), 0);
        assert_eq!(ms(".5s"), 500);
        assert_eq!("1500us".parse::<Duration>().unwrap().0.as_micros(), 1500);
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in ["", "5", "1x", "s", ".s", "1..5s", "-1s", "1 s", "99999999999999999999999h"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn displays_canonically() {
        for (text, shown) in
            [("90s", "1m30s"), ("500ms", "500ms"), ("1.25s", "1.25s"), ("3600s", "1h0m0s"), ("0s", "0s")]
        {
            assert_eq!(text.parse::<Duration>().unwrap().to_string(), shown);
        }
    }

    proptest! {
        #[test]
        fn display_reads_back(nanos in 0u64..1_000_000_000_000_000) {
            let d = Duration(std::time::Duration::from_nanos(nanos));
            prop_assert_eq!(d.to_string().parse::<Duration>().unwrap(), d);
        }
    }
}
