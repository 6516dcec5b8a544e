//! The report's two drawn charts, as hand-made SVG: the flow diagram
//! (subject jurisdiction → data class → destination, a three-column Sankey)
//! and decisions over time (stacked bars). Each band, node and bar segment
//! is a link to the rows behind it. Outcomes keep one colour and one
//! pattern everywhere, so the charts also read in grey print.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::aggregate::PerOutcome;
use crate::facts::{Outcome, is_refused_destination};
use crate::render::html::{esc, fmt_n, rows_href};

/// Most nodes drawn in one Sankey column; the rest share one node.
const MAX_NODES: usize = 14;
/// Jurisdiction colours (Okabe–Ito, leaving the outcome colours aside).
const JURISDICTION_COLOURS: [&str; 4] = ["#56B4E9", "#009E73", "#F0E442", "#999999"];

/// Pattern and colour definitions shared by every chart.
pub(crate) fn defs() -> &'static str {
    r##"<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>
<pattern id="p-denied" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3c2a6"/><rect width="3" height="6" fill="#D55E00"/></pattern>
<pattern id="p-error" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#E69F00"/><circle cx="2.5" cy="2.5" r="1.2" fill="#7a5400"/></pattern>
<pattern id="p-audit_unavailable" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#f1d5e6"/><rect width="4" height="2" fill="#CC79A7"/></pattern>
</defs></svg>"##
}

/// The fill of an outcome.
pub(crate) fn fill(o: Outcome) -> &'static str {
    match o {
        Outcome::Forwarded => "#0072B2",
        Outcome::Denied => "url(#p-denied)",
        Outcome::Error => "url(#p-error)",
        Outcome::AuditUnavailable => "url(#p-audit_unavailable)",
    }
}

/// The legend of outcomes.
pub(crate) fn legend() -> String {
    let mut s = String::from(r#"<div class="legend">"#);
    for o in Outcome::ALL {
        let _ = write!(
            s,
            r##"<span><svg width="14" height="14"><rect width="14" height="14" fill="{}" stroke="#333"/></svg>{}</span>"##,
            fill(o),
            esc(o.label())
        );
    }
    s.push_str("</div>");
    s
}

/// One flow: jurisdiction, data class, destination, count.
pub(crate) struct Flow<'a> {
    pub(crate) j: &'a str,
    pub(crate) c: &'a str,
    pub(crate) d: &'a str,
    pub(crate) n: u64,
}

struct Node {
    name: String,
    /// The filter value, `None` for a merged `(other)` node.
    value: Option<String>,
    total: u64,
    y: f64,
    h: f64,
    out_y: f64,
    in_y: f64,
    refused: bool,
}

/// Orders a column by total (refused destinations last, in outcome order),
/// merging all past [`MAX_NODES`] into one node. Returns the nodes and each
/// name's node index.
fn column<'a>(names: impl Iterator<Item = (&'a str, u64)>) -> (Vec<Node>, HashMap<&'a str, usize>) {
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for (name, n) in names {
        *totals.entry(name).or_default() += n;
    }
    let mut sorted: Vec<(&str, u64)> = totals.into_iter().collect();
    sorted.sort_by(|a, b| {
        (is_refused_destination(a.0), b.1, a.0).cmp(&(is_refused_destination(b.0), a.1, b.0))
    });
    let mut nodes: Vec<Node> = Vec::new();
    let mut index = HashMap::new();
    let mut other: Option<usize> = None;
    for (i, (name, n)) in sorted.into_iter().enumerate() {
        let refused = is_refused_destination(name);
        if i >= MAX_NODES - 1 && !refused {
            let at = *other.get_or_insert_with(|| {
                nodes.push(Node {
                    name: "(others)".into(),
                    value: None,
                    total: 0,
                    y: 0.0,
                    h: 0.0,
                    out_y: 0.0,
                    in_y: 0.0,
                    refused: false,
                });
                nodes.len() - 1
            });
            nodes[at].total += n;
            index.insert(name, at);
            continue;
        }
        index.insert(name, nodes.len());
        nodes.push(Node {
            name: name.to_string(),
            value: Some(name.to_string()),
            total: n,
            y: 0.0,
            h: 0.0,
            out_y: 0.0,
            in_y: 0.0,
            refused,
        });
    }
    (nodes, index)
}

