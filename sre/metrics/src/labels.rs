//! Label sets: sorted `(name, value)` pairs, ordered and hashed like Prometheus' `labels.Labels`.

use std::fmt;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// A set of labels sorted by name; empty values are never stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// An empty label set.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set from pairs (sorted, later duplicates win, empty values dropped).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut out = Self::empty();
        for (k, v) in pairs {
            out.set(k.into(), v.into());
        }
        out
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `name`, or `""` when absent (as Prometheus).
    pub fn get(&self, name: &str) -> &str {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) => &self.0[i].1,
            Err(_) => "",
        }
    }

    /// True when the label is present.
    pub fn has(&self, name: &str) -> bool {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .is_ok()
    }

    /// The metric name (`__name__`), or `""`.
    pub fn name(&self) -> &str {
        self.get(METRIC_NAME)
    }

    /// Sets a label; an empty value deletes it.
    pub fn set(&mut self, name: String, value: String) {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
            Ok(i) => {
                if value.is_empty() {
                    self.0.remove(i);
                } else {
                    self.0[i].1 = value;
                }
            }
            Err(i) => {
                if !value.is_empty() {
                    self.0.insert(i, (name, value));
                }
            }
        }
    }

    /// Removes a label.
    pub fn del(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            self.0.remove(i);
        }
    }

    /// A copy without the metric name.
    pub fn without_name(&self) -> Self {
        let mut out = self.clone();
        out.del(METRIC_NAME);
        out
    }

    /// A copy keeping only the listed labels.
    pub fn keep_only(&self, names: &[String]) -> Self {
        Self(
            self.0
                .iter()
                .filter(|(k, _)| names.iter().any(|n| n == k))
                .cloned()
                .collect(),
        )
    }

    /// A copy dropping the listed labels.
    pub fn drop_all(&self, names: &[String]) -> Self {
        Self(
            self.0
                .iter()
                .filter(|(k, _)| !names.iter().any(|n| n == k))
                .cloned()
                .collect(),
        )
    }

    /// Approximate heap size in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum::<usize>()
            + 24
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        f.write_str(name)?;
        f.write_str("{")?;
        let mut first = true;
        for (k, v) in &self.0 {
            if k == METRIC_NAME {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_sorts_and_empty_deletes() {
        let mut l = Labels::from_pairs([("b", "2"), ("a", "1"), ("__name__", "m")]);
        assert_eq!(l.pairs()[0].0, "__name__");
        assert_eq!(l.get("a"), "1");
        l.set("a".into(), String::new());
        assert!(!l.has("a"));
        assert_eq!(l.to_string(), "m{b=\"2\"}");
    }
}
