//! The embedded orchestrator against a real (tiny) service: deploy, probes, crash restarts,
//! scaling, rollouts and rollback, faults, and the admin API over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::cache::MemoryBackend;
use ballast_kit::service::{Service, ServiceContext};
use ballast_kit::store::Migration;
use ballast_orchestrator::{Orchestrator, OrchestratorConfig, Phase};
use utoipa_axum::router::OpenApiRouter;

struct Echo;

impl Service for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }
    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        let instance = context.instance.clone();
        OpenApiRouter::new().route(
            "/v1/whoami",
            axum::routing::get(move || {
                let instance = instance.clone();
                async move { instance }
            }),
        )
    }
}

fn fast_config() -> OrchestratorConfig {
    OrchestratorConfig {
        time_scale: 20.0,
        ..OrchestratorConfig::default()
    }
}

async fn start(dir: &tempfile::TempDir, replicas: u32) -> Orchestrator {
    let environment = ballast_kit::testing::environment(dir.path()).await;
    let orchestrator =
        Orchestrator::new(fast_config(), environment, "127.0.0.1".parse().unwrap(), 0).unwrap();
    orchestrator.register(Arc::new(Echo), Arc::new(MemoryBackend::new(10)));
    orchestrator.deploy("echo", replicas, "v1").unwrap();
    orchestrator.start();
    assert!(
        orchestrator.wait_ready(Duration::from_secs(20)).await,
        "{:?}",
        orchestrator.instances()
    );
    orchestrator
}

async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_crashed_instance_restarts_while_the_others_keep_serving() {
    let dir = tempfile::tempdir().unwrap();
    let orchestrator = start(&dir, 2).await;
    let instances = orchestrator.instances();
    assert_eq!(instances.len(), 2);
    let (victim, survivor) = (&instances[0], &instances[1]);

    // Hammer the survivor while the victim crashes.
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/whoami", survivor.address);
    let hammer = tokio::spawn({
        let client = client.clone();
        async move {
            let mut failures = 0;
            for _ in 0..200 {
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {}
                    _ => failures += 1,
                }
            }
            failures
        }
    });
    orchestrator.crash(&victim.name).unwrap();
    let name = victim.name.clone();
    until("the victim to go unready", || {
        orchestrator
            .instances()
            .iter()
            .any(|i| i.name == name && !i.ready)
    })
    .await;
    until("the victim to restart and be ready", || {
        orchestrator
            .instances()
            .iter()
            .any(|i| i.name == name && i.ready && i.restarts == 1 && i.phase == Phase::Running)
    })
    .await;
    assert_eq!(
        hammer.await.unwrap(),
        0,
        "requests to the other instance failed"
    );
    orchestrator.shutdown().await;
}

#[tokio::test]
async fn scale_release_rollback_and_faults_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let orchestrator = start(&dir, 1).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            ballast_orchestrator::admin::router(orchestrator.clone()),
        )
        .await
        .unwrap()
    });
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let client = client.clone();
        let url = format!("{admin}{path}");
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };

    // Scale up to 3.
    let r = client
        .post(format!("{admin}/deployments/echo/scale"))
        .json(&serde_json::json!({"replicas": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = get("/deployments").await;
        if d[0]["ready_replicas"] == 3 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A bad release answers 500s; rollback restores revision 1's spec as revision 3.
    let r = client
        .post(format!("{admin}/deployments/echo/releases"))
        .json(&serde_json::json!({"version": "v2", "defect": {"error_rate": 1.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = get("/deployments").await;
        let i = get("/instances").await;
        let all_v2 = i.as_array().unwrap().iter().all(|i| i["revision"] == 2);
        if d[0]["updated_replicas"] == 3 && d[0]["ready_replicas"] == 3 && all_v2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{d} {i}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let instances = get("/instances").await;
    let address = instances[0]["address"].as_str().unwrap().to_owned();
    let status = client
        .get(format!("http://{address}/v1/whoami"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 500, "the defect of v2 is live");

    let r = client
        .post(format!("{admin}/deployments/echo/rollback"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["revision"], 3);
    let revisions = get("/deployments/echo/revisions").await;
    assert_eq!(revisions[2]["spec"]["version"], "v1");
    assert_eq!(revisions[2]["change_cause"], "rollback to revision 1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let i = get("/instances").await;
        let done = i.as_array().unwrap().len() == 3
            && i.as_array()
                .unwrap()
                .iter()
                .all(|i| i["revision"] == 3 && i["ready"] == true);
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{i}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let address = get("/instances").await[0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        client
            .get(format!("http://{address}/v1/whoami"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Runtime faults: latency and errors on every instance, cleared again.
    let r = client
        .put(format!("{admin}/deployments/echo/faults"))
        .json(&serde_json::json!({"error_rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        client
            .get(format!("http://{address}/v1/whoami"))
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    assert_eq!(
        client
            .get(format!("http://{address}/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "faults spare health"
    );
    let r = client
        .delete(format!("{admin}/deployments/echo/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        client
            .get(format!("http://{address}/v1/whoami"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Bad input is a 4xx problem.
    let r = client
        .put(format!("{admin}/deployments/echo/faults"))
        .json(&serde_json::json!({"error_rate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = client
        .post(format!("{admin}/deployments/nope/scale"))
        .json(&serde_json::json!({"replicas": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .post(format!("{admin}/deployments/echo/scale"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
