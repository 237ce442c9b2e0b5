CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    claimed_until BIGINT,
    delivered_at BIGINT,
    sink TEXT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);
CREATE INDEX notifications_pending ON notifications (delivered_at, created_at);

-- What later messages need from earlier events: an order's currency (refunds carry none)
-- and a shipment's tracking number (status changes carry none).
CREATE TABLE known_orders (
    order_id TEXT PRIMARY KEY,
    currency TEXT NOT NULL
);
CREATE TABLE known_shipments (
    shipment_id TEXT PRIMARY KEY,
    tracking_number TEXT NOT NULL
);
