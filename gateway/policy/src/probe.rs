//! Explaining a failing Rego test: which statement of its body failed, and
//! the values involved.
//!
//! The test's body is split into statements with a small bracket- and
//! string-aware scanner, and growing prefixes of it are re-evaluated as
//! probe rules in the test's own package (so its helpers and imports
//! resolve). The first prefix that is undefined ends at the failing
//! statement; the variables bound before it and both sides of a top-level
//! `==` / `!=` are evaluated after the passing prefix. It is best effort:
//! a body this cannot split (a rule without `if { … }`) gets no detail, and
//! nothing here changes the test's verdict.

use std::fmt;

use serde::Serialize;

use crate::engine::module_name;
use crate::files::RegoFile;

/// Where and why a test failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureDetail {
    /// 1-based line of the failing statement in the test file.
    pub line: u32,
    /// The statement's text.
    pub statement: String,
    /// Left side of a failing comparison, as JSON.
    pub left: Option<String>,
    /// Right side of a failing comparison, as JSON.
    pub right: Option<String>,
    /// Variables bound before the failing statement, as JSON.
    pub bindings: Vec<(String, String)>,
}

impl fmt::Display for FailureDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "failed at line {}: {}", self.line, self.statement)?;
        if let Some(left) = &self.left {
            writeln!(f, "  left:  {left}")?;
        }
        if let Some(right) = &self.right {
            writeln!(f, "  right: {right}")?;
        }
        for (name, value) in &self.bindings {
            writeln!(f, "  {name} = {value}")?;
        }
        Ok(())
    }
}

/// One statement of a rule body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    line: u32,
    text: String,
}

/// Finds the first failing statement of `rule` (a full path such as
/// `data.pkg.test_x`) declared in `file`, on a copy of `engine`.
pub(crate) fn explain_failure(
    engine: &regorus::Engine,
    file: &RegoFile,
    rule: &str,
) -> Option<FailureDetail> {
    let (package, name) = rule.strip_prefix("data.")?.rsplit_once('.')?;
    let body = rule_body(&file.text, name)?;
    let header = probe_header(package, &file.text);
    let texts: Vec<&str> = body.iter().map(|s| s.text.as_str()).collect();

    let mut probes = header.clone();
    for k in 1..=body.len() {
        probes.push_str(&format!(
            "__jg_probe_{k} if {{\n{}\n}}\n",
            texts[..k].join("\n")
        ));
    }
    let mut e = with_module(engine, file, &probes)?;
    let failing = (1..=body.len()).find(|k| {
        matches!(
            e.eval_rule(format!("data.{package}.__jg_probe_{k}")),
            Ok(regorus::Value::Undefined | regorus::Value::Bool(false))
        )
    })?;
    let statement = &body[failing - 1];
    let prefix = texts[..failing - 1].join("\n");

    // Rules that capture values after the passing prefix.
    let mut values = header;
    let vars: Vec<String> = body[..failing - 1]
        .iter()
        .filter_map(|s| assigned_var(&s.text))
        .collect();
    for v in &vars {
        values.push_str(&format!(
            "__jg_var_{v} := __jg_v if {{\n{prefix}\n__jg_v := {v}\n}}\n"
        ));
    }
    let sides = comparison_sides(statement.text.trim_start_matches("not ").trim());
    if let Some((l, r)) = &sides {
        for (side, expr) in [("left", l), ("right", r)] {
            values.push_str(&format!(
                "__jg_{side} := __jg_v if {{\n{prefix}\n__jg_v := {expr}\n}}\n"
            ));
        }
    }
    let mut detail = FailureDetail {
        line: statement.line,
        statement: statement.text.clone(),
        left: None,
        right: None,
        bindings: Vec::new(),
    };
    if let Some(mut e) = with_module(engine, file, &values) {
        let mut get = |rule: &str| -> Option<String> {
            match e.eval_rule(format!("data.{package}.{rule}")) {
                Ok(regorus::Value::Undefined) | Err(_) => None,
                Ok(v) => Some(compact(&v)),
            }
        };
        if sides.is_some() {
            detail.left = get("__jg_left");
            detail.right = get("__jg_right");
        }
        for v in vars {
            if let Some(value) = get(&format!("__jg_var_{v}")) {
                detail.bindings.push((v, value));
            }
        }
    }
    Some(detail)
}

/// A copy of `engine` with one more module beside `file`, or `None` if the
/// probe does not compile (then there is simply no detail).
fn with_module(engine: &regorus::Engine, file: &RegoFile, text: &str) -> Option<regorus::Engine> {
    let mut e = engine.clone();
    e.set_enable_coverage(false);
    e.add_policy(format!("{}#probe", module_name(file)), text.to_string())
        .ok()?;
    Some(e)
}

