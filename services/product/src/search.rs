//! Turning a shopper's search text into a full-text query that cannot break out of its quotes.
//!
//! On SQLite the text becomes an FTS5 `MATCH` expression in which every term is a quoted string
//! (so `OR`, `NEAR`, `*`, `:` or column filters typed by a user are plain words, never syntax);
//! on PostgreSQL the text goes unchanged to `websearch_to_tsquery`, which never raises a syntax
//! error. Either way the terms are joined by AND: a product must contain every word.

/// The longest search text considered; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most terms considered.
pub const MAX_TERMS: usize = 16;

/// The search text, trimmed and bounded; `None` when there is nothing to search for.
pub fn normalise(text: &str) -> Option<String> {
    let text: String = text.trim().chars().take(MAX_QUERY_CHARS).collect();
    let terms: Vec<&str> = text.split_whitespace().take(MAX_TERMS).collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" "))
    }
}

/// An FTS5 `MATCH` expression: each whitespace-separated term as a quoted string (inner `"`
/// doubled), implicitly AND-ed; control characters are dropped.
pub fn fts5_query(text: &str) -> String {
    text.split_whitespace()
        .take(MAX_TERMS)
        .map(|term| {
            let cleaned: String = term
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .replace('"', "\"\"");
            format!("\"{cleaned}\"")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_text_is_no_search() {
        assert_eq!(normalise(""), None);
        assert_eq!(normalise(" \t\n "), None);
        assert_eq!(
            normalise("  espresso   machine "),
            Some("espresso machine".into())
        );
    }

    #[test]
    fn long_text_is_bounded() {
        let many = "word ".repeat(100);
        let normalised = normalise(&many).unwrap();
        assert_eq!(normalised.split(' ').count(), MAX_TERMS);
        assert!(normalise(&"x".repeat(1000)).unwrap().len() <= MAX_QUERY_CHARS);
    }

    #[test]
    fn every_term_is_quoted() {
        assert_eq!(fts5_query("espresso machine"), r#""espresso" "machine""#);
    }

    #[test]
    fn fts5_syntax_is_neutralised() {
        assert_eq!(fts5_query("lamp OR desk"), r#""lamp" "OR" "desk""#);
        assert_eq!(fts5_query("name:lamp"), r#""name:lamp""#);
        assert_eq!(fts5_query("lamp*"), r#""lamp*""#);
        assert_eq!(fts5_query("NEAR(a b)"), r#""NEAR(a" "b)""#);
        assert_eq!(fts5_query(r#"say "hi"#), r#""say" """hi""#);
        assert_eq!(fts5_query("^lamp -desk"), r#""^lamp" "-desk""#);
        assert_eq!(fts5_query("a\u{0}b"), r#""ab""#);
    }
}
