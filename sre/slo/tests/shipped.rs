#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The specs shipped in `slo/` validate, and the checked-in files generated from them
//! (`alerts/generated/`, `dashboards/`) are current, pass promtool, and parse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ballast_slo::spec::SpecFormat;
use ballast_slo::{RuleOptions, Specs, Tier, all_expressions, generate_dashboards, generate_rules};

const SERVICES: [&str; 8] = [
    "gateway",
    "user",
    "product",
    "order",
    "inventory",
    "payment",
    "shipping",
    "notification",
];

const REGENERATE: &str = "cargo run -p ballast-slo --example generate";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn specs() -> Specs {
    match ballast_slo::validate_dir(&root().join("slo")) {
        Ok(s) => s,
        Err(ps) => panic!(
            "slo/ does not validate:\n{}",
            ps.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn checked_in(dir: &Path, suffixes: &[&str]) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            suffixes
                .iter()
                .any(|s| name.ends_with(s))
                .then(|| (name, std::fs::read_to_string(&p).unwrap()))
        })
        .collect()
}

fn assert_current(dir: &Path, suffixes: &[&str], generated: &[(String, String)]) {
    let on_disk = checked_in(dir, suffixes);
    let generated: BTreeMap<String, String> = generated.iter().cloned().collect();
    let on_disk_names: Vec<_> = on_disk.keys().collect();
    let generated_names: Vec<_> = generated.keys().collect();
    assert_eq!(
        on_disk_names,
        generated_names,
        "{} holds other files than the specs generate; run `{REGENERATE}`",
        dir.display()
    );
    for (name, text) in &generated {
        assert!(
            on_disk[name] == *text,
            "{}/{name} differs from what the specs generate; run `{REGENERATE}`",
            dir.display()
        );
    }
}

#[test]
fn every_service_has_availability_and_latency_slos_in_both_formats() {
    let specs = specs();
    assert_eq!(specs.slos.len(), 16);
    for service in SERVICES {
        let availability = specs.slo(&format!("{service}-availability")).unwrap();
        assert_eq!(availability.service, service);
        assert_eq!(availability.target.ppm(), Some(999_500), "{service}");
        assert_eq!(availability.window.length().to_string(), "30d");
        assert_eq!(availability.error_budget().to_string(), "0.0005");
        let latency = specs.slo(&format!("{service}-latency")).unwrap();
        assert_eq!(latency.target.ppm(), Some(990_000), "{service}");
        for slo in [availability, latency] {
            assert!(slo.alerting.min_events > 0, "{}", slo.name);
            let first = &slo.alerting.burn_rates[0];
            assert_eq!(
                (
                    first.tier,
                    first.factor.to_string(),
                    first.long_window.to_string()
                ),
                (Tier::Page, "14.4".to_owned(), "1h".to_owned()),
                "{}",
                slo.name
            );
        }
        assert_eq!(availability.alerting.burn_rates.len(), 4, "{service}");
        assert!(availability.alerting.no_data.is_some(), "{service}");
    }
    assert!(specs.slos.iter().any(|s| s.format == SpecFormat::Sloth));
    assert!(specs.slos.iter().any(|s| s.format == SpecFormat::OpenSlo));
    // Tier switches: the Sloth latency SLO disables its ticket alert, shipping's latency SLO
    // uses the page-only policy.
    for name in ["notification-latency", "shipping-latency"] {
        let tiers: Vec<_> = specs
            .slo(name)
            .unwrap()
            .alerting
            .burn_rates
            .iter()
            .map(|b| b.tier)
            .collect();
        assert_eq!(tiers, vec![Tier::Page, Tier::Page], "{name}");
    }
}

#[test]
fn checked_in_rules_are_what_the_specs_generate() {
    let rules = generate_rules(&specs(), &RuleOptions::default());
    assert_current(
        &root().join("alerts/generated"),
        &[".rules.yaml", ".test.yaml"],
        &rules,
    );
}

