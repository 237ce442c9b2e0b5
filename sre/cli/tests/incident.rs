//! An incident on the running embedded platform, end to end, time-scaled 20x with Slack and
//! PagerDuty pointed at local stand-ins that record every request:
//!
//! 1. a silence made with `ballast alerts silence` mutes everything about the gateway;
//! 2. `ballast ctl fault set product --error-rate 1` (through the admin API) makes every
//!    product request fail; the product availability SLO shows its 14.4x page within the
//!    Workbook's time (scaled), its budget falls, and each alert group pages exactly once in
//!    Slack and once in PagerDuty, none of them about the silenced gateway; a signed click on
//!    Acknowledge in Slack reaches PagerDuty, an unsigned or stale one is refused (401);
//! 3. the suite restarts while the page fires: no second trigger, no second Slack message;
//! 4. `ballast alerts expire` ends the silence: the gateway's groups page now;
//! 5. clearing the fault brings the burn rate down, and every paged group resolves once in
//!    PagerDuty (same `dedup_key`) and updates its Slack message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ballast_alerting::standin::{Recorded, StandIn};
use ballast_cli::config::BallastConfig;
use ballast_cli::platform::{Addresses, Platform};
use ballast_kit::config::Secret;
use serde_json::Value;
use tokio::time::Instant;

const SCALE: f64 = 20.0;

fn config(dir: &Path, slack: &StandIn, pagerduty: &StandIn) -> BallastConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut config = BallastConfig {
        data_dir: dir.join("data"),
        store: ballast_kit::testing::store_config(),
        ..BallastConfig::default()
    };
    config.orchestrator.time_scale = SCALE;
    config.metrics.scrape_interval = Duration::from_secs(1);
    config.metrics.scrape_timeout = Duration::from_millis(900);
    config.gateway.rate_limit.anonymous.rate_per_second = 100_000.0;
    config.gateway.rate_limit.anonymous.burst = 100_000;
    config.suite.alerts_dir = root.join("alerts");
    config.suite.routing_file = root.join("alerts/routing.yaml");
    config.suite.slo_dir = root.join("slo");
    config.slack.api_url = slack.endpoint();
    config.slack.bot_token = Some(Secret::new("xoxb-incident-test"));
    config.slack.signing_secret = Some(Secret::new("slack-signing-secret"));
    config.pagerduty.events_url = pagerduty.endpoint();
    config.pagerduty.routing_key = Some(Secret::new("R0UTINGKEY0000000000000000000000"));
    config
}

async fn start(config: &BallastConfig) -> Platform {
    Platform::start(
        config.clone(),
        Addresses {
            gateway: "127.0.0.1:0".parse().unwrap(),
            admin: "127.0.0.1:0".parse().unwrap(),
            base_port: 0,
            sre: "127.0.0.1:0".parse().unwrap(),
        },
        Duration::from_secs(30),
    )
    .await
    .unwrap()
}

