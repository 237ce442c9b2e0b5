//! Label and annotation templates: an exact implementation of the subset of Go's
//! `text/template` that Prometheus rule files use, with Prometheus' functions.
//!
//! Supported: text and `{{ ... }}` actions with trim markers (`{{-`, `-}}`), comments
//! (`{{/* ... */}}`), pipelines (`a | f b`), parentheses, the variables Prometheus defines
//! (`$labels`, `$value`, `$externalLabels`, `$externalURL`, and `.Labels`, `.Value`,
//! `.ExternalLabels`, `.ExternalURL`), field access on them (`$labels.service`), string,
//! raw-string and number literals, and the functions `humanize`, `humanize1024`,
//! `humanizeDuration`, `humanizePercentage`, `humanizeTimestamp`, `printf`, `toUpper`,
//! `toLower`, `title`, `stripPort`, `match`, `reReplaceAll`, `index`, `safeHtml`.
//! Control structures (`if`, `range`, `with`, `define`, ...), variable declarations and
//! `query` are not supported: [`Template::parse`] rejects them with a clear error, so
//! `check_rules` reports them instead of an alert carrying a broken text.

pub mod gofmt;

use std::collections::BTreeMap;

use regex::Regex;

/// What a template sees: the alert's labels and value, and the external labels and URL.
#[derive(Debug, Clone, Default)]
pub struct TemplateData {
    /// `$labels` / `.Labels`: the labels of the sample that triggered the alert.
    pub labels: BTreeMap<String, String>,
    /// `$externalLabels` / `.ExternalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` / `.ExternalURL`.
    pub external_url: String,
    /// `$value` / `.Value`: the sample's value.
    pub value: f64,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipeline),
}

#[derive(Debug, Clone, PartialEq)]
struct Pipeline(Vec<Command>);

#[derive(Debug, Clone, PartialEq)]
enum Command {
    /// A single operand.
    Operand(Operand),
    /// A function call with its arguments.
    Call(String, Vec<Operand>),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Str(String),
    Num(f64),
    /// A root (`labels`, `value`, `externalLabels`, `externalURL`, `.`) and a field path.
    Var(Root, Vec<String>),
    Paren(Box<Pipeline>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Root {
    Dot,
    Labels,
    Value,
    ExternalLabels,
    ExternalUrl,
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
    Map(BTreeMap<String, String>),
    Data,
}

const FUNCTIONS: &[&str] = &[
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "printf",
    "toUpper",
    "toLower",
    "title",
    "stripPort",
    "match",
    "reReplaceAll",
    "index",
    "safeHtml",
];

const UNSUPPORTED: &[&str] = &[
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "query",
    "first",
    "label",
    "value",
    "sortByLabel",
    "args",
    "tmpl",
    "graphLink",
    "tableLink",
    "strvalue",
    "parseDuration",
    "toTime",
    "pathPrefix",
    "externalURL",
];

impl Template {
    /// Parses `text`; the error names the unsupported or malformed construct.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut nodes = Vec::new();
        let mut rest = text;
        let mut trim_next = false;
        while !rest.is_empty() {
            let Some(open) = rest.find("{{") else {
                let mut t = rest.to_string();
                if trim_next {
                    t = t.trim_start().to_string();
                }
                nodes.push(Node::Text(t));
                break;
            };
            let mut before = rest[..open].to_string();
            if trim_next {
                before = before.trim_start().to_string();
            }
            let mut inner_start = open + 2;
            let trim_before = rest[inner_start..].starts_with("- ")
                || rest[inner_start..].starts_with("-\t")
                || rest[inner_start..].starts_with("-\n");
            if trim_before {
                before = before.trim_end().to_string();
                inner_start += 1;
            }
            if !before.is_empty() {
                nodes.push(Node::Text(before));
            }
            let after_open = &rest[inner_start..];
            let close = find_close(after_open)
                .ok_or_else(|| "unclosed action (missing \"}}\")".to_string())?;
            let mut inner = &after_open[..close];
            let mut consumed = close + 2;
            trim_next = false;
            if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
                inner = &inner[..inner.len() - 1];
                trim_next = true;
            }
            let _ = &mut consumed;
            let body = inner.trim();
            if body.starts_with("/*") {
                if !body.ends_with("*/") {
                    return Err("unclosed comment".into());
                }
            } else {
                nodes.push(Node::Action(parse_action(body)?));
            }
            rest = &after_open[consumed..];
        }
        Ok(Template { nodes })
    }

