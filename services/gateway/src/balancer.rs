//! Where requests go: the live table of service instances ([`Endpoints`], fed by whoever runs
//! the instances through a `watch` channel) and round-robin selection over the ready ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::watch;

/// One instance of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The instance id (`product-2`).
    pub instance: String,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Whether its readiness probe passes; only ready instances get traffic.
    pub ready: bool,
}

/// Instances by service name.
pub type Endpoints = BTreeMap<String, Vec<Endpoint>>;

/// Round-robin choice over the ready instances of each service.
pub struct Balancer {
    endpoints: watch::Receiver<Endpoints>,
    cursors: Mutex<HashMap<String, Arc<AtomicUsize>>>,
}

impl Balancer {
    /// Balances over the table `endpoints` publishes.
    pub fn new(endpoints: watch::Receiver<Endpoints>) -> Self {
        Self {
            endpoints,
            cursors: Mutex::new(HashMap::new()),
        }
    }

    /// The ready instances of `service` in the order to try them: a rotation starting at the
    /// next instance in turn. Empty when none is ready.
    pub fn candidates(&self, service: &str) -> Vec<Endpoint> {
        let ready: Vec<Endpoint> = self
            .endpoints
            .borrow()
            .get(service)
            .map(|all| all.iter().filter(|e| e.ready).cloned().collect())
            .unwrap_or_default();
        if ready.is_empty() {
            return ready;
        }
        let start = self.cursor(service).fetch_add(1, Ordering::Relaxed) % ready.len();
        rotate(ready, start)
    }

    /// The services that have at least one ready instance.
    pub fn ready_services(&self) -> Vec<String> {
        self.endpoints
            .borrow()
            .iter()
            .filter(|(_, all)| all.iter().any(|e| e.ready))
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn cursor(&self, service: &str) -> Arc<AtomicUsize> {
        self.cursors
            .lock()
            .entry(service.to_owned())
            .or_default()
            .clone()
    }
}

fn rotate(mut items: Vec<Endpoint>, start: usize) -> Vec<Endpoint> {
    items.rotate_left(start);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(instance: &str, ready: bool) -> Endpoint {
        Endpoint {
            instance: instance.into(),
            url: format!("http://{instance}"),
            ready,
        }
    }

    #[test]
    fn ready_instances_take_turns_and_not_ready_ones_are_skipped() {
        let table = Endpoints::from([(
            "product".to_owned(),
            vec![
                endpoint("a", true),
                endpoint("b", false),
                endpoint("c", true),
            ],
        )]);
        let (_tx, rx) = watch::channel(table);
        let balancer = Balancer::new(rx);
        let firsts: Vec<String> = (0..4)
            .map(|_| balancer.candidates("product")[0].instance.clone())
            .collect();
        assert_eq!(firsts, ["a", "c", "a", "c"]);
        let all: Vec<String> = balancer
            .candidates("product")
            .into_iter()
            .map(|e| e.instance)
            .collect();
        assert_eq!(all, ["a", "c"]);
        assert!(balancer.candidates("order").is_empty());
        assert_eq!(balancer.ready_services(), ["product"]);
    }
}
