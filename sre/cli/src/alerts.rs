//! `ballast alerts`: check alert rule files and run their unit tests (the `promtool test rules`
//! format), with the suite's own rule evaluator.

use std::path::PathBuf;

use crate::cli::{AlertsArgs, AlertsCommand};

/// Runs `validate` or `test`; an error (non-zero exit) when a file has problems or a test
/// fails.
pub fn run(args: AlertsArgs) -> anyhow::Result<()> {
    match args.command {
        AlertsCommand::Validate { dir } => validate(dir),
        AlertsCommand::Test { files } => test(&files),
    }
}

fn validate(dir: PathBuf) -> anyhow::Result<()> {
    match ballast_rules::check_rules(&dir) {
        Ok(files) => {
            let groups: usize = files.files.iter().map(|f| f.groups.len()).sum();
            let rules: usize = files
                .files
                .iter()
                .flat_map(|f| &f.groups)
                .map(|g| g.rules.len())
                .sum();
            println!(
                "{}: {} files, {groups} groups, {rules} rules: OK",
                dir.display(),
                files.files.len()
            );
            Ok(())
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            anyhow::bail!("{} problems in {}", problems.len(), dir.display())
        }
    }
}

/// Runs rule unit-test files; shared with `ballast slo test`.
pub fn test(files: &[PathBuf]) -> anyhow::Result<()> {
    anyhow::ensure!(!files.is_empty(), "give at least one test file");
    let mut failed = 0;
    for file in files {
        let report = ballast_rules::run_test_file(file);
        print!("{report}");
        if !report.passed() {
            failed += 1;
        }
    }
    anyhow::ensure!(failed == 0, "{failed} of {} test files failed", files.len());
    Ok(())
}