    /// Expands the template over `data`.
    pub fn expand(&self, data: &TemplateData) -> Result<String, String> {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => out.push_str(&print(&eval_pipeline(p, data)?)),
            }
        }
        Ok(out)
    }
}

/// Expands `text` as Prometheus does for a label or annotation: a failure becomes the text
/// `<error expanding template: ...>`.
pub fn expand_or_error(text: &str, data: &TemplateData) -> String {
    match Template::parse(text).and_then(|t| t.expand(data)) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}

/// Finds the closing `}}` of an action, skipping string literals.
fn find_close(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Var(String, Vec<String>),
    Field(Vec<String>),
    Str(String),
    Num(f64),
    Pipe,
    Open,
    Close,
    Declare,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let fields = |i: &mut usize| -> Vec<String> {
        let mut path = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            *i += 1;
            let start = *i;
            while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
                *i += 1;
            }
            path.push(chars[start..*i].iter().collect::<String>());
        }
        path
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Declare);
                i += 2;
            }
            '=' => return Err("variable assignment is not supported".into()),
            '"' => {
                i += 1;
                let mut v = String::new();
                loop {
                    let Some(&ch) = chars.get(i) else {
                        return Err("unterminated quoted string".into());
                    };
                    i += 1;
                    match ch {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err("unterminated quoted string".into());
                            };
                            i += 1;
                            v.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '\'' => '\'',
                                other => return Err(format!("unsupported escape \\{other}")),
                            });
                        }
                        other => v.push(other),
                    }
                }
                out.push(Tok::Str(v));
            }
            '`' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated raw quoted string".into());
                }
                out.push(Tok::Str(chars[start..i].iter().collect()));
                i += 1;
            }
            '$' => {
                i += 1;
                let name = word(&mut i);
                let path = fields(&mut i);
                out.push(Tok::Var(name, path));
            }
            '.' => {
                let path = fields(&mut i);
                let path = if path.len() == 1 && path[0].is_empty() {
                    Vec::new()
                } else {
                    path
                };
                out.push(Tok::Field(path));
            }
            c if c.is_ascii_digit() || ((c == '-' || c == '+') && i + 1 < chars.len()) => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let v: f64 = text
                    .parse()
                    .map_err(|_| format!("bad number syntax: {text:?}"))?;
                out.push(Tok::Num(v));
            }
            c if c.is_alphabetic() || c == '_' => out.push(Tok::Ident(word(&mut i))),
            other => return Err(format!("unexpected {other:?} in action")),
        }
    }
    Ok(out)
}

fn parse_action(body: &str) -> Result<Pipeline, String> {
    if body.is_empty() {
        return Err("missing value for command".into());
    }
    let toks = lex(body)?;
    if toks.contains(&Tok::Declare) {
        return Err("variable declarations are not supported".into());
    }
    if let Some(Tok::Ident(word)) = toks.first()
        && UNSUPPORTED.contains(&word.as_str())
    {
        return Err(format!(
            "{word:?} is not supported by Ballast's template subset (supported: {})",
            FUNCTIONS.join(", ")
        ));
    }
    let mut pos = 0;
    let p = parse_pipeline(&toks, &mut pos)?;
    if pos != toks.len() {
        return Err(format!("unexpected {:?} in action", toks[pos]));
    }
    Ok(p)
}

fn parse_pipeline(toks: &[Tok], pos: &mut usize) -> Result<Pipeline, String> {
    let mut cmds = Vec::new();
    loop {
        cmds.push(parse_command(toks, pos)?);
        if toks.get(*pos) == Some(&Tok::Pipe) {
            *pos += 1;
        } else {
            break;
        }
    }
    Ok(Pipeline(cmds))
}

fn parse_command(toks: &[Tok], pos: &mut usize) -> Result<Command, String> {
    match toks.get(*pos) {
        Some(Tok::Ident(name)) => {
            if !FUNCTIONS.contains(&name.as_str()) {
                return Err(format!(
                    "function {name:?} not defined (supported: {})",
                    FUNCTIONS.join(", ")
                ));
            }
            *pos += 1;
            let mut args = Vec::new();
            while let Some(t) = toks.get(*pos) {
                if matches!(t, Tok::Pipe | Tok::Close) {
                    break;
                }
                args.push(parse_operand(toks, pos)?);
            }
            Ok(Command::Call(name.clone(), args))
        }
        Some(_) => {
            let op = parse_operand(toks, pos)?;
            if let Some(t) = toks.get(*pos)
                && !matches!(t, Tok::Pipe | Tok::Close)
            {
                return Err(format!("can't give argument to non-function {op:?}"));
            }
            Ok(Command::Operand(op))
        }
        None => Err("missing value for command".into()),
    }
}

