//! The examples in the README and `docs/`: each `meshctl` line of a code block (continued by
//! `\\`), a `$ ` line being a transcript whose following lines are what it prints (`...` skips
//! some) and whose `# exit N` says its exit status. A line piped into `apply` is cut at the pipe:
//! what feeds a mesh is an example, what the mesh answers is not checked. The tests that run
//! them (`offline/docs.rs`, the local mesh's) pick those they can run.

use std::path::PathBuf;

pub struct Example {
    /// `FILE:LINE`, for the failure message.
    pub place: String,
    pub command: String,
    pub exit: i32,
    /// What a transcript shows it printing.
    pub shown: Vec<String>,
}

/// The code blocks of `text`, each as its lines with their line numbers.
fn code_blocks(text: &str) -> Vec<Vec<(usize, &str)>> {
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

/// The examples of the README and of every page in `docs/` but the command reference (each
/// command's `--help`, which the generate tests keep current), block by block.
pub fn blocks() -> Vec<Vec<Example>> {
    let mut files = vec![super::root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(super::root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && !p.ends_with("commands.md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut all = Vec::new();
    for file in &files {
        let name = file.strip_prefix(super::root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        all.extend(code_blocks(&text).iter().map(|block| examples(&name, block)).filter(|e| !e.is_empty()));
    }
    all
}

/// Runs an example as a shell would, in `dir`, with the meshctl under test first on `PATH` and
/// `envs` set: its exit status and what it printed (stdout, then stderr).
pub fn run(example: &Example, dir: &std::path::Path, envs: &[(&str, &str)]) -> (i32, String) {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_meshctl")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", binary.display(), std::env::var("PATH").unwrap_or_default());
    let output = std::process::Command::new("bash")
        .args(["-c", &example.command])
        .current_dir(dir)
        .env("PATH", &path)
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), printed)
}

/// Checks that `example` exited as it says and printed what its transcript shows, in order.
pub fn check(example: &Example, (code, printed): &(i32, String)) {
    let place = &example.place;
    assert_eq!(*code, example.exit, "{place}: {}\n{printed}", example.command);
    let mut rest = printed.as_str();
    for shown in example.shown.iter().filter(|l| l.as_str() != "...") {
        let at = rest.find(shown.as_str());
        assert!(at.is_some(), "{place}: {} does not print, in this order:\n{shown}\nbut:\n{printed}", example.command);
        rest = &rest[at.unwrap() + shown.len()..];
    }
}
