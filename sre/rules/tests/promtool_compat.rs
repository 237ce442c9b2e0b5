#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Every `promtool test rules` file runs with Ballast's runner and with promtool, and both
//! agree: the generated SLO tests and the hand-written ones pass, the deliberately failing
//! one fails in both.

use std::path::{Path, PathBuf};
use std::process::Command;

use ballast_rules::{check_rules, run_test_file};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn promtool(file: &Path) -> (bool, String) {
    let out = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(file)
        .output()
        .expect("promtool must be installed (apt-get install -y prometheus)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn generated() -> Vec<PathBuf> {
    let dir = root().join("../../alerts/generated");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no generated test files in {}",
        dir.display()
    );
    files
}

#[test]
fn generated_slo_tests_pass_in_both_runners() {
    // One file per thread: both runners take seconds per file.
    std::thread::scope(|scope| {
        let runs: Vec<_> = generated()
            .into_iter()
            .map(|file| {
                scope.spawn(move || {
                    let report = run_test_file(&file);
                    assert!(report.passed(), "{report}");
                    let (ok, out) = promtool(&file);
                    assert!(ok, "promtool {}: {out}", file.display());
                })
            })
            .collect();
        for run in runs {
            run.join().unwrap();
        }
    });
}

#[test]
fn generated_rule_files_check_clean() {
    check_rules(&root().join("../../alerts/generated")).unwrap();
}

#[test]
fn hand_written_behaviour_passes_in_both_runners() {
    let file = root().join("tests/data/behaviour.test.yaml");
    let report = run_test_file(&file);
    assert!(report.passed(), "{report}");
    let (ok, out) = promtool(&file);
    assert!(ok, "promtool: {out}");
}

#[test]
fn a_wrong_expectation_fails_in_both_runners() {
    let file = root().join("tests/data/failing.test.yaml");
    let report = run_test_file(&file);
    assert!(!report.passed());
    let text = report.to_string();
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        text.contains("name: a deliberately wrong expectation"),
        "{text}"
    );
    assert!(text.contains("alertname: Gone, time: 2m"), "{text}");
    assert!(
        text.contains("Labels:{alertname=\"Gone\", job=\"web\"}"),
        "{text}"
    );
    assert!(
        text.contains("Labels:{alertname=\"Gone\", job=\"api\"}"),
        "{text}"
    );
    let (ok, out) = promtool(&file);
    assert!(!ok, "promtool passed a wrong expectation: {out}");
}

#[test]
fn every_shipped_alert_links_an_existing_runbook_and_a_dashboard() {
    let repo = root().join("../..");
    let files = check_rules(&repo.join("alerts")).unwrap();
    let mut alerts = 0;
    for group in files.files.iter().flat_map(|f| &f.groups) {
        for rule in &group.rules {
            if !matches!(rule.kind, ballast_rules::RuleKind::Alert(_)) {
                continue;
            }
            alerts += 1;
            let runbook = rule
                .annotations
                .get("runbook_url")
                .unwrap_or_else(|| panic!("{} has no runbook_url", rule.name()));
            assert!(
                repo.join(runbook).is_file(),
                "{}: runbook {runbook} does not exist",
                rule.name()
            );
            let dashboard = rule
                .annotations
                .get("dashboard")
                .unwrap_or_else(|| panic!("{} has no dashboard", rule.name()));
            // Dashboards are written with the uid `ballast-slo-<service>` or `ballast-slo-overview`.
            assert!(
                dashboard.starts_with("/d/ballast-slo-"),
                "{}: dashboard {dashboard}",
                rule.name()
            );
        }
    }
    assert!(alerts > 16, "{alerts} alerts");
}
