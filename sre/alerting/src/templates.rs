//! Handlebars templates for every message: defaults compiled in from `alerts/templates/`,
//! each replaceable by a file of the same name in a configured folder.

use std::path::Path;

use handlebars::Handlebars;
use serde::Serialize;

use crate::error::{AlertingError, Problem};

/// The template names and their defaults.
pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "slack_title",
        include_str!("../../../alerts/templates/slack_title.hbs"),
    ),
    (
        "slack_message",
        include_str!("../../../alerts/templates/slack_message.hbs"),
    ),
    (
        "slack_thread",
        include_str!("../../../alerts/templates/slack_thread.hbs"),
    ),
    (
        "pagerduty_summary",
        include_str!("../../../alerts/templates/pagerduty_summary.hbs"),
    ),
    (
        "console",
        include_str!("../../../alerts/templates/console.hbs"),
    ),
];

/// The compiled templates.
#[derive(Debug, Clone)]
pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    /// The defaults only.
    pub fn defaults() -> Result<Self, AlertingError> {
        Self::load(None)
    }

    /// The defaults, each replaced by `<dir>/<name>.hbs` when that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Self, AlertingError> {
        let mut registry = Handlebars::new();
        registry.register_escape_fn(handlebars::no_escape);
        let mut problems = Vec::new();
        for (name, default) in DEFAULTS {
            let (text, file) = match dir.map(|d| d.join(format!("{name}.hbs"))) {
                Some(path) if path.exists() => {
                    let text =
                        std::fs::read_to_string(&path).map_err(|source| AlertingError::Io {
                            path: path.clone(),
                            source,
                        })?;
                    (text, path)
                }
                _ => (
                    (*default).to_owned(),
                    Path::new("alerts/templates").join(format!("{name}.hbs")),
                ),
            };
            if let Err(e) = registry.register_template_string(name, text) {
                problems.push(Problem {
                    file,
                    line: e.pos().map_or(1, |(line, _)| line),
                    reason: e.to_string(),
                });
            }
        }
        if problems.is_empty() {
            Ok(Templates { registry })
        } else {
            Err(AlertingError::Config(problems))
        }
    }

    /// Renders `name` with `data`, trimming surrounding blank lines.
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String, AlertingError> {
        self.registry
            .render(name, data)
            .map(|s| s.trim().to_owned())
            .map_err(|e| AlertingError::Template {
                name: name.to_owned(),
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_compile_and_files_override() {
        let t = Templates::defaults().unwrap();
        let data = serde_json::json!({"status": "firing", "severity": "critical", "title": "Burn", "firing_count": 2, "summary": "s", "receiver": "r"});
        assert_eq!(
            t.render("slack_title", &data).unwrap(),
            ":rotating_light: FIRING (2): Burn"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("console.hbs"), "custom {{title}} & <b>").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(t.render("console", &data).unwrap(), "custom Burn & <b>");
        std::fs::write(dir.path().join("console.hbs"), "{{#if x}}\nbroken").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("console.hbs"), "{err}");
    }
}
