//! `ballast up` as a user runs it: the real binary on non-default ports with a fresh data
//! directory, driven over HTTP and through `ballast ctl`. Runs on SQLite, or on PostgreSQL
//! when `BALLAST_TEST_STORE=postgres`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ballast");

struct Up {
    child: Child,
    gateway: String,
    admin: String,
    suite: String,
    _dir: tempfile::TempDir,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_up(extra_env: &[(&str, &str)]) -> Up {
    ballast_kit::client::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .args([
            "up",
            "--gateway-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--base-port",
            "0",
            "--sre-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--time-scale", "10"])
        .env("RUST_LOG", "warn")
        .env("BALLAST_ADMIN__EMAIL", "root@example.com")
        .env("BALLAST_ADMIN__PASSWORD", "correct horse battery")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = ballast_kit::testing::store_config().postgres_url {
        command.env("BALLAST_STORE__POSTGRES_URL", url.expose());
    }
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut gateway, mut admin, mut suite) = (None, None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("suite") {
            suite = rest
                .split_whitespace()
                .next()
                .map(|url| url.trim_start_matches("http://").to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("gateway") {
            gateway = Some(rest.trim().trim_end_matches("/api/v1").to_owned());
        }
        if let Some(rest) = line
            .trim()
            .strip_prefix("admin ")
            .map(str::trim)
            .filter(|r| r.starts_with("http://"))
        {
            admin = Some(
                rest.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_start_matches("http://")
                    .to_owned(),
            );
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    println!("ballast up was ready after {:?}", started.elapsed());
    Up {
        child,
        gateway: gateway.expect("gateway address printed"),
        admin: admin.expect("admin address printed"),
        suite: suite.expect("suite address printed"),
        _dir: dir,
    }
}

fn ctl(admin: &str, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .arg("ctl")
        .arg("--admin-addr")
        .arg(admin)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_shop_works_through_the_gateway_after_up() {
    let up = start_up(&[
        (
            "BALLAST_GATEWAY__RATE_LIMIT__PER_USER__RATE_PER_SECOND",
            "2",
        ),
        ("BALLAST_GATEWAY__RATE_LIMIT__PER_USER__BURST", "5"),
    ]);
    let api = format!("{}/api/v1", up.gateway);
    let http = reqwest::Client::new();

    // Seeded catalog.
    let page: Value = http
        .get(format!("{api}/products?per_page=5"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["total"].as_u64().unwrap() >= 150, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let categories: Value = http
        .get(format!("{api}/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(categories.as_array().unwrap().len() >= 5);

    // Register, log in, read own profile.
    let r = http
        .post(format!("{api}/users"))
        .json(&json!({"email": "ann@example.com", "password": "a long password", "name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login: Value = http
        .post(format!("{api}/auth/login"))
        .json(&json!({"email": "ann@example.com", "password": "a long password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let me: Value = http
        .get(format!("{api}/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ann@example.com");

    // No token: 401; a customer creating a product: 403; the admin can.
    problem(
        http.get(format!("{api}/users/me")).send().await.unwrap(),
        401,
    )
    .await;
    let product = json!({"sku": "TEST-0001", "name": "Test Kettle", "description": "Boils water.", "category": categories[0]["slug"], "price": {"amount_minor": 2599, "currency": "USD"}, "weight_grams": 900});
    problem(
        http.post(format!("{api}/products"))
            .bearer_auth(&token)
            .json(&product)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let admin_login: Value = http
        .post(format!("{api}/auth/login"))
        .json(&json!({"email": "root@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_token = admin_login["access_token"].as_str().unwrap();
    let created = http
        .post(format!("{api}/products"))
        .bearer_auth(admin_token)
        .json(&product)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());

    // Malformed JSON and an oversized body are 4xx problems, never 5xx.
    let r = http
        .post(format!("{api}/users"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    let huge = format!(
        "{{\"email\":\"x@example.com\",\"password\":\"{}\",\"name\":\"x\"}}",
        "a".repeat(2 << 20)
    );
    let r = http
        .post(format!("{api}/users"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(r, 413).await;

    // Every instance: metrics with the service label, and ready.
    let instances: Value =
        serde_json::from_str(&ctl(&up.admin, &["get", "instances", "-o", "json"])).unwrap();
    let instances = instances.as_array().unwrap();
    assert!(instances.len() >= 4, "{instances:?}");
    for instance in instances {
        let address = instance["address"].as_str().unwrap();
        let service = instance["service"].as_str().unwrap();
        assert_eq!(
            http.get(format!("http://{address}/health/ready"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let metrics = http
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("http_requests_total{code=\"200\"")
                && metrics.contains(&format!("service=\"{service}\"")),
            "{address}: {metrics}"
        );
    }

    // Per-user rate limit: burst 5 at 2/s, so a quick run of 20 hits 429 with Retry-After.
    let mut limited = None;
    for _ in 0..20 {
        let r = http
            .get(format!("{api}/users/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("the per-user limit answered 429");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    problem(limited, 429).await;
}

#[tokio::test]
async fn a_crashed_instance_is_replaced_and_ctl_reports_it() {
    let up = start_up(&[]);
    let instances: Value =
        serde_json::from_str(&ctl(&up.admin, &["get", "instances", "-o", "json"])).unwrap();
    let victim = instances
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["service"] == "product")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = ctl(&up.admin, &["crash", &victim]);
    assert!(out.contains("crashed"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let instances: Value =
            serde_json::from_str(&ctl(&up.admin, &["get", "instances", "-o", "json"])).unwrap();
        let back = instances
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == victim.as_str() && i["ready"] == true && i["restarts"] == 1);
        if back {
            break;
        }
        assert!(Instant::now() < deadline, "{instances}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let table = ctl(&up.admin, &["get", "deployments"]);
    assert!(
        table.contains("product") && table.contains("2/2"),
        "{table}"
    );
}

/// Runs `ballast ARGS`; answers (success, stdout, stderr).
fn ballast(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn alerts_and_slo_commands_talk_to_the_running_suite() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (alerts, routing, slo) = (
        root.join("alerts"),
        root.join("alerts/routing.yaml"),
        root.join("slo"),
    );
    let up = start_up(&[
        ("BALLAST_SUITE__ALERTS_DIR", alerts.to_str().unwrap()),
        ("BALLAST_SUITE__ROUTING_FILE", routing.to_str().unwrap()),
        ("BALLAST_SUITE__SLO_DIR", slo.to_str().unwrap()),
    ]);
    let suite = up.suite.as_str();

    // A silence from the command line, listed by `silences`, by `amtool` and over the API.
    let (ok, id, err) = ballast(&[
        "alerts",
        "silence",
        "--sre-addr",
        suite,
        "-m",
        "service=gateway",
        "-m",
        r#"alertname=~"SLOBurnRate.*""#,
        "--duration",
        "30m",
        "--comment",
        "gateway maintenance",
        "--author",
        "ops@example.com",
    ]);
    assert!(ok, "{err}");
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 36, "a uuid: {id}");
    let (ok, listed, err) = ballast(&["alerts", "silences", "--sre-addr", suite]);
    assert!(ok, "{err}");
    assert!(listed.contains(&id), "{listed}");
    assert!(
        listed.contains(r#"service="gateway" alertname=~"SLOBurnRate.*""#),
        "{listed}"
    );
    assert!(
        listed.contains("active") && listed.contains("gateway maintenance"),
        "{listed}"
    );
    let amtool = Command::new("amtool")
        .args(["silence", "query", "--output", "json"])
        .arg(format!("--alertmanager.url=http://{suite}"))
        .output()
        .expect("amtool (Debian's prometheus-alertmanager) is installed");
    let amtool_out = String::from_utf8_lossy(&amtool.stdout);
    assert!(
        amtool.status.success() && amtool_out.contains(&id),
        "amtool silence query: {amtool_out} {}",
        String::from_utf8_lossy(&amtool.stderr)
    );

    // Nothing fires on a healthy, fresh platform; `list` says so plainly.
    let (ok, listing, err) = ballast(&["alerts", "list", "--sre-addr", suite, "--json"]);
    assert!(ok, "{err}");
    let listing: Value = serde_json::from_str(&listing).unwrap();
    assert!(
        listing["groups"].is_array() && listing["pending"].is_array(),
        "{listing}"
    );

    // Expire it: gone from the default listing, there with --expired.
    let (ok, out, err) = ballast(&["alerts", "expire", "--sre-addr", suite, &id]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("expired {id}"));
    let (_, listed, _) = ballast(&["alerts", "silences", "--sre-addr", suite]);
    assert!(!listed.contains(&id), "{listed}");
    let (_, listed, _) = ballast(&["alerts", "silences", "--sre-addr", suite, "--expired"]);
    assert!(
        listed.contains(&id) && listed.contains("expired"),
        "{listed}"
    );

    // Bad input: a clear reason and a failing exit, nothing created.
    let (ok, _, err) = ballast(&[
        "alerts",
        "silence",
        "--sre-addr",
        suite,
        "-m",
        "service",
        "--comment",
        "x",
    ]);
    assert!(
        !ok && err.contains("--matcher service") && err.contains("no operator"),
        "{err}"
    );
    let (ok, _, err) = ballast(&[
        "alerts",
        "silence",
        "--sre-addr",
        suite,
        "-m",
        "a=b",
        "--duration",
        "soon",
        "--comment",
        "x",
    ]);
    assert!(!ok && err.contains("--duration soon"), "{err}");
    let (ok, _, err) = ballast(&[
        "alerts",
        "expire",
        "--sre-addr",
        suite,
        "00000000-0000-0000-0000-000000000000",
    ]);
    assert!(!ok && err.contains("404"), "{err}");
    let (_, listed, _) = ballast(&[
        "alerts",
        "silences",
        "--sre-addr",
        suite,
        "--expired",
        "--json",
    ]);
    let all: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");

    // The suite's SLO report, time-scaled and saying so.
    let deadline = Instant::now() + Duration::from_secs(60);
    let table = loop {
        let (ok, out, err) = ballast(&["slo", "status", "--sre-addr", suite]);
        if ok {
            break out;
        }
        assert!(Instant::now() < deadline, "slo status: {err}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        table.contains("product-availability") && table.contains("99.95%"),
        "{table}"
    );
    assert!(table.contains("time-scaled x10"), "{table}");
    let (ok, json, err) = ballast(&["slo", "status", "--sre-addr", suite, "--json"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["time_scale"], 10);
    assert_eq!(report["scaled"], true);
}
