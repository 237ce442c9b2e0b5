//! Parser for the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text.
//!
//! Both formats are line based. The differences that matter here: OpenMetrics timestamps are
//! seconds (floats) where the Prometheus format uses integer milliseconds, OpenMetrics samples
//! may carry an exemplar after ` # `, and an OpenMetrics exposition ends with `# EOF`.
//! Histograms and summaries are plain samples (`_bucket`, `_sum`, `_count`, quantiles).

use std::collections::HashMap;

use crate::error::{MetricsError, Result};
use crate::labels::{Labels, METRIC_NAME};

/// Which text format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (timestamps in milliseconds).
    Prometheus,
    /// OpenMetrics 1.0 text (timestamps in seconds, `# EOF` terminator).
    OpenMetrics,
}

impl Format {
    /// The format announced by an HTTP `Content-Type` header.
    pub fn from_content_type(content_type: &str) -> Self {
        if content_type.contains("application/openmetrics-text") {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }
}

/// One parsed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// Labels including `__name__`.
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// Explicit timestamp in milliseconds, if the exposition gave one.
    pub timestamp_ms: Option<i64>,
}

/// Metadata of a metric family (`# TYPE`, `# HELP`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The declared type (`counter`, `gauge`, `histogram`, `summary`, `untyped`, ...).
    pub kind: String,
    /// The help text, unescaped.
    pub help: String,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Samples in exposition order.
    pub samples: Vec<ParsedSample>,
    /// Metadata by family name.
    pub metadata: HashMap<String, Metadata>,
}

/// Parses a whole exposition body.
pub fn parse(text: &str, format: Format) -> Result<Exposition> {
    let mut out = Exposition::default();
    let mut saw_eof = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let err = |reason: String| MetricsError::Exposition {
            line: line_no,
            reason,
        };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if saw_eof {
            if line.is_empty() {
                continue;
            }
            return Err(err("content after # EOF".into()));
        }
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if parse_comment(comment, format, &mut out.metadata).map_err(err)? {
                saw_eof = true;
            }
            continue;
        }
        let sample = parse_sample(trimmed, format).map_err(err)?;
        out.samples.push(sample);
    }
    if format == Format::OpenMetrics && !saw_eof {
        return Err(MetricsError::Exposition {
            line: text.lines().count(),
            reason: "OpenMetrics exposition does not end with # EOF".into(),
        });
    }
    Ok(out)
}

/// Handles a `#` line; returns true on `# EOF`.
fn parse_comment(
    comment: &str,
    format: Format,
    metadata: &mut HashMap<String, Metadata>,
) -> Result<bool, String> {
    let body = comment.trim_start_matches([' ', '\t']);
    if format == Format::OpenMetrics && comment.trim_end() == " EOF" {
        return Ok(true);
    }
    if format == Format::Prometheus && comment.trim() == "EOF" {
        return Ok(true);
    }
    let (keyword, rest) = split_word(body);
    match keyword {
        "HELP" | "TYPE" | "UNIT" => {
            let (name, text) = split_word(rest);
            if name.is_empty() {
                return Err(format!("{keyword} line without a metric name"));
            }
            if !is_metric_name(name) {
                return Err(format!("invalid metric name {name:?} in {keyword}"));
            }
            let entry = metadata.entry(name.to_string()).or_default();
            if keyword == "HELP" {
                entry.help = unescape_help(text);
            } else if keyword == "TYPE" {
                let kind = text.trim();
                const KINDS: [&str; 8] = [
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "untyped",
                    "unknown",
                    "gaugehistogram",
                    "stateset",
                ];
                if !KINDS.contains(&kind) && kind != "info" {
                    return Err(format!("unknown metric type {kind:?}"));
                }
                entry.kind = kind.to_string();
            }
            Ok(false)
        }
        _ if format == Format::OpenMetrics => Err(format!("unexpected comment {comment:?}")),
        _ => Ok(false),
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// True for a valid metric name `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// True for a valid label name `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !f(b) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
}

fn parse_sample(line: &str, format: Format) -> Result<ParsedSample, String> {
    let mut cur = Cursor { s: line, pos: 0 };
    let name = cur.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if !is_metric_name(name) {
        return Err(format!("invalid metric name in {line:?}"));
    }
    let mut labels = Labels::empty();
    labels.set(METRIC_NAME.to_string(), name.to_string());
    let after_name = cur.pos;
    cur.skip_blanks();
    if cur.peek() == Some(b'{') {
        cur.pos += 1;
        parse_label_set(&mut cur, &mut labels)?;
    } else {
        cur.pos = after_name;
    }
    let rest = cur.rest();
    if !rest.starts_with([' ', '\t']) {
        return Err(format!("expected a blank before the value in {line:?}"));
    }
    // Split off an OpenMetrics exemplar; it is ignored.
    let rest = match rest.find(" # ") {
        Some(i) if format == Format::OpenMetrics => &rest[..i],
        Some(_) => return Err(format!("unexpected exemplar in {line:?}")),
        None => rest,
    };
    let mut fields = rest.split([' ', '\t']).filter(|f| !f.is_empty());
    let value_text = fields
        .next()
        .ok_or_else(|| format!("missing value in {line:?}"))?;
    let value = parse_float(value_text).ok_or_else(|| format!("invalid value {value_text:?}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(ts) => Some(match format {
            Format::Prometheus => ts
                .parse::<i64>()
                .map_err(|_| format!("invalid timestamp {ts:?}"))?,
            Format::OpenMetrics => {
                let secs = parse_float(ts)
                    .filter(|s| s.is_finite())
                    .ok_or_else(|| format!("invalid timestamp {ts:?}"))?;
                (secs * 1000.0).round() as i64
            }
        }),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    Ok(ParsedSample {
        labels,
        value,
        timestamp_ms,
    })
}

fn parse_label_set(cur: &mut Cursor<'_>, labels: &mut Labels) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    loop {
        cur.skip_blanks();
        if cur.peek() == Some(b'}') {
            cur.pos += 1;
            return Ok(());
        }
        let name = cur.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !is_label_name(name) {
            return Err(format!("invalid label name at {:?}", cur.rest()));
        }
        cur.skip_blanks();
        if cur.peek() != Some(b'=') {
            return Err(format!("expected '=' after label {name}"));
        }
        cur.pos += 1;
        cur.skip_blanks();
        if cur.peek() != Some(b'"') {
            return Err(format!("expected '\"' for the value of label {name}"));
        }
        cur.pos += 1;
        let mut value = String::new();
        let mut closed = false;
        let rest = cur.rest();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => return Err("unterminated escape in label value".into()),
                },
                '"' => {
                    cur.pos += i + 1;
                    closed = true;
                    break;
                }
                '\n' => return Err("newline in label value".into()),
                c => value.push(c),
            }
        }
        if !closed {
            return Err(format!("unterminated value of label {name}"));
        }
        if seen.iter().any(|s| s == name) {
            return Err(format!("duplicate label {name}"));
        }
        seen.push(name.to_string());
        if name == METRIC_NAME {
            return Err("__name__ given as a label".into());
        }
        labels.set(name.to_string(), value);
        cur.skip_blanks();
        match cur.peek() {
            Some(b',') => cur.pos += 1,
            Some(b'}') => {}
            _ => return Err(format!("expected ',' or '}}' after label {name}")),
        }
    }
}

