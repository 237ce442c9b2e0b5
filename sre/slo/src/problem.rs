//! Problems found in spec files, each with file, line, column and reason.

use std::fmt;
use std::path::PathBuf;

/// What kind of problem a spec has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The file could not be read.
    Io,
    /// The YAML itself does not parse.
    Syntax,
    /// A field the format does not define.
    UnknownField,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong type or an unusable value.
    InvalidValue,
    /// A target outside (0 %, 100 %).
    BadTarget,
    /// A query that does not parse as PromQL.
    BadQuery,
    /// Two objects of the same kind with the same name.
    DuplicateName,
    /// A reference to an SLI, alert policy, condition, service or data source that does not exist.
    UnknownReference,
    /// A window the data cannot cover (shorter than its alert windows, longer than retention).
    UncoverableWindow,
    /// A kind or apiVersion Ballast does not read.
    UnsupportedKind,
}

impl ProblemKind {
    /// A short stable name (`unknown-field`) for tests and machine output.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProblemKind::Io => "io",
            ProblemKind::Syntax => "syntax",
            ProblemKind::UnknownField => "unknown-field",
            ProblemKind::MissingField => "missing-field",
            ProblemKind::InvalidValue => "invalid-value",
            ProblemKind::BadTarget => "bad-target",
            ProblemKind::BadQuery => "bad-query",
            ProblemKind::DuplicateName => "duplicate-name",
            ProblemKind::UnknownReference => "unknown-reference",
            ProblemKind::UncoverableWindow => "uncoverable-window",
            ProblemKind::UnsupportedKind => "unsupported-kind",
        }
    }
}

/// One problem in one spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line (0 when the problem is about the whole file).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The reason, for a human.
    pub reason: String,
}

impl fmt::Display for Problem {
    /// `slo/user.yaml:12:5: unknown-field: unknown field `tagret` in SLO spec`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.kind.as_str(),
            self.reason
        )
    }
}

/// A place in a spec file, kept on parsed objects so later checks can point at them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Location {
    /// A problem at this location.
    pub fn problem(&self, kind: ProblemKind, reason: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            kind,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}
