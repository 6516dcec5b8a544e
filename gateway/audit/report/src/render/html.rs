//! Small HTML helpers: escaping, number formatting, the links that open the
//! rows table under a filter, and the numbers tests and readers look up by
//! their stable `data-k` key.

/// `s` escaped for HTML text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `n` with thousands separators: `1,234,567`.
pub(crate) fn fmt_n(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part` as a percentage of `whole`, one decimal.
pub(crate) fn pct_of(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// A count with its stable key, e.g. `data-k="j:US"`.
pub(crate) fn num(key: &str, n: u64) -> String {
    format!(
        r#"<span class="n" data-k="{}">{}</span>"#,
        esc(key),
        fmt_n(n)
    )
}

/// Percent-encodes all but RFC 3986 unreserved characters.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The fragment that opens the rows table filtered by `filter`, saying
/// that the log holds `n` such records and what the rows are (`title`).
pub(crate) fn rows_href(filter: &[(&str, &str)], n: u64, title: &str) -> String {
    let mut parts: Vec<String> = filter
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    parts.push(format!("n={n}"));
    parts.push(format!("t={}", enc(title)));
    format!("#f/{}", parts.join("&"))
}

/// A count that links to its rows, with its stable key.
pub(crate) fn num_link(key: &str, n: u64, filter: &[(&str, &str)], title: &str) -> String {
    if n == 0 {
        return num(key, n);
    }
    format!(
        r#"<a href="{}" title="show these records">{}</a>"#,
        esc(&rows_href(filter, n, title)),
        num(key, n)
    )
}

/// A duration in words: `3 d 4 h`, `2 h 5 min`, `12 min`, `40 s`.
pub(crate) fn duration(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// A record timestamp without the `T`, the `Z` and the microseconds.
pub(crate) fn short_ts(ts: &str) -> String {
    let t = ts.replace('T', " ");
    let t = t.trim_end_matches('Z');
    t.split_once('.').map_or(t, |(a, _)| a).to_string()
}

/// A hash shortened for display, the full value in a tooltip.
pub(crate) fn short_hash(h: &str) -> String {
    let body = h.strip_prefix("sha256:").unwrap_or(h);
    let short: String = body.chars().take(12).collect();
    format!(r#"<code title="{}">{}</code>"#, esc(h), esc(&short))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_escape_and_format() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(fmt_n(0), "0");
        assert_eq!(fmt_n(999), "999");
        assert_eq!(fmt_n(1_234_567), "1,234,567");
        assert_eq!(
            rows_href(&[("j", "US"), ("d", "not forwarded: denied")], 7, "US & co"),
            "#f/j=US&d=not%20forwarded%3A%20denied&n=7&t=US%20%26%20co"
        );
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(duration(2 * 86_400 + 3600), "2 d 1 h");
        assert_eq!(
            short_ts("2026-11-27T21:28:54.494040Z"),
            "2026-11-27 21:28:54"
        );
        assert_eq!(pct_of(1, 3), "33.3%");
    }
}
