//! Malformed input gets findings, never a panic: the fuzz corpus replayed, and random edits of
//! every fixture.

use std::path::PathBuf;

use meshctl::policy::{self, Options, Source};
use proptest::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Vec<String> {
    let mut texts = Vec::new();
    for dir in ["testdata/valid", "testdata/invalid"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                texts.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    texts
}

/// Checks `text` and that every finding points inside it.
fn check_within_bounds(text: &str) {
    let report = policy::check(&[Source { name: "x.yaml".into(), text: text.to_string() }], &Options::default());
    // A syntax error may stand just past the last line break.
    let lines = meshctl::api::yaml::lines(text).count() + 1;
    for f in &report.findings {
        assert!(f.line.is_some_and(|l| l <= lines), "finding past the end ({} lines): {f:?}", lines);
    }
}

#[test]
fn the_fuzz_corpus_is_handled() {
    let mut count = 0;
    for entry in std::fs::read_dir(root().join("testdata/fuzz-corpus")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        check_within_bounds(&String::from_utf8_lossy(&bytes));
        count += 1;
    }
    assert!(count > 0, "the corpus is empty");
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), "[ \\-:\\[\\]{}#&*!|>'\"%@`a-z0-9\\n]{1,8}").prop_map(|(at, s)| Edit::Insert(at, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        match e {
            Edit::Delete(at, len) if !chars.is_empty() => {
                let at = at % chars.len();
                let end = (at + len).min(chars.len());
                chars.drain(at..end);
            }
            Edit::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::DuplicateLine(n) => {
                let text: String = chars.iter().collect();
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = n % lines.len();
                    let mut out: Vec<&str> = lines.clone();
                    out.insert(i, lines[i]);
                    chars = out.join("\n").chars().collect();
                }
            }
            Edit::Delete(..) => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn edited_fixtures_never_panic(which in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let fixtures = fixtures();
        let text = apply(&fixtures[which % fixtures.len()], &edits);
        check_within_bounds(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check_within_bounds(&text);
    }
}