fn parse_operand(toks: &[Tok], pos: &mut usize) -> Result<Operand, String> {
    let tok = toks
        .get(*pos)
        .ok_or_else(|| "missing operand".to_string())?;
    *pos += 1;
    Ok(match tok {
        Tok::Str(s) => Operand::Str(s.clone()),
        Tok::Num(n) => Operand::Num(*n),
        Tok::Var(name, path) => {
            let root = match name.as_str() {
                "" => Root::Dot,
                "labels" => Root::Labels,
                "value" => Root::Value,
                "externalLabels" => Root::ExternalLabels,
                "externalURL" => Root::ExternalUrl,
                other => return Err(format!("undefined variable \"${other}\"")),
            };
            Operand::Var(root, path.clone())
        }
        Tok::Field(path) => match path.split_first() {
            None => Operand::Var(Root::Dot, Vec::new()),
            Some((first, rest)) => {
                let root = match first.as_str() {
                    "Labels" => Root::Labels,
                    "Value" => Root::Value,
                    "ExternalLabels" => Root::ExternalLabels,
                    "ExternalURL" => Root::ExternalUrl,
                    other => return Err(format!("can't evaluate field {other}")),
                };
                Operand::Var(root, rest.to_vec())
            }
        },
        Tok::Open => {
            let p = parse_pipeline(toks, pos)?;
            if toks.get(*pos) != Some(&Tok::Close) {
                return Err("unclosed left paren".into());
            }
            *pos += 1;
            Operand::Paren(Box::new(p))
        }
        Tok::Ident(name) => {
            if FUNCTIONS.contains(&name.as_str()) {
                return Err(format!(
                    "function {name:?} as an argument needs parentheses in Ballast's template subset"
                ));
            }
            return Err(format!("function {name:?} not defined"));
        }
        other => return Err(format!("unexpected {other:?} in operand")),
    })
}

fn eval_pipeline(p: &Pipeline, data: &TemplateData) -> Result<Val, String> {
    let mut piped: Option<Val> = None;
    for cmd in &p.0 {
        let v = match cmd {
            Command::Operand(op) => {
                if piped.is_some() {
                    return Err(format!("can't give argument to non-function {op:?}"));
                }
                eval_operand(op, data)?
            }
            Command::Call(name, args) => {
                let mut vals = args
                    .iter()
                    .map(|a| eval_operand(a, data))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(v) = piped.take() {
                    vals.push(v);
                }
                call(name, vals)?
            }
        };
        piped = Some(v);
    }
    piped.ok_or_else(|| "empty pipeline".to_string())
}

fn eval_operand(op: &Operand, data: &TemplateData) -> Result<Val, String> {
    match op {
        Operand::Str(s) => Ok(Val::Str(s.clone())),
        Operand::Num(n) => Ok(Val::Num(*n)),
        Operand::Paren(p) => eval_pipeline(p, data),
        Operand::Var(root, path) => {
            let (base, path): (Val, &[String]) = match (root, path.split_first()) {
                (Root::Dot, None) => (Val::Data, &[][..]),
                (Root::Dot, Some((first, rest))) => match first.as_str() {
                    "Labels" => (Val::Map(data.labels.clone()), rest),
                    "Value" => (Val::Num(data.value), rest),
                    "ExternalLabels" => (Val::Map(data.external_labels.clone()), rest),
                    "ExternalURL" => (Val::Str(data.external_url.clone()), rest),
                    other => return Err(format!("can't evaluate field {other}")),
                },
                (Root::Labels, _) => (Val::Map(data.labels.clone()), &path[..]),
                (Root::Value, _) => (Val::Num(data.value), &path[..]),
                (Root::ExternalLabels, _) => (Val::Map(data.external_labels.clone()), &path[..]),
                (Root::ExternalUrl, _) => (Val::Str(data.external_url.clone()), &path[..]),
            };
            let mut v = base;
            for field in path {
                v = match v {
                    Val::Map(m) => Val::Str(m.get(field).cloned().unwrap_or_default()),
                    other => {
                        return Err(format!(
                            "can't evaluate field {field} in type {}",
                            type_name(&other)
                        ));
                    }
                };
            }
            Ok(v)
        }
    }
}

