CREATE TABLE alerting_alerts (
    fingerprint TEXT PRIMARY KEY,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    ends_at_explicit BIGINT NOT NULL,
    generator_url TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE alerting_groups (
    group_key TEXT PRIMARY KEY,
    route_id TEXT NOT NULL,
    receiver TEXT NOT NULL,
    labels TEXT NOT NULL,
    members TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_flush_at BIGINT NOT NULL,
    has_flushed BIGINT NOT NULL
);
CREATE TABLE alerting_nlog (
    group_key TEXT NOT NULL,
    integration TEXT NOT NULL,
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    remote_id TEXT,
    PRIMARY KEY (group_key, integration)
);
CREATE TABLE alerting_notifications (
    id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    action TEXT NOT NULL,
    remote_id TEXT,
    sent_at BIGINT NOT NULL
);
CREATE INDEX alerting_notifications_group ON alerting_notifications (group_key, sent_at);
CREATE TABLE alerting_silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE alerting_acks (
    group_key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    source TEXT NOT NULL,
    at BIGINT NOT NULL
);
