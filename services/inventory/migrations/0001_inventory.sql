CREATE TABLE IF NOT EXISTS stock (
    product_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    initial BIGINT NOT NULL CHECK (initial >= 0),
    restocked BIGINT NOT NULL DEFAULT 0 CHECK (restocked >= 0),
    available BIGINT NOT NULL CHECK (available >= 0),
    reserved BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    sold BIGINT NOT NULL DEFAULT 0 CHECK (sold >= 0),
    updated_at BIGINT NOT NULL,
    CHECK (initial + restocked = available + reserved + sold)
);

CREATE TABLE IF NOT EXISTS reservations (
    order_id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released', 'expired', 'rejected')),
    reason TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_due ON reservations (status, expires_at);

CREATE TABLE IF NOT EXISTS reservation_lines (
    order_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);
