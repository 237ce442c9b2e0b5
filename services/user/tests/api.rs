#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The user service over HTTP: registration, login, profile, admin operations and the error
//! contract, against a real instance on a loopback port (SQLite or PostgreSQL).

use std::sync::Arc;

use ballast_kit::auth::Role;
use ballast_kit::testing::{TestInstance, spawn};
use ballast_user::{AdminSeed, UserService, ensure_admin, generate_password};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PROBLEM_JSON: &str = "application/problem+json";

async fn app() -> TestInstance {
    spawn(Arc::new(UserService)).await
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn register(
    app: &TestInstance,
    email: &str,
    password: &str,
    name: &str,
) -> reqwest::Response {
    client()
        .post(app.at("/v1/users"))
        .json(&json!({ "email": email, "password": password, "name": name }))
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestInstance, email: &str, password: &str) -> reqwest::Response {
    client()
        .post(app.at("/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn token_for(app: &TestInstance, email: &str, password: &str) -> String {
    let response = login(app, email, password).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        PROBLEM_JSON
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    body
}

#[tokio::test]
async fn register_then_login_then_me_with_the_token() {
    let app = app().await;
    let response = register(
        &app,
        "  Ada@Example.COM ",
        "correct horse",
        "  Ada Lovelace ",
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["name"], "Ada Lovelace");
    assert_eq!(created["roles"], json!(["customer"]));
    let id = created["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(location, format!("/v1/users/{id}"));
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(created.get("password_hash").is_none());
    assert!(!created.to_string().contains("correct horse"));

    let response = login(&app, "ADA@example.com", "correct horse").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["user"]["id"], id);
    let token = body["access_token"].as_str().unwrap();
    let claims = app.context.keys.verify(token).unwrap();
    assert_eq!(claims.sub, id);
    assert_eq!(claims.roles, vec![Role::Customer]);

    let me: Value = client()
        .get(app.at("/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, created);
}

#[tokio::test]
async fn a_second_account_with_the_same_email_is_a_conflict() {
    let app = app().await;
    let first = register(&app, "bob@example.com", "password-1", "Bob").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = register(&app, "BOB@example.com ", "password-2", "Other Bob").await;
    let body = problem(again, StatusCode::CONFLICT).await;
    assert!(body["detail"].as_str().unwrap().contains("email"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_fail_alike() {
    let app = app().await;
    register(&app, "carol@example.com", "carols-password", "Carol").await;
    let wrong = problem(
        login(&app, "carol@example.com", "not-her-password").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let unknown = problem(
        login(&app, "nobody@example.com", "carols-password").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(wrong, unknown);
    let empty = problem(
        login(&app, "carol@example.com", "").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(empty, unknown);
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = app().await;
    let response = client()
        .post(app.at("/v1/users"))
        .header("content-type", "application/json")
        .body(r#"{"email": "dan@example.com", "password": "#)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_missing_field_is_a_422_problem() {
    let app = app().await;
    let response = client()
        .post(app.at("/v1/users"))
        .json(&json!({ "email": "erin@example.com", "name": "Erin" }))
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        body["detail"].as_str().unwrap().contains("password"),
        "{body}"
    );
}

#[tokio::test]
async fn invalid_fields_are_422_problems_naming_the_field() {
    let app = app().await;
    for (email, password, name, field) in [
        ("not-an-email", "long enough", "Frank", "email"),
        ("frank@example.com", "short", "Frank", "password"),
        ("frank@example.com", "long enough", "   ", "name"),
    ] {
        let body = problem(
            register(&app, email, password, name).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(body["field"], field, "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = app().await;
    let response = client()
        .post(app.at("/v1/users"))
        .header("content-type", "text/plain")
        .body(r#"{"email":"gina@example.com","password":"long enough","name":"Gina"}"#)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn admin_endpoints_need_a_token_and_the_admin_role() {
    let app = app().await;
    register(&app, "hal@example.com", "hals-password", "Hal").await;
    let customer = token_for(&app, "hal@example.com", "hals-password").await;

    let anonymous = client().get(app.at("/v1/users")).send().await.unwrap();
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let forged = client()
        .get(app.at("/v1/users"))
        .bearer_auth(format!("{customer}x"))
        .send()
        .await
        .unwrap();
    problem(forged, StatusCode::UNAUTHORIZED).await;
    let as_customer = client()
        .get(app.at("/v1/users"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    problem(as_customer, StatusCode::FORBIDDEN).await;
    let roles = client()
        .put(app.at("/v1/users/whoever/roles"))
        .bearer_auth(&customer)
        .json(&json!({ "roles": ["admin"] }))
        .send()
        .await
        .unwrap();
    problem(roles, StatusCode::FORBIDDEN).await;

    let me = client().get(app.at("/v1/users/me")).send().await.unwrap();
    problem(me, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn an_admin_sets_roles_and_the_next_login_carries_them() {
    let app = app().await;
    let created: Value = register(&app, "ivy@example.com", "ivys-password", "Ivy")
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let admin = app.token("admin-1", &[Role::Admin]);

    let response = client()
        .put(app.at(&format!("/v1/users/{id}/roles")))
        .bearer_auth(&admin)
        .json(&json!({ "roles": ["sre", "customer", "sre"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["roles"], json!(["customer", "sre"]));

    let token = token_for(&app, "ivy@example.com", "ivys-password").await;
    let claims = app.context.keys.verify(&token).unwrap();
    assert_eq!(claims.roles, vec![Role::Customer, Role::Sre]);

    let fetched: Value = client()
        .get(app.at(&format!("/v1/users/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["roles"], json!(["customer", "sre"]));

    let unknown = client()
        .put(app.at(&format!("/v1/users/{id}/roles")))
        .bearer_auth(&admin)
        .json(&json!({ "roles": ["customer", "root"] }))
        .send()
        .await
        .unwrap();
    let body = problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["field"], "roles");

    let missing = client()
        .put(app.at("/v1/users/no-such-user/roles"))
        .bearer_auth(&admin)
        .json(&json!({ "roles": ["customer"] }))
        .send()
        .await
        .unwrap();
    problem(missing, StatusCode::NOT_FOUND).await;
    let missing = client()
        .get(app.at("/v1/users/no-such-user"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(missing, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn ensure_admin_is_idempotent_and_its_admin_can_list_users() {
    let app = app().await;
    let store = &app.context.store;
    let password = generate_password();
    assert_eq!(
        ensure_admin(store, "root@example.com", &password)
            .await
            .unwrap(),
        AdminSeed::Created
    );
    assert_eq!(
        ensure_admin(store, "ROOT@example.com", "another-password")
            .await
            .unwrap(),
        AdminSeed::AlreadyExists
    );
    assert!(
        ensure_admin(store, "not an email", &password)
            .await
            .is_err()
    );
    assert!(
        ensure_admin(store, "other@example.com", "short")
            .await
            .is_err()
    );
    // The second call left the password alone.
    let response = login(&app, "root@example.com", "another-password").await;
    problem(response, StatusCode::UNAUTHORIZED).await;
    let admin = token_for(&app, "root@example.com", &password).await;
    let claims = app.context.keys.verify(&admin).unwrap();
    assert_eq!(claims.roles, vec![Role::Customer, Role::Admin]);

    for n in 0..4 {
        let response = register(&app, &format!("user{n}@example.com"), "password-n", "User").await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let page: Value = client()
        .get(app.at("/v1/users?page=2&per_page=2"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 2);
    assert_eq!(page["per_page"], 2);
    let emails: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["user1@example.com", "user2@example.com"]);
    assert!(!page.to_string().contains("argon2"));

    let defaults: Value = client()
        .get(app.at("/v1/users"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(defaults["per_page"], 20);
    assert_eq!(defaults["items"].as_array().unwrap().len(), 5);

    let too_big = client()
        .get(app.at("/v1/users?per_page=101"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let body = problem(too_big, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["field"], "per_page");

    // An admin cannot lock themselves out.
    let own = client()
        .put(app.at(&format!("/v1/users/{}/roles", claims.sub)))
        .bearer_auth(&admin)
        .json(&json!({ "roles": ["customer"] }))
        .send()
        .await
        .unwrap();
    problem(own, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn a_user_changes_name_and_password() {
    let app = app().await;
    register(&app, "jo@example.com", "first-password", "Jo").await;
    let token = token_for(&app, "jo@example.com", "first-password").await;

    let response = client()
        .patch(app.at("/v1/users/me"))
        .bearer_auth(&token)
        .json(&json!({ "name": " Josephine " }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let renamed: Value = response.json().await.unwrap();
    assert_eq!(renamed["name"], "Josephine");
    // The name alone did not change the password.
    token_for(&app, "jo@example.com", "first-password").await;

    let response = client()
        .patch(app.at("/v1/users/me"))
        .bearer_auth(&token)
        .json(&json!({ "password": "second-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Josephine");
    problem(
        login(&app, "jo@example.com", "first-password").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    token_for(&app, "jo@example.com", "second-password").await;

    let short = client()
        .patch(app.at("/v1/users/me"))
        .bearer_auth(&token)
        .json(&json!({ "password": "short" }))
        .send()
        .await
        .unwrap();
    let body = problem(short, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["field"], "password");

    // A valid token whose account does not exist.
    let ghost = app.token("ghost", &[Role::Customer]);
    let response = client()
        .get(app.at("/v1/users/me"))
        .bearer_auth(ghost)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_and_logins_are_counted() {
    let app = app().await;
    let doc: Value = client()
        .get(app.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/users",
        "/v1/auth/login",
        "/v1/users/me",
        "/v1/users/{id}",
        "/v1/users/{id}/roles",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(paths["/v1/users/me"].get("patch").is_some());
    assert!(doc["components"]["schemas"].get("UserView").is_some());
    assert!(doc["components"]["securitySchemes"].get("bearer").is_some());

    register(&app, "kim@example.com", "kims-password", "Kim").await;
    token_for(&app, "kim@example.com", "kims-password").await;
    login(&app, "kim@example.com", "wrong-password").await;
    let metrics = client()
        .get(app.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"user_logins_total{result="failure",service="user"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"user_logins_total{result="success",service="user"} 1"#));
    assert!(metrics.contains(r#"user_registrations_total{service="user"} 1"#));
}

#[tokio::test]
async fn concurrent_ensure_admin_calls_create_exactly_one_account() {
    let app = app().await;
    let store = app.context.store.clone();
    let password = generate_password();
    let calls = (0..4).map(|_| {
        let store = store.clone();
        let password = password.clone();
        tokio::spawn(async move { ensure_admin(&store, "boss@example.com", &password).await })
    });
    let mut outcomes = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        outcomes.push(call.await.unwrap().unwrap());
    }
    let created = outcomes
        .iter()
        .filter(|o| **o == AdminSeed::Created)
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    token_for(&app, "boss@example.com", &password).await;
}

#[tokio::test]
async fn unknown_body_fields_are_rejected_rather_than_ignored() {
    let app = app().await;
    register(&app, "lee@example.com", "lees-password", "Lee").await;
    let token = token_for(&app, "lee@example.com", "lees-password").await;
    let response = client()
        .patch(app.at("/v1/users/me"))
        .bearer_auth(&token)
        .json(&json!({ "nmae": "typo" }))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
}
