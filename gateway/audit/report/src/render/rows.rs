//! The embedded rows: sampled records as JSON for the table script, with
//! every string stored once in a string table (rows repeat the same
//! jurisdictions, routes and reasons, so this roughly halves the size).
//! The JSON is made safe to sit inside a `<script>` element.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::sample::Row;

/// Column names, in row order; `log`, `seq` and `b` are numbers, the rest
/// indexes into the string table.
const COLS: [&str; 26] = [
    "log", "seq", "ts", "kind", "j", "verified", "src", "req", "loc", "appr", "method", "path",
    "route", "c", "allow", "o", "d", "reason", "rg", "region", "pool", "status", "rev", "obl", "b",
    "tags",
];

/// The rows as the text of a `<script type="application/json">`.
pub(crate) fn rows_json(rows: &[&Row], logs: usize) -> String {
    let mut strings: Vec<&str> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut tags_text = Vec::with_capacity(rows.len());
    for r in rows {
        tags_text.push(r.tags.join(" "));
    }
    let mut id = |s: &str| -> Value {
        let i = match index.get(s) {
            Some(&i) => i,
            None => {
                let i = index.len();
                index.insert(s.to_string(), i);
                i
            }
        };
        Value::from(i)
    };
    let encoded: Vec<Value> = rows
        .iter()
        .zip(&tags_text)
        .map(|(r, tags)| {
            Value::Array(vec![
                Value::from(r.log),
                Value::from(r.seq),
                id(&r.ts),
                id(r.kind),
                id(&r.jurisdiction),
                id(r.verified),
                id(&r.source),
                id(&r.requester),
                id(&r.location),
                id(&r.approval),
                id(&r.method),
                id(&r.path),
                id(&r.route),
                id(&r.class),
                id(r.allow),
                id(r.outcome),
                id(&r.destination),
                id(&r.reason),
                id(&r.reason_group),
                id(&r.region),
                id(&r.pool),
                id(&r.status),
                id(&r.revision),
                id(&r.obligations),
                Value::from(r.bucket),
                id(tags),
            ])
        })
        .collect();
    let mut table: Vec<(&String, &usize)> = index.iter().collect();
    table.sort_by_key(|(_, i)| **i);
    strings.extend(table.iter().map(|(s, _)| s.as_str()));
    let doc = json!({"cols": COLS, "logs": logs, "s": strings, "r": encoded});
    // `<` only occurs inside JSON strings, where `\u003c` means the same
    // and cannot close the script element.
    doc.to_string().replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_share_strings_and_cannot_close_the_script() {
        let a = Row {
            seq: 1,
            jurisdiction: "US".into(),
            path: "</script><b>".into(),
            tags: vec!["failover", "unverified"],
            ..Row::default()
        };
        let b = Row {
            seq: 2,
            jurisdiction: "US".into(),
            ..Row::default()
        };
        let text = rows_json(&[&a, &b], 1);
        assert!(!text.contains("</script"));
        let doc: Value = serde_json::from_str(&text).unwrap();
        let s = doc["s"].as_array().unwrap();
        let col = |name: &str| COLS.iter().position(|c| *c == name).unwrap();
        let row0 = &doc["r"][0];
        assert_eq!(
            s[row0[col("path")].as_u64().unwrap() as usize],
            "</script><b>"
        );
        assert_eq!(
            s[row0[col("tags")].as_u64().unwrap() as usize],
            "failover unverified"
        );
        assert_eq!(row0[col("j")], doc["r"][1][col("j")]);
        assert_eq!(s.iter().filter(|v| *v == "US").count(), 1);
    }
}
