#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The product service over HTTP, on the store the run selects (`BALLAST_TEST_STORE`).

use std::collections::HashSet;
use std::sync::Arc;

use ballast_kit::auth::Role;
use ballast_kit::testing::{TestInstance, spawn};
use ballast_product::{ProductService, SeedOutcome, seed_catalog};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn seeded() -> TestInstance {
    let app = spawn(Arc::new(ProductService)).await;
    let outcome = seed_catalog(&app.context.store).await.unwrap();
    assert_eq!(
        outcome,
        SeedOutcome {
            categories: 10,
            products: 200
        }
    );
    app
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(app: &TestInstance, path: &str) -> (StatusCode, Value) {
    let response = client().get(app.at(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send(
    app: &TestInstance,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client().request(method, app.at(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn admin(app: &TestInstance) -> String {
    app.token("admin-1", &[Role::Admin])
}

fn customer(app: &TestInstance, id: &str) -> String {
    app.token(id, &[Role::Customer])
}

fn new_product(sku: &str, name: &str) -> Value {
    json!({
        "sku": sku,
        "name": name,
        "description": "A lamp that clamps to any desk edge and dims smoothly.",
        "category": "office",
        "price": {"amount_minor": 4599, "currency": "usd"},
        "weight_grams": 1200
    })
}

/// The current value of the product service's cache counter for `result`.
async fn cache_count(app: &TestInstance, result: &str) -> u64 {
    let text = client()
        .get(app.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("cache_requests_total{{result=\"{result}\",service=\"product\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |value| value.trim().parse().unwrap())
}

fn skus(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_seeded_catalog_paginates_with_a_correct_total() {
    let app = seeded().await;
    let (status, first) = get_json(&app, "/v1/products").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["total"], 200);
    assert_eq!(first["page"], 1);
    assert_eq!(first["per_page"], 20);
    assert_eq!(first["items"].as_array().unwrap().len(), 20);

    let mut seen = HashSet::new();
    for page in 1..=4 {
        let (status, body) = get_json(&app, &format!("/v1/products?page={page}&per_page=50")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total"], 200);
        assert_eq!(body["items"].as_array().unwrap().len(), 50);
        seen.extend(skus(&body));
    }
    assert_eq!(seen.len(), 200, "pages overlap or miss products");
    let (_, past_the_end) = get_json(&app, "/v1/products?page=5&per_page=50").await;
    assert_eq!(past_the_end["items"].as_array().unwrap().len(), 0);
    assert_eq!(past_the_end["total"], 200);

    let item = &first["items"][0];
    for field in [
        "id",
        "sku",
        "name",
        "description",
        "weight_grams",
        "created_at",
        "updated_at",
    ] {
        assert!(!item[field].is_null(), "item lacks {field}: {item}");
    }
    assert_eq!(item["price"]["currency"], "USD");
    assert!(item["price"]["amount_minor"].as_i64().unwrap() > 0);
    assert!(item["category"]["slug"].is_string());
    assert_eq!(item["rating"], json!({"average": null, "count": 0}));

    for bad in ["per_page=0", "per_page=101", "page=0"] {
        let (status, body) = get_json(&app, &format!("/v1/products?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body["status"], 422);
    }
    let (status, _) = get_json(&app, "/v1/products?page=two").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Seeding again inserts nothing.
    assert_eq!(
        seed_catalog(&app.context.store).await.unwrap(),
        SeedOutcome::default()
    );
}

#[tokio::test]
async fn concurrent_seeds_insert_the_catalog_once() {
    let app = spawn(Arc::new(ProductService)).await;
    let store = &app.context.store;
    let (a, b) = tokio::join!(seed_catalog(store), seed_catalog(store));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.products + b.products, 200, "{a:?} {b:?}");
    assert_eq!(a.categories + b.categories, 10, "{a:?} {b:?}");
    let (_, page) = get_json(&app, "/v1/products").await;
    assert_eq!(page["total"], 200);
}

#[tokio::test]
async fn categories_list_their_product_counts_and_filter_the_catalog() {
    let app = seeded().await;
    let (status, categories) = get_json(&app, "/v1/categories").await;
    assert_eq!(status, StatusCode::OK);
    let categories = categories.as_array().unwrap();
    assert_eq!(categories.len(), 10);
    assert!(categories.iter().all(|c| c["product_count"] == 20));
    let books = categories.iter().find(|c| c["slug"] == "books").unwrap();
    let kitchen = categories
        .iter()
        .find(|c| c["slug"] == "home-kitchen")
        .unwrap();
    assert_eq!(kitchen["name"], "Home & Kitchen");

    let (_, by_slug) = get_json(&app, "/v1/products?category=books&per_page=100").await;
    assert_eq!(by_slug["total"], 20);
    assert!(
        by_slug["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["category"]["slug"] == "books")
    );
    let by_id = format!(
        "/v1/products?category={}&per_page=100",
        books["id"].as_str().unwrap()
    );
    let (_, by_id) = get_json(&app, &by_id).await;
    assert_eq!(skus(&by_id), skus(&by_slug));

    let (_, priced) = get_json(
        &app,
        "/v1/products?min_price=1000&max_price=2000&per_page=100",
    )
    .await;
    let items = priced["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert_eq!(priced["total"].as_u64().unwrap() as usize, items.len());
    for item in items {
        let price = item["price"]["amount_minor"].as_i64().unwrap();
        assert!((1000..=2000).contains(&price), "{price} outside the range");
    }
    let (_, all) = get_json(&app, "/v1/products?per_page=100&page=1").await;
    let (_, rest) = get_json(&app, "/v1/products?per_page=100&page=2").await;
    let in_range = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .filter(|p| (1000..=2000).contains(&p["price"]["amount_minor"].as_i64().unwrap()))
        .count();
    assert_eq!(in_range, items.len());

    let (_, both) = get_json(
        &app,
        "/v1/products?category=books&max_price=2000&per_page=100",
    )
    .await;
    for item in both["items"].as_array().unwrap() {
        assert_eq!(item["category"]["slug"], "books");
        assert!(item["price"]["amount_minor"].as_i64().unwrap() <= 2000);
    }
    assert!(both["total"].as_i64().unwrap() < 20);

    let (_, none) = get_json(&app, "/v1/products?category=no-such-thing").await;
    assert_eq!(none["total"], 0);
    let (status, inverted) = get_json(&app, "/v1/products?min_price=500&max_price=100").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(inverted["field"], "min_price");
}

#[tokio::test]
async fn search_finds_seeded_products_by_a_word_of_their_name() {
    let app = seeded().await;
    let (status, espresso) = get_json(&app, "/v1/products?q=espresso").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(espresso["total"], 4);
    for item in espresso["items"].as_array().unwrap() {
        assert!(item["name"].as_str().unwrap().contains("Espresso Machine"));
    }

    // Several words must all match; stemming finds plurals.
    let (_, skillet) = get_json(&app, "/v1/products?q=professional%20skillet").await;
    assert_eq!(skus(&skillet), vec!["HOME-0303".to_owned()]);
    let (_, by_sku) = get_json(&app, "/v1/products?q=HOME-0303").await;
    assert_eq!(skus(&by_sku), vec!["HOME-0303".to_owned()]);
    let (_, plural) = get_json(&app, "/v1/products?q=skillets").await;
    // Four skillets, and the four editions of a cookbook that mentions one.
    assert_eq!(plural["total"], 8);

    // A word from the description, combined with a category filter.
    let (_, mixed) = get_json(&app, "/v1/products?q=merino&category=apparel&per_page=100").await;
    assert_eq!(mixed["total"], 8);
    let (_, elsewhere) = get_json(&app, "/v1/products?q=merino&category=books").await;
    assert_eq!(elsewhere["total"], 0);

    let (_, nothing) = get_json(&app, "/v1/products?q=zeppelin").await;
    assert_eq!(nothing["total"], 0);
    let (_, blank) = get_json(&app, "/v1/products?q=%20%20").await;
    assert_eq!(blank["total"], 200);

    // Full-text syntax in the text is plain words, never an error.
    for hostile in [
        "espresso%20OR%20kettle",
        "%22",
        "name%3Aespresso",
        "espresso*",
        "NEAR(espresso%20machine)",
        "-espresso",
        "%27%3B%20DROP%20TABLE%20products%3B--",
        "(((",
        "AND",
    ] {
        let (status, body) = get_json(&app, &format!("/v1/products?q={hostile}")).await;
        assert_eq!(status, StatusCode::OK, "q={hostile}: {body}");
    }
    let (_, still_there) = get_json(&app, "/v1/products").await;
    assert_eq!(still_there["total"], 200);
}

#[tokio::test]
async fn the_detail_is_cached_and_invalidated_by_an_update() {
    let app = seeded().await;
    let (_, page) = get_json(&app, "/v1/products?q=espresso").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/products/{id}");

    let hits = cache_count(&app, "hit").await;
    let misses = cache_count(&app, "miss").await;
    let (status, first) = get_json(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["id"], id.as_str());
    assert_eq!(cache_count(&app, "miss").await, misses + 1);
    let (_, second) = get_json(&app, &path).await;
    assert_eq!(second, first);
    assert_eq!(cache_count(&app, "hit").await, hits + 1);

    let mut update = new_product(first["sku"].as_str().unwrap(), "Barista Espresso Machine");
    update["category"] = json!("home-kitchen");
    let (status, updated) = send(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&admin(&app)),
        Some(update),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Barista Espresso Machine");
    assert_eq!(updated["price"]["amount_minor"], 4599);

    let (_, after) = get_json(&app, &path).await;
    assert_eq!(after["name"], "Barista Espresso Machine");
    assert_eq!(after["created_at"], first["created_at"]);
    assert_eq!(cache_count(&app, "miss").await, misses + 2);
    assert_eq!(cache_count(&app, "hit").await, hits + 1);

    // The search index follows the update.
    let (_, barista) = get_json(&app, "/v1/products?q=barista").await;
    assert_eq!(
        skus(&barista),
        vec![first["sku"].as_str().unwrap().to_owned()]
    );

    let (status, missing) = get_json(&app, "/v1/products/no-such-product").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["status"], 404);
}

#[tokio::test]
async fn admins_create_update_and_delete_products() {
    let app = spawn(Arc::new(ProductService)).await;
    let token = admin(&app);
    let (status, category) = send(
        &app,
        reqwest::Method::POST,
        "/v1/categories",
        Some(&token),
        Some(json!({"slug": "office", "name": "Office"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{category}");
    assert_eq!(category["product_count"], 0);

    let (status, created) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(&token),
        Some(new_product("lamp-001", "Clamp Desk Lamp")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["sku"], "LAMP-001");
    assert_eq!(
        created["price"],
        json!({"amount_minor": 4599, "currency": "USD"})
    );
    assert_eq!(created["category"]["id"], category["id"]);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid_version(&id), 7);
    let path = format!("/v1/products/{id}");

    let (status, fetched) = get_json(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    let (_, found) = get_json(&app, "/v1/products?q=clamp").await;
    assert_eq!(skus(&found), vec!["LAMP-001".to_owned()]);
    let (_, categories) = get_json(&app, "/v1/categories").await;
    assert_eq!(categories[0]["product_count"], 1);

    let (status, duplicate) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(&token),
        Some(new_product("LAMP-001", "Another Lamp")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(duplicate["status"], 409);

    let mut unknown_category = new_product("LAMP-002", "Floor Lamp");
    unknown_category["category"] = json!("garden");
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(&token),
        Some(unknown_category),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "category");

    let mut negative = new_product("LAMP-003", "Cheap Lamp");
    negative["price"]["amount_minor"] = json!(-1);
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(&token),
        Some(negative),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "price.amount_minor");

    let mut update = new_product("LAMP-001", "Clamp Desk Lamp II");
    update["price"] = json!({"amount_minor": 5099, "currency": "EUR"});
    let (status, updated) = send(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&token),
        Some(update),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["price"],
        json!({"amount_minor": 5099, "currency": "EUR"})
    );
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        "/v1/products/nope",
        Some(&token),
        Some(new_product("LAMP-009", "Ghost Lamp")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = send(&app, reqwest::Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = get_json(&app, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone["status"], 404);
    let (status, _) = send(&app, reqwest::Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, empty) = get_json(&app, "/v1/products?q=clamp").await;
    assert_eq!(empty["total"], 0);
}

fn uuid_version(id: &str) -> u32 {
    // The version nibble of a canonical UUID is the first character of its third group.
    let group = id.split('-').nth(2).unwrap();
    group[..1].parse().unwrap()
}

#[tokio::test]
async fn only_admins_change_the_catalog() {
    let app = seeded().await;
    let shopper = customer(&app, "u1");
    let (_, page) = get_json(&app, "/v1/products").await;
    let path = format!("/v1/products/{}", page["items"][0]["id"].as_str().unwrap());

    let cases = [
        (
            reqwest::Method::POST,
            "/v1/products".to_owned(),
            Some(new_product("X-100", "X")),
        ),
        (
            reqwest::Method::PUT,
            path.clone(),
            Some(new_product("X-100", "X")),
        ),
        (reqwest::Method::DELETE, path.clone(), None),
        (
            reqwest::Method::POST,
            "/v1/categories".to_owned(),
            Some(json!({"slug": "garden", "name": "Garden"})),
        ),
    ];
    for (method, route, body) in cases {
        let (status, problem) =
            send(&app, method.clone(), &route, Some(&shopper), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {route}");
        assert_eq!(problem["status"], 403);
        let (status, problem) = send(&app, method.clone(), &route, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {route}");
        assert_eq!(problem["status"], 401);
        let (status, _) = send(&app, method.clone(), &route, Some("not-a-jwt"), body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {route}");
    }
    let (_, still) = get_json(&app, "/v1/products").await;
    assert_eq!(still["total"], 200);

    let token = admin(&app);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/v1/categories",
        Some(&token),
        Some(json!({"slug": "Garden", "name": "Garden"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/v1/categories",
        Some(&token),
        Some(json!({"slug": "garden", "name": "Garden again"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/v1/categories",
        Some(&token),
        Some(json!({"slug": "no spaces", "name": "Bad"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "slug");
}

#[tokio::test]
async fn reviews_update_the_average_rating() {
    let app = seeded().await;
    let (_, page) = get_json(&app, "/v1/products?q=headlamp").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let detail = format!("/v1/products/{id}");
    let reviews = format!("{detail}/reviews");

    // Cache the detail first, so the review must invalidate it.
    let (_, before) = get_json(&app, &detail).await;
    assert_eq!(before["rating"], json!({"average": null, "count": 0}));

    let review =
        |rating: i64| json!({"rating": rating, "title": "Bright", "body": "Lights the trail."});
    for (user, rating) in [("u1", 5), ("u2", 4), ("u3", 4)] {
        let (status, body) = send(
            &app,
            reqwest::Method::POST,
            &reviews,
            Some(&customer(&app, user)),
            Some(review(rating)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["user_id"], user);
        assert_eq!(body["product_id"], id.as_str());
        assert_eq!(body["rating"], rating);
    }
    let (_, after) = get_json(&app, &detail).await;
    assert_eq!(after["rating"], json!({"average": 4.33, "count": 3}));

    let (status, duplicate) = send(
        &app,
        reqwest::Method::POST,
        &reviews,
        Some(&customer(&app, "u1")),
        Some(review(1)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(duplicate["status"], 409);
    let (_, unchanged) = get_json(&app, &detail).await;
    assert_eq!(unchanged["rating"], json!({"average": 4.33, "count": 3}));

    for bad in [0, 6, -3] {
        let (status, body) = send(
            &app,
            reqwest::Method::POST,
            &reviews,
            Some(&customer(&app, "u9")),
            Some(review(bad)),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "rating {bad}");
        assert_eq!(body["field"], "rating");
    }
    let (status, _) = send(&app, reqwest::Method::POST, &reviews, None, Some(review(5))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products/nope/reviews",
        Some(&customer(&app, "u1")),
        Some(review(5)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, listed) = get_json(&app, &reviews).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["total"], 3);
    let users: HashSet<_> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        users,
        HashSet::from(["u1".into(), "u2".into(), "u3".into()])
    );
    let (_, paged) = get_json(&app, &format!("{reviews}?per_page=2&page=2")).await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 1);
    let (status, _) = get_json(&app, "/v1/products/nope/reviews").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleting the product takes its reviews with it.
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &detail,
        Some(&admin(&app)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = get_json(&app, &reviews).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn concurrent_reviews_all_count() {
    let app = seeded().await;
    let (_, page) = get_json(&app, "/v1/products?q=kettle").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let reviews = format!("/v1/products/{id}/reviews");
    let posts = (0..12).map(|n| {
        let token = customer(&app, &format!("buyer-{n}"));
        let reviews = reviews.clone();
        let app = &app;
        async move {
            let body = json!({"rating": n % 5 + 1, "title": "ok", "body": ""});
            send(
                app,
                reqwest::Method::POST,
                &reviews,
                Some(&token),
                Some(body),
            )
            .await
            .0
        }
    });
    let statuses = futures::future::join_all(posts).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    let (_, detail) = get_json(&app, &format!("/v1/products/{id}")).await;
    // Ratings 1..=5 twice, then 1 and 2: sum 33 over 12.
    assert_eq!(detail["rating"], json!({"average": 2.75, "count": 12}));
}

#[tokio::test]
async fn malformed_bodies_are_problem_json() {
    let app = seeded().await;
    let response = client()
        .post(app.at("/v1/products"))
        .bearer_auth(admin(&app))
        .header("content-type", "application/json")
        .body("{\"sku\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 400);

    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(&admin(&app)),
        Some(json!({"sku": "ABC-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A misspelt field is rejected rather than silently ignored.
    let mut typo = new_product("ABC-2", "Typo Lamp");
    typo["wieght_grams"] = json!(5);
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(&admin(&app)),
        Some(typo),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (_, page) = get_json(&app, "/v1/products").await;
    let reviews = format!(
        "/v1/products/{}/reviews",
        page["items"][0]["id"].as_str().unwrap()
    );
    let response = client()
        .post(app.at(&reviews))
        .bearer_auth(customer(&app, "u1"))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = spawn(Arc::new(ProductService)).await;
    let (status, doc) = get_json(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/categories",
        "/v1/products",
        "/v1/products/{id}",
        "/v1/products/{id}/reviews",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    for method in ["get", "put", "delete"] {
        assert!(doc["paths"]["/v1/products/{id}"][method].is_object());
    }
    assert!(doc["components"]["schemas"]["ProductView"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let (status, _) = get_json(&app, "/health/ready").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_fresh_instance_counts_its_routes_at_zero_before_any_request() {
    let app = spawn(Arc::new(ProductService)).await;
    let text = client()
        .get(app.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // "No requests yet" is a zero, not a missing series: SLO queries read 0, not no data.
    for line in [
        r#"http_requests_total{code="200",method="GET",route="/v1/products",service="product"} 0"#,
        r#"http_requests_total{code="200",method="GET",route="/v1/products/{id}",service="product"} 0"#,
        r#"http_requests_total{code="200",method="POST",route="/v1/products",service="product"} 0"#,
        r#"http_request_duration_seconds_count{method="GET",route="/v1/products/{id}",service="product"} 0"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line} in:\n{text}"
        );
    }
}
