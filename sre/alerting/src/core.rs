//! The dispatcher's pure, time-driven core: aggregation groups with Alertmanager's
//! group_wait / group_interval / repeat_interval, inhibition and silences, and the
//! notification log's "does this receiver need to hear about it" decision. No I/O and no
//! clock: every function takes `now` (Unix milliseconds).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{LabelSet, Matcher, StoredAlert, all_match};
use crate::routing::{Route, RoutingConfig};

/// An aggregation group: the alerts one route sends together to one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// `route id:{group labels}`.
    pub key: String,
    /// The route it belongs to.
    pub route_id: String,
    /// The route's receiver.
    pub receiver: String,
    /// The grouping labels' values.
    pub labels: LabelSet,
    /// Fingerprints of the alerts in it.
    pub members: BTreeSet<String>,
    /// When it was created (ms).
    pub created_at: i64,
    /// When it is next flushed (ms).
    pub next_flush_at: i64,
    /// Whether it has been flushed at least once.
    pub has_flushed: bool,
}

impl Group {
    /// A new group for an alert starting at `starts_at`: flushed after `group_wait`, or at once
    /// when the alert is already older than `group_wait` (as Alertmanager does).
    pub fn new(route: &Route, labels: &LabelSet, starts_at: i64, now: i64) -> Group {
        let mut g = Group {
            key: route.group_key(labels),
            route_id: route.id.clone(),
            receiver: route.receiver.clone(),
            labels: route.group_labels(labels),
            members: BTreeSet::new(),
            created_at: now,
            next_flush_at: now + route.group_wait_ms,
            has_flushed: false,
        };
        g.on_alert(starts_at, route, now);
        g
    }

    /// Adjusts timing for an alert joining (or refreshed in) the group.
    pub fn on_alert(&mut self, starts_at: i64, route: &Route, now: i64) {
        if !self.has_flushed && starts_at + route.group_wait_ms < now {
            self.next_flush_at = self.next_flush_at.min(now);
        }
    }

    /// Whether the group is due at `now`.
    pub fn due(&self, now: i64) -> bool {
        self.next_flush_at <= now
    }

    /// Records a flush at `now`: the next one is `group_interval` later.
    pub fn flushed(&mut self, route: &Route, now: i64) {
        self.has_flushed = true;
        self.next_flush_at = now + route.group_interval_ms;
    }
}

/// What the notification log remembers of the last notification of a group to one
/// integration of its receiver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Fingerprints that were firing.
    pub firing: BTreeSet<String>,
    /// Fingerprints that were resolved.
    pub resolved: BTreeSet<String>,
    /// When it was sent (ms).
    pub sent_at: i64,
    /// The remote id (Slack `channel|ts`, PagerDuty dedup key), when the integration has one.
    pub remote_id: Option<String>,
}

/// Alertmanager's dedup decision: notify when something new fires, when everything the
/// receiver knew about resolved, when something resolved (with `send_resolved`), or when the
/// repeat interval has passed.
pub fn needs_update(
    entry: Option<&LogEntry>,
    firing: &BTreeSet<String>,
    resolved: &BTreeSet<String>,
    send_resolved: bool,
    repeat_interval_ms: i64,
    now: i64,
) -> bool {
    let Some(entry) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing) {
        return true;
    }
    if firing.is_empty() {
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved) {
        return true;
    }
    entry.sent_at + repeat_interval_ms <= now
}

/// A silence: alerts matching every matcher are not notified between start and end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Identifier (uuid).
    pub id: String,
    /// Matchers as text (`a="b"`).
    pub matchers: Vec<String>,
    /// Start (ms).
    pub starts_at: i64,
    /// End (ms); expiring sets it to now.
    pub ends_at: i64,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// Last change (ms).
    pub updated_at: i64,
}

/// A silence's state at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Not started yet.
    Pending,
    /// Muting.
    Active,
    /// Over.
    Expired,
}