/// The flow diagram.
pub(crate) fn sankey(flows: &[Flow]) -> String {
    let total: u64 = flows.iter().map(|f| f.n).sum();
    if total == 0 {
        return r#"<p class="muted">No decisions in this range.</p>"#.into();
    }
    let (mut js, j_at) = column(flows.iter().map(|f| (f.j, f.n)));
    let (mut cs, c_at) = column(flows.iter().map(|f| (f.c, f.n)));
    let (mut ds, d_at) = column(flows.iter().map(|f| (f.d, f.n)));
    let (pad, refused_gap, top) = (12.0, 34.0, 28.0);
    let most = js.len().max(cs.len()).max(ds.len());
    let height = (most as f64 * 34.0).max(260.0);
    let gaps = |nodes: &[Node]| {
        let extra = if nodes.iter().any(|n| n.refused) {
            refused_gap
        } else {
            0.0
        };
        pad * (nodes.len().saturating_sub(1)) as f64 + extra
    };
    let scale = [&js, &cs, &ds]
        .iter()
        .map(|col| (height - gaps(col)) / total as f64)
        .fold(f64::INFINITY, f64::min)
        .max(0.0);
    let mut bottom: f64 = 0.0;
    let mut refused_label_y = None;
    for col in [&mut js, &mut cs, &mut ds] {
        let mut y = top;
        let mut seen_refused = false;
        for node in col.iter_mut() {
            if node.refused && !seen_refused {
                seen_refused = true;
                y += refused_gap - pad;
                refused_label_y.get_or_insert(y - 6.0);
            }
            node.y = y;
            node.h = (node.total as f64 * scale).max(2.0);
            node.out_y = y;
            node.in_y = y;
            y += node.h + pad;
        }
        bottom = bottom.max(y);
    }
    let (x0, x1, x2, w) = (170.0, 520.0, 870.0, 14.0);
    let width = 1180.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="sankey" width="{width}" height="{:.0}" viewBox="0 0 {width} {:.0}" role="img" aria-label="flows from subject jurisdiction through data class to destination">"#,
        bottom + 10.0,
        bottom + 10.0
    );
    for (x, title) in [
        (x0, "subject jurisdiction"),
        (x1, "data class"),
        (x2, "destination region"),
    ] {
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="14" text-anchor="middle" font-weight="600">{title}</text>"#,
            x + w / 2.0
        );
    }
    if let Some(y) = refused_label_y {
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{y:.0}" font-style="italic">denied and refused, shown apart:</text>"#,
            x2 - 40.0
        );
    }

    // Bands: jurisdiction → class, then class → destination. Offsets are
    // taken in the order of the far end, so bands do not cross at a node.
    let mut jc: HashMap<(usize, usize), u64> = HashMap::new();
    let mut cd: HashMap<(usize, usize), u64> = HashMap::new();
    for f in flows {
        *jc.entry((j_at[f.j], c_at[f.c])).or_default() += f.n;
        *cd.entry((c_at[f.c], d_at[f.d])).or_default() += f.n;
    }
    let mut jc: Vec<((usize, usize), u64)> = jc.into_iter().collect();
    jc.sort();
    let mut cd: Vec<((usize, usize), u64)> = cd.into_iter().collect();
    cd.sort();
    bands(
        &mut s,
        &jc,
        (&mut js, &mut cs),
        ("j", "c"),
        (x0 + w, x1),
        scale,
        |_, i| JURISDICTION_COLOURS[i % JURISDICTION_COLOURS.len()],
    );
    bands(
        &mut s,
        &cd,
        (&mut cs, &mut ds),
        ("c", "d"),
        (x1 + w, x2),
        scale,
        |to, _| destination_fill(to),
    );

    for (col, x, key, anchor) in [
        (&js, x0, "j", "end"),
        (&cs, x1, "c", "start"),
        (&ds, x2, "d", "start"),
    ] {
        for node in col {
            let label_x = if anchor == "end" {
                x - 6.0
            } else {
                x + w + 6.0
            };
            let fill = if node.refused {
                destination_fill(&node.name)
            } else {
                "#3a3a3a"
            };
            let shape = format!(
                r##"<rect x="{x:.0}" y="{:.1}" width="{w}" height="{:.1}" fill="{fill}" stroke="#222" stroke-width="0.5"><title>{}: {}</title></rect><text x="{label_x:.0}" y="{:.1}" text-anchor="{anchor}" dominant-baseline="middle">{} <tspan font-weight="700">{}</tspan></text>"##,
                node.y,
                node.h,
                esc(&node.name),
                fmt_n(node.total),
                node.y + node.h / 2.0,
                esc(&node.name),
                fmt_n(node.total),
            );
            match &node.value {
                Some(v) => {
                    let _ = write!(
                        s,
                        r#"<a href="{}">{shape}</a>"#,
                        esc(&rows_href(&[(key, v)], node.total, &node.name))
                    );
                }
                None => s.push_str(&shape),
            }
        }
    }
    s.push_str("</svg>");
    s
}

