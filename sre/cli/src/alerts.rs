//! `ballast alerts`: check alert rule files and run their unit tests (the `promtool test rules`
//! format) with the suite's own rule evaluator; list what fires and manage silences on the
//! running suite through its HTTP API (Alertmanager's `/api/v2` and Prometheus'
//! `/api/v1/alerts`), so `amtool` and this command see the same things.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use ballast_alerting::dispatcher::{AlertState, GroupListing};
use ballast_alerting::model::{MatchOp, Matcher};
use serde_json::{Value, json};

use crate::cli::{AlertsArgs, AlertsCommand};

/// Runs one `ballast alerts` operation; an error (non-zero exit) when a file has problems, a
/// test fails or the suite refuses the request.
pub async fn run(args: AlertsArgs) -> anyhow::Result<()> {
    match args.command {
        AlertsCommand::Validate { dir } => validate(dir),
        AlertsCommand::Test { files } => test(&files),
        AlertsCommand::List {
            sre_addr,
            matchers,
            json,
        } => {
            let listing = list(sre_addr, &matchers).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&listing.to_json())?);
            } else {
                print!("{}", listing.render());
            }
            Ok(())
        }
        AlertsCommand::Silence {
            sre_addr,
            matchers,
            duration,
            comment,
            author,
        } => {
            let author = author
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "ballast".into());
            let id = silence(sre_addr, &matchers, &duration, &comment, &author).await?;
            println!("{id}");
            Ok(())
        }
        AlertsCommand::Silences {
            sre_addr,
            expired,
            json,
        } => {
            let silences = silences(sre_addr, expired).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&silences)?);
            } else {
                print!("{}", render_silences(&silences));
            }
            Ok(())
        }
        AlertsCommand::Expire { sre_addr, ids } => {
            for id in &ids {
                expire(sre_addr, id).await?;
                println!("expired {id}");
            }
            Ok(())
        }
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

// ---------------------------------------------------------------------------------------------
// The running suite.

fn client() -> anyhow::Result<reqwest::Client> {
    ballast_kit::client::http_client(Duration::from_secs(10))
}

