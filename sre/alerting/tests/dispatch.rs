#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The dispatcher end to end: alerts in over HTTP, Slack and PagerDuty stand-ins recording
//! what they receive, on SQLite or PostgreSQL (`BALLAST_TEST_STORE=postgres`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ballast_alerting::dispatcher::{Dispatcher, DispatcherConfig};
use ballast_alerting::notify::RetryPolicy;
use ballast_alerting::notify::settings::NotifySettings;
use ballast_alerting::notify::signature::{pagerduty_sign, slack_sign};
use ballast_alerting::standin::{Recorded, StandIn};
use ballast_alerting::{Alert, RoutingConfig, api};
use ballast_kit::config::Secret;
use ballast_kit::store::{Store, StoreConfig};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const ROUTING: &str = r##"
global:
  resolve_timeout: 1h
route:
  receiver: console
  group_by: [alertname, slo]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['tier="page"']
      receiver: oncall
    - matchers: ['tier="ticket"']
      receiver: tickets
receivers:
  - name: console
    console_configs: [{}]
  - name: oncall
    pagerduty_configs: [{}]
    slack_configs: [{channel: "#oncall"}]
  - name: tickets
    slack_configs: [{channel: "#tickets"}]
inhibit_rules:
  - source_matchers: ['tier="page"']
    target_matchers: ['tier="ticket"']
    equal: [slo]
"##;

const SLACK_SECRET: &str = "slack-signing-secret";
const PD_SECRET: &str = "pd-webhook-secret";

struct Env {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    store_config: StoreConfig,
    slack: StandIn,
    pd: StandIn,
}

struct Running {
    d: Arc<Dispatcher>,
    url: String,
    http: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Env {
    async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env {
            data: dir.path().join("data"),
            _dir: dir,
            store_config: ballast_kit::testing::store_config(),
            slack: StandIn::slack().await.unwrap(),
            pd: StandIn::pagerduty().await.unwrap(),
        }
    }

    /// A dispatcher (and its HTTP API) on this environment's store; a second call is a restart.
    async fn start(&self) -> Running {
        ballast_kit::client::install_crypto_provider();
        let store = Store::connect(&self.store_config, "alerting", &self.data)
            .await
            .unwrap();
        let routing = RoutingConfig::parse(Path::new("routing.yaml"), ROUTING).unwrap();
        let mut notify = NotifySettings::default();
        notify.slack.api_url = self.slack.endpoint();
        notify.slack.bot_token = Some(Secret::new("xoxb-test-token"));
        notify.slack.signing_secret = Some(Secret::new(SLACK_SECRET));
        notify.pagerduty.events_url = self.pd.endpoint();
        notify.pagerduty.routing_key = Some(Secret::new("R0UT1NGKEY00000000000000000000AB"));
        notify.pagerduty.webhook_secret = Some(Secret::new(PD_SECRET));
        let mut config = DispatcherConfig::new(routing, notify).unwrap();
        config.retry = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(10),
        };
        let d = Dispatcher::new(config, store).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let app = api::router(d.clone());
        let s = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await
                .unwrap();
        });
        Running {
            d,
            url,
            http: reqwest::Client::new(),
            stop,
        }
    }

    fn slack_posts(&self) -> Vec<Recorded> {
        self.slack
            .accepted("/chat.postMessage")
            .into_iter()
            .filter(|r| r.body.get("thread_ts").is_none())
            .collect()
    }

    fn slack_replies(&self) -> Vec<Recorded> {
        self.slack
            .accepted("/chat.postMessage")
            .into_iter()
            .filter(|r| r.body.get("thread_ts").is_some())
            .collect()
    }

    fn slack_updates(&self) -> Vec<Recorded> {
        self.slack.accepted("/chat.update")
    }

    fn pd_events(&self, action: &str) -> Vec<Recorded> {
        self.pd
            .accepted("/v2/enqueue")
            .into_iter()
            .filter(|r| r.body["event_action"] == action)
            .collect()
    }
}

