//! Reading YAML with positions: documents as `saphyr` marked nodes with every scalar kept as
//! its source text (no early typing, so `99.95` is never a float), and a strict mapping reader
//! that reports missing and unknown fields with line and column.

use std::path::{Path, PathBuf};

use saphyr::{MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::Parser;

use crate::problem::{Location, Problem, ProblemKind};

/// A YAML node with its position.
pub(crate) type Node<'i> = MarkedYaml<'i>;

/// Parses every document of a multi-document YAML text, keeping scalars as written.
pub(crate) fn load<'i>(file: &Path, text: &'i str) -> Result<Vec<Node<'i>>, Problem> {
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
            kind: ProblemKind::Syntax,
            reason: e.info().to_owned(),
        });
    }
    Ok(loader
        .into_documents()
        .into_iter()
        .filter(|d| !is_null(d))
        .collect())
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
    pub fn report(&mut self, node: &Node<'_>, kind: ProblemKind, reason: impl Into<String>) {
        let p = self.loc(node).problem(kind, reason);
        self.problems.push(p);
    }

    /// The text of a scalar, or a problem naming `what`.
    pub fn scalar(&mut self, node: &Node<'_>, what: &str) -> Option<String> {
        match &node.data {
            YamlData::Representation(s, _, _) => Some(s.to_string()),
            _ => {
                self.report(
                    node,
                    ProblemKind::InvalidValue,
                    format!("`{what}` must be a single value"),
                );
                None
            }
        }
    }

    /// A non-empty string scalar.
    pub fn string(&mut self, node: &Node<'_>, what: &str) -> Option<String> {
        let s = self.scalar(node, what)?;
        if s.trim().is_empty() {
            self.report(
                node,
                ProblemKind::InvalidValue,
                format!("`{what}` is empty"),
            );
            return None;
        }
        Some(s)
    }

    /// A boolean scalar (`true` / `false`).
    pub fn boolean(&mut self, node: &Node<'_>, what: &str) -> Option<bool> {
        match self.scalar(node, what)?.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            other => {
                self.report(
                    node,
                    ProblemKind::InvalidValue,
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
                self.report(
                    node,
                    ProblemKind::InvalidValue,
                    format!("`{what}` must be a list"),
                );
                Vec::new()
            }
        }
    }

    /// A mapping of strings to strings (labels, annotations).
    pub fn string_map(&mut self, node: &Node<'_>, what: &str) -> Vec<(String, String)> {
        let Some(mut map) = Map::of(self, node, what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in 0..map.entries.len() {
            map.used[i] = true;
            let (key, value) = (map.entries[i].0.clone(), map.entries[i].2);
            if let Some(v) = self.scalar(value, &format!("{what}.{key}")) {
                out.push((key, v));
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
            r.report(
                node,
                ProblemKind::InvalidValue,
                format!("`{what}` must be a mapping"),
            );
            return None;
        };
        let mut entries = Vec::new();
        for (k, v) in m.iter() {
            match &k.data {
                YamlData::Representation(s, _, _) => entries.push((s.to_string(), k, v)),
                _ => r.report(
                    k,
                    ProblemKind::InvalidValue,
                    "mapping keys must be plain text",
                ),
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

    /// The mapping node itself.
    pub fn node(&self) -> &'n Node<'i> {
        self.node
    }

    /// The value of `key`, if present and not null.
    pub fn opt(&mut self, key: &str) -> Option<&'n Node<'i>> {
        let i = self.entries.iter().position(|(k, _, _)| k == key)?;
        self.used[i] = true;
        let v = self.entries[i].2;
        (!is_null(v)).then_some(v)
    }

    /// The value of `key`, or a missing-field problem.
    pub fn req(&mut self, r: &mut Reader, key: &str) -> Option<&'n Node<'i>> {
        let v = self.opt(key);
        if v.is_none() {
            r.report(
                self.node,
                ProblemKind::MissingField,
                format!("missing field `{key}` in {}", self.what),
            );
        }
        v
    }

    /// A non-empty string at `key`, if present.
    pub fn opt_string(&mut self, r: &mut Reader, key: &str) -> Option<String> {
        let v = self.opt(key)?;
        r.string(v, key)
    }

    /// A non-empty string at `key`, or a problem.
    pub fn req_string(&mut self, r: &mut Reader, key: &str) -> Option<String> {
        let v = self.req(r, key)?;
        r.string(v, key)
    }

    /// Whether `key` is present at all (even null).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _, _)| k == key)
    }

    /// Marks `key` as known without reading it.
    pub fn allow(&mut self, key: &str) {
        let _ = self.opt(key);
    }

    /// Reports every key that was not asked for.
    pub fn finish(self, r: &mut Reader) {
        for ((key, knode, _), used) in self.entries.iter().zip(&self.used) {
            if !used {
                r.report(
                    knode,
                    ProblemKind::UnknownField,
                    format!("unknown field `{key}` in {}", self.what),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_scalars_as_text_with_positions() {
        let text = "a: 99.95\nb:\n  - x\n---\nc: 1\n";
        let docs = load(Path::new("t.yaml"), text).unwrap();
        assert_eq!(docs.len(), 2);
        let mut r = Reader::new(Path::new("t.yaml"));
        let mut m = Map::of(&mut r, &docs[0], "doc").unwrap();
        let a = m.opt("a").unwrap();
        assert_eq!(r.scalar(a, "a").as_deref(), Some("99.95"));
        assert_eq!((r.loc(a).line, r.loc(a).column), (1, 4));
        m.finish(&mut r);
        let unknown = &r.problems[0];
        assert_eq!(unknown.kind, ProblemKind::UnknownField);
        assert_eq!((unknown.line, unknown.column), (2, 1));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let p = load(Path::new("t.yaml"), "a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(p.kind, ProblemKind::Syntax);
        assert!(p.line >= 1);
        let dup = load(Path::new("t.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert_eq!(dup.line, 2);
    }
}
