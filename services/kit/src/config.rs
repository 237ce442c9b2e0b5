//! Layered, typed configuration: defaults, then a TOML file, then `BALLAST_*` environment
//! variables (`BALLAST_SECTION__KEY`, so `BALLAST_STORE__URL` sets `store.url`).
//!
//! Unknown keys are an error (every config struct is `deny_unknown_fields`); secrets are
//! [`Secret`]s, which print as `[REDACTED]`. Variables named `BALLAST_TEST_*` belong to the test
//! harness and are not configuration.

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A secret string: deserializes from config, never prints, serializes as `[REDACTED]`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(secrecy::SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(secrecy::SecretString::from(value.into()))
    }

    /// The secret itself; call only where it is used, never to log.
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[REDACTED]")
    }
}

/// Where configuration values come from; tests pass a map instead of mutating the environment.
#[derive(Debug, Clone, Default)]
pub enum EnvSource {
    /// The process environment.
    #[default]
    Process,
    /// A fixed map of `BALLAST_*` variables.
    Map(BTreeMap<String, String>),
}

/// A configuration error, with the key or file at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Loads `T`: its `Default`, then `file` (if given), then `BALLAST_*` variables.
pub fn load<T>(file: Option<&Path>, env: &EnvSource) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError(format!("{}: no such file", file.display())));
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = match env {
        EnvSource::Process => figment.merge(ballast_env()),
        EnvSource::Map(map) => {
            let mut toml = toml_table::Table::default();
            for (key, value) in map {
                if let Some(rest) = key.strip_prefix("BALLAST_")
                    && !rest.starts_with("TEST_")
                {
                    toml.insert(&rest.to_lowercase(), value);
                }
            }
            figment.merge(Serialized::defaults(toml.into_value()))
        }
    };
    figment
        .extract()
        .map_err(|error| ConfigError(describe(error)))
}

fn ballast_env() -> Env {
    Env::prefixed("BALLAST_")
        .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
        .split("__")
}

fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(source) => format!(" (from {source})"),
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("{key}: {}{source}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A tiny nested table so that `SECTION__KEY` maps become nested values, as `Env::split` does.
mod toml_table {
    use serde_json::{Map, Value};

    #[derive(Default)]
    pub struct Table(Map<String, Value>);

    impl Table {
        pub fn insert(&mut self, dotted: &str, raw: &str) {
            let parts: Vec<&str> = dotted.split("__").collect();
            let mut cursor = &mut self.0;
            for part in &parts[..parts.len().saturating_sub(1)] {
                let entry = cursor
                    .entry((*part).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                let Value::Object(next) = entry else { return };
                cursor = next;
            }
            if let Some(last) = parts.last() {
                cursor.insert((*last).to_owned(), parse_scalar(raw));
            }
        }

        pub fn into_value(self) -> Value {
            Value::Object(self.0)
        }
    }

    /// Parses an environment value the way figment's `Env` does: numbers and booleans typed.
    fn parse_scalar(raw: &str) -> Value {
        if let Ok(v) = raw.parse::<i64>() {
            return Value::from(v);
        }
        if let Ok(v) = raw.parse::<f64>() {
            return Value::from(v);
        }
        match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Root {
        store: StoreSection,
        token: Option<Secret>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct StoreSection {
        url: String,
        max_connections: u32,
    }

    impl Default for StoreSection {
        fn default() -> Self {
            Self {
                url: "sqlite".into(),
                max_connections: 5,
            }
        }
    }

    fn env(pairs: &[(&str, &str)]) -> EnvSource {
        EnvSource::Map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ballast.toml");
        std::fs::write(&file, "[store]\nmax_connections = 9\nurl = \"from-file\"\n").unwrap();
        let root: Root = load(
            Some(&file),
            &env(&[
                ("BALLAST_STORE__URL", "postgres://x"),
                ("BALLAST_TEST_X", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(root.store.url, "postgres://x");
        assert_eq!(root.store.max_connections, 9);
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ballast.toml");
        std::fs::write(&file, "[store]\nmax_conections = 9\n").unwrap();
        let error = load::<Root>(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_conections"), "{error}");
        assert!(error.contains("ballast.toml"), "{error}");
    }

    #[test]
    fn secrets_never_print() {
        let root: Root = load(None, &env(&[("BALLAST_TOKEN", "xoxb-very-secret")])).unwrap();
        let token = root.token.as_ref().unwrap();
        assert_eq!(token.expose(), "xoxb-very-secret");
        assert!(!format!("{root:?}").contains("very-secret"));
        assert!(
            !serde_json::to_string(&root)
                .unwrap()
                .contains("very-secret")
        );
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let error = load::<Root>(Some(Path::new("/nonexistent/b.toml")), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/b.toml"));
    }
}
