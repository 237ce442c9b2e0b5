CREATE TABLE shipments (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    line1 TEXT NOT NULL,
    city TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    country TEXT NOT NULL,
    weight_grams BIGINT NOT NULL,
    tracking_number TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    status_changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX shipments_user ON shipments (user_id, created_at);
CREATE INDEX shipments_due ON shipments (status, status_changed_at);

CREATE TABLE shipment_events (
    id TEXT PRIMARY KEY,
    shipment_id TEXT NOT NULL REFERENCES shipments (id),
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX shipment_events_shipment ON shipment_events (shipment_id, occurred_at);

CREATE TABLE shipment_returns (
    id TEXT PRIMARY KEY,
    shipment_id TEXT NOT NULL UNIQUE REFERENCES shipments (id),
    user_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
