//! Go's `fmt` number formatting (`%v`, `%g`, `%.4g`, `%f`, `%e`) and a `printf` for the verbs
//! templates use, so rendered alerts read exactly as Prometheus renders them.

use super::{Val, print, type_name};

/// Rounded decimal digits (no trailing zeros) and the exponent of the first digit.
fn digits(v: f64, prec: Option<usize>) -> (String, i32) {
    let s = match prec {
        None => format!("{:e}", v.abs()),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), v.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: String = mant.chars().filter(char::is_ascii_digit).collect();
    while d.len() > 1 && d.ends_with('0') {
        d.pop();
    }
    (d, exp)
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v == f64::INFINITY {
        Some("+Inf".into())
    } else if v == f64::NEG_INFINITY {
        Some("-Inf".into())
    } else {
        None
    }
}

/// Go's `%g` (`prec` None: `%v`, the shortest representation) of a float64.
pub fn format_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if v == 0.0 {
        return format!("{sign}0");
    }
    let prec = prec.map(|p| p.max(1));
    let (d, exp) = digits(v, prec);
    let nd = d.len() as i32;
    let dp = exp + 1;
    let eprec = match prec {
        None => 6,
        Some(p) => {
            let p = p as i32;
            if p > nd && nd >= dp { nd } else { p }
        }
    };
    if exp < -4 || exp >= eprec {
        let (first, rest) = d.split_at(1);
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mant}e{esign}{:02}", exp.abs());
    }
    let body = if dp <= 0 {
        format!("0.{}{d}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{d}{}", "0".repeat((dp - nd) as usize))
    } else {
        let (int, frac) = d.split_at(dp as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// Go's `%e` with a precision (default 6).
pub fn format_e(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let s = format!("{:.*e}", prec, v);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{esign}{:02}", exp.abs())
}

/// Go's `%f` with a precision (default 6).
pub fn format_f(v: f64, prec: usize) -> String {
    special(v).unwrap_or_else(|| format!("{v:.prec$}"))
}

/// Go's `strconv.ParseFloat` for the forms rule templates meet.
pub fn parse_float(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            return Ok(if t.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    t.parse::<f64>()
        .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
}

/// Go's `fmt.Sprintf` for `%s %v %d %f %g %e %q %%` with width, precision and `-`/`0` flags.
pub(crate) fn sprintf(format: &str, args: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    let mut next = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            i += 1;
        }
        let mut width = None;
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            i += 1;
        }
        let mut prec = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = 0;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                i += 1;
            }
            prec = Some(p);
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let bad = || format!("%!{verb}({}={})", type_name(arg), print(arg));
        let mut s = match (verb, arg) {
            ('v', _) => match (arg, prec) {
                (Val::Num(n), Some(_)) => format_g(*n, prec),
                _ => print(arg),
            },
            ('s', Val::Str(s)) => match prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('q', Val::Str(s)) => format!("{s:?}"),
            ('d', Val::Num(n)) if n.fract() == 0.0 && n.is_finite() => format!("{}", *n as i64),
            ('f' | 'F', Val::Num(n)) => format_f(*n, prec.unwrap_or(6)),
            ('e', Val::Num(n)) => format_e(*n, prec.unwrap_or(6)),
            ('g', Val::Num(n)) => format_g(*n, prec),
            _ => bad(),
        };
        if plus
            && matches!(arg, Val::Num(n) if *n >= 0.0)
            && matches!(verb, 'd' | 'f' | 'F' | 'e' | 'g' | 'v')
        {
            s.insert(0, '+');
        }
        if let Some(w) = width {
            let len = s.chars().count();
            if len < w {
                let pad = w - len;
                if left {
                    s.push_str(&" ".repeat(pad));
                } else if zero && matches!(arg, Val::Num(_)) {
                    let (sign, digits) = match s.strip_prefix(['-', '+']) {
                        Some(rest) => (s[..1].to_string(), rest.to_string()),
                        None => (String::new(), s.clone()),
                    };
                    s = format!("{sign}{}{digits}", "0".repeat(pad));
                } else {
                    s = format!("{}{s}", " ".repeat(pad));
                }
            }
        }
        out.push_str(&s);
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", type_name(a), print(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_matches_go() {
        for (v, p, want) in [
            (12345.0, Some(4), "1.234e+04"),
            (1234.0, Some(4), "1234"),
            (1000.0, Some(4), "1000"),
            (100000.0, Some(4), "1e+05"),
            (12.0, Some(4), "12"),
            (0.5, Some(4), "0.5"),
            (1.23456, Some(4), "1.235"),
            (0.000123, Some(4), "0.000123"),
            (0.0000123, Some(4), "1.23e-05"),
            (-2.5, None, "-2.5"),
            (100000.0, None, "100000"),
            (1e21, None, "1e+21"),
            (0.0001, None, "0.0001"),
            (f64::NAN, Some(4), "NaN"),
        ] {
            assert_eq!(format_g(v, p), want, "{v} {p:?}");
        }
        assert_eq!(format_e(1234.5, 2), "1.23e+03");
        assert_eq!(format_f(2.0, 3), "2.000");
    }

    #[test]
    fn printf_verbs() {
        let s = |f: &str, a: &[Val]| sprintf(f, a).unwrap_or_default();
        assert_eq!(
            s(
                "%5.1f|%-4s|%03d",
                &[Val::Num(3.125), Val::Str("ab".into()), Val::Num(7.0)]
            ),
            "  3.1|ab  |007"
        );
        assert_eq!(s("%d%%", &[Val::Num(50.0)]), "50%");
        assert_eq!(s("%d", &[Val::Num(1.5)]), "%!d(float64=1.5)");
        assert_eq!(s("%q", &[Val::Str("a\"b".into())]), "\"a\\\"b\"");
    }
}