/// Parses a float as Go's `strconv.ParseFloat` does for expositions (`NaN`, `+Inf`, `-Inf`).
pub fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => {
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                return None;
            }
            s.parse::<f64>().ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_with_escapes_and_specials() {
        let text = "# HELP http_requests_total The total.\\nSecond line\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"post\",code=\"400\",} 3 1395066363000\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
metric_without_timestamp_and_labels 12.47\n\
something_weird{problem=\"division by zero\"} +Inf -3982045\n\
nan_metric NaN\n\
neg_inf -Inf\n\
# A normal comment.\n\
rpc_duration_seconds{quantile=\"0.5\"} 4773\n\
http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n";
        let exp = parse(text, Format::Prometheus).unwrap();
        assert_eq!(exp.samples.len(), 9);
        assert_eq!(exp.metadata["http_requests_total"].kind, "counter");
        assert_eq!(
            exp.metadata["http_requests_total"].help,
            "The total.\nSecond line"
        );
        assert_eq!(exp.samples[0].timestamp_ms, Some(1_395_066_363_000));
        assert_eq!(exp.samples[2].labels.get("path"), "C:\\DIR\\FILE.TXT");
        assert_eq!(
            exp.samples[2].labels.get("error"),
            "Cannot find file:\n\"FILE.TXT\""
        );
        assert_eq!(exp.samples[4].value, f64::INFINITY);
        assert_eq!(exp.samples[4].timestamp_ms, Some(-3_982_045));
        assert!(exp.samples[5].value.is_nan());
        assert_eq!(exp.samples[6].value, f64::NEG_INFINITY);
        assert_eq!(exp.samples[8].labels.get("le"), "+Inf");
    }

    #[test]
    fn openmetrics_seconds_exemplars_and_eof() {
        let text = "# TYPE foo counter\n# UNIT foo seconds\nfoo_total{a=\"b\"} 17 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\nfoo_created 1520430000.123\n# EOF\n";
        let exp = parse(text, Format::OpenMetrics).unwrap();
        assert_eq!(exp.samples.len(), 2);
        assert_eq!(exp.samples[0].timestamp_ms, Some(1_520_879_607_789));
        assert_eq!(exp.samples[0].value, 17.0);
        assert!(parse("foo 1\n", Format::OpenMetrics).is_err());
        assert!(parse("foo 1\n# EOF\nbar 2\n", Format::OpenMetrics).is_err());
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        for bad in [
            "foo{a=\"b} 1\n",
            "foo{a=b} 1\n",
            "foo bar\n",
            "foo 1 2 3\n",
            "1foo 1\n",
            "foo{a=\"1\",a=\"2\"} 1\n",
            "# TYPE foo nonsense\n",
        ] {
            let err = parse(&format!("ok 1\n{bad}"), Format::Prometheus).unwrap_err();
            match err {
                MetricsError::Exposition { line, .. } => assert_eq!(line, 2, "{bad}"),
                other => panic!("{other}"),
            }
        }
    }
}
