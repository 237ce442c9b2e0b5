//! Regenerates the checked-in outputs from the specs in `slo/`: rule and promtool test files
//! into `alerts/generated/`, dashboards into `dashboards/`.
//!
//! `cargo run -p ballast-slo --example generate` (from anywhere in the workspace).

use std::path::{Path, PathBuf};

fn write_all(dir: &Path, files: &[(String, String)], suffixes: &[&str]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Remove stale generated files so renamed SLOs leave nothing behind.
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if suffixes.iter().any(|s| name.ends_with(s)) && !files.iter().any(|(f, _)| f == name) {
            std::fs::remove_file(&path)?;
        }
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let specs = match ballast_slo::validate_dir(&root.join("slo")) {
        Ok(s) => s,
        Err(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            std::process::exit(1);
        }
    };
    let rules = ballast_slo::generate_rules(&specs, &ballast_slo::RuleOptions::default());
    write_all(
        &root.join("alerts/generated"),
        &rules,
        &[".rules.yaml", ".test.yaml"],
    )?;
    let dashboards = ballast_slo::generate_dashboards(&specs);
    write_all(&root.join("dashboards"), &dashboards, &[".json"])?;
    println!(
        "wrote {} rule files and {} dashboards for {} SLOs",
        rules.len(),
        dashboards.len(),
        specs.slos.len()
    );
    Ok(())
}