/// The answer's body, or an error carrying the suite's problem detail.
async fn checked(
    response: reqwest::Result<reqwest::Response>,
    what: &str,
    addr: SocketAddr,
) -> anyhow::Result<String> {
    let response = response.with_context(|| format!("{what}: is the suite up at {addr}?"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let detail = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|p| {
            p.get("detail")
                .or_else(|| p.get("title"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or(body);
    anyhow::bail!("{what}: the suite answered {status}: {detail}")
}

fn parse_matchers(texts: &[String]) -> anyhow::Result<Vec<Matcher>> {
    texts
        .iter()
        .map(|t| Matcher::parse(t).map_err(|reason| anyhow::anyhow!("--matcher {t}: {reason}")))
        .collect()
}

/// What `ballast alerts list` shows.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Firing (and just resolved) alerts by notification group.
    pub groups: Vec<GroupListing>,
    /// Alerts whose condition holds but whose `for` has not elapsed (not notified yet).
    pub pending: Vec<ballast_rules::api::ApiAlert>,
}

impl Listing {
    fn to_json(&self) -> Value {
        json!({ "groups": self.groups, "pending": self.pending })
    }

    /// amtool-like text: one block per group, then the pending alerts.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.groups.is_empty() && self.pending.is_empty() {
            out.push_str("No alerts firing or pending.\n");
            return out;
        }
        for g in &self.groups {
            let _ = write!(out, "{} -> {}", label_text(&g.labels), g.receiver.name);
            if let Some(ack) = &g.acknowledgement {
                let _ = write!(out, "  ({} by {} via {})", ack.state, ack.by, ack.source);
            }
            out.push('\n');
            let rows: Vec<[String; 5]> = g
                .alerts
                .iter()
                .map(|a| {
                    [
                        a.labels.get("alertname").cloned().unwrap_or_default(),
                        state_text(&a.status),
                        a.starts_at.clone(),
                        a.labels.get("severity").cloned().unwrap_or_default(),
                        a.annotations.get("summary").cloned().unwrap_or_default(),
                    ]
                })
                .collect();
            table(
                &mut out,
                ["ALERT", "STATE", "SINCE", "SEVERITY", "SUMMARY"],
                &rows,
            );
            out.push('\n');
        }
        if !self.pending.is_empty() {
            out.push_str("pending (condition holds, `for` not elapsed; not notified yet)\n");
            let rows: Vec<[String; 5]> = self
                .pending
                .iter()
                .map(|a| {
                    [
                        a.labels.get("alertname").cloned().unwrap_or_default(),
                        "pending".into(),
                        a.active_at.clone(),
                        a.labels.get("severity").cloned().unwrap_or_default(),
                        label_text(&without(&a.labels, &["alertname", "severity"])),
                    ]
                })
                .collect();
            table(
                &mut out,
                ["ALERT", "STATE", "SINCE", "SEVERITY", "LABELS"],
                &rows,
            );
        }
        out
    }
}

fn without(labels: &BTreeMap<String, String>, drop: &[&str]) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| !drop.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn label_text(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn state_text(status: &AlertState) -> String {
    match status.state.as_str() {
        "suppressed" if !status.silenced_by.is_empty() => {
            format!("silenced ({})", status.silenced_by.join(","))
        }
        "suppressed" if !status.inhibited_by.is_empty() => "inhibited".into(),
        "active" => "firing".into(),
        other => other.to_string(),
    }
}

fn table<const N: usize>(out: &mut String, header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: [&str; N]| {
        let mut text = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                text.push(' ');
                text.push_str(cell);
            } else {
                let _ = write!(text, " {cell:<width$}", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(out, header);
    for row in rows {
        line(out, row.each_ref().map(String::as_str));
    }
}

/// Firing alerts by group from the dispatcher and pending ones from the rule engine, both
/// narrowed by `matchers`.
pub async fn list(addr: SocketAddr, matchers: &[String]) -> anyhow::Result<Listing> {
    let parsed = parse_matchers(matchers)?;
    let http = client()?;
    let groups_body = checked(
        http.get(format!("http://{addr}/api/v2/alerts/groups"))
            .send()
            .await,
        "listing alert groups",
        addr,
    )
    .await?;
    let mut groups: Vec<GroupListing> =
        serde_json::from_str(&groups_body).context("the suite's alert groups")?;
    for g in &mut groups {
        g.alerts
            .retain(|a| parsed.iter().all(|m| m.matches(&a.labels)));
    }
    groups.retain(|g| !g.alerts.is_empty());
    let alerts_body = checked(
        http.get(format!("http://{addr}/api/v1/alerts"))
            .send()
            .await,
        "listing pending alerts",
        addr,
    )
    .await?;
    let alerts: Value = serde_json::from_str(&alerts_body).context("the suite's alerts")?;
    let pending: Vec<ballast_rules::api::ApiAlert> =
        serde_json::from_value(alerts["data"]["alerts"].clone()).context("the suite's alerts")?;
    let pending = pending
        .into_iter()
        .filter(|a| a.state == "pending" && parsed.iter().all(|m| m.matches(&a.labels)))
        .collect();
    Ok(Listing { groups, pending })
}

/// Creates a silence from now for `duration`; returns its id.
pub async fn silence(
    addr: SocketAddr,
    matchers: &[String],
    duration: &str,
    comment: &str,
    author: &str,
) -> anyhow::Result<String> {
    let parsed = parse_matchers(matchers)?;
    anyhow::ensure!(!parsed.is_empty(), "give at least one --matcher");
    let length = humantime::parse_duration(duration)
        .map_err(|e| anyhow::anyhow!("--duration {duration}: {e}"))?;
    anyhow::ensure!(
        !length.is_zero(),
        "--duration {duration}: must be longer than 0"
    );
    anyhow::ensure!(!comment.trim().is_empty(), "--comment: say why");
    let now = chrono::Utc::now();
    let ends = now
        + chrono::Duration::from_std(length)
            .map_err(|_| anyhow::anyhow!("--duration {duration}: too long"))?;
    let body = json!({
        "matchers": parsed.iter().map(|m| json!({
            "name": m.name,
            "value": m.value,
            "isRegex": matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
            "isEqual": matches!(m.op, MatchOp::Equal | MatchOp::Regex),
        })).collect::<Vec<_>>(),
        "startsAt": now.to_rfc3339(),
        "endsAt": ends.to_rfc3339(),
        "createdBy": author,
        "comment": comment,
    });
    let answer = checked(
        client()?
            .post(format!("http://{addr}/api/v2/silences"))
            .json(&body)
            .send()
            .await,
        "creating the silence",
        addr,
    )
    .await?;
    let answer: Value = serde_json::from_str(&answer).context("the suite's answer")?;
    answer["silenceID"]
        .as_str()
        .map(str::to_string)
        .context("the suite's answer has no silenceID")
}

/// Silences (Alertmanager's `gettableSilences`), expired ones only when asked.
pub async fn silences(addr: SocketAddr, expired: bool) -> anyhow::Result<Vec<Value>> {
    let body = checked(
        client()?
            .get(format!("http://{addr}/api/v2/silences"))
            .send()
            .await,
        "listing silences",
        addr,
    )
    .await?;
    let all: Vec<Value> = serde_json::from_str(&body).context("the suite's silences")?;
    Ok(all
        .into_iter()
        .filter(|s| expired || s["status"]["state"] != "expired")
        .collect())
}

fn render_silences(silences: &[Value]) -> String {
    if silences.is_empty() {
        return "No silences.\n".into();
    }
    let rows: Vec<[String; 6]> = silences
        .iter()
        .map(|s| {
            let matchers: Vec<String> = s["matchers"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|m| {
                    let op = match (m["isRegex"].as_bool(), m["isEqual"].as_bool()) {
                        (Some(true), Some(false)) => "!~",
                        (Some(true), _) => "=~",
                        (_, Some(false)) => "!=",
                        _ => "=",
                    };
                    format!(
                        "{}{op}{:?}",
                        m["name"].as_str().unwrap_or(""),
                        m["value"].as_str().unwrap_or("")
                    )
                })
                .collect();
            let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
            [
                text("id"),
                matchers.join(" "),
                s["status"]["state"].as_str().unwrap_or("").to_string(),
                text("endsAt"),
                text("createdBy"),
                text("comment"),
            ]
        })
        .collect();
    let mut out = String::new();
    table(
        &mut out,
        [
            "ID",
            "MATCHERS",
            "STATE",
            "ENDS AT",
            "CREATED BY",
            "COMMENT",
        ],
        &rows,
    );
    out
}

/// Ends a silence now.
pub async fn expire(addr: SocketAddr, id: &str) -> anyhow::Result<()> {
    checked(
        client()?
            .delete(format!("http://{addr}/api/v2/silence/{id}"))
            .send()
            .await,
        &format!("expiring silence {id}"),
        addr,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The dispatcher's listing of one group, with the alert fields the text does not show
    /// filled in.
    fn group(mut alerts: Value) -> GroupListing {
        for alert in alerts.as_array_mut().unwrap() {
            let alert = alert.as_object_mut().unwrap();
            for (key, value) in [
                ("fingerprint", json!("f")),
                ("annotations", json!({})),
                ("endsAt", json!("")),
                ("updatedAt", json!("")),
                ("generatorURL", json!("")),
                ("receivers", json!([{"name": "oncall"}])),
            ] {
                alert.entry(key).or_insert(value);
            }
        }
        serde_json::from_value(json!({
            "groupKey": "{}/{tier=\"page\"}:{alertname=\"SLOBurnRatePageFast\", service=\"order\"}",
            "labels": {"alertname": "SLOBurnRatePageFast", "service": "order"},
            "receiver": {"name": "oncall"},
            "acknowledgement": {"group_key": "g", "state": "acknowledged", "by": "alice", "source": "slack", "at": 0},
            "alerts": alerts,
        }))
        .unwrap()
    }

    #[test]
    fn the_listing_reads_like_amtool_with_who_was_told_and_what_is_muted() {
        let listing = Listing {
            groups: vec![group(json!([
                {"labels": {"alertname": "SLOBurnRatePageFast", "severity": "critical"},
                 "annotations": {"summary": "burning 14.4x"},
                 "startsAt": "2026-11-25T10:00:00Z",
                 "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}},
                {"labels": {"alertname": "SLOBurnRateTicketFast", "severity": "warning"},
                 "startsAt": "2026-11-25T10:01:00Z",
                 "status": {"state": "suppressed", "silencedBy": ["s-1"], "inhibitedBy": []}},
            ]))],
            pending: vec![
                serde_json::from_value(json!({
                    "labels": {"alertname": "HighErrorRate", "service": "payment", "severity": "critical"},
                    "annotations": {},
                    "state": "pending",
                    "activeAt": "2026-11-25T10:02:00.000Z",
                    "value": "2e-02",
                }))
                .unwrap(),
            ],
        };
        let text = listing.render();
        assert!(
            text.starts_with(
                "{alertname=\"SLOBurnRatePageFast\", service=\"order\"} -> oncall  (acknowledged by alice via slack)\n"
            ),
            "{text}"
        );
        assert!(text.contains("SLOBurnRatePageFast   firing"), "{text}");
        assert!(text.contains("SEVERITY SUMMARY"), "{text}");
        assert!(text.contains("critical burning 14.4x"), "{text}");
        assert!(text.contains("silenced (s-1)"), "{text}");
        assert!(text.contains("burning 14.4x"), "{text}");
        assert!(text.contains("pending (condition holds"), "{text}");
        assert!(text.contains("{service=\"payment\"}"), "{text}");
        let empty = Listing {
            groups: vec![],
            pending: vec![],
        };
        assert_eq!(empty.render(), "No alerts firing or pending.\n");
    }

    #[test]
    fn matchers_are_checked_before_anything_is_sent() {
        let error = parse_matchers(&["service".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--matcher service"), "{error}");
        let ok = parse_matchers(&[r#"alertname=~"SLO.*""#.to_owned()]).unwrap();
        assert_eq!(ok[0].op, MatchOp::Regex);
    }
}