fn probe_header(package: &str, test_source: &str) -> String {
    let mut header = format!("package {package}\n");
    for line in test_source.lines().filter(|l| l.starts_with("import ")) {
        header.push_str(line);
        header.push('\n');
    }
    header
}

fn compact(v: &regorus::Value) -> String {
    const MAX: usize = 400;
    let text = serde_json::to_string(v).unwrap_or_else(|_| "<unprintable>".into());
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `name` when `text` is `name := …`.
fn assigned_var(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let rest = text[name.len()..].trim_start();
    (!name.is_empty() && rest.starts_with(":=")).then_some(name)
}

/// The two sides of a top-level `==` or `!=`.
fn comparison_sides(text: &str) -> Option<(String, String)> {
    let bytes = text.as_bytes();
    let mut found = None;
    scan(text, |i, depth| {
        if depth == 0
            && found.is_none()
            && (bytes[i] == b'=' || bytes[i] == b'!')
            && bytes.get(i + 1) == Some(&b'=')
            && (i == 0 || !b":=!<>".contains(&bytes[i - 1]))
        {
            found = Some(i);
        }
        true
    });
    let i = found?;
    Some((
        text[..i].trim().to_string(),
        text[i + 2..].trim().to_string(),
    ))
}

/// The statements of rule `name`'s first `if { … }` body in `source`.
fn rule_body(source: &str, name: &str) -> Option<Vec<Statement>> {
    let head = source.lines().scan(0usize, |offset, line| {
        let at = *offset;
        *offset += line.len() + 1;
        Some((at, line))
    });
    let start = head
        .filter(|(_, line)| {
            line.strip_prefix(name).is_some_and(|rest| {
                !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
        })
        .map(|(at, _)| at + name.len())
        .next()?;
    let after = &source[start..];
    let brace = after.find('{')?;
    if after[..brace].trim() != "if" {
        return None;
    }
    let body_start = start + brace + 1;
    let body = &source[body_start..];
    let mut cuts = Vec::new();
    let mut end = None;
    scan(body, |i, depth| match body.as_bytes()[i] {
        // The brace that closes the body takes the depth below zero.
        b'}' if depth < 0 => {
            end = Some(i);
            false
        }
        b'\n' | b';' if depth == 0 => {
            cuts.push(i);
            true
        }
        _ => true,
    });
    let end = end?;
    let mut statements = Vec::new();
    let mut from = 0;
    for to in cuts.into_iter().filter(|&c| c < end).chain([end]) {
        let raw = &body[from..to];
        let text = strip_comment(raw).trim();
        if !text.is_empty() {
            let lead = raw.len() - raw.trim_start().len();
            let line = source[..body_start + from + lead].matches('\n').count() + 1;
            statements.push(Statement {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                text: text.to_string(),
            });
        }
        from = to + 1;
    }
    Some(statements)
}

/// Drops a trailing `# comment` that is outside any string.
fn strip_comment(text: &str) -> &str {
    let mut cut = text.len();
    scan(text, |i, _| {
        if text.as_bytes()[i] == b'#' {
            cut = i;
            false
        } else {
            true
        }
    });
    &text[..cut]
}

/// Calls `visit(index, depth)` for every byte outside strings and comments,
/// with the bracket depth *before* that byte (closing brackets see the depth
/// outside them). Stops when `visit` returns false.
fn scan(text: &str, mut visit: impl FnMut(usize, i32) -> bool) {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'#' => {
                if !visit(i, depth) {
                    return;
                }
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                if !visit(i, depth) {
                    return;
                }
                depth += 1;
            }
            b')' | b']' | b'}' => {
                depth -= 1;
                if !visit(i, depth) {
                    return;
                }
            }
            _ => {
                if !visit(i, depth) {
                    return;
                }
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_split_into_statements_across_brackets_strings_and_comments() {
        let src = "package p\n\ntest_a if {\n\tx := {\"a\": [1,\n\t\t2]} # c\n\ty := \"}\"; x.a[0] == 1\n}\n";
        let body = rule_body(src, "test_a").unwrap();
        let got: Vec<(u32, &str)> = body.iter().map(|s| (s.line, s.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (4, "x := {\"a\": [1,\n\t\t2]}"),
                (6, "y := \"}\""),
                (6, "x.a[0] == 1")
            ]
        );
        assert!(rule_body(src, "test_").is_none());
        assert!(rule_body("package p\ntest_b := true\n", "test_b").is_none());
    }

    #[test]
    fn comparisons_split_at_the_top_level_only() {
        assert_eq!(
            comparison_sides("f(a == b) != {\"k\": 1}"),
            Some(("f(a == b)".into(), "{\"k\": 1}".into()))
        );
        assert_eq!(comparison_sides("x := 1"), None);
        assert_eq!(comparison_sides("a >= b"), None);
        assert_eq!(assigned_var("d := x with input as y"), Some("d".into()));
        assert_eq!(assigned_var("d.allow"), None);
    }
}