/// What `ballast ctl fault set|clear product` sends to the admin API.
async fn product_errors(http: &reqwest::Client, platform: &Platform, rate: f64) {
    let url = format!("http://{}/deployments/product/faults", platform.admin);
    let response = if rate > 0.0 {
        http.put(url)
            .json(&serde_json::json!({"error_rate": rate, "latency_ms": 0}))
            .send()
            .await
    } else {
        http.delete(url).send().await
    }
    .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// Shoppers reading products through the gateway, about 20 requests a second, until stopped.
fn traffic(
    http: reqwest::Client,
    gateway: Arc<parking_lot::Mutex<String>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut sent = 0u64;
        let deadline = Instant::now() + Duration::from_secs(600);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let base = gateway.lock().clone();
            let _ = http
                .get(format!("http://{base}/api/v1/products?per_page=5"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            sent += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sent
    })
}

/// `GET path` on the suite's API, as JSON.
async fn suite_json(http: &reqwest::Client, platform: &Platform, path: &str) -> Value {
    http.get(format!("http://{}{path}", platform.sre))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn slo(http: &reqwest::Client, platform: &Platform, name: &str) -> Option<Value> {
    let response = http
        .get(format!("http://{}/api/v1/slos", platform.sre))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["data"]["slos"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
}

async fn wait_for_slo(
    http: &reqwest::Client,
    platform: &Platform,
    name: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let status = slo(http, platform, name).await;
        if let Some(s) = &status
            && pred(s)
        {
            return s.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {what} did not happen within {timeout:?}: {status:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn burn(slo: &Value, window: &str) -> f64 {
    slo["burn_rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["window"] == window)
        .and_then(|b| b["burn_rate"].as_f64())
        .unwrap_or(0.0)
}

fn triggers(pd: &[Recorded]) -> Vec<&Recorded> {
    pd.iter()
        .filter(|r| r.status < 300 && r.body["event_action"] == "trigger")
        .collect()
}

fn acknowledges(pd: &[Recorded]) -> Vec<&Recorded> {
    pd.iter()
        .filter(|r| r.status < 300 && r.body["event_action"] == "acknowledge")
        .collect()
}

/// Slack's request for a click on the message's Acknowledge button, signed with `secret`.
async fn slack_click(
    http: &reqwest::Client,
    platform: &Platform,
    group_key: &str,
    ts: i64,
    secret: &str,
) -> reqwest::Response {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": "U0ONCALL", "username": "oncall-engineer"},
        "actions": [{"action_id": "ballast_acknowledge", "value": group_key, "type": "button"}],
    });
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let ts = ts.to_string();
    http.post(format!("http://{}/slack/interactions", platform.sre))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header(
            "x-slack-signature",
            ballast_alerting::notify::signature::slack_sign(secret, &ts, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

fn resolves(pd: &[Recorded]) -> Vec<&Recorded> {
    pd.iter()
        .filter(|r| r.status < 300 && r.body["event_action"] == "resolve")
        .collect()
}

/// Top-level Slack messages (not thread replies), accepted.
fn slack_messages(slack: &[Recorded]) -> Vec<&Recorded> {
    slack
        .iter()
        .filter(|r| {
            r.status < 300
                && r.path.ends_with("chat.postMessage")
                && r.body.get("thread_ts").is_none_or(Value::is_null)
        })
        .collect()
}

/// A Slack message's channel and group title (`SLOBurnRatePageFast (service=…, slo=…)`),
/// without the alert count.
fn title(message: &Recorded) -> String {
    let text = message.body["text"].as_str().unwrap_or_default();
    let group = text.split_once("): ").map_or(text, |(_, rest)| rest);
    format!("{} {group}", message.body["channel"])
}

fn service_of(trigger: &Recorded) -> String {
    trigger.body["payload"]["custom_details"]["common_labels"]["service"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Every dedup key was triggered exactly once.
fn assert_one_trigger_per_group(pd: &[Recorded]) -> BTreeMap<String, String> {
    let mut by_key: BTreeMap<String, Vec<&Recorded>> = BTreeMap::new();
    for t in triggers(pd) {
        by_key
            .entry(t.body["dedup_key"].as_str().unwrap().to_owned())
            .or_default()
            .push(t);
    }
    for (key, sent) in &by_key {
        assert_eq!(
            sent.len(),
            1,
            "group {key} was triggered {} times",
            sent.len()
        );
    }
    by_key
        .into_iter()
        .map(|(k, v)| (k, service_of(v[0])))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_pages_once_survives_a_restart_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let slack = StandIn::slack().await.unwrap();
    let pagerduty = StandIn::pagerduty().await.unwrap();
    let config = config(dir.path(), &slack, &pagerduty);
    let http = ballast_kit::client::http_client(Duration::from_secs(10)).unwrap();

    let platform = start(&config).await;
    let gateway = Arc::new(parking_lot::Mutex::new(platform.gateway.to_string()));
    let stop = Arc::new(AtomicBool::new(false));
    let shoppers = traffic(http.clone(), gateway.clone(), stop.clone());

    // Healthy traffic reaches the SLO engine first.
    let healthy = wait_for_slo(
        &http,
        &platform,
        "product-availability",
        Duration::from_secs(90),
        "healthy traffic",
        |s| s["events_total"].as_f64().unwrap_or(0.0) > 0.0,
    )
    .await;
    assert_eq!(healthy["time_scale"], 20);
    assert_eq!(healthy["events_bad"].as_f64(), Some(0.0), "{healthy:#}");
    assert!(
        healthy["firing"].as_array().unwrap().is_empty(),
        "{healthy:#}"
    );

    // 1. Mute the gateway, as an on-call engineer would from the command line.
    let silence = ballast_cli::alerts::silence(
        platform.sre,
        &["service=gateway".to_owned()],
        "1h",
        "gateway errors are the product outage seen from outside",
        "incident-test",
    )
    .await
    .unwrap();
    let listed = ballast_cli::alerts::silences(platform.sre, false)
        .await
        .unwrap();
    assert!(
        listed.iter().any(|s| s["id"] == silence.as_str()),
        "{listed:?}"
    );

    // 2. Every product request fails.
    product_errors(&http, &platform, 1.0).await;
    let outage = Instant::now();
    // The Workbook's page: 2 % of the 30-day budget is 26 s of full outage, plus `for: 2m`,
    // one 1-minute step, one evaluation and a scrape; all divided by the time scale, then
    // given a generous margin for a loaded debug build.
    let expected = Duration::from_secs_f64((26.0 + 120.0 + 60.0 + 30.0) / SCALE + 1.0);
    let paging = wait_for_slo(
        &http,
        &platform,
        "product-availability",
        expected * 4,
        "the 14.4x page",
        |s| {
            s["firing"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().contains("PageFast"))
        },
    )
    .await;
    let took = outage.elapsed();
    println!(
        "14.4x page {took:.1?} after the outage began (expected {expected:.1?} at {SCALE}x, \
         {:.0?} of SLO time)",
        took.mul_f64(SCALE)
    );
    assert!(burn(&paging, "5m") > 14.4, "{paging:#}");
    let remaining = paging["budget"]["remaining_ratio"].as_f64().unwrap();
    assert!(remaining < 1.0, "the budget did not fall: {paging:#}");
    let consumed = paging["budget"]["consumed_ratio"].as_f64().unwrap();
    let ratio = paging["events_bad"].as_f64().unwrap() / paging["events_total"].as_f64().unwrap();
    assert!(
        (consumed - ratio / 0.0005).abs() < 1e-6 * consumed.max(1.0),
        "budget consumed {consumed} is not the error ratio {ratio} over the 0.0005 budget"
    );

    // Each group pages once in PagerDuty and once in Slack; nothing about the gateway.
    let pd = pagerduty
        .wait_until(Duration::from_secs(60), |all| {
            triggers(all).iter().any(|t| service_of(t) == "product")
        })
        .await
        .expect("no PagerDuty trigger for the product outage");
    let paged = assert_one_trigger_per_group(&pd);
    let product_page = triggers(&pd)
        .into_iter()
        .find(|t| service_of(t) == "product")
        .unwrap();
    let details = &product_page.body["payload"]["custom_details"];
    assert!(
        details["budget_remaining"]
            .as_str()
            .is_some_and(|b| b.ends_with("of 21m36s)")),
        "the page says how much budget is left: {details:#}"
    );
    assert_eq!(
        details["common_annotations"]["runbook_url"],
        "runbooks/slo-burn-rate.md"
    );
    assert!(
        paged.values().all(|service| service != "gateway"),
        "the silenced gateway paged: {paged:?}"
    );
    let slack_seen = slack
        .wait_until(Duration::from_secs(30), |all| {
            slack_messages(all).len() >= paged.len()
        })
        .await
        .expect("no Slack message for each paged group");
    let oncall: Vec<_> = slack_messages(&slack_seen)
        .into_iter()
        .filter(|m| m.body["channel"] == "#oncall")
        .collect();
    assert_eq!(
        oncall.len(),
        paged.len(),
        "one #oncall message per paged group"
    );
    let listing = ballast_cli::alerts::list(platform.sre, &[]).await.unwrap();
    let silenced = listing
        .groups
        .iter()
        .flat_map(|g| &g.alerts)
        .filter(|a| a.status.silenced_by.contains(&silence))
        .count();
    assert!(silenced > 0, "{}", listing.render());

    // The on-call engineer acknowledges the page in Slack: an unsigned or stale click is
    // refused and changes nothing; a signed one reaches PagerDuty as `acknowledge`.
    let groups: Value = suite_json(&http, &platform, "/api/v2/alerts/groups").await;
    let product_page = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["slo"] == "product-availability" && g["receiver"]["name"] == "oncall")
        .unwrap_or_else(|| panic!("no paged product group: {groups:#}"));
    let group_key = product_page["groupKey"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    for (ts, secret) in [(now, "wrong-secret"), (now - 301, "slack-signing-secret")] {
        let refused = slack_click(&http, &platform, group_key, ts, secret).await;
        assert_eq!(refused.status(), 401);
    }
    assert!(acknowledges(&pagerduty.requests()).is_empty());
    let clicked = slack_click(&http, &platform, group_key, now, "slack-signing-secret").await;
    assert_eq!(clicked.status(), 200);
    let pd = pagerduty
        .wait_until(Duration::from_secs(10), |all| !acknowledges(all).is_empty())
        .await
        .expect("PagerDuty got no acknowledge");
    let acked = acknowledges(&pd);
    assert_eq!(acked.len(), 1);
    let product_key = triggers(&pd)
        .iter()
        .find(|t| service_of(t) == "product")
        .map(|t| t.body["dedup_key"].clone())
        .unwrap();
    assert_eq!(acked[0].body["dedup_key"], product_key);

    // 3. The suite restarts while the page fires.
    let triggers_before = triggers(&pagerduty.requests()).len();
    let messages_before = slack_messages(&slack.requests()).len();
    let titles_before: BTreeSet<String> = slack_messages(&slack.requests())
        .iter()
        .map(|m| title(m))
        .collect();
    platform.stop().await;
    let platform = start(&config).await;
    *gateway.lock() = platform.gateway.to_string();
    product_errors(&http, &platform, 1.0).await;
    let group_interval = Duration::from_secs_f64(300.0 / SCALE);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let alerts: Value = suite_json(&http, &platform, "/api/v2/alerts").await;
        let firing = alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["service"] == "product" && a["status"]["state"] == "active");
        if firing {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no firing product alert after the restart: {alerts:#}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Long enough for any (wrong) re-notification: a whole group interval and then some.
    tokio::time::sleep(group_interval + Duration::from_secs(3)).await;
    assert_eq!(
        triggers(&pagerduty.requests()).len(),
        triggers_before,
        "the restart triggered PagerDuty again"
    );
    // New alerts may start meanwhile (the no-data alerts of services nobody calls); a group
    // that had its message before the restart must not get a second one.
    let reposted: Vec<String> = slack_messages(&slack.requests())
        .iter()
        .skip(messages_before)
        .map(|m| title(m))
        .filter(|t| titles_before.contains(t))
        .collect();
    assert!(
        reposted.is_empty(),
        "the restart posted again: {reposted:#?}"
    );

    // 4. The silence ends: the gateway's groups page now, once each.
    ballast_cli::alerts::expire(platform.sre, &silence)
        .await
        .unwrap();
    let pd = pagerduty
        .wait_until(Duration::from_secs(60), |all| {
            triggers(all).iter().any(|t| service_of(t) == "gateway")
        })
        .await
        .expect("the gateway did not page after its silence expired");
    let paged = assert_one_trigger_per_group(&pd);

    // 5. The fault clears: burn rates fall and every paged group resolves once.
    product_errors(&http, &platform, 0.0).await;
    let recovered = wait_for_slo(
        &http,
        &platform,
        "product-availability",
        Duration::from_secs(90),
        "the 5m burn rate falling below 1x",
        |s| burn(s, "5m") < 1.0,
    )
    .await;
    assert!(
        !recovered["firing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains("PageFast")),
        "{recovered:#}"
    );
    let pd = pagerduty
        .wait_until(Duration::from_secs(120), |all| {
            let resolved: BTreeSet<&str> = resolves(all)
                .iter()
                .filter_map(|r| r.body["dedup_key"].as_str())
                .collect();
            paged.keys().all(|k| resolved.contains(k.as_str()))
        })
        .await
        .unwrap_or_else(|all| panic!("not every paged group resolved: {:#?}", resolves(&all)));
    for key in paged.keys() {
        let n = resolves(&pd)
            .iter()
            .filter(|r| r.body["dedup_key"] == key.as_str())
            .count();
        assert_eq!(n, 1, "group {key} resolved {n} times");
    }
    assert_one_trigger_per_group(&pd);
    let updates = slack
        .accepted("chat.update")
        .into_iter()
        .filter(|u| u.body["channel"].as_str().is_some())
        .count();
    assert!(
        updates >= paged.len(),
        "every paged group's Slack message is updated ({updates})"
    );

    // Services nobody called all along have request counters at zero, not missing: no SLO
    // reports "no data" (its `for` is 30 s at this scale; the run lasted longer).
    let alerts: Value = suite_json(&http, &platform, "/api/v1/alerts").await;
    let no_data: Vec<&Value> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "SLONoData")
        .collect();
    assert!(no_data.is_empty(), "{no_data:#?}");

    stop.store(true, Ordering::Relaxed);
    let sent = shoppers.await.unwrap();
    assert!(sent > 100, "{sent}");
    platform.stop().await;
}
