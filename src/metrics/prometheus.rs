//! The Prometheus text exposition format (version 0.0.4), as Envoy's `/stats/prometheus`
//! writes it: `name{label="value",...} value [timestamp]` lines, with `#` comments.

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        samples.push(sample(line).map_err(|message| ParseError { line: i + 1, message })?);
    }
    Ok(samples)
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace()).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return Err(format!("{name:?} is not a metric name"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("a label needs `=`")?;
            let key = rest[..eq].trim().to_string();
            let (value, after) = quoted(rest[eq + 1..].trim_start())?;
            labels.push((key, value));
            rest = after;
        }
    }
    let value_text = rest.split_whitespace().next().ok_or("a sample needs a value")?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().map_err(|_| format!("{v:?} is not a number"))?,
    };
    Ok(Sample { name: name.to_string(), labels, value })
}

/// A double-quoted label value with `\\`, `\"` and `\n` escapes; returns it and what follows.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let body = text.strip_prefix('"').ok_or("a label value must be quoted")?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, other)) => value.push(other),
                None => break,
            },
            c => value.push(c),
        }
    }
    Err("a label value is not closed".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_samples_labels_and_special_values() {
        let text = "# TYPE x counter\nx 1\ny{a=\"1\",b=\"q\\\"uo\\\\te\\n\"} 2.5 1700000000\nz{le=\"+Inf\"} +Inf\n\n";
        let samples = parse(text).unwrap();
        assert_eq!(samples[0], Sample { name: "x".into(), labels: vec![], value: 1.0 });
        assert_eq!(
            samples[1].labels,
            [("a".to_string(), "1".to_string()), ("b".to_string(), "q\"uo\\te\n".to_string())]
        );
        assert_eq!(samples[1].value, 2.5);
        assert_eq!(samples[2].value, f64::INFINITY);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("x 1\ny{a=1} 2\n").unwrap_err().line, 2);
        assert!(parse("x{a=\"1\" 2").is_err());
        assert!(parse("x one").is_err());
    }

    #[test]
    fn reads_a_whole_captured_envoy_page() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/metrics/gateway.prom");
        let samples = parse(&std::fs::read_to_string(root).unwrap()).unwrap();
        assert!(samples.len() > 1000, "{}", samples.len());
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = parse(&text);
        }
    }
}
