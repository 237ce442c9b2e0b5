//! `ballast ctl`: a client of the orchestrator's admin listener.

use std::fmt::Write as _;

use crate::cli::{CtlArgs, CtlCommand, FaultAction};

/// Runs one admin operation and prints its outcome.
pub async fn run(args: CtlArgs) -> anyhow::Result<()> {
    let base = format!("http://{}", args.admin_addr);
    let client = ballast_kit::client::http_client(std::time::Duration::from_secs(10))?;
    match args.command {
        CtlCommand::Get { what, output } => {
            let value: serde_json::Value = send(client.get(format!("{base}/{what}"))).await?;
            if output == "json" {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", table(&what, &value));
            }
        }
        CtlCommand::Scale { service, replicas } => {
            send_empty(
                client
                    .post(format!("{base}/deployments/{service}/scale"))
                    .json(&serde_json::json!({ "replicas": replicas })),
            )
            .await?;
            println!("deployment/{service} scaled to {replicas}");
        }
        CtlCommand::Restart { service } => {
            send_empty(client.post(format!("{base}/deployments/{service}/restart"))).await?;
            println!("deployment/{service} restarting");
        }
        CtlCommand::Rollback {
            service,
            to_revision,
        } => {
            let value: serde_json::Value = send(
                client
                    .post(format!("{base}/deployments/{service}/rollback"))
                    .json(&serde_json::json!({ "to_revision": to_revision })),
            )
            .await?;
            println!(
                "deployment/{service} rolled back (now revision {})",
                value["revision"]
            );
        }
        CtlCommand::Release {
            service,
            version,
            error_rate,
            latency,
        } => {
            let latency_ms =
                latency.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let value: serde_json::Value = send(
                client
                    .post(format!("{base}/deployments/{service}/releases"))
                    .json(&serde_json::json!({
                        "version": version,
                        "defect": { "error_rate": error_rate, "latency_ms": latency_ms },
                    })),
            )
            .await?;
            println!(
                "deployment/{service} rolling out {version} (revision {})",
                value["revision"]
            );
        }
        CtlCommand::History { service } => {
            let value: serde_json::Value =
                send(client.get(format!("{base}/deployments/{service}/revisions"))).await?;
            println!("{:<9} {:<12} CHANGE-CAUSE", "REVISION", "VERSION");
            for revision in value.as_array().into_iter().flatten() {
                println!(
                    "{:<9} {:<12} {}",
                    revision["number"],
                    revision["spec"]["version"].as_str().unwrap_or(""),
                    revision["change_cause"].as_str().unwrap_or("")
                );
            }
        }
        CtlCommand::Crash { instance } => {
            send_empty(client.post(format!("{base}/instances/{instance}/crash"))).await?;
            println!("instance/{instance} crashed");
        }
        CtlCommand::Fault { action } => match action {
            FaultAction::Set {
                service,
                error_rate,
                latency,
            } => {
                let latency_ms =
                    latency.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                send_empty(
                    client
                        .put(format!("{base}/deployments/{service}/faults"))
                        .json(&serde_json::json!({
                            "error_rate": error_rate, "latency_ms": latency_ms,
                        })),
                )
                .await?;
                println!(
                    "deployment/{service} faults set: error_rate={error_rate} latency={latency_ms}ms"
                );
            }
            FaultAction::Clear { service } => {
                send_empty(client.delete(format!("{base}/deployments/{service}/faults"))).await?;
                println!("deployment/{service} faults cleared");
            }
        },
    }
    Ok(())
}

async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<serde_json::Value> {
    let response = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("admin listener unreachable: {e}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        anyhow::bail!(
            "{status}: {}",
            body["detail"].as_str().unwrap_or("request failed")
        );
    }
    Ok(body)
}

async fn send_empty(request: reqwest::RequestBuilder) -> anyhow::Result<()> {
    let response = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("admin listener unreachable: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        anyhow::bail!(
            "{status}: {}",
            body["detail"].as_str().unwrap_or("request failed")
        );
    }
    Ok(())
}

fn table(what: &str, value: &serde_json::Value) -> String {
    let mut out = String::new();
    let rows = value.as_array().cloned().unwrap_or_default();
    if what == "deployments" {
        let _ = writeln!(
            out,
            "{:<14} {:<7} {:<11} {:<9} {:<7}",
            "NAME", "READY", "UP-TO-DATE", "REVISION", "VERSION"
        );
        for d in rows {
            let _ = writeln!(
                out,
                "{:<14} {:<7} {:<11} {:<9} {:<7}",
                d["name"].as_str().unwrap_or(""),
                format!("{}/{}", d["ready_replicas"], d["replicas"]),
                d["updated_replicas"].to_string(),
                d["revision"].to_string(),
                d["version"].as_str().unwrap_or("")
            );
        }
    } else {
        let _ = writeln!(
            out,
            "{:<14} {:<10} {:<22} {:<6} {:<9} {:<9} PHASE",
            "NAME", "SERVICE", "ADDRESS", "READY", "RESTARTS", "REVISION"
        );
        for i in rows {
            let _ = writeln!(
                out,
                "{:<14} {:<10} {:<22} {:<6} {:<9} {:<9} {}",
                i["name"].as_str().unwrap_or(""),
                i["service"].as_str().unwrap_or(""),
                i["address"].as_str().unwrap_or(""),
                i["ready"].to_string(),
                i["restarts"].to_string(),
                i["revision"].to_string(),
                i["phase"].as_str().unwrap_or("")
            );
        }
    }
    out
}