fn type_name(v: &Val) -> &'static str {
    match v {
        Val::Str(_) => "string",
        Val::Num(_) => "float64",
        Val::Bool(_) => "bool",
        Val::Map(_) => "map[string]string",
        Val::Data => "*template.tmplData",
    }
}

/// How Go's `fmt.Sprint` prints a value.
fn print(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Num(n) => gofmt::format_g(*n, None),
        Val::Bool(b) => b.to_string(),
        Val::Map(m) => {
            let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", inner.join(" "))
        }
        Val::Data => "{}".into(),
    }
}

fn to_float(v: &Val) -> Result<f64, String> {
    match v {
        Val::Num(n) => Ok(*n),
        Val::Str(s) => gofmt::parse_float(s),
        other => Err(format!("can't convert {} to float", type_name(other))),
    }
}

fn string_arg(v: &Val, func: &str) -> Result<String, String> {
    match v {
        Val::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "wrong type for value; expected string; got {} (in {func})",
            type_name(other)
        )),
    }
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let one_float = |args: &[Val]| -> Result<f64, String> {
        arity(name, args, 1)?;
        to_float(&args[0])
    };
    Ok(match name {
        "humanize" => Val::Str(humanize(one_float(&args)?)),
        "humanize1024" => Val::Str(humanize1024(one_float(&args)?)),
        "humanizeDuration" => Val::Str(humanize_duration(one_float(&args)?)),
        "humanizePercentage" => Val::Str(format!(
            "{}%",
            gofmt::format_g(one_float(&args)? * 100.0, Some(4))
        )),
        "humanizeTimestamp" => Val::Str(humanize_timestamp(one_float(&args)?)),
        "printf" => {
            let Some((fmt, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            Val::Str(gofmt::sprintf(&string_arg(fmt, name)?, rest)?)
        }
        "toUpper" => {
            arity(name, &args, 1)?;
            Val::Str(string_arg(&args[0], name)?.to_uppercase())
        }
        "toLower" => {
            arity(name, &args, 1)?;
            Val::Str(string_arg(&args[0], name)?.to_lowercase())
        }
        "title" => {
            arity(name, &args, 1)?;
            let s = string_arg(&args[0], name)?;
            let mut out = String::new();
            let mut prev_letter = false;
            for c in s.chars() {
                if !prev_letter {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
            }
            Val::Str(out)
        }
        "stripPort" => {
            arity(name, &args, 1)?;
            let s = string_arg(&args[0], name)?;
            Val::Str(strip_port(&s))
        }
        "safeHtml" => {
            arity(name, &args, 1)?;
            Val::Str(string_arg(&args[0], name)?)
        }
        "match" => {
            arity(name, &args, 2)?;
            let re = Regex::new(&string_arg(&args[0], name)?).map_err(|e| e.to_string())?;
            Val::Bool(re.is_match(&string_arg(&args[1], name)?))
        }
        "reReplaceAll" => {
            arity(name, &args, 3)?;
            let re = Regex::new(&string_arg(&args[0], name)?).map_err(|e| e.to_string())?;
            let repl = string_arg(&args[1], name)?;
            let text = string_arg(&args[2], name)?;
            Val::Str(re.replace_all(&text, repl.as_str()).into_owned())
        }
        "index" => {
            arity(name, &args, 2)?;
            match (&args[0], &args[1]) {
                (Val::Map(m), Val::Str(k)) => Val::Str(m.get(k).cloned().unwrap_or_default()),
                (a, _) => return Err(format!("can't index item of type {}", type_name(a))),
            }
        }
        other => return Err(format!("function {other:?} not defined")),
    })
}

fn strip_port(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        return rest[..end].to_string();
    }
    match s.rfind(':') {
        Some(i) if s[..i].find(':').is_none() => s[..i].to_string(),
        _ => s.to_string(),
    }
}

/// Prometheus' `humanize`: SI prefixes, four significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return gofmt::format_g(v, Some(4));
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", gofmt::format_g(v, Some(4)))
}

/// Prometheus' `humanize1024`: binary prefixes, four significant digits.
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return gofmt::format_g(v, Some(4));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", gofmt::format_g(v, Some(4)))
}

