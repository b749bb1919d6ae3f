//! `meshctl validate` end to end: the real binary on the fixtures in testdata/.

use super::common;

use common::{assert_golden, files, meshctl, meshctl_with_input};

#[test]
fn valid_fixtures_have_no_errors_or_warnings() {
    for file in files("testdata/valid", "yaml") {
        let run = meshctl(&["validate", "-f", file.to_str().unwrap(), "--strict"]);
        assert_eq!(run.code, 0, "{}:\n{}", file.display(), run.stdout);
        assert!(run.stdout.contains(" 0 error(s), 0 warning(s)"), "{}:\n{}", file.display(), run.stdout);
    }
}

#[test]
fn invalid_fixtures_match_their_golden_findings() {
    for file in files("testdata/invalid", "yaml") {
        let run = meshctl(&["validate", "-f", file.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{} should fail:\n{}", file.display(), run.stdout);
        assert_golden(file.with_extension("txt"), &run.stdout);
    }
}

#[test]
fn json_output_is_the_documented_shape() {
    let run = meshctl(&["validate", "-f", "testdata/invalid/routes.yaml", "-o", "json"]);
    assert_eq!(run.code, 1);
    assert_golden("testdata/invalid/routes.json", &run.stdout);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let first = &v["findings"][0];
    for field in ["file", "line", "column", "severity", "code", "message", "resource"] {
        assert!(first.get(field).is_some(), "finding lacks {field}: {first}");
    }
    assert_eq!(v["summary"]["errors"], 18);
    assert_eq!(v["summary"]["documents"], 4);
}

#[test]
fn sarif_output_names_rules_and_regions() {
    let run = meshctl(&["validate", "-f", "testdata/invalid/schema.yaml", "-o", "sarif"]);
    assert_eq!(run.code, 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    let result = &run0["results"][0];
    assert_eq!(result["ruleId"], "MESH0101");
    assert_eq!(result["level"], "error");
    assert_eq!(result["locations"][0]["physicalLocation"]["region"]["startLine"], 5);
    assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "testdata/invalid/schema.yaml");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "MESH0202"));
}

#[test]
fn reads_stdin_and_directories() {
    let text = std::fs::read_to_string(common::root().join("testdata/invalid/routes.yaml")).unwrap();
    let run = meshctl_with_input(&["validate", "-f", "-", "-o", "json"], &text);
    assert_eq!(run.code, 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["findings"][0]["file"], "-");
    assert_eq!(v["summary"]["errors"], 18);

    let run = meshctl(&["validate", "-f", "testdata/valid", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["files"], files("testdata/valid", "yaml").len());
}

const SHADOWED: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: profile}
spec:
  hosts: [profile]
  http:
  - route: [{destination: {host: profile}}]
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: profile}}]
";

#[test]
fn warnings_fail_only_with_strict() {
    let run = meshctl_with_input(&["validate", "-f", "-"], SHADOWED);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("-:8:5: warning[MESH0205]"), "{}", run.stdout);
    let run = meshctl_with_input(&["validate", "-f", "-", "--strict"], SHADOWED);
    assert_eq!(run.code, 1);
}

#[test]
fn the_namespace_flag_places_resources_that_name_none() {
    let run = meshctl_with_input(&["validate", "-f", "-", "-n", "shop"], SHADOWED);
    assert!(run.stdout.contains("(VirtualService/shop/profile)"), "{}", run.stdout);
}

#[test]
fn unknown_kinds_are_skipped_unless_rejected() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n";
    let run = meshctl_with_input(&["validate", "-f", "-"], deployment);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("info[MESH0004]"), "{}", run.stdout);
    let run = meshctl_with_input(&["validate", "-f", "-", "--reject-unknown"], deployment);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("error[MESH0004]"), "{}", run.stdout);
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let run = meshctl(&["validate", "-f", "testdata/no-such-file.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read testdata/no-such-file.yaml"), "{}", run.stderr);
    let run = meshctl(&["validate"]);
    assert_eq!(run.code, 2);
    let run = meshctl(&["validate", "-f", "x", "-o", "xml"]);
    assert_eq!(run.code, 2);
}

#[test]
fn the_docs_document_every_finding_code() {
    let readme = std::fs::read_to_string(common::root().join("docs/policy.md")).unwrap();
    for code in meshctl::policy::Code::ALL {
        let row = format!("| `{}` | {} |", code.id(), code.severity());
        assert!(readme.contains(&row), "docs/policy.md has no row starting {row:?} for {code:?}: {}", code.summary());
    }
}

#[test]
fn no_document_is_a_warning_for_validate_and_an_error_for_apply_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let comments = dir.path().join("comments.yaml");
    std::fs::write(&comments, "# nothing here yet\n---\n").unwrap();
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    std::fs::write(empty_dir.join("notes.txt"), "not YAML").unwrap();

    let run = meshctl_with_input(&["validate", "-f", "-"], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("stdin: warning[MESH0008]: no YAML document"), "{}", run.stdout);
    for path in [&comments, &empty_dir] {
        let run = meshctl(&["validate", "-f", path.to_str().unwrap(), "--strict"]);
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(run.stdout.contains(&format!("{}: warning[MESH0008]", path.display())), "{}", run.stdout);
    }

    // No mesh is asked: the input alone is wrong.
    let run = meshctl_with_input(&["apply", "-f", "-"], "");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no objects passed to apply: stdin held no YAML document"), "{}", run.stderr);
    let run = meshctl(&["delete", "-f", comments.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no objects passed to delete"), "{}", run.stderr);

    // A pipe from a generator given a flag it does not take, without `set -o pipefail`.
    let meshctl = env!("CARGO_BIN_EXE_meshctl");
    let pipe = format!("{meshctl} generate traffic-split profile --bogus | {meshctl} apply -f -");
    let out = std::process::Command::new("sh").args(["-c", &pipe]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no objects passed to apply"));
}
