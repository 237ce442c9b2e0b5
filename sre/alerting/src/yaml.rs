//! Reading YAML with positions: `saphyr` marked nodes with scalars kept as written, and a
//! strict mapping reader that reports missing and unknown fields with their line.

use std::path::{Path, PathBuf};

use saphyr::{MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::Parser;

use crate::error::Problem;

/// A YAML node with its position.
pub(crate) type Node<'i> = MarkedYaml<'i>;

/// Parses the first document of `text`, keeping scalars as written.
pub(crate) fn load<'i>(file: &Path, text: &'i str) -> Result<Option<Node<'i>>, Problem> {
    let mut loader: YamlLoader<'i, Node<'i>> = YamlLoader::default();
    loader.early_parse(false);
    let mut parser = Parser::new_from_str(text);
    let scanned = parser.load(&mut loader, false);
    if let Some(e) = scanned.err().or_else(|| loader.error().cloned()) {
        return Err(Problem {
            file: file.to_owned(),
            line: e.marker().line(),
            reason: e.info().to_owned(),
        });
    }
    Ok(loader.into_documents().into_iter().find(|d| !is_null(d)))
}

/// Collects problems for one file.
pub(crate) struct Reader {
    /// The file being read.
    pub file: PathBuf,
    /// Problems found so far.
    pub problems: Vec<Problem>,
}

impl Reader {
    /// A reader for `file`.
    pub fn new(file: &Path) -> Reader {
        Reader {
            file: file.to_owned(),
            problems: Vec::new(),
        }
    }

    /// The line `node` starts on.
    pub fn line(&self, node: &Node<'_>) -> usize {
        node.span.start.line()
    }

    /// Records a problem at `node`.
    pub fn report(&mut self, node: &Node<'_>, reason: impl Into<String>) {
        let line = self.line(node);
        self.report_line(line, reason);
    }

    /// Records a problem at `line`.
    pub fn report_line(&mut self, line: usize, reason: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            reason: reason.into(),
        });
    }

    /// The text of a scalar.
    pub fn scalar(&mut self, node: &Node<'_>, what: &str) -> Option<String> {
        match &node.data {
            YamlData::Representation(s, _, _) => Some(s.to_string()),
            _ => {
                self.report(node, format!("`{what}` must be a single value"));
                None
            }
        }
    }

    /// A boolean scalar.
    pub fn boolean(&mut self, node: &Node<'_>, what: &str) -> Option<bool> {
        match self.scalar(node, what)?.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            other => {
                self.report(
                    node,
                    format!("`{what}` must be true or false, not `{other}`"),
                );
                None
            }
        }
    }

    /// The items of a sequence.
    pub fn sequence<'n, 'i>(&mut self, node: &'n Node<'i>, what: &str) -> Vec<&'n Node<'i>> {
        match &node.data {
            YamlData::Sequence(items) => items.iter().collect(),
            _ => {
                self.report(node, format!("`{what}` must be a list"));
                Vec::new()
            }
        }
    }

    /// A list of strings.
    pub fn strings(&mut self, node: &Node<'_>, what: &str) -> Vec<(String, usize)> {
        let items = self.sequence(node, what);
        items
            .into_iter()
            .filter_map(|n| self.scalar(n, what).map(|s| (s, n.span.start.line())))
            .collect()
    }

    /// A mapping of strings to strings.
    pub fn string_map(&mut self, node: &Node<'_>, what: &str) -> Vec<(String, String, usize)> {
        let Some(mut map) = Map::of(self, node, what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in 0..map.entries.len() {
            map.used[i] = true;
            let (key, value) = (map.entries[i].0.clone(), map.entries[i].2);
            if let Some(v) = self.scalar(value, &format!("{what}.{key}")) {
                out.push((key, v, value.span.start.line()));
            }
        }
        out
    }
}

/// Whether a node is YAML null.
pub(crate) fn is_null(node: &Node<'_>) -> bool {
    match &node.data {
        YamlData::Representation(s, ScalarStyle::Plain, None) => {
            matches!(s.as_ref(), "" | "~" | "null" | "Null" | "NULL")
        }
        YamlData::BadValue => true,
        _ => false,
    }
}

/// A mapping read strictly: keys not asked for are reported as unknown.
pub(crate) struct Map<'n, 'i> {
    node: &'n Node<'i>,
    what: String,
    entries: Vec<(String, &'n Node<'i>, &'n Node<'i>)>,
    used: Vec<bool>,
}

impl<'n, 'i> Map<'n, 'i> {
    /// Starts reading `node` as the mapping `what`.
    pub fn of(r: &mut Reader, node: &'n Node<'i>, what: &str) -> Option<Map<'n, 'i>> {
        let YamlData::Mapping(m) = &node.data else {
            r.report(node, format!("`{what}` must be a mapping"));
            return None;
        };
        let mut entries = Vec::new();
        for (k, v) in m.iter() {
            match &k.data {
                YamlData::Representation(s, _, _) => entries.push((s.to_string(), k, v)),
                _ => r.report(k, "mapping keys must be plain text"),
            }
        }
        let used = vec![false; entries.len()];
        Some(Map {
            node,
            what: what.to_owned(),
            entries,
            used,
        })
    }

    /// The line of the mapping itself.
    pub fn line(&self) -> usize {
        self.node.span.start.line()
    }

    /// The value of `key`, if present and not null.
    pub fn opt(&mut self, key: &str) -> Option<&'n Node<'i>> {
        let i = self.entries.iter().position(|(k, _, _)| k == key)?;
        self.used[i] = true;
        let v = self.entries[i].2;
        (!is_null(v)).then_some(v)
    }

    /// A string at `key`, if present.
    pub fn opt_string(&mut self, r: &mut Reader, key: &str) -> Option<String> {
        let v = self.opt(key)?;
        r.scalar(v, key)
    }

    /// Reports every key that was not asked for.
    pub fn finish(self, r: &mut Reader) {
        for ((key, knode, _), used) in self.entries.iter().zip(&self.used) {
            if !used {
                r.report(knode, format!("unknown field `{key}` in {}", self.what));
            }
        }
    }
}
