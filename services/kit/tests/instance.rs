//! A service instance as the kit assembles it: health with its database and bus checks, the
//! outbox audit endpoint, metrics, problem+json for unknown routes, background tasks.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::auth::Role;
use ballast_kit::events::catalog::StockReserved;
use ballast_kit::events::{Event, outbox};
use ballast_kit::service::{Background, Service, ServiceContext};
use ballast_kit::store::Migration;
use utoipa_axum::router::OpenApiRouter;

struct Demo;

impl Service for Demo {
    fn name(&self) -> &'static str {
        "demo"
    }
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }
    fn api(&self, _context: ServiceContext) -> OpenApiRouter {
        OpenApiRouter::new()
    }
    fn background(&self) -> Vec<Background> {
        // Writes one event into its own outbox, once: the relay must publish it.
        vec![Background::new(
            "emit-once",
            |context: ServiceContext| async move {
                let mut tx = context.store.pool().begin().await?;
                outbox::enqueue(
                    &mut tx,
                    &Event::of(
                        "o1",
                        &StockReserved {
                            order_id: "o1".into(),
                        },
                    )?,
                )
                .await?;
                tx.commit().await?;
                std::future::pending::<()>().await;
                Ok(())
            },
        )]
    }
}

#[tokio::test]
async fn an_instance_relays_its_outbox_and_reports_it_to_auditors() {
    let app = ballast_kit::testing::spawn(Arc::new(Demo)).await;
    let http = reqwest::Client::new();

    let ready = http
        .get(app.at("/health/ready"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ready: serde_json::Value =
        serde_json::from_str(&ready).unwrap_or_else(|_| panic!("{ready}"));
    assert_eq!(ready["checks"]["database"], "ok", "{ready}");
    assert_eq!(ready["checks"]["bus"], "ok", "{ready}");

    let mut subscription = app
        .context
        .bus
        .subscribe("audit-test", &["inventory".to_owned()])
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.event.kind, "inventory.reserved");

    // The relay marks the row published when its transaction commits, just after the bus has
    // the event: poll until it has.
    let sre = app.token("ops", &[Role::Sre]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let audit: serde_json::Value = http
            .get(app.at("/v1/audit/outbox"))
            .bearer_auth(&sre)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(audit["total"], 1);
        if audit["pending"] == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{audit}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let customer = app.token("c", &[Role::Customer]);
    assert_eq!(
        http.get(app.at("/v1/audit/outbox"))
            .bearer_auth(&customer)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        http.get(app.at("/v1/audit/outbox"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let missing = http.get(app.at("/v1/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );

    let metrics = http
        .get(app.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"bus_events_published_total{service="demo",topic="inventory"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/health/ready""#));
}
