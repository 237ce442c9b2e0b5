-- The order service's own tables: its copy of the catalog, orders and their lines, the saga
-- state of each order, and the idempotency keys of order creation.
CREATE TABLE catalog (
    product_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    weight_grams BIGINT NOT NULL,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    card_token TEXT NOT NULL,
    shipping_address TEXT NOT NULL,
    weight_grams BIGINT NOT NULL,
    reason TEXT,
    idempotency_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, created_at);

CREATE TABLE order_lines (
    order_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    weight_grams BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE saga (
    order_id TEXT PRIMARY KEY,
    step TEXT NOT NULL,
    deadline_at BIGINT NOT NULL,
    timeout_ms BIGINT NOT NULL,
    reserved BIGINT NOT NULL DEFAULT 0,
    nothing_held BIGINT NOT NULL DEFAULT 0,
    charge_requested BIGINT NOT NULL DEFAULT 0,
    captured BIGINT NOT NULL DEFAULT 0,
    declined BIGINT NOT NULL DEFAULT 0,
    commit_requested BIGINT NOT NULL DEFAULT 0,
    committed BIGINT NOT NULL DEFAULT 0,
    release_requested BIGINT NOT NULL DEFAULT 0,
    released BIGINT NOT NULL DEFAULT 0,
    refund_requested BIGINT NOT NULL DEFAULT 0,
    refunded BIGINT NOT NULL DEFAULT 0,
    captured_minor BIGINT NOT NULL DEFAULT 0,
    shipment_status TEXT,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX saga_by_deadline ON saga (step, deadline_at);

CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    order_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
