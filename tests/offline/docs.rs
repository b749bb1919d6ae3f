//! The examples in the README and `docs/` that need no mesh run as written: each `meshctl
//! generate`, `validate` and `completion` line of a code block, in a scratch directory that sees
//! the tree's `testdata/`, one block's lines in order (so a file one writes, the next reads).
//! A `$ ` line is a transcript: the lines after it are what it prints (`...` skips some), and
//! `# exit N` says its exit status. A line that needs a mesh or a cluster (piped into `apply`)
//! runs up to the pipe. Synopses (`[--flag]`) and lines naming files the tree does not have are
//! not examples.

use std::path::Path;
use std::process::Command;

use super::common;

struct Example {
    /// `FILE:LINE`, for the failure message.
    place: String,
    command: String,
    exit: i32,
    /// What a transcript shows it printing.
    shown: Vec<String>,
}

/// The code blocks of `text`, each as its lines with their line numbers.
fn blocks(text: &str) -> Vec<Vec<(usize, &str)>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<(usize, &str)>> = None;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(Vec::new()),
            }
        } else if let Some(block) = &mut current {
            block.push((i + 1, line));
        }
    }
    blocks
}

/// The examples of one block: each `meshctl` line (continued by `\`), and after a `$ ` line
/// the output shown for it.
fn examples(file: &str, block: &[(usize, &str)]) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    // Whether the lines that follow are the output of the last example's transcript.
    let mut showing = false;
    let mut lines = block.iter();
    while let Some(&(number, line)) = lines.next() {
        let transcript = line.starts_with("$ ");
        let command = line.strip_prefix("$ ").unwrap_or(line);
        if !command.starts_with("meshctl ") {
            match examples.last_mut() {
                Some(last) if showing && !transcript && !line.is_empty() => last.shown.push(line.to_string()),
                _ => showing = false,
            }
            continue;
        }
        showing = transcript;
        let mut joined = String::new();
        let mut part = command;
        while let Some(rest) = part.strip_suffix('\\') {
            joined.push_str(rest);
            part = lines.next().map_or("", |(_, l)| l.trim_start());
        }
        joined.push_str(part);
        let (command, comment) = joined.split_once(" # ").unwrap_or((joined.as_str(), ""));
        let exit = comment.split_once("exit ").and_then(|(_, n)| n.split_whitespace().next()?.parse().ok());
        // What a mesh or a cluster takes in is not run, nor is what it prints checked; what
        // feeds it runs.
        let (command, fed) = match command.split_once(" | ") {
            Some((first, rest)) if rest.contains(" apply ") => (first, true),
            _ => (command, false),
        };
        examples.push(Example {
            place: format!("{file}:{number}"),
            command: command.trim_end().to_string(),
            exit: if fed { 0 } else { exit.unwrap_or(0) },
            shown: Vec::new(),
        });
        showing &= !fed;
    }
    examples
}

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
    let mut files = vec![common::root().join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(common::root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        // The command reference is each command's --help, checked by the generate tests.
        .filter(|p| p.extension().is_some_and(|e| e == "md") && !p.ends_with("commands.md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let binary = Path::new(env!("CARGO_BIN_EXE_meshctl")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", binary.display(), std::env::var("PATH").unwrap_or_default());
    let mut ran = 0;
    for file in &files {
        let name = file.strip_prefix(common::root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        for block in blocks(&text) {
            let scratch = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(common::root().join("testdata"), scratch.path().join("testdata")).unwrap();
            let mut written = Vec::new();
            for example in examples(&name, &block) {
                if !runnable(&example.command, &written) {
                    continue;
                }
                let output = Command::new("bash")
                    .args(["-c", &example.command])
                    .current_dir(scratch.path())
                    .env("PATH", &path)
                    .env("NO_COLOR", "1")
                    .output()
                    .unwrap();
                let printed =
                    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
                let place = &example.place;
                assert_eq!(output.status.code(), Some(example.exit), "{place}: {}\n{printed}", example.command);
                // What the transcript shows, in order; `...` stands for lines left out.
                let mut rest = printed.as_str();
                for shown in example.shown.iter().filter(|l| l.as_str() != "...") {
                    let at = rest.find(shown.as_str());
                    assert!(
                        at.is_some(),
                        "{place}: {} does not print, in this order:\n{shown}\nbut:\n{printed}",
                        example.command
                    );
                    rest = &rest[at.unwrap() + shown.len()..];
                }
                let words: Vec<&str> = example.command.split_whitespace().collect();
                written.extend(words.windows(2).filter(|w| w[0] == ">").map(|w| w[1].to_string()));
                ran += 1;
            }
        }
    }
    // The README's policy transcript and docs/policy.md's generators, at least.
    assert!(ran >= 15, "only {ran} examples ran: the reader above has lost them");
}