impl SilenceState {
    /// As Alertmanager spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    /// Its state at `now`.
    pub fn state(&self, now: i64) -> SilenceState {
        if now >= self.ends_at {
            SilenceState::Expired
        } else if now < self.starts_at {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// The parsed matchers (invalid ones are rejected when the silence is created).
    pub fn parsed_matchers(&self) -> Vec<Matcher> {
        self.matchers
            .iter()
            .filter_map(|m| Matcher::parse(m).ok())
            .collect()
    }

    /// Whether it mutes `labels` at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: i64) -> bool {
        let ms = self.parsed_matchers();
        self.state(now) == SilenceState::Active && !ms.is_empty() && all_match(&ms, labels)
    }
}

/// Why an alert is not notified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Muting {
    /// Ids of silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of firing alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

impl Muting {
    /// Whether anything mutes it.
    pub fn muted(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty()
    }
}

/// What mutes `alert` at `now`, given every known alert and silence.
pub fn muting(
    config: &RoutingConfig,
    alert: &StoredAlert,
    all: &BTreeMap<String, StoredAlert>,
    silences: &[Silence],
    now: i64,
) -> Muting {
    let silenced_by = silences
        .iter()
        .filter(|s| s.mutes(&alert.labels, now))
        .map(|s| s.id.clone())
        .collect();
    let inhibited_by = all
        .values()
        .filter(|source| !source.resolved_at(now))
        .filter(|source| {
            config
                .inhibit_rules
                .iter()
                .any(|r| r.inhibits(&source.labels, &alert.labels))
        })
        .map(|s| s.fingerprint.clone())
        .collect();
    Muting {
        silenced_by,
        inhibited_by,
    }
}

/// The firing and resolved (un-muted) alerts of a group at `now`.
pub fn split_group(
    config: &RoutingConfig,
    group: &Group,
    all: &BTreeMap<String, StoredAlert>,
    silences: &[Silence],
    now: i64,
) -> (Vec<StoredAlert>, Vec<StoredAlert>) {
    let mut firing = Vec::new();
    let mut resolved = Vec::new();
    for fp in &group.members {
        let Some(a) = all.get(fp) else { continue };
        if muting(config, a, all, silences, now).muted() {
            continue;
        }
        if a.resolved_at(now) {
            resolved.push(a.clone());
        } else {
            firing.push(a.clone());
        }
    }
    (firing, resolved)
}

/// Finds a route by id.
pub fn find_route<'a>(route: &'a Route, id: &str) -> Option<&'a Route> {
    if route.id == id {
        return Some(route);
    }
    route.routes.iter().find_map(|c| find_route(c, id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use super::*;

    const S: i64 = 1000;

    fn config() -> RoutingConfig {
        RoutingConfig::parse(
            Path::new("r.yaml"),
            "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\nreceivers:\n  - name: r\n    console_configs: [{}]\ninhibit_rules:\n  - source_matchers: ['tier=\"page\"']\n    target_matchers: ['tier=\"ticket\"']\n    equal: [slo]\n",
        )
        .unwrap()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn alert(pairs: &[(&str, &str)], ends_at: i64) -> StoredAlert {
        let labels: LabelSet = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        StoredAlert {
            fingerprint: crate::model::fingerprint(&labels),
            labels,
            annotations: LabelSet::new(),
            starts_at: 0,
            ends_at,
            ends_at_explicit: false,
            generator_url: String::new(),
            updated_at: 0,
        }
    }

    #[test]
    fn group_wait_then_group_interval() {
        let c = config();
        let labels = alert(&[("alertname", "A")], i64::MAX).labels;
        let now = 1_000 * S;
        let mut g = Group::new(&c.route, &labels, now, now);
        assert_eq!(g.key, r#"{}:{alertname="A"}"#);
        assert!(!g.due(now + 29 * S));
        assert!(g.due(now + 30 * S));
        g.flushed(&c.route, now + 30 * S);
        // A new alert joining after the first flush waits for group_interval.
        g.on_alert(now + 40 * S, &c.route, now + 40 * S);
        assert!(!g.due(now + 40 * S));
        assert!(!g.due(now + 329 * S));
        assert!(g.due(now + 330 * S));
    }

    #[test]
    fn an_old_alert_skips_group_wait() {
        let c = config();
        let labels = alert(&[("alertname", "A")], i64::MAX).labels;
        let now = 1_000 * S;
        let g = Group::new(&c.route, &labels, now - 60 * S, now);
        assert!(g.due(now));
    }

    #[test]
    fn dedup_follows_alertmanager() {
        let repeat = 4 * 3600 * S;
        // Nothing sent yet: only firing alerts are worth a notification.
        assert!(needs_update(None, &set(&["a"]), &set(&[]), true, repeat, 0));
        assert!(!needs_update(
            None,
            &set(&[]),
            &set(&["a"]),
            true,
            repeat,
            0
        ));
        let sent = LogEntry {
            firing: set(&["a"]),
            resolved: set(&[]),
            sent_at: 0,
            remote_id: None,
        };
        // Same state: quiet until the repeat interval passes.
        assert!(!needs_update(
            Some(&sent),
            &set(&["a"]),
            &set(&[]),
            true,
            repeat,
            60 * S
        ));
        assert!(needs_update(
            Some(&sent),
            &set(&["a"]),
            &set(&[]),
            true,
            repeat,
            repeat
        ));
        // A new alert fires: notify.
        assert!(needs_update(
            Some(&sent),
            &set(&["a", "b"]),
            &set(&[]),
            true,
            repeat,
            S
        ));
        // Everything resolved: notify (even without send_resolved, to clear the log).
        assert!(needs_update(
            Some(&sent),
            &set(&[]),
            &set(&["a"]),
            false,
            repeat,
            S
        ));
        // One of two resolved: only with send_resolved.
        let two = LogEntry {
            firing: set(&["a", "b"]),
            ..sent.clone()
        };
        assert!(needs_update(
            Some(&two),
            &set(&["a"]),
            &set(&["b"]),
            true,
            repeat,
            S
        ));
        assert!(!needs_update(
            Some(&two),
            &set(&["a"]),
            &set(&["b"]),
            false,
            repeat,
            S
        ));
        // Resolved already told: quiet.
        let done = LogEntry {
            firing: set(&[]),
            resolved: set(&["a"]),
            ..sent
        };
        assert!(!needs_update(
            Some(&done),
            &set(&[]),
            &set(&["a"]),
            true,
            repeat,
            S
        ));
    }

    #[test]
    fn silences_and_inhibition_mute() {
        let c = config();
        let page = alert(
            &[("alertname", "Burn"), ("tier", "page"), ("slo", "x")],
            i64::MAX,
        );
        let ticket = alert(
            &[("alertname", "Burn"), ("tier", "ticket"), ("slo", "x")],
            i64::MAX,
        );
        let other = alert(
            &[("alertname", "Burn"), ("tier", "ticket"), ("slo", "y")],
            i64::MAX,
        );
        let mut all = BTreeMap::new();
        for a in [&page, &ticket, &other] {
            all.insert(a.fingerprint.clone(), a.clone());
        }
        assert!(muting(&c, &ticket, &all, &[], 0).muted());
        assert!(!muting(&c, &other, &all, &[], 0).muted());
        assert!(!muting(&c, &page, &all, &[], 0).muted());
        // A resolved page no longer inhibits.
        all.get_mut(&page.fingerprint).unwrap().ends_at = 10;
        assert!(!muting(&c, &ticket, &all, &[], 20).muted());

        let silence = Silence {
            id: "s".into(),
            matchers: vec![r#"slo="y""#.into()],
            starts_at: 100,
            ends_at: 200,
            created_by: "me".into(),
            comment: "maintenance".into(),
            updated_at: 0,
        };
        let silences = [silence];
        assert!(!muting(&c, &other, &all, &silences, 99).muted());
        assert_eq!(muting(&c, &other, &all, &silences, 150).silenced_by, ["s"]);
        assert!(!muting(&c, &other, &all, &silences, 200).muted());
        assert_eq!(silences[0].state(50), SilenceState::Pending);
        assert_eq!(silences[0].state(200), SilenceState::Expired);
    }
}