fn burn(tier: &str, slo: &str, starts: DateTime<Utc>) -> Alert {
    let severity = if tier == "page" {
        "critical"
    } else {
        "warning"
    };
    let mut a = Alert::firing(
        &[
            ("alertname", "SLOBurnRate"),
            ("tier", tier),
            ("slo", slo),
            ("service", "order"),
            ("severity", severity),
        ],
        starts,
    );
    a.annotations.insert(
        "summary".into(),
        format!("SLO {slo} is burning its error budget"),
    );
    a.annotations.insert(
        "runbook_url".into(),
        "https://runbooks.example/slo-burn".into(),
    );
    a.annotations.insert(
        "dashboard_url".into(),
        "https://grafana.example/d/slo".into(),
    );
    a.annotations
        .insert("budget_remaining".into(), "62.5%".into());
    a.generator_url = "http://prometheus.example/graph".into();
    a
}

impl Running {
    async fn post_alerts(&self, alerts: &[Alert]) {
        let r = self
            .http
            .post(format!("{}/api/v2/alerts", self.url))
            .json(alerts)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn slack_action(
        &self,
        action_id: &str,
        group_key: &str,
        ts: i64,
        secret: &str,
    ) -> reqwest::Response {
        let payload = json!({"type": "block_actions", "user": {"id": "U1", "username": "alice"},
            "actions": [{"action_id": action_id, "value": group_key, "type": "button"}]});
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let ts = ts.to_string();
        self.http
            .post(format!("{}/slack/interactions", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &ts)
            .header(
                "x-slack-signature",
                slack_sign(secret, &ts, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

#[tokio::test]
async fn a_firing_group_pages_once_and_resolves_with_the_same_dedup_key() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;

    // Nothing before group_wait.
    app.d.tick(t0 + secs(10)).await.unwrap();
    assert!(env.slack.requests().is_empty() && env.pd.requests().is_empty());

    app.d.tick(t0 + secs(31)).await.unwrap();
    let posts = env.slack_posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let msg = &posts[0].body;
    assert_eq!(msg["channel"], "#oncall");
    assert_eq!(
        env.slack.requests()[0].headers["authorization"],
        "Bearer xoxb-test-token"
    );
    let blocks = msg["blocks"].to_string();
    for needle in [
        "FIRING",
        "SLOBurnRate",
        "order-availability",
        "62.5%",
        "critical",
        "https://runbooks.example/slo-burn",
        "https://grafana.example/d/slo",
        "ballast_acknowledge",
        "ballast_silence_1h",
        "Acknowledge",
        "Silence 1h",
    ] {
        assert!(blocks.contains(needle), "{needle} missing from {blocks}");
    }
    let triggers = env.pd_events("trigger");
    assert_eq!(triggers.len(), 1);
    let t = &triggers[0].body;
    let dedup = t["dedup_key"].as_str().unwrap().to_owned();
    assert!(dedup.starts_with("ballast-"));
    assert_eq!(t["routing_key"], "R0UT1NGKEY00000000000000000000AB");
    assert_eq!(t["payload"]["severity"], "critical");
    assert_eq!(t["payload"]["source"], "order");
    assert_eq!(t["payload"]["component"], "order-availability");
    assert_eq!(t["payload"]["custom_details"]["budget_remaining"], "62.5%");
    assert_eq!(t["links"][0]["href"], "https://runbooks.example/slo-burn");

    // Prometheus re-sends the same alert; nothing changed, so nothing is sent again.
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    app.d.tick(t0 + secs(31 + 300)).await.unwrap();
    assert_eq!(env.slack.requests().len(), 1);
    assert_eq!(env.pd.requests().len(), 1);

    // It resolves: one Slack update of the same message, a thread reply, one PD resolve.
    let mut resolved = burn("page", "order-availability", t0);
    resolved.ends_at = Some(Utc::now());
    app.post_alerts(&[resolved]).await;
    app.d.tick(t0 + secs(31 + 600)).await.unwrap();
    let updates = env.slack_updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].body["ts"],
        posts.first().map(|_| "1700000000.000001").unwrap()
    );
    assert!(updates[0].body["blocks"].to_string().contains("RESOLVED"));
    assert!(
        !updates[0].body["blocks"]
            .to_string()
            .contains("ballast_acknowledge")
    );
    assert_eq!(env.slack_replies().len(), 1);
    assert_eq!(env.slack_posts().len(), 1);
    let resolves = env.pd_events("resolve");
    assert_eq!(resolves.len(), 1);
    assert_eq!(resolves[0].body["dedup_key"], dedup.as_str());
    assert_eq!(env.pd_events("trigger").len(), 1);
    // The group is gone.
    assert_eq!(app.get("/api/v2/alerts/groups").await, json!([]));
    let history = app
        .d
        .store()
        .history(r#"{}/{tier="page"}:{alertname="SLOBurnRate", slo="order-availability"}"#)
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = history
        .iter()
        .map(|h| (h.integration.as_str(), h.action.as_str()))
        .collect();
    assert!(
        actions.contains(&("pagerduty:0", "trigger"))
            && actions.contains(&("pagerduty:0", "resolve")),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_restart_neither_pages_twice_nor_forgets_and_resolves_what_resolved_while_down() {
    let env = Env::new().await;
    let t0;
    {
        let app = env.start().await;
        t0 = Utc::now();
        app.post_alerts(&[burn("page", "order-availability", t0)])
            .await;
        app.d.tick(t0 + secs(31)).await.unwrap();
        assert_eq!(env.pd_events("trigger").len(), 1);
        assert_eq!(env.slack_posts().len(), 1);
    }
    {
        // Restarted: the firing alert and its group are still known.
        let app = env.start().await;
        let groups = app.get("/api/v2/alerts/groups").await;
        assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
        assert_eq!(groups[0]["alerts"][0]["status"]["state"], "active");
        app.post_alerts(&[burn("page", "order-availability", t0)])
            .await;
        app.d.tick(t0 + secs(31 + 300)).await.unwrap();
        app.d.tick(t0 + secs(31 + 600)).await.unwrap();
        assert_eq!(
            env.pd_events("trigger").len(),
            1,
            "no second trigger after a restart"
        );
        assert_eq!(
            env.slack_posts().len(),
            1,
            "no second Slack message after a restart"
        );
    }
    {
        // Down for two hours: the alert was not refreshed, so it resolved meanwhile.
        let app = env.start().await;
        app.d.tick(Utc::now() + secs(7200)).await.unwrap();
        let resolves = env.pd_events("resolve");
        assert_eq!(resolves.len(), 1);
        assert_eq!(
            resolves[0].body["dedup_key"],
            env.pd_events("trigger")[0].body["dedup_key"]
        );
        assert_eq!(env.slack_updates().len(), 1);
        assert_eq!(app.get("/api/v2/alerts/groups").await, json!([]));
    }
}

#[tokio::test]
async fn a_silence_suppresses_until_it_is_expired() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    let body = json!({
        "matchers": [{"name": "slo", "value": "order-.*", "isRegex": true, "isEqual": true}],
        "startsAt": t0.to_rfc3339(), "endsAt": (t0 + secs(7200)).to_rfc3339(),
        "createdBy": "bob", "comment": "planned maintenance"
    });
    let r = app
        .http
        .post(format!("{}/api/v2/silences", app.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["silenceID"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = app.get("/api/v2/silences").await;
    assert_eq!(listed[0]["status"]["state"], "active");
    assert_eq!(listed[0]["createdBy"], "bob");
    assert_eq!(
        listed[0]["matchers"][0],
        json!({"name": "slo", "value": "order-.*", "isRegex": true, "isEqual": true})
    );

    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    app.d.tick(t0 + secs(31)).await.unwrap();
    assert!(env.slack.requests().is_empty() && env.pd.requests().is_empty());
    let alerts = app.get("/api/v2/alerts").await;
    assert_eq!(alerts[0]["status"]["state"], "suppressed");
    assert_eq!(alerts[0]["status"]["silencedBy"][0], id.as_str());

    // Expired: the next flush notifies.
    let r = app
        .http
        .delete(format!("{}/api/v2/silence/{id}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get(&format!("/api/v2/silence/{id}")).await["status"]["state"],
        "expired"
    );
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    app.d.tick(t0 + secs(31 + 300)).await.unwrap();
    assert_eq!(env.pd_events("trigger").len(), 1);

    // Bad silences are 422.
    let bad = json!({"matchers": [], "startsAt": t0.to_rfc3339(), "endsAt": (t0 + secs(60)).to_rfc3339(), "createdBy": "bob"});
    let r = app
        .http
        .post(format!("{}/api/v2/silences", app.url))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn the_page_tier_inhibits_the_ticket_tier_of_the_same_slo() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    app.post_alerts(&[
        burn("page", "order-availability", t0),
        burn("ticket", "order-availability", t0),
        burn("ticket", "payment-availability", t0),
    ])
    .await;
    app.d.tick(t0 + secs(31)).await.unwrap();
    let channels: Vec<String> = env
        .slack_posts()
        .iter()
        .map(|r| r.body["channel"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(channels.iter().filter(|c| *c == "#oncall").count(), 1);
    assert_eq!(
        channels.iter().filter(|c| *c == "#tickets").count(),
        1,
        "{channels:?}"
    );
    let ticket_post = env
        .slack_posts()
        .into_iter()
        .find(|r| r.body["channel"] == "#tickets")
        .unwrap();
    assert!(
        ticket_post.body["blocks"]
            .to_string()
            .contains("payment-availability")
    );
    assert!(
        !ticket_post.body["blocks"]
            .to_string()
            .contains("order-availability")
    );
    let alerts = app.get("/api/v2/alerts").await;
    let inhibited: Vec<&Value> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["status"]["inhibitedBy"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(inhibited.len(), 1);
    assert_eq!(inhibited[0]["labels"]["slo"], "order-availability");
    assert_eq!(inhibited[0]["labels"]["tier"], "ticket");
    // amtool-style filters.
    let active = app.get("/api/v2/alerts?inhibited=false").await;
    assert_eq!(active.as_array().unwrap().len(), 2);
    let filtered = app
        .get("/api/v2/alerts?filter=%7Btier%3D%22ticket%22%2Cslo%3D~%22pay.*%22%7D")
        .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["labels"]["slo"], "payment-availability");
    let groups = app
        .get("/api/v2/alerts/groups?filter=tier%3D%22page%22")
        .await;
    assert_eq!(groups.as_array().unwrap().len(), 1);
    assert_eq!(groups[0]["receiver"]["name"], "oncall");
}

#[tokio::test]
async fn slack_interactions_need_a_fresh_valid_signature_and_acknowledge_pages_pagerduty() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    app.d.tick(t0 + secs(31)).await.unwrap();
    let groups = app.get("/api/v2/alerts/groups").await;
    let key = groups[0]["groupKey"].as_str().unwrap().to_owned();
    let before = env.slack.requests().len();

    let now = Utc::now().timestamp();
    for (ts, secret) in [
        (now, "wrong-secret"),
        (now - 301, SLACK_SECRET),
        (now + 400, SLACK_SECRET),
    ] {
        let r = app
            .slack_action("ballast_acknowledge", &key, ts, secret)
            .await;
        assert_eq!(r.status(), 401);
    }
    let unsigned = app
        .http
        .post(format!("{}/slack/interactions", app.url))
        .body("payload=%7B%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(env.pd_events("acknowledge").is_empty());
    assert_eq!(env.slack.requests().len(), before);
    assert!(app.get("/api/v2/alerts/groups").await[0]["acknowledgement"].is_null());

    let r = app
        .slack_action("ballast_acknowledge", &key, now, SLACK_SECRET)
        .await;
    assert_eq!(r.status(), 200);
    let acks = env.pd_events("acknowledge");
    assert_eq!(acks.len(), 1);
    assert_eq!(
        acks[0].body["dedup_key"],
        env.pd_events("trigger")[0].body["dedup_key"]
    );
    let updates = env.slack_updates();
    assert_eq!(updates.len(), 1);
    assert!(updates[0].body["blocks"].to_string().contains("alice"));
    assert!(
        !updates[0].body["blocks"]
            .to_string()
            .contains("ballast_acknowledge")
    );
    let ack = &app.get("/api/v2/alerts/groups").await[0]["acknowledgement"];
    assert_eq!(ack["by"], "alice");
    assert_eq!(ack["source"], "slack");

    // A second click changes nothing.
    app.slack_action("ballast_acknowledge", &key, now, SLACK_SECRET)
        .await;
    assert_eq!(env.pd_events("acknowledge").len(), 1);

    // Silence 1h creates a silence on the group's labels.
    let r = app
        .slack_action("ballast_silence_1h", &key, now, SLACK_SECRET)
        .await;
    assert_eq!(r.status(), 200);
    let silences = app.get("/api/v2/silences").await;
    assert_eq!(silences.as_array().unwrap().len(), 1);
    assert_eq!(silences[0]["createdBy"], "alice");
    assert_eq!(silences[0]["status"]["state"], "active");
}

#[tokio::test]
async fn rate_limits_are_retried_and_never_duplicate() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    env.slack.rate_limit_next(1);
    env.pd.rate_limit_next(2);
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    let report = app.d.tick(t0 + secs(31)).await.unwrap();
    assert_eq!(report.failed, 0);
    assert_eq!(env.slack_posts().len(), 1);
    assert_eq!(
        env.slack
            .requests()
            .iter()
            .filter(|r| r.status == 429)
            .count(),
        1
    );
    assert_eq!(env.pd_events("trigger").len(), 1);
    assert_eq!(env.pd.requests().len(), 3);
}

#[tokio::test]
async fn pagerduty_webhooks_must_be_signed_and_show_in_ballast_and_slack() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    app.d.tick(t0 + secs(31)).await.unwrap();
    let dedup = env.pd_events("trigger")[0].body["dedup_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = json!({"event": {"id": "01", "event_type": "incident.acknowledged", "resource_type": "incident",
        "agent": {"summary": "Carol Oncall", "type": "user_reference"},
        "data": {"id": "Q1", "type": "incident", "status": "acknowledged", "incident_key": dedup}}})
    .to_string();
    let send = |sig: String| {
        app.http
            .post(format!("{}/pagerduty/webhook", app.url))
            .header("content-type", "application/json")
            .header("x-pagerduty-signature", sig)
            .body(event.clone())
            .send()
    };
    assert_eq!(send("v1=00".into()).await.unwrap().status(), 401);
    assert!(app.get("/api/v2/alerts/groups").await[0]["acknowledgement"].is_null());
    assert_eq!(
        send(pagerduty_sign(PD_SECRET, event.as_bytes()))
            .await
            .unwrap()
            .status(),
        200
    );
    let ack = &app.get("/api/v2/alerts/groups").await[0]["acknowledgement"];
    assert_eq!(ack["by"], "Carol Oncall");
    assert_eq!(ack["source"], "pagerduty");
    let updates = env.slack_updates();
    assert_eq!(updates.len(), 1);
    assert!(
        updates[0].body["blocks"]
            .to_string()
            .contains("Carol Oncall")
    );
    // Acknowledged in PagerDuty: nothing is sent back to PagerDuty.
    assert!(env.pd_events("acknowledge").is_empty());
}

#[tokio::test]
async fn the_tick_driver_flushes_by_itself() {
    let env = Env::new().await;
    let app = env.start().await;
    // Alerts older than group_wait flush at the first tick.
    app.post_alerts(&[burn("page", "order-availability", Utc::now() - secs(120))])
        .await;
    let stop = CancellationToken::new();
    tokio::spawn(app.d.clone().run(Duration::from_millis(20), stop.clone()));
    let seen = env
        .pd
        .wait_until(Duration::from_secs(10), |r| {
            r.iter().any(|r| r.body["event_action"] == "trigger")
        })
        .await;
    stop.cancel();
    assert!(seen.is_ok(), "{seen:?}");
}

#[tokio::test]
async fn a_change_updates_the_message_in_place_and_retriggers_the_same_incident() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    let mut first = burn("page", "order-availability", t0);
    first.labels.insert("instance".into(), "order-1".into());
    app.post_alerts(&[first.clone()]).await;
    app.d.tick(t0 + secs(31)).await.unwrap();
    let mut second = burn("page", "order-availability", t0 + secs(60));
    second.labels.insert("instance".into(), "order-2".into());
    app.post_alerts(&[first.clone(), second]).await;
    // Joins the flushed group: waits for group_interval.
    app.d.tick(t0 + secs(120)).await.unwrap();
    assert!(env.slack_updates().is_empty());
    app.d.tick(t0 + secs(331)).await.unwrap();
    let updates = env.slack_updates();
    assert_eq!(updates.len(), 1);
    assert!(updates[0].body["blocks"].to_string().contains("FIRING (2)"));
    let replies = env.slack_replies();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body["thread_ts"], updates[0].body["ts"]);
    assert!(
        replies[0].body["text"]
            .as_str()
            .unwrap()
            .contains("2 firing")
    );
    assert_eq!(env.slack_posts().len(), 1);
    let triggers = env.pd_events("trigger");
    assert_eq!(triggers.len(), 2);
    assert_eq!(triggers[0].body["dedup_key"], triggers[1].body["dedup_key"]);
    assert_eq!(triggers[1].body["payload"]["custom_details"]["firing"], 2);
}

#[tokio::test]
async fn webhook_and_console_receivers_get_alertmanagers_payload() {
    let dir = tempfile::tempdir().unwrap();
    let hook = StandIn::webhook().await.unwrap();
    let routing = format!(
        "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 0s\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: \"{}\"}}]\n    console_configs: [{{}}]\n",
        hook.endpoint()
    );
    let routing = RoutingConfig::parse(Path::new("routing.yaml"), &routing).unwrap();
    let store = Store::connect(
        &ballast_kit::testing::store_config(),
        "alerting",
        &dir.path().join("data"),
    )
    .await
    .unwrap();
    let mut config = DispatcherConfig::new(routing, NotifySettings::default()).unwrap();
    config.external_url = "http://ballast.example".into();
    let d = Dispatcher::new(config, store).await.unwrap();
    let t0 = Utc::now();
    d.ingest(vec![burn("ticket", "catalog-latency", t0)], t0)
        .await
        .unwrap();
    let report = d.tick(t0).await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    let got = hook.accepted("/hook");
    assert_eq!(got.len(), 1);
    let body = &got[0].body;
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "hook");
    assert_eq!(body["externalURL"], "http://ballast.example");
    assert_eq!(body["alerts"][0]["labels"]["slo"], "catalog-latency");
    assert_eq!(
        body["alerts"][0]["generatorURL"],
        "http://prometheus.example/graph"
    );
    assert_eq!(body["groupLabels"]["slo"], "catalog-latency");
    // Without Slack or PagerDuty credentials nothing else is attempted.
    let mut resolved = burn("ticket", "catalog-latency", t0);
    resolved.ends_at = Some(t0 + secs(1));
    d.ingest(vec![resolved], t0 + secs(2)).await.unwrap();
    d.tick(t0 + secs(400)).await.unwrap();
    let got = hook.accepted("/hook");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body["status"], "resolved");
    assert!(d.groups(t0 + secs(400)).await.is_empty());
}

#[tokio::test]
async fn a_resolution_in_pagerduty_shows_in_ballast() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    app.d.tick(t0 + secs(31)).await.unwrap();
    let dedup = env.pd_events("trigger")[0].body["dedup_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = json!({"event": {"event_type": "incident.resolved", "agent": {"summary": "Dave"},
        "data": {"incident_key": dedup, "status": "resolved"}}})
    .to_string();
    let r = app
        .http
        .post(format!("{}/pagerduty/webhook", app.url))
        .header(
            "x-pagerduty-signature",
            pagerduty_sign(PD_SECRET, event.as_bytes()),
        )
        .body(event.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ack = &app.get("/api/v2/alerts/groups").await[0]["acknowledgement"];
    assert_eq!(ack["state"], "resolved");
    assert_eq!(ack["by"], "Dave");
    assert!(
        env.slack_updates()[0].body["blocks"]
            .to_string()
            .contains("Resolved in PagerDuty")
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_at_the_next_flush_without_duplicates() {
    let env = Env::new().await;
    let app = env.start().await;
    let t0 = Utc::now();
    // More 429s than one flush's attempts: PagerDuty fails this flush, Slack does not.
    env.pd.rate_limit_next(5);
    app.post_alerts(&[burn("page", "order-availability", t0)])
        .await;
    let report = app.d.tick(t0 + secs(31)).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 1), "{report:?}");
    assert!(env.pd_events("trigger").is_empty());
    assert_eq!(env.slack_posts().len(), 1);
    // Next flush: PagerDuty gets its one trigger; Slack is not told again.
    let report = app.d.tick(t0 + secs(331)).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.pd_events("trigger").len(), 1);
    assert_eq!(env.slack.requests().len(), 1);
}
