//! Reading YAML with positions (`saphyr` marked nodes, scalars kept as their source text) and a
//! strict mapping reader that reports missing and unknown fields with line and column, as
//! Prometheus' strict YAML decoding does.

use std::path::{Path, PathBuf};

use saphyr::{MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::Parser;

use crate::problem::{Location, Problem};

/// A YAML node with its position.
pub(crate) type Node<'i> = MarkedYaml<'i>;

/// Parses the first document of a YAML text (None when the file is empty).
pub(crate) fn load<'i>(file: &Path, text: &'i str) -> Result<Option<Node<'i>>, Problem> {
    let mut loader: YamlLoader<'i, Node<'i>> = YamlLoader::default();
    loader.early_parse(false);
    let mut parser = Parser::new_from_str(text);
    let scanned = parser.load(&mut loader, true);
    let error = scanned.err().or_else(|| loader.error().cloned());
    if let Some(e) = error {
        return Err(Problem {
            file: file.to_owned(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
            reason: format!("yaml: {}", e.info()),
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

    /// Where `node` starts.
    pub fn loc(&self, node: &Node<'_>) -> Location {
        Location {
            file: self.file.clone(),
            line: node.span.start.line(),
            column: node.span.start.col() + 1,
        }
    }

    /// Records a problem at `node`.
    pub fn report(&mut self, node: &Node<'_>, reason: impl Into<String>) {
        let p = self.loc(node).problem(reason);
        self.problems.push(p);
    }

    /// The text of a scalar, or a problem naming `what`.
    pub fn scalar(&mut self, node: &Node<'_>, what: &str) -> Option<String> {
        match &node.data {
            YamlData::Representation(s, _, _) => Some(s.to_string()),
            _ => {
                self.report(node, format!("`{what}` must be a single value"));
                None
            }
        }
    }

    /// The items of a sequence (a null node is an empty sequence).
    pub fn sequence<'n, 'i>(&mut self, node: &'n Node<'i>, what: &str) -> Vec<&'n Node<'i>> {
        match &node.data {
            YamlData::Sequence(items) => items.iter().collect(),
            _ if is_null(node) => Vec::new(),
            _ => {
                self.report(node, format!("`{what}` must be a list"));
                Vec::new()
            }
        }
    }

    /// A mapping of strings to strings (labels, annotations), in file order.
    pub fn string_map(&mut self, node: &Node<'_>, what: &str) -> Vec<(String, String, Location)> {
        if is_null(node) {
            return Vec::new();
        }
        let Some(mut map) = Map::of(self, node, what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in 0..map.entries.len() {
            map.used[i] = true;
            let (key, value) = (map.entries[i].0.clone(), map.entries[i].2);
            let loc = self.loc(map.entries[i].1);
            if is_null(value) {
                out.push((key, String::new(), loc));
            } else if let Some(v) = self.scalar(value, &format!("{what}.{key}")) {
                out.push((key, v, loc));
            }
        }
        out
    }
}

/// Whether a node is YAML null (`~`, `null`, or nothing).
pub(crate) fn is_null(node: &Node<'_>) -> bool {
    match &node.data {
        YamlData::Representation(s, ScalarStyle::Plain, None) => {
            matches!(s.as_ref(), "" | "~" | "null" | "Null" | "NULL")
        }
        YamlData::BadValue => true,
        _ => false,
    }
}

/// A mapping being read strictly: every key must be asked for or it is reported as unknown.
pub(crate) struct Map<'n, 'i> {
    node: &'n Node<'i>,
    what: String,
    entries: Vec<(String, &'n Node<'i>, &'n Node<'i>)>,
    used: Vec<bool>,
}

impl<'n, 'i> Map<'n, 'i> {
    /// Starts reading `node` as the mapping `what`; reports a problem if it is not a mapping.
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

    /// The value of `key`, if present and not null.
    pub fn opt(&mut self, key: &str) -> Option<&'n Node<'i>> {
        let i = self.entries.iter().position(|(k, _, _)| k == key)?;
        self.used[i] = true;
        let v = self.entries[i].2;
        (!is_null(v)).then_some(v)
    }

    /// The value of `key` even when null (its position is still useful).
    pub fn opt_any(&mut self, key: &str) -> Option<&'n Node<'i>> {
        let i = self.entries.iter().position(|(k, _, _)| k == key)?;
        self.used[i] = true;
        Some(self.entries[i].2)
    }

    /// A string scalar at `key`, if present.
    pub fn opt_string(&mut self, r: &mut Reader, key: &str) -> Option<(String, Location)> {
        let v = self.opt(key)?;
        let s = r.scalar(v, key)?;
        Some((s, r.loc(v)))
    }

    /// The mapping's own location.
    pub fn loc(&self, r: &Reader) -> Location {
        r.loc(self.node)
    }

    /// Reports every key that was not asked for.
    pub fn finish(self, r: &mut Reader) {
        for ((key, knode, _), used) in self.entries.iter().zip(&self.used) {
            if !used {
                r.report(knode, format!("field {key} not found in {}", self.what));
            }
        }
    }
}
