//! The examples in the README and `docs/` that need no mesh run as written
//! (`common::docs` reads them): each `meshctl generate`, `validate` and `completion` line, in a
//! scratch directory that sees the tree's `testdata/`, one block's lines in order (so a file one
//! writes, the next reads). Synopses (`[--flag]`) and lines naming files the tree does not have
//! are not examples.

use super::common;

/// Whether `command` runs here as written: an offline command, no synopsis, no pipe or
/// redirection out of the scratch directory, and every file it reads in the tree or written by
/// an earlier line (`written`).
fn runnable(command: &str, written: &[String]) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let offline = matches!(words.get(1), Some(&("generate" | "validate" | "completion")));
    let synopsis = command.contains('[') || command.contains('|') || command.contains('<');
    let redirect_elsewhere = words.windows(2).any(|w| w[0] == ">" && w[1].contains(['/', '~', '$']));
    let reads = words.windows(2).filter(|w| matches!(w[0], "-f" | "--jwks-file")).map(|w| w[1]);
    let present = |file: &str| file == "-" || common::root().join(file).exists() || written.iter().any(|w| w == file);
    offline && !synopsis && !redirect_elsewhere && reads.into_iter().all(present)
}

#[test]
fn the_docs_offline_examples_run_as_written() {
    let mut ran = 0;
    for block in common::docs::blocks() {
        let scratch = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(common::root().join("testdata"), scratch.path().join("testdata")).unwrap();
        let mut written = Vec::new();
        for example in &block {
            if !runnable(&example.command, &written) {
                continue;
            }
            common::docs::check(example, &common::docs::run(example, scratch.path(), &[]));
            let words: Vec<&str> = example.command.split_whitespace().collect();
            written.extend(words.windows(2).filter(|w| w[0] == ">").map(|w| w[1].to_string()));
            ran += 1;
        }
    }
    // The README's policy transcript and docs/policy.md's generators, at least.
    assert!(ran >= 15, "only {ran} examples ran: the reader has lost them");
}
