//! The shipped alert rules: valid, and their unit tests pass under `ballast alerts test` and
//! under `promtool test rules` alike (promtool is required; a missing one fails the test).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ballast");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

#[test]
fn shipped_rules_validate_and_their_tests_pass_in_both_tools() {
    let alerts = root().join("alerts");
    let validate = Command::new(BIN)
        .args(["alerts", "validate"])
        .arg(&alerts)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );

    let ours = Command::new(BIN)
        .args(["alerts", "test"])
        .arg(alerts.join("services.test.yaml"))
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&ours.stderr)
    );

    let promtool = Command::new("promtool")
        .args(["test", "rules", "services.test.yaml"])
        .current_dir(&alerts)
        .output()
        .expect("promtool is required (apt-get install prometheus)");
    assert!(
        promtool.status.success(),
        "{}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
}

#[test]
fn a_broken_rule_file_names_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.rules.yaml"),
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) > \n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["alerts", "validate"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.rules.yaml:5"), "{stderr}");
}