fn destination_fill(name: &str) -> &'static str {
    match name {
        "not forwarded: denied" => fill(Outcome::Denied),
        "not forwarded: error" => fill(Outcome::Error),
        "not forwarded: audit unavailable" => fill(Outcome::AuditUnavailable),
        _ => fill(Outcome::Forwarded),
    }
}

/// Draws the bands between two columns; `colour` gets the right node's
/// name and the left node's index.
fn bands(
    s: &mut String,
    links: &[((usize, usize), u64)],
    (from, to): (&mut [Node], &mut [Node]),
    (from_key, to_key): (&str, &str),
    (xa, xb): (f64, f64),
    scale: f64,
    colour: impl Fn(&str, usize) -> &'static str,
) {
    // Source offsets in target order (links are sorted by (source, target)).
    let mut starts = Vec::with_capacity(links.len());
    for ((a, _), n) in links {
        let h = *n as f64 * scale;
        starts.push(from[*a].out_y);
        from[*a].out_y += h;
    }
    // Target offsets in source order.
    let mut order: Vec<usize> = (0..links.len()).collect();
    order.sort_by_key(|&i| (links[i].0.1, links[i].0.0));
    let mut ends = vec![0.0; links.len()];
    for i in order {
        let ((_, b), n) = links[i];
        ends[i] = to[b].in_y;
        to[b].in_y += n as f64 * scale;
    }
    let xm = (xa + xb) / 2.0;
    for (i, ((a, b), n)) in links.iter().enumerate() {
        let h = (*n as f64 * scale).max(1.0);
        let (y0, y1) = (starts[i], ends[i]);
        let colour = colour(&to[*b].name, *a);
        let title = format!("{} → {}: {}", from[*a].name, to[*b].name, fmt_n(*n));
        let path = format!(
            r#"<path class="link" d="M{xa:.1},{y0:.1} C{xm:.1},{y0:.1} {xm:.1},{y1:.1} {xb:.1},{y1:.1} L{xb:.1},{:.1} C{xm:.1},{:.1} {xm:.1},{:.1} {xa:.1},{:.1} Z" fill="{colour}"><title>{}</title></path>"#,
            y1 + h,
            y1 + h,
            y0 + h,
            y0 + h,
            esc(&title)
        );
        // A merged `(others)` node has no single value to filter by.
        let (Some(left), Some(right)) = (&from[*a].value, &to[*b].value) else {
            s.push_str(&path);
            continue;
        };
        let filter = [(from_key, left.as_str()), (to_key, right.as_str())];
        let _ = write!(
            s,
            r#"<a href="{}">{path}</a>"#,
            esc(&rows_href(&filter, *n, &title))
        );
    }
}