/// Prometheus' `humanizeDuration`: `1d 2h 3m 4s`, or seconds with four significant digits.
pub fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return gofmt::format_g(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", gofmt::format_g(v, Some(4)));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let seconds = d % 60;
        let minutes = (d / 60) % 60;
        let hours = (d / 3600) % 24;
        let days = d / 86_400;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", gofmt::format_g(v, Some(4)));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", gofmt::format_g(v, Some(4)))
}

/// Prometheus' `humanizeTimestamp`: the UTC time of a unix timestamp in seconds, as Go's
/// `time.Time.String()` prints it.
pub fn humanize_timestamp(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return gofmt::format_g(v, Some(4));
    }
    let secs = v.floor() as i64;
    let nanos = ((v - v.floor()) * 1e9).round() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}{frac} +0000 UTC",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn data(value: f64) -> TemplateData {
        TemplateData {
            labels: BTreeMap::from([
                ("service".to_string(), "order".to_string()),
                ("instance".to_string(), "host:9090".to_string()),
            ]),
            value,
            ..TemplateData::default()
        }
    }

    fn x(text: &str, value: f64) -> String {
        Template::parse(text).unwrap().expand(&data(value)).unwrap()
    }

    #[test]
    fn variables_fields_and_values_print_like_go() {
        assert_eq!(
            x("{{ $labels.service }} is {{ $value }}", 0.5),
            "order is 0.5"
        );
        assert_eq!(x("{{ .Labels.service }}/{{ .Value }}", 1e6), "order/1e+06");
        assert_eq!(x("{{$labels.missing}}", 1.0), "");
        assert_eq!(x("{{ $value }}", 123456.0), "123456");
        assert_eq!(x("{{ $value }}", 1234567.0), "1.234567e+06");
        assert_eq!(x("{{ $value }}", 0.00001), "1e-05");
        assert_eq!(x("{{ $value }}", f64::INFINITY), "+Inf");
        assert_eq!(x("a {{- \" b \" -}} c", 0.0), "a b c");
        assert_eq!(x("a  {{- /* note */ -}}  c", 0.0), "ac");
    }

    #[test]
    fn prometheus_functions() {
        assert_eq!(x("{{ humanize $value }}", 1234567.0), "1.235M");
        assert_eq!(x("{{ $value | humanize }}", 0.0012), "1.2m");
        assert_eq!(x("{{ humanize 0 }}", 0.0), "0");
        assert_eq!(x("{{ humanize \"2048\" }}", 0.0), "2.048k");
        assert_eq!(x("{{ humanize1024 $value }}", 2048.0), "2ki");
        assert_eq!(x("{{ humanizeDuration $value }}", 93784.0), "1d 2h 3m 4s");
        assert_eq!(x("{{ humanizeDuration $value }}", 125.0), "2m 5s");
        assert_eq!(x("{{ humanizeDuration $value }}", 1.23456), "1.235s");
        assert_eq!(x("{{ humanizeDuration $value }}", 0.0125), "12.5ms");
        assert_eq!(x("{{ humanizeDuration $value }}", 0.0), "0s");
        assert_eq!(x("{{ humanizePercentage $value }}", 0.0123), "1.23%");
        assert_eq!(x("{{ $value | humanizePercentage }}", 0.5), "50%");
        assert_eq!(x("{{ printf \"%.2f\" $value }}", 0.125), "0.12");
        assert_eq!(
            x("{{ printf \"%s=%d\" $labels.service 3 }}", 0.0),
            "order=3"
        );
        assert_eq!(x("{{ $labels.service | toUpper }}", 0.0), "ORDER");
        assert_eq!(x("{{ stripPort $labels.instance }}", 0.0), "host");
        assert_eq!(
            x("{{ humanizeTimestamp 1700000000 }}", 0.0),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(x("{{ (printf \"%.1f\" $value) }}", 2.25), "2.2");
    }

    #[test]
    fn unsupported_constructs_are_clear_errors() {
        for bad in [
            "{{ if $value }}x{{ end }}",
            "{{ range $labels }}{{ end }}",
            "{{ $x := 1 }}",
            "{{ query \"up\" }}",
            "{{ nope $value }}",
            "{{ $labels.x",
            "{{ $undefined }}",
        ] {
            let err = Template::parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        let broken = expand_or_error("{{ humanize \"abc\" }}", &data(1.0));
        assert!(broken.starts_with("<error expanding template:"), "{broken}");
    }
}
