//! `meshctl generate`, `completion` and the generated files kept in the tree.

use super::common;

use common::{assert_golden, meshctl, meshctl_with_input, root};

/// Each generator with the flags from docs/policy.md (split on spaces), and the golden file its
/// output must match.
const CASES: &[(&str, &str)] = &[
    ("traffic-split", "generate traffic-split profile -n shop --subset v1=90 --subset v2=10"),
    ("traffic-split-port", "generate traffic-split greeter -n shop --subset v1=80 --subset v2=20 --port 9090"),
    ("traffic-split-tcp", "generate traffic-split db -n shop --subset v1=80 --subset v2=20 --port 5432 --tcp"),
    ("traffic-split-gateway", "generate traffic-split profile -n shop --subset v1=90 --subset v2=10 --api gateway"),
    (
        "circuit-breaker",
        "generate circuit-breaker profile -n shop --consecutive-errors 5 --interval 10s --ejection-time 30s \
         --max-ejection-percent 100 --max-connections 100 --max-pending 10 --subset v1 --subset v2",
    ),
    ("mtls-mesh", "generate mtls --mode STRICT"),
    ("mtls-namespace", "generate mtls -n shop --mode permissive"),
    ("authz-allow", "generate authz profile -n shop --allow-from frontend,ops/admin --methods GET,POST --paths /api/*"),
    ("authz-deny", "generate authz profile -n shop --deny-from * --methods DELETE"),
    (
        "jwt",
        "generate jwt board -n shop --issuer https://auth.example.com --jwks-uri https://auth.example.com/jwks.json \
         --audience board --require",
    ),
    (
        "jwt-inline",
        "generate jwt board -n shop --issuer https://auth.example.com --jwks-file testdata/generate/jwks.json",
    ),
    (
        "canary",
        "generate canary profile -n shop --from v1 --to v2 --steps 10,50,100 --interval 30s --min-success-rate 99 \
         --max-p99 500ms",
    ),
    ("canary-thresholds-only", "generate canary profile -n shop --from v1 --to v2 --sequential-test false"),
];

#[test]
fn generators_print_their_golden_policy_and_it_validates() {
    for (name, command) in CASES {
        let args: Vec<&str> = command.split_whitespace().collect();
        let run = meshctl(&args);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_golden(format!("testdata/generate/{name}.yaml"), &run.stdout);
        let check = meshctl_with_input(&["validate", "-f", "-"], &run.stdout);
        assert_eq!(check.code, 0, "{name} output does not validate:\n{}", check.stdout);
    }
}

#[test]
fn a_canary_and_the_split_it_shifts_validate_together_without_warnings() {
    let split = std::fs::read_to_string(root().join("testdata/generate/traffic-split.yaml")).unwrap();
    let canary = std::fs::read_to_string(root().join("testdata/generate/canary.yaml")).unwrap();
    let check = meshctl_with_input(&["validate", "-f", "-", "--strict"], &format!("{split}{canary}"));
    assert_eq!(check.code, 0, "{}", check.stdout);
}

#[test]
fn flags_that_make_an_invalid_policy_are_refused() {
    let run = meshctl(&["generate", "traffic-split", "profile", "--subset", "v1=90", "--subset", "v2=20"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("they add up to 110"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let run = meshctl(&["generate", "canary", "profile", "--from", "v1", "--to", "v2", "--steps", "50,10"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("MESH0401"), "{}", run.stderr);
    let run = meshctl(&["generate", "traffic-split", "profile", "--subset", "v1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not NAME=WEIGHT"), "{}", run.stderr);
    let run = meshctl(&["generate", "circuit-breaker", "profile", "--interval", "10 seconds"]);
    assert_eq!(run.code, 2);
    let run = meshctl(&["generate", "jwt", "board", "--issuer", "https://a"]);
    assert_eq!(run.code, 2, "jwt needs --jwks-uri or --jwks-file");
}

#[test]
fn output_file_receives_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    let run = meshctl(&["generate", "mtls", "--mode", "STRICT", "--output-file", file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written, std::fs::read_to_string(root().join("testdata/generate/mtls-mesh.yaml")).unwrap());
}

#[test]
fn crds_in_the_tree_are_current() {
    // The Gateway API's CRDs are its own, carried in third_party/.
    let generated: Vec<_> = meshctl::api::Kind::ALL.into_iter().filter(|k| k.generated()).collect();
    for kind in &generated {
        let (file, text) = meshctl::api::crd_file(*kind);
        assert_golden(format!("crds/{file}"), &text);
    }
    let run = meshctl(&["generate", "crds"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.matches("kind: CustomResourceDefinition").count(), generated.len());
}

#[test]
fn completions_in_the_tree_are_current() {
    for (shell, file) in [
        ("bash", "meshctl.bash"),
        ("zsh", "_meshctl"),
        ("fish", "meshctl.fish"),
        ("elvish", "meshctl.elv"),
        ("powershell", "_meshctl.ps1"),
    ] {
        let run = meshctl(&["completion", shell]);
        assert_eq!(run.code, 0);
        assert!(run.stdout.contains("generate"), "{shell} completion lacks subcommands");
        assert_golden(format!("completions/{file}"), &run.stdout);
    }
}

#[test]
fn the_command_reference_in_the_tree_is_current() {
    let page = meshctl::cli::reference();
    assert!(page.contains("## `meshctl canary start`") && page.contains("--kubeconfig"), "{page}");
    assert_golden("docs/commands.md", &page);
}

/// The README's conformance figures are those of the committed report, which the cluster test
/// compares with each run's.
#[test]
fn the_readmes_conformance_figures_are_the_committed_reports() {
    let report = std::fs::read_to_string(root().join("conformance/report.yaml")).unwrap();
    let (documents, error) = meshctl::api::yaml::parse(&report);
    assert!(error.is_none(), "{error:?}");
    let report = documents[0].root.as_ref().unwrap().to_json();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for profile in report["profiles"].as_array().unwrap() {
        let figures = |level: &str| {
            let statistics = &profile[level]["statistics"];
            let count = |key: &str| statistics[key].as_u64().unwrap_or(0);
            (count("Passed"), count("Passed") + count("Failed") + count("Skipped"))
        };
        let ((core, of), (extended, _)) = (figures("core"), figures("extended"));
        let row = format!("| {} | {core}/{of} core, {extended} extended |", profile["name"].as_str().unwrap());
        assert!(readme.contains(&row), "README.md has no row {row:?}");
    }
}