/// Decisions over time, one stacked bar a bucket. `label` names a bucket's
/// start; `buckets` runs from the first to the last bucket with records.
pub(crate) fn time_bars(buckets: &[(i64, PerOutcome)], label: impl Fn(i64) -> String) -> String {
    let Some(max) = buckets
        .iter()
        .map(|(_, c)| c.iter().sum::<u64>())
        .max()
        .filter(|m| *m > 0)
    else {
        return r#"<p class="muted">No decisions in this range.</p>"#.into();
    };
    let top = nice_ceiling(max);
    let (width, height, left, bottom_pad, top_pad) = (1180.0, 300.0, 70.0, 46.0, 12.0);
    let plot_w = width - left - 20.0;
    let plot_h = height - bottom_pad - top_pad;
    let slot = plot_w / buckets.len() as f64;
    // A few buckets still get bars of a readable width, not one slab.
    let bar = if slot > 4.0 {
        (slot - 1.5).min(48.0)
    } else {
        slot
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="decisions over time">"#
    );
    for i in 0..=4 {
        let v = top * i / 4;
        let y = top_pad + plot_h - plot_h * i as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line class="grid" x1="{left}" x2="{:.0}" y1="{y:.1}" y2="{y:.1}"/><text x="{:.0}" y="{:.1}" text-anchor="end">{}</text>"#,
            left + plot_w,
            left - 6.0,
            y + 4.0,
            fmt_n(v)
        );
    }
    let ticks = buckets.len().div_ceil(8).max(1);
    for (i, (b, counts)) in buckets.iter().enumerate() {
        let x = left + slot * i as f64;
        let mut y = top_pad + plot_h;
        for o in Outcome::ALL {
            let n = counts[o.index()];
            if n == 0 {
                continue;
            }
            let h = plot_h * n as f64 / top as f64;
            y -= h;
            let title = format!("{}: {} {}", label(*b), fmt_n(n), o.label());
            let bucket = b.to_string();
            let _ = write!(
                s,
                r##"<a href="{}"><rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{:.1}" fill="{}" stroke="#fff" stroke-width="0.3"><title>{}</title></rect></a>"##,
                esc(&rows_href(&[("b", &bucket), ("o", o.key())], n, &title)),
                h.max(0.5),
                fill(o),
                esc(&title)
            );
        }
        if i % ticks == 0 {
            let _ = write!(
                s,
                r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><text x="{x:.1}" y="{:.1}">{}</text>"#,
                top_pad + plot_h,
                top_pad + plot_h + 5.0,
                top_pad + plot_h + 18.0,
                esc(&label(*b))
            );
        }
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{left}" x2="{:.0}" y1="{:.1}" y2="{:.1}"/></svg>"#,
        left + plot_w,
        top_pad + plot_h,
        top_pad + plot_h
    );
    s
}

/// The axis top: four gridlines at a round step (1, 2 or 5 × 10ⁿ) that
/// reach `n`.
fn nice_ceiling(n: u64) -> u64 {
    let quarter = n.div_ceil(4).max(1);
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let v = m * step;
            if v >= quarter {
                return v * 4;
            }
        }
        step = step.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sankey_links_every_band_and_keeps_refusals_apart() {
        let flows = [
            Flow {
                j: "US",
                c: "protected",
                d: "us-east",
                n: 7,
            },
            Flow {
                j: "US",
                c: "protected",
                d: "not forwarded: denied",
                n: 2,
            },
            Flow {
                j: "EU",
                c: "protected",
                d: "eu-west",
                n: 3,
            },
        ];
        let svg = sankey(&flows);
        assert!(svg.contains("#f/j=US&amp;c=protected&amp;n=9"), "{svg}");
        assert!(svg.contains("#f/c=protected&amp;d=not%20forwarded%3A%20denied&amp;n=2"));
        assert!(svg.contains("url(#p-denied)"));
        assert!(svg.contains("denied and refused, shown apart"));
        assert_eq!(svg.matches("<path").count(), 5);
    }

    #[test]
    fn the_scale_top_is_round_and_covers_the_maximum() {
        for (n, want) in [
            (1, 4),
            (3, 4),
            (7, 8),
            (15, 20),
            (18, 20),
            (160, 200),
            (1001, 2000),
        ] {
            assert_eq!(nice_ceiling(n), want, "{n}");
        }
        let bars = time_bars(&[(0, [3, 1, 0, 0]), (1, [0, 0, 2, 0])], |b| format!("b{b}"));
        assert_eq!(bars.matches("<rect").count(), 3);
        assert!(bars.contains("#f/b=1&amp;o=error&amp;n=2"));
    }
}