#[test]
fn checked_in_dashboards_are_what_the_specs_generate() {
    let dashboards = generate_dashboards(&specs());
    assert_current(&root().join("dashboards"), &[".json"], &dashboards);
}

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("promtool is required (apt-get install -y prometheus): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn generated_rules_pass_promtool_check_and_their_unit_tests() {
    let specs = specs();
    let files = generate_rules(&specs, &RuleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let rule_files: Vec<&str> = files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.ends_with(".rules.yaml"))
        .collect();
    let test_files: Vec<&str> = files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.ends_with(".test.yaml"))
        .collect();
    // Every SLO over the kit's metrics gets a test file.
    assert_eq!(rule_files.len(), specs.slos.len());
    assert_eq!(test_files.len(), specs.slos.len());
    let mut args = vec!["check", "rules"];
    args.extend(&rule_files);
    let out = promtool(&args, dir.path());
    assert_eq!(out.matches("SUCCESS").count(), rule_files.len(), "{out}");
    let mut args = vec!["test", "rules"];
    args.extend(&test_files);
    let out = promtool(&args, dir.path());
    assert_eq!(out.matches("SUCCESS").count(), test_files.len(), "{out}");
}

#[test]
fn a_mistuned_rule_fails_its_promtool_test() {
    // The generated tests have teeth: nudge one threshold down and the "just under" test fails.
    let specs = specs();
    let files = generate_rules(&specs, &RuleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &files {
        if name.starts_with("user-availability.") {
            let text = text.replace("> 0.0072", "> 0.0071");
            std::fs::write(dir.path().join(name), text).unwrap();
        }
    }
    let out = Command::new("promtool")
        .args(["test", "rules", "user-availability.test.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool is required (apt-get install -y prometheus)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("just under the SLOBurnRatePageFast threshold 0.0072"),
        "{text}"
    );
}

#[test]
fn every_rule_and_panel_expression_parses() {
    let specs = specs();
    let exprs = all_expressions(&specs);
    assert!(exprs.len() > specs.slos.len() * 20, "{}", exprs.len());
    for e in &exprs {
        if let Err(err) = promql_parser::parser::parse(e) {
            panic!("does not parse: {e}\n{err}");
        }
    }
    // Thresholds are rendered exactly, never as float noise.
    assert!(exprs.iter().any(|e| e.contains("> 0.0072 and")));
    assert!(
        !exprs
            .iter()
            .any(|e| e.contains("0.00720000") || e.contains("e-"))
    );
}

#[test]
fn dashboards_are_valid_grafana_json_with_parsing_queries() {
    let specs = specs();
    let dashboards = generate_dashboards(&specs);
    let names: Vec<&str> = dashboards.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"slo-overview.json"));
    for service in SERVICES {
        assert!(
            names.contains(&format!("slo-{service}.json").as_str()),
            "{service}"
        );
    }
    let mut uids = Vec::new();
    for (name, text) in &dashboards {
        let d: serde_json::Value = serde_json::from_str(text).unwrap();
        assert!(d["schemaVersion"].as_u64().unwrap() >= 36, "{name}");
        let uid = d["uid"].as_str().unwrap().to_owned();
        assert!(!uid.is_empty() && uid.len() <= 40, "{name}: {uid}");
        uids.push(uid);
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{name}"
        );
        let panels = d["panels"].as_array().unwrap();
        let mut ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), panels.len(), "{name}: panel ids unique");
        for p in panels.iter().filter(|p| p["type"] != "row") {
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{name}");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}: {}", p["title"]);
            for t in targets {
                let expr = t["expr"].as_str().unwrap();
                promql_parser::parser::parse(expr)
                    .unwrap_or_else(|e| panic!("{name}: {expr}: {e}"));
            }
        }
    }
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), dashboards.len());
    // The overview shows every SLO's attainment, budget remaining and fastest burn.
    let overview = &dashboards
        .iter()
        .find(|(n, _)| n == "slo-overview.json")
        .unwrap()
        .1;
    for slo in &specs.slos {
        assert!(
            overview.contains(&format!("slo=\\\"{}\\\"", slo.name)),
            "{}",
            slo.name
        );
    }
    for title in ["Attainment (30d)", "Error budget remaining", "Fastest burn"] {
        assert_eq!(overview.matches(title).count(), specs.slos.len(), "{title}");
    }
    // Generation is deterministic.
    assert_eq!(dashboards, generate_dashboards(&specs));
}
